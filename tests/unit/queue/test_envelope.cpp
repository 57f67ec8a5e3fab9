#define BOOST_TEST_MODULE queue
#include <boost/test/unit_test.hpp>

#include "common/queue/envelope.h"

using nj::queue::Envelope;

namespace {
Envelope sample() {
  Envelope e;
  e.id = "ABCDEFGHJKMNPQRS";
  e.received_at = 1'700'000'123;
  e.mail_from = "bob@example.net";
  e.recipients = {"alice@example.i2p", "carol@example.i2p"};
  e.smtputf8 = true;
  e.message = "Subject: hi\r\n\r\nbody\r\n";
  return e;
}
}  // namespace

BOOST_AUTO_TEST_CASE(round_trip) {
  auto bytes = nj::queue::encode(sample());
  BOOST_CHECK_EQUAL(bytes.size() % 1024, 0u);
  auto d = nj::queue::decode(bytes);
  BOOST_REQUIRE(d.ok());
  BOOST_CHECK_EQUAL(d->id, "ABCDEFGHJKMNPQRS");
  BOOST_CHECK_EQUAL(d->received_at, 1'700'000'123);
  BOOST_CHECK_EQUAL(d->mail_from, "bob@example.net");
  BOOST_REQUIRE_EQUAL(d->recipients.size(), 2u);
  BOOST_CHECK_EQUAL(d->recipients[1], "carol@example.i2p");
  BOOST_CHECK(d->smtputf8);
  BOOST_CHECK(!d->eight_bit);
  BOOST_CHECK_EQUAL(d->message, sample().message);
}

BOOST_AUTO_TEST_CASE(null_sender_round_trips) {
  auto e = sample();
  e.mail_from.clear();
  auto d = nj::queue::decode(nj::queue::encode(e, 0));
  BOOST_REQUIRE(d.ok());
  BOOST_CHECK(d->mail_from.empty());
}

BOOST_AUTO_TEST_CASE(every_truncation_is_refused) {
  auto bytes = nj::queue::encode(sample(), 0);
  for (size_t n = 0; n < bytes.size(); ++n)
    BOOST_CHECK_MESSAGE(!nj::queue::decode(std::string_view(bytes).substr(0, n)).ok(), n);
}

BOOST_AUTO_TEST_CASE(garbage_after_end_is_refused) {
  auto bytes = nj::queue::encode(sample(), 0);
  bytes.push_back('x');
  BOOST_CHECK(!nj::queue::decode(bytes).ok());
}

BOOST_AUTO_TEST_CASE(limits_are_enforced) {
  auto e = sample();
  e.recipients.assign(5, "x@example.i2p");
  nj::queue::Limits l;
  l.max_recipients = 4;
  BOOST_CHECK(!nj::queue::decode(nj::queue::encode(e), l).ok());
  l = {};
  l.max_message = 4;
  BOOST_CHECK(!nj::queue::decode(nj::queue::encode(sample()), l).ok());
}

BOOST_AUTO_TEST_CASE(missing_recipients_refused) {
  auto e = sample();
  e.recipients.clear();
  BOOST_CHECK(!nj::queue::decode(nj::queue::encode(e)).ok());
}

BOOST_AUTO_TEST_CASE(repeated_single_field_refused) {
  auto bytes = nj::queue::encode(sample(), 0);
  // Insert a second id field right after the magic.
  std::string dup = std::string("NJQ1") + '\x01' + std::string("\0\0\0\x01", 4) + "Z";
  dup += bytes.substr(4);
  BOOST_CHECK(!nj::queue::decode(dup).ok());
}
