#define BOOST_TEST_MODULE inner_link
#include <boost/test/unit_test.hpp>

#include "common/queue/envelope.h"
#include "inner/link/inbound_delivery.h"
#include "tests/unit/accounts/fixture.h"

using namespace nj;
using namespace nj::inner;

namespace {

const std::string kAlice = std::string("alice@") + test::kDomain;
const std::string kBob = std::string("bob@") + test::kDomain;

struct Fixture : test::StoreFixture {
  crypto::KeyPair inner = crypto::KeyPair::generate();
  std::unique_ptr<Mailbox> mailbox;
  std::unique_ptr<InboundDelivery> inbound;

  Fixture() {
    Mailbox::Options mo;
    mo.max_size = 4096;
    auto m = Mailbox::open(*env, *accounts, mo, clock);
    BOOST_REQUIRE(m.ok());
    mailbox = std::move(*m);
    auto i = InboundDelivery::open(*env, inner, *accounts, *mailbox, clock);
    BOOST_REQUIRE(i.ok());
    inbound = std::move(*i);
    BOOST_REQUIRE(accounts->create(*gc, kAlice, "a").ok());
    BOOST_REQUIRE(accounts->create(*gc, kBob, "b").ok());
  }
  std::string sealed(const std::string& id, std::vector<std::string> rcpts,
                     const std::string& body = "hello") {
    queue::Envelope e;
    e.id = id;
    e.received_at = clock.now();
    e.mail_from = "carol@example.org";
    e.recipients = std::move(rcpts);
    e.message = "Subject: x\r\n\r\n" + body + "\r\n";
    return crypto::seal(inner.pub, queue::encode(e));
  }
  InboundDelivery::Result deliver(std::string blob) {
    std::optional<InboundDelivery::Result> out;
    inbound->deliver(*gc, std::move(blob), [&](InboundDelivery::Result r) { out = r; });
    uv.run_until([&] { return out.has_value(); });
    return *out;
  }
  size_t count(const std::string& addr) {
    auto id = (*accounts->recipient(addr))->id;
    return mailbox->list(id)->size();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(inbound, Fixture)

BOOST_AUTO_TEST_CASE(delivers_to_every_recipient_with_a_return_path) {
  auto r = deliver(sealed("M1", {kAlice, kBob}));
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(r.delivered, 2u);
  BOOST_CHECK_EQUAL(count(kAlice), 1u);
  BOOST_CHECK_EQUAL(count(kBob), 1u);
  auto v = accounts->verify(kAlice, "a");
  auto id = (*accounts->recipient(kAlice))->id;
  auto text = mailbox->read(id, 1, v.session->keys);
  BOOST_REQUIRE(text.ok());
  BOOST_CHECK(text->rfind("Return-Path: <carol@example.org>\r\nSubject: x\r\n", 0) == 0);
}

BOOST_AUTO_TEST_CASE(a_retransmit_makes_no_duplicate) {
  BOOST_CHECK(deliver(sealed("M2", {kAlice})).outcome == InboundDelivery::Outcome::delivered);
  auto again = deliver(sealed("M2", {kAlice}));
  BOOST_CHECK(again.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(again.delivered, 0u);
  BOOST_CHECK_EQUAL(count(kAlice), 1u);
}

BOOST_AUTO_TEST_CASE(a_full_mailbox_is_temporary_and_the_retry_fills_only_the_gap) {
  // bob's mailbox cannot take a 5 KB message; alice's can.
  BOOST_REQUIRE(deliver(sealed("F0", {kBob}, std::string(3500, 'b'))).outcome ==
                InboundDelivery::Outcome::delivered);
  auto r = deliver(sealed("F1", {kAlice, kBob}, std::string(1000, 'x')));
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::temporary);
  BOOST_CHECK_EQUAL(r.delivered, 1u);
  BOOST_CHECK_EQUAL(count(kAlice), 1u);
  // bob makes room; the edge's retry delivers to bob only.
  auto bob_id = (*accounts->recipient(kBob))->id;
  std::optional<Result<uint64_t>> removed;
  mailbox->remove(*gc, bob_id, {1}, [&](Result<uint64_t> x) { removed = std::move(x); });
  uv.run_until([&] { return removed.has_value(); });
  auto retry = deliver(sealed("F1", {kAlice, kBob}, std::string(1000, 'x')));
  BOOST_CHECK(retry.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(retry.delivered, 1u);
  BOOST_CHECK_EQUAL(count(kAlice), 1u);
  BOOST_CHECK_EQUAL(count(kBob), 1u);
}

BOOST_AUTO_TEST_CASE(unknown_recipients_are_counted_not_delivered) {
  auto r = deliver(sealed("U1", {kAlice, std::string("nobody@") + test::kDomain}));
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(r.delivered, 1u);
  BOOST_CHECK_EQUAL(r.unknown, 1u);
}

BOOST_AUTO_TEST_CASE(wrong_key_and_garbage_are_permanent) {
  auto other = crypto::KeyPair::generate();
  queue::Envelope e;
  e.id = "W1";
  e.mail_from = "x@example.org";
  e.recipients = {kAlice};
  e.message = "a\r\n";
  BOOST_CHECK(deliver(crypto::seal(other.pub, queue::encode(e))).outcome ==
              InboundDelivery::Outcome::permanent);
  BOOST_CHECK(deliver(crypto::seal(inner.pub, "not an envelope")).outcome ==
              InboundDelivery::Outcome::permanent);
  BOOST_CHECK(deliver("garbage").outcome == InboundDelivery::Outcome::permanent);
  BOOST_CHECK_EQUAL(count(kAlice), 0u);
}

BOOST_AUTO_TEST_CASE(old_delivery_records_are_purged) {
  BOOST_REQUIRE(deliver(sealed("P1", {kAlice})).outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(*inbound->purge(*gc), 0u);
  clock.advance(InboundDelivery::kRememberSeconds + 1);
  BOOST_CHECK_EQUAL(*inbound->purge(*gc), 1u);
}

BOOST_AUTO_TEST_SUITE_END()
