// The origin mark (common/mail/origin.h): the inner's own field on mail from the Internet. Every
// field of its name in a message is removed wherever mail comes in, so it cannot be forged.
#include <boost/test/unit_test.hpp>
#include <string>

#include "common/mail/headers.h"
#include "common/mail/origin.h"
#include "common/mail/outbound.h"
#include "common/mail/sanitize.h"

using namespace nj::mail;

namespace {

// A message that claims, in every spelling, to be local; the body mentions the field too.
const std::string kForged =
    "Nightjar-Origin: local\r\n"
    "From: Mallory <m@x.example>\r\n"
    "nightjar-origin:\r\n"
    "\tlocal\r\n"
    "To: bob@example.org\r\n"
    "NIGHTJAR-ORIGIN: internet (trust me)\r\n"
    "Nightjar-Origins: another name, kept\r\n"
    "Subject: s\r\n"
    "\r\n"
    "Nightjar-Origin: local (a body line, kept)\r\n";

const std::string kClean =
    "From: Mallory <m@x.example>\r\n"
    "To: bob@example.org\r\n"
    "Nightjar-Origins: another name, kept\r\n"
    "Subject: s\r\n"
    "\r\n"
    "Nightjar-Origin: local (a body line, kept)\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(origin)

BOOST_AUTO_TEST_CASE(the_name_has_no_x_prefix) {
  BOOST_TEST(kOriginField == "Nightjar-Origin");
  BOOST_TEST(kOriginInternet == "internet");
}

BOOST_AUTO_TEST_CASE(marking_removes_every_forged_field_and_puts_ours_first) {
  auto m = mark_internet_origin(kForged);
  BOOST_REQUIRE(m.ok());
  BOOST_TEST(*m == "Nightjar-Origin: internet\r\n" + kClean);
  auto h = parse_headers(*m);
  BOOST_REQUIRE(h.ok());
  BOOST_TEST(h->count(kOriginField) == 1u);
  BOOST_TEST(h->fields.front().unfolded() == "internet");
  // Marking twice changes nothing.
  BOOST_TEST(*mark_internet_origin(*m) == *m);
}

BOOST_AUTO_TEST_CASE(marking_keeps_messages_without_a_body_or_header) {
  BOOST_TEST(*mark_internet_origin("Subject: s\r\n") ==
             "Nightjar-Origin: internet\r\nSubject: s\r\n");
  BOOST_TEST(*mark_internet_origin("\r\nbody\r\n") == "Nightjar-Origin: internet\r\n\r\nbody\r\n");
}

BOOST_AUTO_TEST_CASE(marking_refuses_what_does_not_parse) {
  BOOST_TEST(!mark_internet_origin("no colon\r\n\r\nbody\r\n").ok());
  BOOST_TEST(!mark_internet_origin("Subject: bare LF\n\nbody").ok());
}

BOOST_AUTO_TEST_CASE(the_edges_inbound_sanitizer_drops_it) {
  InboundPolicy p;
  p.our_hostname = "mx.example.org";
  auto r = sanitize_inbound(kForged, p);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(*r == kClean);
}

BOOST_AUTO_TEST_CASE(the_outbound_allowlist_never_lets_it_out) {
  OutboundPolicy p;
  p.public_domain = "example.org";
  p.send_time = 1'700'000'000;
  auto r = sanitize_outbound(*mark_internet_origin(kForged), p);
  BOOST_REQUIRE(r.ok());
  auto h = parse_headers(*r);
  BOOST_REQUIRE(h.ok());
  BOOST_TEST(h->count(kOriginField) == 0u);
  BOOST_TEST(h->count("Nightjar-Origins") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
