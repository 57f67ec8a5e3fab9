#include <boost/test/unit_test.hpp>

#include "edge/checks/helo.h"

using nj::checks::check_helo;
using nj::checks::OurNames;

namespace {

OurNames ours() {
  OurNames o;
  o.hostname = "mx1.nightjar.example";
  o.domains = {"nightjar.example", "users.example"};
  o.listen_addresses = {"198.51.100.25", "2001:db8::25", "127.0.0.1"};
  return o;
}

std::string line(std::string_view helo, std::string_view client = "203.0.113.9") {
  return check_helo(helo, client, ours()).smtp_line();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(helo)

BOOST_AUTO_TEST_CASE(valid_names_pass) {
  BOOST_CHECK(check_helo("mail.example.org", "203.0.113.9", ours()).accept);
  BOOST_CHECK(check_helo("[203.0.113.9]", "203.0.113.9", ours()).accept);
  BOOST_CHECK(check_helo("[192.0.2.1]", "203.0.113.9", ours()).accept);
  BOOST_CHECK(check_helo("[IPv6:2001:db8::99]", "2001:db8::99", ours()).accept);
  // A subdomain of ours is not a claim to be us.
  BOOST_CHECK(check_helo("other.nightjar.example", "203.0.113.9", ours()).accept);
}

BOOST_AUTO_TEST_CASE(invalid_syntax_501) {
  const std::string invalid = "501 5.5.2 Invalid HELO name";
  BOOST_CHECK_EQUAL(line("a..b"), invalid);
  BOOST_CHECK_EQUAL(line("[300.1.1.1]"), invalid);
  BOOST_CHECK_EQUAL(line("192.0.2.1"), invalid);  // bare IP without brackets
  BOOST_CHECK_EQUAL(line(""), invalid);
  BOOST_CHECK_EQUAL(line("bad_name.example"), invalid);
  BOOST_CHECK_EQUAL(line("[IPv6:not-an-address]"), invalid);
  BOOST_CHECK_EQUAL(line(std::string(300, 'a') + ".example"), invalid);
}

BOOST_AUTO_TEST_CASE(not_fully_qualified_504) {
  BOOST_CHECK_EQUAL(line("localhost"), "504 5.5.2 HELO name must be fully qualified");
  BOOST_CHECK_EQUAL(line("WORKSTATION"), "504 5.5.2 HELO name must be fully qualified");
}

BOOST_AUTO_TEST_CASE(claims_to_be_us_550) {
  const std::string ours_line = "550 5.7.1 HELO name is ours";
  BOOST_CHECK_EQUAL(line("mx1.nightjar.example"), ours_line);
  BOOST_CHECK_EQUAL(line("MX1.Nightjar.Example"), ours_line);
  BOOST_CHECK_EQUAL(line("nightjar.example"), ours_line);
  BOOST_CHECK_EQUAL(line("users.example"), ours_line);
  BOOST_CHECK_EQUAL(line("[198.51.100.25]"), ours_line);
  BOOST_CHECK_EQUAL(line("[IPv6:2001:db8::25]"), ours_line);
  BOOST_CHECK_EQUAL(line("[IPv6:2001:db8:0::25]"), ours_line);  // another spelling
  BOOST_CHECK_EQUAL(line("[127.0.0.1]"), ours_line);
}

BOOST_AUTO_TEST_CASE(client_naming_its_own_address_passes) {
  // A local client on 127.0.0.1 talking to an edge that also listens there tells the truth.
  BOOST_CHECK(check_helo("[127.0.0.1]", "127.0.0.1", ours()).accept);
}

BOOST_AUTO_TEST_CASE(reasons_carry_no_names) {
  for (const char* h : {"a..b", "localhost", "mx1.nightjar.example", "[198.51.100.25]"}) {
    auto d = check_helo(h, "203.0.113.9", ours());
    BOOST_CHECK(!d.accept);
    BOOST_CHECK(d.reason.find("nightjar") == std::string::npos);
    BOOST_CHECK(d.reason.find("198.51") == std::string::npos);
    BOOST_CHECK(d.reason.find("203.0") == std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
