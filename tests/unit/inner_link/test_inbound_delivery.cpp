#define BOOST_TEST_MODULE inner_link
#include <boost/test/unit_test.hpp>
#include <thread>

#include "common/link/payloads.h"
#include "common/mail/headers.h"
#include "common/mail/text.h"
#include "common/queue/envelope.h"
#include "common/uv/loop.h"
#include "inner/link/inbound_delivery.h"
#include "tests/unit/accounts/fixture.h"

using namespace nj;
using namespace nj::inner;

namespace {

const std::string kAlice = std::string("alice@") + test::kDomain;
const std::string kBob = std::string("bob@") + test::kDomain;
const std::string kNobody = std::string("nobody@") + test::kDomain;
const std::string kPublic = "example.org";

bool contains_nocase(std::string_view hay, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i)
    if (mail::iequals(hay.substr(i, needle.size()), needle)) return true;
  return false;
}

size_t occurrences(std::string_view hay, std::string_view needle) {
  size_t n = 0;
  for (size_t i = hay.find(needle); i != std::string_view::npos; i = hay.find(needle, i + 1)) ++n;
  return n;
}

struct Fixture : test::StoreFixture {
  // queue_work needs a uv::Loop: the committer runs on it too (the base's is replaced).
  uv::Loop loop;
  crypto::KeyPair inner = crypto::KeyPair::generate();
  std::unique_ptr<Mailbox> mailbox;
  std::unique_ptr<OutboundQueue> outbound;
  std::unique_ptr<InboundDelivery> inbound;
  std::thread::id opened_on;
  VerifyGuard::Options guard_options;
  std::unique_ptr<VerifyGuard> guard;

  Fixture() {
    gc->shutdown();
    uv_run(&uv.loop, UV_RUN_NOWAIT);
    gc = std::make_unique<store::GroupCommitter>(*env, loop.raw());
    Mailbox::Options mo;
    mo.max_size = 4096;
    auto m = Mailbox::open(*env, *accounts, mo, clock);
    BOOST_REQUIRE(m.ok());
    mailbox = std::move(*m);
    auto q = OutboundQueue::open(*env, inner);
    BOOST_REQUIRE(q.ok());
    outbound = std::move(*q);
    InboundDelivery::Options io;
    io.opened_hook = [this] { opened_on = std::this_thread::get_id(); };
    auto i = InboundDelivery::open(
        *env,
        InboundDelivery::Deps{loop, inner, *accounts, *mailbox, *outbound,
                              mail::DomainRewrite{test::kDomain, kPublic}, clock},
        io);
    BOOST_REQUIRE(i.ok());
    inbound = std::move(*i);
    new_guard();
    BOOST_REQUIRE(accounts->create(*gc, kAlice, "a").ok());
    BOOST_REQUIRE(accounts->create(*gc, kBob, "b").ok());
  }
  ~Fixture() {
    gc->shutdown();
    loop.run_nowait();
    gc.reset();
  }
  void new_guard() {
    guard = std::make_unique<VerifyGuard>(
        [](std::string_view) { return link::VerifyOutcome::exists; }, guard_options);
  }
  std::string sealed(const std::string& id, std::vector<std::string> rcpts,
                     const std::string& body = "hello",
                     const std::string& from = "carol@example.org",
                     const std::string& headers = "Subject: x\r\n") {
    queue::Envelope e;
    e.id = id;
    e.received_at = clock.now();
    e.mail_from = from;
    e.recipients = std::move(rcpts);
    e.message = headers + "\r\n" + body + "\r\n";
    return crypto::seal(inner.pub, queue::encode(e));
  }
  InboundDelivery::Result deliver(std::string blob, uint8_t flags = 0) {
    std::optional<InboundDelivery::Result> out;
    inbound->deliver(*gc, *guard, std::move(blob), flags,
                     [&](InboundDelivery::Result r) { out = r; });
    BOOST_CHECK(!out.has_value());  // never answered before the envelope is opened off the loop
    while (!out) loop.run_once();
    return *out;
  }
  std::string id_of(const std::string& addr) { return (*accounts->recipient(addr))->id; }
  size_t count(const std::string& addr) { return mailbox->list(id_of(addr))->size(); }
  std::string read(const std::string& addr, const std::string& pw, uint64_t seq = 1) {
    auto v = accounts->verify(addr, pw);
    auto text = mailbox->read(id_of(addr), seq, v.session->keys);
    BOOST_REQUIRE(text.ok());
    return *text;
  }
  // Every bounce in the outbound queue.
  std::vector<queue::Envelope> bounces() {
    std::vector<queue::Envelope> out;
    auto items = outbound->list();
    BOOST_REQUIRE(items.ok());
    for (const auto& it : *items) {
      auto e = outbound->open_one(inner, it.id);
      BOOST_REQUIRE(e.ok());
      out.push_back(std::move(*e));
    }
    return out;
  }
  void remove_all(const std::string& addr) {
    auto id = id_of(addr);
    std::vector<uint64_t> seqs;
    auto list = mailbox->list(id);
    BOOST_REQUIRE(list.ok());
    for (const auto& m : *list) seqs.push_back(m.seq);
    std::optional<Result<uint64_t>> removed;
    mailbox->remove(*gc, id, seqs, [&](Result<uint64_t> x) { removed = std::move(x); });
    while (!removed) loop.run_once();
    BOOST_REQUIRE(removed->ok());
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(inbound, Fixture)

BOOST_AUTO_TEST_CASE(delivers_with_a_return_path_and_the_origin_mark_on_top) {
  auto r = deliver(sealed("M1", {kAlice, kBob}));
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(r.delivered, 2u);
  BOOST_CHECK_EQUAL(count(kAlice), 1u);
  BOOST_CHECK_EQUAL(count(kBob), 1u);
  BOOST_CHECK_EQUAL(read(kAlice, "a"),
                    "Return-Path: <carol@example.org>\r\nNightjar-Origin: internet\r\n"
                    "Subject: x\r\n\r\nhello\r\n");
}

BOOST_AUTO_TEST_CASE(the_envelope_is_opened_off_the_loop_thread) {
  const auto loop_thread = std::this_thread::get_id();
  BOOST_REQUIRE(deliver(sealed("T1", {kAlice})).outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK(opened_on != std::thread::id());
  BOOST_CHECK(opened_on != loop_thread);
  // Also for what does not open: the X25519 attempt is the cost a stream of garbage would make.
  opened_on = std::thread::id();
  BOOST_CHECK(deliver("garbage").outcome == InboundDelivery::Outcome::permanent);
  BOOST_CHECK(opened_on != std::thread::id());
  BOOST_CHECK(opened_on != loop_thread);
}

BOOST_AUTO_TEST_CASE(a_forged_origin_mark_is_removed) {
  const std::string forged =
      "Nightjar-Origin: local\r\nSubject: x\r\nnightjar-origin:\r\n local\r\n"
      "NIGHTJAR-ORIGIN: internal\r\nNightjar-Originator: kept, another name\r\n";
  BOOST_REQUIRE(deliver(sealed("O1", {kAlice}, "Nightjar-Origin: local (in the body, kept)",
                               "carol@example.org", forged))
                    .outcome == InboundDelivery::Outcome::delivered);
  std::string text = read(kAlice, "a");
  BOOST_CHECK_EQUAL(text,
                    "Return-Path: <carol@example.org>\r\nNightjar-Origin: internet\r\n"
                    "Subject: x\r\nNightjar-Originator: kept, another name\r\n\r\n"
                    "Nightjar-Origin: local (in the body, kept)\r\n");
  auto h = mail::parse_headers(text);
  BOOST_REQUIRE(h.ok());
  BOOST_CHECK_EQUAL(h->count("Nightjar-Origin"), 1u);
}

BOOST_AUTO_TEST_CASE(the_inner_sanitizes_the_header_section_again) {
  // What a seized edge might add: a second Return-Path and delivery fields a reader could take
  // for the inner's. The edge's own fields stay.
  const std::string forged =
      "Return-Path: <ceo@example.org>\r\nDelivered-To: alice@example.i2p\r\n"
      "X-Original-To: alice@example.i2p\r\nX-Nightjar-Content: no html\r\n"
      "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=example.org\r\n"
      "Subject: y\r\n";
  BOOST_REQUIRE(deliver(sealed("O2", {kAlice}, "body", "carol@example.org", forged)).outcome ==
                InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(read(kAlice, "a"),
                    "Return-Path: <carol@example.org>\r\nNightjar-Origin: internet\r\n"
                    "X-Nightjar-Content: no html\r\n"
                    "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=example.org\r\n"
                    "Subject: y\r\n\r\nbody\r\n");
}

BOOST_AUTO_TEST_CASE(a_retransmit_makes_no_duplicate) {
  BOOST_CHECK(deliver(sealed("M2", {kAlice})).outcome == InboundDelivery::Outcome::delivered);
  auto again = deliver(sealed("M2", {kAlice}));
  BOOST_CHECK(again.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(again.delivered, 0u);
  BOOST_CHECK_EQUAL(count(kAlice), 1u);
}

BOOST_AUTO_TEST_CASE(a_recipient_listed_twice_gets_one_copy) {
  auto r = deliver(sealed("D2", {kAlice, "ALICE@" + std::string(test::kDomain)}));
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(r.delivered, 1u);
  BOOST_CHECK_EQUAL(count(kAlice), 1u);
}

BOOST_AUTO_TEST_CASE(a_full_mailbox_is_temporary_and_the_retry_fills_only_the_gap) {
  // bob's mailbox cannot take a second message of this size; alice's can.
  BOOST_REQUIRE(deliver(sealed("F0", {kBob}, std::string(3000, 'b'))).outcome ==
                InboundDelivery::Outcome::delivered);
  auto r = deliver(sealed("F1", {kAlice, kBob}, std::string(1000, 'x')));
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::temporary);
  BOOST_CHECK_EQUAL(r.delivered, 1u);
  BOOST_CHECK_EQUAL(r.full, 1u);
  BOOST_CHECK_EQUAL(count(kAlice), 1u);
  BOOST_CHECK(bounces().empty());  // not the last attempt: the edge keeps it
  remove_all(kBob);
  auto retry = deliver(sealed("F1", {kAlice, kBob}, std::string(1000, 'x')));
  BOOST_CHECK(retry.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(retry.delivered, 1u);
  BOOST_CHECK_EQUAL(count(kAlice), 1u);
  BOOST_CHECK_EQUAL(count(kBob), 1u);
}

BOOST_AUTO_TEST_CASE(an_unknown_recipient_is_bounced_once_even_when_the_deliver_repeats) {
  auto r = deliver(sealed("U1", {kAlice, kNobody}));
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::delivered);  // ACK: the edge learns nothing
  BOOST_CHECK_EQUAL(r.delivered, 1u);
  BOOST_CHECK_EQUAL(r.unknown, 1u);
  BOOST_CHECK_EQUAL(r.bounced, 1u);
  auto again = deliver(sealed("U1", {kAlice, kNobody}));
  BOOST_CHECK(again.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(again.bounced, 0u);
  BOOST_CHECK_EQUAL(again.unknown, 0u);
  auto b = bounces();
  BOOST_REQUIRE_EQUAL(b.size(), 1u);
  BOOST_CHECK_EQUAL(b[0].mail_from, "");  // null sender
  BOOST_REQUIRE_EQUAL(b[0].recipients.size(), 1u);
  BOOST_CHECK_EQUAL(b[0].recipients[0], "carol@example.org");
  BOOST_CHECK(b[0].message.find("Final-Recipient: rfc822; nobody@example.org\r\n") !=
              std::string::npos);
  BOOST_CHECK(b[0].message.find("Status: 5.1.1\r\n") != std::string::npos);
  BOOST_CHECK(b[0].message.find("alice") == std::string::npos);  // only who failed
  BOOST_CHECK_EQUAL(count(kAlice), 1u);
  // Due at once, in the due index the link reads each second: a link that stays up sends it.
  auto due = outbound->due_before(clock.now(), 10);
  BOOST_REQUIRE(due.ok());
  BOOST_CHECK_EQUAL(due->size(), 1u);
}

BOOST_AUTO_TEST_CASE(unknown_recipients_of_a_deliver_that_waits_are_bounced_once) {
  BOOST_REQUIRE(deliver(sealed("W0", {kBob}, std::string(3000, 'b'))).outcome ==
                InboundDelivery::Outcome::delivered);
  auto r = deliver(sealed("W1", {kNobody, kBob}, std::string(1000, 'x')));
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::temporary);
  BOOST_CHECK_EQUAL(r.bounced, 1u);  // at once, not when the edge gives up
  auto r2 = deliver(sealed("W1", {kNobody, kBob}, std::string(1000, 'x')));
  BOOST_CHECK(r2.outcome == InboundDelivery::Outcome::temporary);
  BOOST_CHECK_EQUAL(r2.bounced, 0u);
  BOOST_CHECK_EQUAL(bounces().size(), 1u);
}

BOOST_AUTO_TEST_CASE(a_recipient_removed_after_its_delivery_is_not_bounced_on_a_retransmit) {
  BOOST_REQUIRE(deliver(sealed("R1", {kAlice, kBob}, std::string(200, 'x'))).outcome ==
                InboundDelivery::Outcome::delivered);
  BOOST_REQUIRE(accounts->remove(*gc, kAlice).ok());
  auto again = deliver(sealed("R1", {kAlice, kBob}, std::string(200, 'x')));
  BOOST_CHECK(again.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(again.bounced, 0u);
  BOOST_CHECK(bounces().empty());
}

BOOST_AUTO_TEST_CASE(the_null_sender_is_never_bounced) {
  auto r = deliver(sealed("N1", {kAlice, kNobody}, "hello", ""));
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(r.unknown, 1u);
  BOOST_CHECK_EQUAL(r.bounced, 0u);
  BOOST_CHECK(bounces().empty());
  BOOST_CHECK(read(kAlice, "a").rfind("Return-Path: <>\r\nNightjar-Origin: internet\r\n", 0) == 0);
}

BOOST_AUTO_TEST_CASE(the_last_attempt_bounces_full_mailboxes_and_is_acked) {
  BOOST_REQUIRE(deliver(sealed("L0", {kBob}, std::string(3000, 'b'))).outcome ==
                InboundDelivery::Outcome::delivered);
  auto r = deliver(sealed("L1", {kAlice, kBob}, std::string(1000, 'x')), link::kDeliverLastAttempt);
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(r.delivered, 1u);
  BOOST_CHECK_EQUAL(r.full, 1u);
  BOOST_CHECK_EQUAL(r.bounced, 1u);
  auto b = bounces();
  BOOST_REQUIRE_EQUAL(b.size(), 1u);
  BOOST_CHECK(b[0].message.find("Final-Recipient: rfc822; bob@example.org\r\n") !=
              std::string::npos);
  BOOST_CHECK(b[0].message.find("Action: failed\r\nStatus: 4.2.2\r\n") != std::string::npos);
  BOOST_CHECK(b[0].message.find("mailbox full for the whole time we kept it") != std::string::npos);
  // Sent again (the ACK was lost) after bob made room: neither a copy nor a second bounce.
  remove_all(kBob);
  auto again =
      deliver(sealed("L1", {kAlice, kBob}, std::string(1000, 'x')), link::kDeliverLastAttempt);
  BOOST_CHECK(again.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(again.delivered + again.bounced, 0u);
  BOOST_CHECK_EQUAL(count(kBob), 0u);
  BOOST_CHECK_EQUAL(bounces().size(), 1u);
}

BOOST_AUTO_TEST_CASE(a_message_larger_than_the_mailbox_is_bounced_at_once) {
  auto r = deliver(sealed("B1", {kAlice}, std::string(5000, 'x')));
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(r.bounced, 1u);
  auto b = bounces();
  BOOST_REQUIRE_EQUAL(b.size(), 1u);
  BOOST_CHECK(b[0].message.find("Status: 5.2.3\r\n") != std::string::npos);
  BOOST_CHECK(b[0].message.find(std::string(100, 'x')) == std::string::npos);  // no body
}

BOOST_AUTO_TEST_CASE(the_bounce_names_no_internal_domain_and_nothing_of_the_inner) {
  // The sender and the original header section mention the internal domain, in other case too.
  const std::string headers =
      "Received: from mx.example.net by mx.example.org with ESMTP id 1;\r\n"
      "\tTue, 14 Nov 2023 22:13:20 +0000\r\n"
      "From: Carol <carol@example.net>\r\n"
      "To: nobody@USERS.nightjar.test\r\n"
      "Cc: bob@example.org\r\n"
      "Subject: hello\r\n"
      "Nightjar-Origin: local\r\n";
  auto r = deliver(sealed("I1", {kNobody}, "the body", "carol@example.net", headers));
  BOOST_REQUIRE_EQUAL(r.bounced, 1u);
  auto b = bounces();
  BOOST_REQUIRE_EQUAL(b.size(), 1u);
  const std::string& m = b[0].message;
  BOOST_CHECK(!contains_nocase(m, test::kDomain));
  BOOST_CHECK(!contains_nocase(m, "nightjar.test"));
  for (const auto& rcpt : b[0].recipients) BOOST_CHECK(!contains_nocase(rcpt, test::kDomain));
  BOOST_CHECK(m.find("From: Mail Delivery System <MAILER-DAEMON@example.org>\r\n") !=
              std::string::npos);
  BOOST_CHECK(m.find("To: <carol@example.net>\r\n") != std::string::npos);
  BOOST_CHECK(m.find("Reporting-MTA: dns; example.org\r\n") != std::string::npos);
  BOOST_CHECK(m.find("Content-Type: text/rfc822-headers") != std::string::npos);
  BOOST_CHECK(m.find("Cc: bob@example.org\r\n") != std::string::npos);  // the rest is quoted
  BOOST_CHECK(m.find("the body") == std::string::npos);
  BOOST_CHECK(m.find("Nightjar-Origin") == std::string::npos);
  // The only Received line is the edge's, inside the quoted header section.
  BOOST_CHECK_EQUAL(occurrences(m, "Received:"), 1u);
  auto top = mail::parse_headers(m);
  BOOST_REQUIRE(top.ok());
  BOOST_CHECK_EQUAL(top->count("Received"), 0u);
  BOOST_CHECK(top->find("Message-ID")->unfolded().find("@example.org>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_sender_on_the_internal_domain_is_answered_on_the_public_one) {
  auto r = deliver(sealed("S1", {kNobody}, "x", "bob@" + std::string(test::kDomain)));
  BOOST_REQUIRE_EQUAL(r.bounced, 1u);
  auto b = bounces();
  BOOST_REQUIRE_EQUAL(b.size(), 1u);
  BOOST_CHECK_EQUAL(b[0].recipients.at(0), "bob@example.org");
  BOOST_CHECK(!contains_nocase(b[0].message, test::kDomain));
}

BOOST_AUTO_TEST_CASE(only_what_does_not_open_or_decode_is_permanent) {
  auto other = crypto::KeyPair::generate();
  queue::Envelope e;
  e.id = "W1";
  e.mail_from = "x@example.org";
  e.recipients = {kAlice};
  e.message = "a: b\r\n\r\nbody\r\n";
  BOOST_CHECK(deliver(crypto::seal(other.pub, queue::encode(e))).outcome ==
              InboundDelivery::Outcome::permanent);
  BOOST_CHECK(deliver(crypto::seal(inner.pub, "not an envelope")).outcome ==
              InboundDelivery::Outcome::permanent);
  BOOST_CHECK(deliver("garbage").outcome == InboundDelivery::Outcome::permanent);
  // A sender that would add header fields through Return-Path.
  e.mail_from = "x@example.org>\r\nNightjar-Origin: local\r\nX: <y@example.org";
  BOOST_CHECK(deliver(crypto::seal(inner.pub, queue::encode(e))).outcome ==
              InboundDelivery::Outcome::permanent);
  // A header section that does not parse: a forged mark could not be found for certain.
  e.mail_from = "x@example.org";
  e.message = "no colon here\r\n\r\nbody\r\n";
  BOOST_CHECK(deliver(crypto::seal(inner.pub, queue::encode(e))).outcome ==
              InboundDelivery::Outcome::permanent);
  BOOST_CHECK_EQUAL(count(kAlice), 0u);
  BOOST_CHECK(bounces().empty());
}

BOOST_AUTO_TEST_CASE(a_cool_down_refuses_every_deliver_and_bounces_nothing) {
  guard_options.max_unknown = 2;
  new_guard();
  // Three unknown names in one DELIVER would start a cool-down: refused as a whole, no bounce,
  // no copy (the edge learns only that it must wait, as with VERIFY).
  auto r = deliver(
      sealed("C1", {kAlice, "x1@" + std::string(test::kDomain), "x2@" + std::string(test::kDomain),
                    "x3@" + std::string(test::kDomain)}));
  BOOST_CHECK(r.outcome == InboundDelivery::Outcome::temporary);
  BOOST_CHECK(r.reason.find('@') == std::string::npos);
  BOOST_CHECK_EQUAL(count(kAlice), 0u);
  BOOST_CHECK(bounces().empty());
  BOOST_CHECK(guard->cooling_down(clock.monotonic_ms()));
  // During the cool-down even a DELIVER to existing users only waits.
  BOOST_CHECK(deliver(sealed("C2", {kAlice})).outcome == InboundDelivery::Outcome::temporary);
  BOOST_CHECK_EQUAL(count(kAlice), 0u);
  BOOST_CHECK_EQUAL(guard->stats().deliver_refused, 2u);
  clock.advance(static_cast<int64_t>(guard_options.cooldown_ms / 1000) + 1);
  BOOST_CHECK(deliver(sealed("C2", {kAlice})).outcome == InboundDelivery::Outcome::delivered);
}

BOOST_AUTO_TEST_CASE(bounced_recipients_of_a_retransmit_do_not_count_again) {
  guard_options.max_unknown = 2;
  new_guard();
  BOOST_REQUIRE(deliver(sealed("G0", {kBob}, std::string(3000, 'b'))).outcome ==
                InboundDelivery::Outcome::delivered);
  // Two unknowns (allowed) and bob's full mailbox: temporary, the edge sends it again and again.
  for (int i = 0; i < 4; ++i) {
    auto r = deliver(
        sealed("G1", {"y1@" + std::string(test::kDomain), "y2@" + std::string(test::kDomain), kBob},
               std::string(1000, 'x')));
    BOOST_CHECK(r.outcome == InboundDelivery::Outcome::temporary);
    BOOST_CHECK(r.reason == "mailbox full");
  }
  BOOST_CHECK(!guard->cooling_down(clock.monotonic_ms()));
  BOOST_CHECK_EQUAL(guard->stats().unknown, 2u);
  BOOST_CHECK_EQUAL(bounces().size(), 1u);
}

BOOST_AUTO_TEST_CASE(old_delivery_records_are_purged) {
  BOOST_REQUIRE(deliver(sealed("P1", {kAlice})).outcome == InboundDelivery::Outcome::delivered);
  BOOST_CHECK_EQUAL(*inbound->purge(*gc), 0u);
  clock.advance(InboundDelivery::kRememberSeconds + 1);
  BOOST_CHECK_EQUAL(*inbound->purge(*gc), 2u);  // by account and by index
}

BOOST_AUTO_TEST_SUITE_END()
