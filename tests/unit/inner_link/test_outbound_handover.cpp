// OutboundHandover with real parts: a scratch LMDB store holding real Accounts, Mailbox and
// OutboundQueue, a real GroupCommitter, a manual clock for the inner's time, and two
// link::Sessions over loopback. The test plays the edge on the responder Session (it reads the
// SUBMITs and answers ACK, NACK or STATUS) and routes the initiator's frames to the handover as
// LinkClient does. Covered: what goes out on up() and when it is released, per-recipient STATUS
// (ACK only after the commit, one DSN per failed recipient, however often a STATUS repeats),
// resubmission of the unfinished recipients on a new link, the back-off after a temporary NACK,
// the bounce after a permanent NACK (only of what no STATUS settled first) or for a message
// larger than a frame, and the window.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/link/payloads.h"
#include "common/link/session.h"
#include "common/queue/envelope.h"
#include "common/uv/handles.h"
#include "common/uv/loop.h"
#include "common/uv/tcp.h"
#include "inner/link/outbound_handover.h"
#include "tests/unit/accounts/fixture.h"
#include "tests/unit/support/run_until.h"

using namespace nj;
using namespace nj::inner;

namespace {

const std::string kAuthor = std::string("alice@") + test::kDomain;  // the account
const std::string kAuthorPublic = "alice@example.org";              // as the envelope has it
const std::string kR1 = "r1@remote.test";
const std::string kR2 = "r2@remote.test";
const std::string kR3 = "r3@remote.test";

using nj::testing::run_until;

// Lets the loop run (the handover's ticks among it) for `ms` of real time.
void run_for(uv::Loop& loop, uint64_t ms) {
  bool done = false;
  run_until(
      loop, [&] { return done; }, ms);
}

// One link: the edge's responder Session (played by the test) and the inner's initiator.
struct Link {
  std::unique_ptr<uv::TcpListener> listener;
  std::shared_ptr<link::Session> edge;
  std::shared_ptr<link::Session> inner;
  bool edge_open = false, inner_open = false, edge_ended = false;
  std::vector<link::Frame> at_edge;  // every frame the edge received, in order
  const crypto::KeyPair* key = nullptr;  // the edge's

  std::vector<link::Frame> of_type(link::FrameType t) const {
    std::vector<link::Frame> out;
    for (const auto& f : at_edge)
      if (f.type == t) out.push_back(f);
    return out;
  }
  size_t submits() const { return of_type(link::FrameType::submit).size(); }
  size_t acks_for(uint64_t frame_id) const {
    size_t n = 0;
    for (const auto& f : of_type(link::FrameType::ack)) n += f.id == frame_id;
    return n;
  }
};

struct Submitted {
  uint64_t frame_id = 0;
  std::string message_id;
  queue::Envelope envelope;
};

// Holds the GroupCommitter's writer inside a work item until released, so nothing submitted
// after it can commit (nor its `done` run) before then.
struct WriterHold {
  std::mutex m;
  std::condition_variable cv;
  bool holding = false, go = false;
  void release() {
    std::lock_guard<std::mutex> l(m);
    go = true;
    cv.notify_all();
  }
};

struct Fixture : test::StoreFixture {
  uv::Loop loop;  // the committer and the sessions run on it (the base's committer is replaced)
  crypto::KeyPair inner = crypto::KeyPair::generate();
  crypto::KeyPair edge_key = crypto::KeyPair::generate();
  crypto::KeyPair edge_b = crypto::KeyPair::generate();  // a second edge, for the fleet's tests
  InnerConfig config;
  std::unique_ptr<Mailbox> mailbox;
  std::unique_ptr<OutboundQueue> outbound;
  std::optional<crypto::KeyPair> author_keys;  // to read the author's mailbox back
  OutboundHandover::Options options;
  std::unique_ptr<OutboundHandover> handover;
  std::vector<std::unique_ptr<Link>> links;  // kept until the end: sessions outlive their use
  std::vector<std::shared_ptr<WriterHold>> holds;

  Fixture() {
    gc->shutdown();
    uv_run(&uv.loop, UV_RUN_NOWAIT);
    gc = std::make_unique<store::GroupCommitter>(*env, loop.raw());
    config.hostname = "example.org";
    config.domain.internal_domain = test::kDomain;
    config.domain.public_domain = "example.org";
    auto m = Mailbox::open(*env, *accounts, Mailbox::Options{}, clock);
    BOOST_REQUIRE(m.ok());
    mailbox = std::move(*m);
    auto q = OutboundQueue::open(*env, inner);
    BOOST_REQUIRE(q.ok());
    outbound = std::move(*q);
    BOOST_REQUIRE(accounts->create(*gc, kAuthor, "a").ok());
    auto v = accounts->verify(kAuthor, "a");
    BOOST_REQUIRE(v.status == VerifyStatus::ok);
    author_keys.emplace(std::move(v.session->keys));
    options.tick_ms = 20;
  }
  ~Fixture() {
    for (auto& h : holds) h->release();  // a failed check must not leave the writer held
    gc->shutdown();
    loop.run_nowait();
    gc.reset();
  }

  static std::string id_of(const crypto::KeyPair& k) { return std::string(k.pub.view()); }
  std::string edge_id() const { return id_of(edge_key); }

  OutboundHandover& start() {
    if (!handover) {
      handover = std::make_unique<OutboundHandover>(
          loop, OutboundHandover::Deps{*outbound, *mailbox, *accounts, config, clock, *gc, inner},
          options);
      handover->add_edge(edge_id(), "a", 600000);
      handover->start();
    }
    return *handover;
  }

  // Queues a message from the author, due at `due` (now when unset), as the submission does.
  void add(const std::string& id, std::vector<std::string> rcpts,
           std::optional<int64_t> due = std::nullopt, const std::string& body = "body") {
    queue::Envelope e;
    e.id = id;
    e.received_at = clock.now();
    e.mail_from = kAuthorPublic;
    e.recipients = std::move(rcpts);
    e.message = "From: <" + kAuthorPublic +
                ">\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\nSubject: s\r\n\r\n" + body + "\r\n";
    int64_t when = due.value_or(clock.now());
    BOOST_REQUIRE(
        gc->commit_now([&](store::Txn& txn) { return outbound->add_in(txn, e, when); }).ok());
  }

  // A new link, open on both ends, handed to the handover (as LinkClient does once open).
  Link& connect(const crypto::KeyPair* which = nullptr) {
    const crypto::KeyPair& ek = which ? *which : edge_key;
    start();
    auto lk = std::make_unique<Link>();
    Link* L = lk.get();
    L->key = &ek;
    links.push_back(std::move(lk));
    auto r =
        uv::TcpListener::bind(loop, "127.0.0.1:0", [this, L](std::unique_ptr<uv::Connection> c) {
          L->edge = std::make_shared<link::Session>(loop, std::move(c), link::Role::responder,
                                                    *L->key, inner.pub, link::Session::Options{});
          L->edge->start({[L] { L->edge_open = true; },
                          [L](link::Frame f) { L->at_edge.push_back(std::move(f)); },
                          [L](const link::Session::Ended&) { L->edge_ended = true; }});
        });
    BOOST_REQUIRE(r.ok());
    L->listener = std::move(*r);
    bool connected = false;
    auto c = uv::Connection::connect(loop, "127.0.0.1", L->listener->port(),
                                     [&](const Status& s) { connected = s.ok(); });
    BOOST_REQUIRE(c.ok());
    std::unique_ptr<uv::Connection> conn = std::move(*c);
    BOOST_REQUIRE(run_until(loop, [&] { return connected; }));
    L->inner = std::make_shared<link::Session>(loop, std::move(conn), link::Role::initiator, inner,
                                               ek.pub, link::Session::Options{});
    OutboundHandover* h = handover.get();
    std::string key = id_of(ek);
    L->inner->start({[L] { L->inner_open = true; },
                     [h, key](link::Frame f) {
                       switch (f.type) {  // LinkClient's routing of the handover's frames
                         case link::FrameType::ack:
                         case link::FrameType::nack:
                           h->on_answer(key, f);
                           return;
                         case link::FrameType::status:
                           h->on_status(key, f);
                           return;
                         default:
                           BOOST_ERROR("unexpected frame at the inner");
                       }
                     },
                     [](const link::Session::Ended&) {}});
    BOOST_REQUIRE(run_until(loop, [&] { return L->inner_open && L->edge_open; }));
    handover->up(key, L->inner);
    return *L;
  }
  // The link goes away: the handover is told (as LinkClient does), the connection closes.
  void disconnect(Link& L) {
    handover->down(id_of(*L.key));
    L.inner->close("test: link down");
    BOOST_REQUIRE(run_until(loop, [&] { return L.edge_ended; }));
  }

  // The SUBMITs the edge received on `L`, decoded as the edge would.
  std::vector<Submitted> submitted(const Link& L) {
    std::vector<Submitted> out;
    for (const auto& f : L.of_type(link::FrameType::submit)) {
      auto p = link::decode_submit(f.payload);
      BOOST_REQUIRE_MESSAGE(p.ok(), "SUBMIT payload: " << (p.ok() ? "" : p.error()));
      auto e = queue::decode(p->envelope);
      BOOST_REQUIRE_MESSAGE(e.ok(), "SUBMIT envelope: " << (e.ok() ? "" : e.error()));
      BOOST_CHECK_EQUAL(e->id, p->message_id);
      out.push_back(Submitted{f.id, p->message_id, std::move(*e)});
    }
    return out;
  }
  void edge_send(Link& L, link::FrameType t, uint64_t id, std::string payload) {
    BOOST_REQUIRE(L.edge->send(link::Frame{t, id, std::move(payload)}).ok());
  }
  void ack(Link& L, uint64_t frame_id) { edge_send(L, link::FrameType::ack, frame_id, {}); }
  void nack(Link& L, uint64_t frame_id, link::NackKind kind, const std::string& reason) {
    auto p = link::encode(link::NackPayload{kind, reason});
    BOOST_REQUIRE(p.ok());
    edge_send(L, link::FrameType::nack, frame_id, *p);
  }
  // Sends a STATUS; returns its frame id (the inner's ACK carries it).
  uint64_t status(Link& L, const std::string& id, std::vector<link::RecipientStatus> results) {
    auto p = link::encode(link::StatusPayload{id, std::move(results)});
    BOOST_REQUIRE(p.ok());
    uint64_t fid = L.edge->next_id();
    edge_send(L, link::FrameType::status, fid, *p);
    return fid;
  }

  // The message ids of the WITHDRAWs the edge received on `L`, with their frame ids.
  std::vector<std::pair<uint64_t, std::string>> withdrawals_at(const Link& L) {
    std::vector<std::pair<uint64_t, std::string>> out;
    for (const auto& f : L.of_type(link::FrameType::withdraw)) {
      auto p = link::decode_withdraw(f.payload);
      BOOST_REQUIRE(p.ok());
      out.emplace_back(f.id, p->message_id);
    }
    return out;
  }
  std::vector<std::string> notes_for(const crypto::KeyPair& k) {
    auto w = outbound->withdrawals(id_of(k));
    BOOST_REQUIRE(w.ok());
    return *w;
  }

  std::optional<OutboundQueue::Item> item(const std::string& id) {
    auto items = outbound->list();
    BOOST_REQUIRE(items.ok());
    for (const auto& it : *items)
      if (it.id == id) return it;
    return std::nullopt;
  }
  std::vector<std::string> recipients_of(const std::string& id) {
    auto e = outbound->open_one(inner, id);
    BOOST_REQUIRE(e.ok());
    return e->recipients;
  }
  // Every message in the author's mailbox (the DSNs: nothing else reaches it here).
  std::vector<std::string> dsns() {
    std::string account = (*accounts->recipient(kAuthor))->id;
    auto list = mailbox->list(account);
    BOOST_REQUIRE(list.ok());
    std::vector<std::string> out;
    for (const auto& m : *list) {
      auto text = mailbox->read(account, m.seq, *author_keys);
      BOOST_REQUIRE(text.ok());
      out.push_back(*text);
    }
    return out;
  }

  // Stops the committer's writer until the returned hold is released.
  std::shared_ptr<WriterHold> hold_writer() {
    auto h = std::make_shared<WriterHold>();
    holds.push_back(h);
    gc->submit(
        [h](store::Txn&) -> Status {
          std::unique_lock<std::mutex> l(h->m);
          h->holding = true;
          h->cv.notify_all();
          h->cv.wait(l, [&] { return h->go; });
          return {};
        },
        [](Status) {});
    std::unique_lock<std::mutex> l(h->m);
    BOOST_REQUIRE(h->cv.wait_for(l, std::chrono::seconds(5), [&] { return h->holding; }));
    return h;
  }

  // SUBMIT of `id` on `L` answered by ACK, and the release committed.
  void hand_over(Link& L, const std::string& id) {
    BOOST_REQUIRE(run_until(loop, [&] {
      for (const auto& s : submitted(L))
        if (s.message_id == id) return true;
      return false;
    }));
    for (const auto& s : submitted(L))
      if (s.message_id == id) ack(L, s.frame_id);
    BOOST_REQUIRE(run_until(loop, [&] {
      auto it = item(id);
      return it && it->released;
    }));
  }
};

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

link::RecipientStatus delivered(const std::string& r) {
  return {r, link::RecipientOutcome::delivered, ""};
}
link::RecipientStatus failed(const std::string& r, const std::string& reply) {
  return {r, link::RecipientOutcome::failed, reply};
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(outbound_handover, Fixture)

BOOST_AUTO_TEST_CASE(up_submits_every_due_message_and_an_ack_releases_it_for_good) {
  add("A1", {kR1});
  add("A2", {kR1, kR2});
  add("A3", {kR3}, clock.now() + 600);  // its delay class still holds it
  Link& L = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return L.submits() == 2; }));
  run_for(loop, 100);
  auto s = submitted(L);
  BOOST_REQUIRE_EQUAL(s.size(), 2u);
  BOOST_CHECK_EQUAL(s[0].message_id, "A1");
  BOOST_CHECK_EQUAL(s[1].message_id, "A2");
  BOOST_CHECK(s[1].envelope.recipients == (std::vector<std::string>{kR1, kR2}));
  BOOST_CHECK_EQUAL(s[1].envelope.mail_from, kAuthorPublic);
  BOOST_CHECK(has(s[1].envelope.message, "\r\n\r\nbody\r\n"));
  BOOST_CHECK(s[0].frame_id != s[1].frame_id);
  // Nothing is released before the edge's ACK.
  BOOST_CHECK(!item("A1")->released);
  BOOST_CHECK(!item("A2")->released);
  ack(L, s[0].frame_id);
  ack(L, s[1].frame_id);
  BOOST_REQUIRE(run_until(loop, [&] { return item("A1")->released && item("A2")->released; }));
  BOOST_CHECK(!item("A3")->released);
  BOOST_CHECK_EQUAL(item("A2")->recipients, 2u);  // kept until the edge reports results
  // Ticks on this link send nothing handed over again; the held message once its time comes.
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(L.submits(), 2u);
  clock.advance(601);
  BOOST_REQUIRE(run_until(loop, [&] { return L.submits() == 3; }));
  BOOST_CHECK_EQUAL(submitted(L)[2].message_id, "A3");
  ack(L, submitted(L)[2].frame_id);
  BOOST_REQUIRE(run_until(loop, [&] { return item("A3")->released; }));
  clock.advance(3600);
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(L.submits(), 3u);
  BOOST_CHECK(dsns().empty());
}

BOOST_AUTO_TEST_CASE(queued_hands_over_a_due_message_at_once) {
  options.tick_ms = 600'000;  // no tick in this test: queued() alone sends
  Link& L = connect();
  add("Q1", {kR1}, clock.now() + 60);
  start().queued("Q1", clock.now() + 60);
  add("Q2", {kR1});
  start().queued("Q2", clock.now());
  BOOST_REQUIRE(run_until(loop, [&] { return L.submits() == 1; }));
  run_for(loop, 100);
  BOOST_REQUIRE_EQUAL(L.submits(), 1u);
  BOOST_CHECK_EQUAL(submitted(L)[0].message_id, "Q2");
}

BOOST_AUTO_TEST_CASE(status_settles_recipients_one_by_one_acked_after_the_commit) {
  add("S1", {kR1, kR2});
  Link& L = connect();
  hand_over(L, "S1");
  // The writer is held: the STATUS cannot commit, so it must not be ACKed.
  auto hold = hold_writer();
  uint64_t st1 = status(L, "S1", {delivered(kR1)});
  run_for(loop, 300);
  BOOST_CHECK_EQUAL(L.acks_for(st1), 0u);
  BOOST_CHECK_EQUAL(item("S1")->recipients, 2u);
  hold->release();
  BOOST_REQUIRE(run_until(loop, [&] { return L.acks_for(st1) == 1; }));
  BOOST_CHECK(recipients_of("S1") == std::vector<std::string>{kR2});
  BOOST_CHECK_EQUAL(item("S1")->recipients, 1u);
  BOOST_CHECK(item("S1")->released);
  BOOST_CHECK(dsns().empty());  // a delivery makes no report

  const std::string reply = "550 5.1.1 <r2@remote.test>: Recipient address rejected";
  uint64_t st2 = status(L, "S1", {failed(kR2, reply)});
  BOOST_REQUIRE(run_until(loop, [&] { return L.acks_for(st2) == 1; }));
  BOOST_CHECK(!item("S1").has_value());
  auto d = dsns();
  BOOST_REQUIRE_EQUAL(d.size(), 1u);
  BOOST_CHECK(has(d[0], "To: <" + kAuthor + ">\r\n"));
  BOOST_CHECK(has(d[0], "Final-Recipient: rfc822; " + kR2 + "\r\n"));
  BOOST_CHECK(has(d[0], "Status: 5.1.1\r\n"));
  BOOST_CHECK(has(d[0], "Diagnostic-Code: smtp; " + reply + "\r\n"));
  BOOST_CHECK(!has(d[0], kR1));  // only who failed

  // The edge did not see our ACK and sends the same STATUS again: ACKed, no second report.
  uint64_t st3 = status(L, "S1", {failed(kR2, reply)});
  BOOST_REQUIRE(run_until(loop, [&] { return L.acks_for(st3) == 1; }));
  BOOST_CHECK_EQUAL(dsns().size(), 1u);
  // Nor for a STATUS that repeats the first, delivered, result.
  uint64_t st4 = status(L, "S1", {delivered(kR1), failed(kR2, reply)});
  BOOST_REQUIRE(run_until(loop, [&] { return L.acks_for(st4) == 1; }));
  BOOST_CHECK_EQUAL(dsns().size(), 1u);
  BOOST_CHECK_EQUAL(L.submits(), 1u);
}

BOOST_AUTO_TEST_CASE(a_new_link_gets_only_the_unfinished_recipients) {
  add("N1", {kR1, kR2, kR3});
  add("N2", {kR1});
  Link& L1 = connect();
  hand_over(L1, "N1");
  hand_over(L1, "N2");
  BOOST_CHECK(submitted(L1)[0].envelope.recipients == (std::vector<std::string>{kR1, kR2, kR3}));
  uint64_t st = status(L1, "N1", {delivered(kR1), delivered(kR3)});
  uint64_t st2 = status(L1, "N2", {delivered(kR1)});  // finished: not offered again
  BOOST_REQUIRE(run_until(loop, [&] { return L1.acks_for(st) == 1 && L1.acks_for(st2) == 1; }));
  BOOST_CHECK(!item("N2").has_value());
  disconnect(L1);

  Link& L2 = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return L2.submits() == 1; }));
  run_for(loop, 200);
  auto s = submitted(L2);
  BOOST_REQUIRE_EQUAL(s.size(), 1u);
  BOOST_CHECK_EQUAL(s[0].message_id, "N1");
  BOOST_CHECK(s[0].envelope.recipients == std::vector<std::string>{kR2});
  ack(L2, s[0].frame_id);
  uint64_t st3 = status(L2, "N1", {delivered(kR2)});
  BOOST_REQUIRE(run_until(loop, [&] { return L2.acks_for(st3) == 1; }));
  BOOST_CHECK(!item("N1").has_value());
  BOOST_CHECK(dsns().empty());
  BOOST_CHECK_EQUAL(L1.submits(), 2u);
}

BOOST_AUTO_TEST_CASE(a_temporary_nack_backs_off_per_message) {
  add("T1", {kR1});
  Link& L = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return L.submits() == 1; }));
  nack(L, submitted(L)[0].frame_id, link::NackKind::temporary, "queue full");
  run_for(loop, 100);
  BOOST_CHECK(!item("T1")->released);
  // The first back-off is 60 s +-25%: at least 45 s.
  clock.advance(44);
  run_for(loop, 200);  // ten ticks
  BOOST_CHECK_EQUAL(L.submits(), 1u);
  clock.advance(32);  // 76 s: past the longest first back-off
  BOOST_REQUIRE(run_until(loop, [&] { return L.submits() == 2; }));
  BOOST_CHECK_EQUAL(submitted(L)[1].message_id, "T1");
  // Refused again: the back-off doubles (120 s +-25%: 90 s to 150 s).
  nack(L, submitted(L)[1].frame_id, link::NackKind::temporary, "queue full");
  run_for(loop, 100);
  clock.advance(89);
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(L.submits(), 2u);
  clock.advance(62);
  BOOST_REQUIRE(run_until(loop, [&] { return L.submits() == 3; }));
  ack(L, submitted(L)[2].frame_id);
  BOOST_REQUIRE(run_until(loop, [&] { return item("T1")->released; }));
  BOOST_CHECK(dsns().empty());
}

BOOST_AUTO_TEST_CASE(the_back_off_holds_across_a_new_link) {
  add("B1", {kR1});
  add("B2", {kR2});
  Link& L1 = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return L1.submits() == 2; }));
  for (const auto& s : submitted(L1))
    if (s.message_id == "B1") nack(L1, s.frame_id, link::NackKind::temporary, "later");
  run_for(loop, 100);
  disconnect(L1);  // B2 was in flight: offered again on the next link, B1 only after its wait
  clock.advance(10);
  Link& L2 = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return L2.submits() == 1; }));
  BOOST_CHECK_EQUAL(submitted(L2)[0].message_id, "B2");
  clock.advance(30);  // 40 s after the NACK
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(L2.submits(), 1u);
  clock.advance(36);  // 76 s
  BOOST_REQUIRE(run_until(loop, [&] { return L2.submits() == 2; }));
  BOOST_CHECK_EQUAL(submitted(L2)[1].message_id, "B1");
}

BOOST_AUTO_TEST_CASE(a_permanent_nack_bounces_every_remaining_recipient) {
  add("P1", {kR1, kR2, kR3});
  Link& L1 = connect();
  hand_over(L1, "P1");
  uint64_t st = status(L1, "P1", {delivered(kR1)});
  BOOST_REQUIRE(run_until(loop, [&] { return L1.acks_for(st) == 1; }));
  disconnect(L1);
  // The next edge refuses what is left for good.
  Link& L2 = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return L2.submits() == 1; }));
  BOOST_CHECK(submitted(L2)[0].envelope.recipients == (std::vector<std::string>{kR2, kR3}));
  nack(L2, submitted(L2)[0].frame_id, link::NackKind::permanent, "policy");
  BOOST_REQUIRE(run_until(loop, [&] { return !item("P1").has_value(); }));
  auto d = dsns();
  BOOST_REQUIRE_EQUAL(d.size(), 1u);
  for (const auto& r : {kR2, kR3})
    BOOST_CHECK(
        has(d[0], "Final-Recipient: rfc822; " + r + "\r\nAction: failed\r\nStatus: 5.0.0\r\n"));
  BOOST_CHECK(!has(d[0], kR1));  // delivered before: not in the report
  BOOST_CHECK(has(d[0], "the message was refused by the edge"));
  BOOST_CHECK(!has(d[0], "Diagnostic-Code"));  // no remote server answered
  BOOST_CHECK(!has(d[0], "policy"));           // the edge's reason is for the log, not the author
  // Never offered again: not by a tick, not on a new link.
  clock.advance(3600);
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(L2.submits(), 1u);
  disconnect(L2);
  Link& L3 = connect();
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(L3.submits(), 0u);
  BOOST_CHECK_EQUAL(dsns().size(), 1u);
}

BOOST_AUTO_TEST_CASE(a_bounce_reports_only_what_no_status_settled_before_it_committed) {
  // An edge restarted with a smaller size limit: it refuses the resubmission for good while the
  // STATUS it kept says both recipients were delivered. The STATUS commits first (it was
  // received first), so the bounce finds nothing left to report.
  add("X1", {kR1, kR2});
  Link& L1 = connect();
  hand_over(L1, "X1");
  disconnect(L1);
  Link& L2 = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return L2.submits() == 1; }));
  auto hold = hold_writer();  // both answers are read before either commits
  uint64_t st = status(L2, "X1", {delivered(kR1), delivered(kR2)});
  nack(L2, submitted(L2)[0].frame_id, link::NackKind::permanent, "too large");
  run_for(loop, 200);
  hold->release();
  BOOST_REQUIRE(run_until(loop, [&] { return L2.acks_for(st) == 1; }));
  run_for(loop, 200);
  BOOST_CHECK(!item("X1").has_value());
  BOOST_CHECK(dsns().empty());
}

BOOST_AUTO_TEST_CASE(a_message_larger_than_a_frame_is_never_sent_and_bounced) {
  options.max_payload = 4096;
  add("L1", {kR1, kR2}, std::nullopt, std::string(8000, 'x'));
  add("L2", {kR1});
  Link& L = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return !item("L1").has_value(); }));
  BOOST_REQUIRE(run_until(loop, [&] { return L.submits() == 1; }));
  BOOST_CHECK_EQUAL(submitted(L)[0].message_id, "L2");  // the small one still goes
  for (const auto& f : L.at_edge) BOOST_CHECK_LE(f.payload.size(), options.max_payload);
  auto d = dsns();
  BOOST_REQUIRE_EQUAL(d.size(), 1u);
  for (const auto& r : {kR1, kR2})
    BOOST_CHECK(
        has(d[0], "Final-Recipient: rfc822; " + r + "\r\nAction: failed\r\nStatus: 5.3.4\r\n"));
  BOOST_CHECK(has(d[0], "the message is larger than the link can carry"));
  BOOST_CHECK(!has(d[0], std::string(100, 'x')));  // the body is not quoted
  clock.advance(3600);
  run_for(loop, 200);
  disconnect(L);
  Link& L2 = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return L2.submits() == 1; }));  // L2, not yet ACKed
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(L2.submits(), 1u);
  BOOST_CHECK_EQUAL(submitted(L2)[0].message_id, "L2");
  BOOST_CHECK_EQUAL(dsns().size(), 1u);
}

BOOST_AUTO_TEST_CASE(at_most_window_submits_await_an_answer) {
  options.window = 2;
  for (const char* id : {"W1", "W2", "W3", "W4"}) add(id, {kR1});
  Link& L = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return L.submits() == 2; }));
  run_for(loop, 200);  // ticks find W3 and W4 due: they wait for room
  BOOST_CHECK_EQUAL(L.submits(), 2u);
  auto s = submitted(L);
  ack(L, s[0].frame_id);
  BOOST_REQUIRE(run_until(loop, [&] { return L.submits() == 3; }));
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(L.submits(), 3u);
  // A temporary NACK answers too: room for the last.
  nack(L, s[1].frame_id, link::NackKind::temporary, "later");
  BOOST_REQUIRE(run_until(loop, [&] { return L.submits() == 4; }));
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(L.submits(), 4u);
  std::vector<std::string> ids;
  for (const auto& x : submitted(L)) ids.push_back(x.message_id);
  BOOST_CHECK(ids == (std::vector<std::string>{"W1", "W2", "W3", "W4"}));
}

// The fleet: two edges, A (edge_key) and B (edge_b).

BOOST_AUTO_TEST_CASE(mail_is_spread_by_what_each_edge_has_in_flight_and_a_slow_edge_keeps_none) {
  options.window = 4;
  start().add_edge(id_of(edge_b), "b", 600000);
  for (int i = 0; i < 12; ++i) add("S" + std::to_string(100 + i), {kR1});
  Link& A = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return A.submits() == 4; }));
  Link& B = connect(&edge_b);
  BOOST_REQUIRE(run_until(loop, [&] { return B.submits() == 4; }));
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(A.submits(), 4u);
  BOOST_CHECK_EQUAL(B.submits(), 4u);
  // A never answers: B, answering, takes all the rest.
  for (const auto& x : submitted(B)) ack(B, x.frame_id);
  BOOST_REQUIRE(run_until(loop, [&] { return B.submits() == 8; }));
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(A.submits(), 4u);
  BOOST_CHECK_EQUAL(B.submits(), 8u);
  std::set<std::string> ids;
  for (const auto* L : {&A, &B})
    for (const auto& x : submitted(*L)) ids.insert(x.message_id);
  BOOST_CHECK_EQUAL(ids.size(), 12u);  // every message, each to one edge
  auto queued = outbound->list();
  BOOST_REQUIRE(queued.ok());
  auto loads = start().loads(*queued);
  BOOST_CHECK_EQUAL(loads[edge_id()].in_flight, 4u);
  BOOST_CHECK_EQUAL(loads[id_of(edge_b)].in_flight, 4u);
}

BOOST_AUTO_TEST_CASE(an_edge_down_past_failover_after_has_its_unfinished_recipients_moved) {
  start().add_edge(id_of(edge_b), "b", 600000);
  add("F1", {kR1, kR2});
  Link& A = connect();
  hand_over(A, "F1");
  BOOST_CHECK(item("F1")->holder == edge_id());
  ack(A, 0);  // (ignored: no such frame)
  uint64_t st = status(A, "F1", {delivered(kR1)});
  BOOST_REQUIRE(run_until(loop, [&] { return A.acks_for(st) == 1; }));
  disconnect(A);
  Link& B = connect(&edge_b);
  // Not before failover_after: B gets nothing of A's.
  clock.advance(599);
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(B.submits(), 0u);
  clock.advance(2);
  BOOST_REQUIRE(run_until(loop, [&] { return B.submits() == 1; }));
  auto s = submitted(B);
  BOOST_CHECK_EQUAL(s[0].message_id, "F1");
  BOOST_CHECK(s[0].envelope.recipients == (std::vector<std::string>{kR2}));  // unfinished only
  BOOST_CHECK_EQUAL(start().failovers(), 1u);
  ack(B, s[0].frame_id);
  BOOST_REQUIRE(run_until(loop, [&] { return item("F1")->holder == id_of(edge_b); }));
  // A is to forget it, and is told so when it is back.
  BOOST_REQUIRE(run_until(loop, [&] { return notes_for(edge_key).size() == 1; }));
  BOOST_CHECK_EQUAL(notes_for(edge_key)[0], "F1");
  Link& A2 = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return withdrawals_at(A2).size() == 1; }));
  run_for(loop, 100);
  BOOST_CHECK_EQUAL(A2.submits(), 0u);  // not resubmitted to A: B holds it
  auto w = withdrawals_at(A2);
  BOOST_CHECK_EQUAL(w[0].second, "F1");
  // A delivered kR2 before it heard: its report counts, and B's later one is a duplicate.
  uint64_t a_st = status(A2, "F1", {delivered(kR2)});
  BOOST_REQUIRE(run_until(loop, [&] { return A2.acks_for(a_st) == 1; }));
  BOOST_CHECK_EQUAL(start().duplicates(), 0u);
  ack(A2, w[0].first);
  BOOST_REQUIRE(run_until(loop, [&] { return notes_for(edge_key).empty(); }));
  uint64_t b_st = status(B, "F1", {delivered(kR2)});
  BOOST_REQUIRE(run_until(loop, [&] { return B.acks_for(b_st) == 1; }));
  BOOST_CHECK_EQUAL(start().duplicates(), 1u);
  // B repeating its STATUS (its ACK lost) is no further duplicate.
  uint64_t b_st2 = status(B, "F1", {delivered(kR2)});
  BOOST_REQUIRE(run_until(loop, [&] { return B.acks_for(b_st2) == 1; }));
  BOOST_CHECK_EQUAL(start().duplicates(), 1u);
  BOOST_CHECK(!item("F1"));  // every recipient final
  BOOST_CHECK(dsns().empty());
}

BOOST_AUTO_TEST_CASE(an_edge_back_before_failover_after_keeps_what_it_holds) {
  start().add_edge(id_of(edge_b), "b", 600000);
  add("K1", {kR1});
  Link& A = connect();
  hand_over(A, "K1");
  disconnect(A);
  Link& B = connect(&edge_b);
  clock.advance(300);
  run_for(loop, 200);
  Link& A2 = connect();
  BOOST_REQUIRE(run_until(loop, [&] { return A2.submits() == 1; }));  // again, to A only
  clock.advance(600);
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(B.submits(), 0u);
  BOOST_CHECK_EQUAL(start().failovers(), 0u);
  BOOST_CHECK(withdrawals_at(A2).empty());
}

BOOST_AUTO_TEST_CASE(a_revoked_edge_is_told_to_forget_and_its_mail_moves_at_once) {
  start().add_edge(id_of(edge_b), "b", 600000);
  add("V1", {kR1});
  Link& A = connect();
  hand_over(A, "V1");
  Link& B = connect(&edge_b);
  run_for(loop, 100);
  BOOST_CHECK_EQUAL(B.submits(), 0u);
  start().remove_edge(edge_id(), true);
  BOOST_REQUIRE(run_until(loop, [&] { return withdrawals_at(A).size() == 1; }));
  BOOST_CHECK_EQUAL(withdrawals_at(A)[0].second, "V1");
  BOOST_REQUIRE(run_until(loop, [&] { return B.submits() == 1; }));  // no failover_after wait
  ack(B, submitted(B)[0].frame_id);
  BOOST_REQUIRE(run_until(loop, [&] { return item("V1")->holder == id_of(edge_b); }));
  run_for(loop, 100);
  BOOST_CHECK(notes_for(edge_key).empty());  // a revoked edge is never told anything again
  // A's answers or reports no longer count for anything.
  uint64_t st = status(A, "V1", {failed(kR1, "550 5.1.1 no")});
  run_for(loop, 200);
  BOOST_CHECK_EQUAL(A.acks_for(st), 0u);
  BOOST_CHECK(item("V1"));
  BOOST_CHECK(dsns().empty());
}

BOOST_AUTO_TEST_SUITE_END()
