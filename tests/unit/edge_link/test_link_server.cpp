// LinkServer's WITHDRAW, end to end on the edge: a real inner-side link::Session over loopback,
// the edge's LinkServer, EdgeOutboundQueue on a real LMDB store with its GroupCommitter, and the
// real Deliverer speaking SMTP to a small sink server on loopback (only DNS is scripted). Wired
// as edge/server/edge_server.cpp wires them.
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/link/payloads.h"
#include "common/link/session.h"
#include "common/queue/envelope.h"
#include "common/store/group_commit.h"
#include "common/uv/handles.h"
#include "common/uv/loop.h"
#include "common/uv/tcp.h"
#include "edge/link/link_server.h"
#include "edge/outbound/deliverer.h"
#include "edge/outbound/edge_outbound_queue.h"
#include "edge/queue/inbound_queue.h"
#include "tests/unit/edge_outbound/fake_resolver.h"
#include "tests/unit/store/temp_dir.h"
#include "tests/unit/support/run_until.h"

using namespace nj;
using namespace nj::edge;
using nj::testing::run_until;

namespace {

// An SMTP server on loopback: RCPT to "later*" gets 451 (the recipient stays pending on the
// edge), any other 250; DATA is collected. With hold_greeting it says nothing until greet().
struct Sink {
  struct Conn {
    std::unique_ptr<uv::Connection> c;
    std::string in;
    bool data = false;
    std::string body;
  };
  std::unique_ptr<uv::TcpListener> l;
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<std::string> messages;
  int open = 0;
  bool hold_greeting = false;

  explicit Sink(uv::Loop& loop) {
    auto r = uv::TcpListener::bind(loop, "127.0.0.1:0", [this](std::unique_ptr<uv::Connection> c) {
      auto k = std::make_unique<Conn>();
      Conn* raw = k.get();
      k->c = std::move(c);
      ++open;
      k->c->on_close([this](const Status&) { --open; });
      k->c->on_read([this, raw](std::string_view b) { on_bytes(*raw, b); });
      if (!hold_greeting) (void)k->c->write("220 sink.test ESMTP\r\n");
      conns.push_back(std::move(k));
    });
    BOOST_REQUIRE(r.ok());
    l = std::move(*r);
  }
  void greet() {
    for (auto& k : conns) {
      if (k->c->is_open()) (void)k->c->write("220 sink.test ESMTP\r\n");
    }
  }
  void on_bytes(Conn& k, std::string_view b) {
    k.in.append(b);
    size_t eol;
    while ((eol = k.in.find("\r\n")) != std::string::npos) {
      std::string line = k.in.substr(0, eol);
      k.in.erase(0, eol + 2);
      if (k.data) {
        if (line == ".") {
          k.data = false;
          messages.push_back(k.body);
          k.body.clear();
          (void)k.c->write("250 2.0.0 queued\r\n");
        } else {
          k.body += line + "\r\n";
        }
        continue;
      }
      std::string up = line.substr(0, 4);
      for (char& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (up == "EHLO") {
        (void)k.c->write("250-sink.test\r\n250 PIPELINING\r\n");
      } else if (up == "MAIL") {
        (void)k.c->write("250 2.1.0 ok\r\n");
      } else if (up == "RCPT") {
        bool later = line.find("<later") != std::string::npos;
        (void)k.c->write(later ? "451 4.3.0 try later\r\n" : "250 2.1.5 ok\r\n");
      } else if (up == "DATA") {
        k.data = true;
        (void)k.c->write("354 go\r\n");
      } else if (up == "QUIT") {
        (void)k.c->write("221 bye\r\n");
        k.c->shutdown_then_close(1000);
      } else {
        (void)k.c->write("502 5.5.2 no\r\n");
      }
    }
  }
};

// The inner's end: one link::Session dialing the edge, and every frame it got.
struct InnerEnd {
  std::shared_ptr<link::Session> s;
  bool opened = false;
  bool ended = false;
  std::vector<link::Frame> frames;
};

// Holds the GroupCommitter's writer thread inside a work item until opened (or destroyed), so no
// commit submitted after it can complete meanwhile.
// The flag is shared with the work item, which may still be reading it after the gate is gone.
struct WriterGate {
  std::shared_ptr<std::atomic<bool>> flag = std::make_shared<std::atomic<bool>>(false);
  explicit WriterGate(store::GroupCommitter& gc) {
    gc.submit(
        [flag = flag](store::Txn&) -> Status {
          while (!flag->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
          return {};
        },
        [](Status) {});
  }
  ~WriterGate() { open(); }
  void open() { *flag = true; }
};

struct CryptoInit {
  CryptoInit() { crypto::init(); }
};

struct Fixture {
  CryptoInit crypto_init;
  store::test::TempDir dir;
  ManualClock clock{1'800'000'000};
  uv::Loop loop;
  crypto::KeyPair edge_key = crypto::KeyPair::generate();
  crypto::KeyPair inner_key = crypto::KeyPair::generate();
  std::optional<store::Env> env;
  std::unique_ptr<store::GroupCommitter> gc;
  std::unique_ptr<InboundQueue> inbound;
  std::unique_ptr<LinkServer> server;
  Sink sink{loop};
  edge::outbound::test::FakeResolver dns;
  std::unique_ptr<outbound::Router> router;
  std::unique_ptr<outbound::NetDialer> dialer;
  std::unique_ptr<outbound::Deliverer> deliverer;
  std::unique_ptr<outbound::EdgeOutboundQueue> queue;
  std::vector<std::unique_ptr<InnerEnd>> inners;  // the last one is the current link

  explicit Fixture(bool wire_withdraw = true) {
    auto e = store::Env::open(dir.sub("db"));
    BOOST_REQUIRE(e.ok());
    env.emplace(std::move(*e));
    auto in = InboundQueue::open(*env, inner_key.pub, clock.now());
    BOOST_REQUIRE(in.ok());
    inbound = std::move(*in);
    gc = std::make_unique<store::GroupCommitter>(*env, loop.raw());
    server = std::make_unique<LinkServer>(loop, edge_key, inner_key.pub, *inbound, *gc, clock,
                                          LinkServer::Options{});
    BOOST_REQUIRE(server->listen({config::Endpoint{"127.0.0.1", 0, false}}).ok());
    BOOST_REQUIRE(server->port() != 0);

    dns.set("dest.test", dns::Type::MX, outbound::test::mx({{10, "mx.dest.test"}}));
    dns.set("mx.dest.test", dns::Type::A, outbound::test::addrs({"127.0.0.1"}));
    dns.set("mx.dest.test", dns::Type::AAAA, outbound::test::status(dns::Status::nodata));
    outbound::RouterConfig rc;
    rc.our_domains = {"example.org"};
    rc.smtp_port = sink.l->port();
    router = std::make_unique<outbound::Router>(dns, rc, [](uint32_t) { return 0u; });
    dialer = std::make_unique<outbound::NetDialer>(loop, "", 5000);
    outbound::DelivererConfig dc;
    dc.helo_name = "mx.edge.example.org";
    dc.public_domain = "example.org";
    dc.allow_private_addresses = true;
    dc.connection_cache_ms = 0;
    deliverer =
        std::make_unique<outbound::Deliverer>(loop, dns, *router, *dialer, nullptr, clock, dc);
    outbound::QueueOptions qo;
    qo.tick_ms = 10;
    auto* d = deliverer.get();
    auto* link = server.get();
    auto q = outbound::EdgeOutboundQueue::open(
        *env, *gc, loop, clock, qo,
        [d](const queue::Envelope& en, std::vector<std::string> rcpts,
            std::function<void(std::vector<outbound::RcptResult>)> done) {
          d->deliver(en, std::move(rcpts), std::move(done));
        },
        [link](const std::string& id, const std::vector<outbound::RcptResult>& results) {
          std::vector<link::RecipientStatus> st;
          for (const auto& r : results) {
            link::RecipientStatus x;
            x.recipient = r.address;
            x.outcome =
                r.status == outbound::RcptStatus::delivered ? link::RecipientOutcome::delivered
                : r.status == outbound::RcptStatus::expired ? link::RecipientOutcome::expired
                                                            : link::RecipientOutcome::failed;
            if (x.outcome == link::RecipientOutcome::failed) x.remote_reply = r.reply;
            st.push_back(std::move(x));
          }
          link->report(id, std::move(st));
        });
    BOOST_REQUIRE(q.ok());
    queue = std::move(*q);
    queue->start();
    auto* out = queue.get();
    server->on_submit([out](queue::Envelope en, std::function<void(Status)> done) {
      out->enqueue(std::move(en), std::move(done));
    });
    if (wire_withdraw) {
      out->set_cancel([d](const std::string& id) { d->cancel(id); });
      server->on_withdraw([out](const std::string& id, std::function<void(Status)> done) {
        out->withdraw(id, std::move(done));
      });
    }
  }
  ~Fixture() {
    for (auto& i : inners) {
      if (i->s && !i->ended) i->s->abort("test over");
    }
    queue->stop();
    server->shutdown();
    gc->shutdown();
    loop.run_nowait();
    queue.reset();
    deliverer.reset();
    server.reset();
    for (auto& i : inners) i->s.reset();
    loop.run_nowait();
  }

  // A new link from the inner; the previous one, if any, is closed first.
  InnerEnd& connect() {
    if (!inners.empty() && !inners.back()->ended) {
      InnerEnd& old = *inners.back();
      old.s->close("reconnecting");
      BOOST_REQUIRE(run_until(loop, [&] { return !server->connected(); }));
    }
    auto end = std::make_unique<InnerEnd>();
    InnerEnd* raw = end.get();
    std::unique_ptr<uv::Connection> conn;
    bool up = false;
    auto c = uv::Connection::connect(loop, "127.0.0.1", server->port(),
                                     [&](const Status& s) { up = s.ok(); });
    BOOST_REQUIRE(c.ok());
    conn = std::move(*c);
    BOOST_REQUIRE(run_until(loop, [&] { return up; }));
    raw->s = std::make_shared<link::Session>(loop, std::move(conn), link::Role::initiator,
                                             inner_key, edge_key.pub, link::Session::Options{});
    raw->s->start({[raw] { raw->opened = true; },
                   [raw](link::Frame f) { raw->frames.push_back(std::move(f)); },
                   [raw](const link::Session::Ended&) { raw->ended = true; }});
    inners.push_back(std::move(end));
    BOOST_REQUIRE(run_until(loop, [&] { return raw->opened && server->connected(); }));
    return *raw;
  }
  InnerEnd& inner() { return *inners.back(); }

  uint64_t send(link::FrameType type, std::string payload) {
    uint64_t id = inner().s->next_id();
    BOOST_REQUIRE(inner().s->send(link::Frame{type, id, std::move(payload)}).ok());
    return id;
  }
  uint64_t submit(const std::string& id, std::vector<std::string> rcpts) {
    queue::Envelope e;
    e.id = id;
    e.received_at = clock.now();
    e.mail_from = "alice@example.org";
    e.recipients = std::move(rcpts);
    e.message = "From: <alice@example.org>\r\nSubject: hi\r\n\r\nhello\r\n";
    auto p = link::encode(link::SubmitPayload{id, queue::encode(e)});
    BOOST_REQUIRE(p.ok());
    return send(link::FrameType::submit, std::move(*p));
  }
  uint64_t withdraw(const std::string& id) {
    auto p = link::encode(link::WithdrawPayload{id});
    BOOST_REQUIRE(p.ok());
    return send(link::FrameType::withdraw, std::move(*p));
  }
  // The answer (ACK or NACK) to request `fid` on the current link, once it came.
  const link::Frame* answer(uint64_t fid) {
    for (const auto& f : inner().frames) {
      if (f.id == fid && (f.type == link::FrameType::ack || f.type == link::FrameType::nack))
        return &f;
    }
    return nullptr;
  }
  const link::Frame& wait_answer(uint64_t fid) {
    BOOST_REQUIRE(run_until(loop, [&] { return answer(fid) != nullptr; }));
    return *answer(fid);
  }
  void expect_ack(uint64_t fid) {
    const link::Frame& f = wait_answer(fid);
    auto n = link::decode_nack(f.payload);
    BOOST_REQUIRE_MESSAGE(f.type == link::FrameType::ack,
                          "NACK: " + (n.ok() ? n->reason : std::string("?")));
  }
  // STATUS frames for `message_id` the current link got.
  std::vector<link::StatusPayload> statuses(const std::string& message_id) {
    std::vector<link::StatusPayload> out;
    for (const auto& f : inner().frames) {
      if (f.type != link::FrameType::status) continue;
      auto p = link::decode_status(f.payload);
      BOOST_REQUIRE(p.ok());
      if (p->message_id == message_id) out.push_back(std::move(*p));
    }
    return out;
  }
  size_t status_frames() {
    size_t n = 0;
    for (const auto& f : inner().frames) n += f.type == link::FrameType::status;
    return n;
  }
  // Runs the loop for `ms` (to see that something does NOT happen).
  void run_for(uint64_t ms) {
    uv::Timer t(loop);
    bool up = false;
    t.start(ms, 0, [&] { up = true; });
    while (!up) loop.run_once();
  }
  size_t stored() {
    auto n = queue->stored_records();
    BOOST_REQUIRE(n.ok());
    return *n;
  }
};

struct NoWithdrawFixture : Fixture {
  NoWithdrawFixture() : Fixture(false) {}
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(withdraw_removes_the_message_and_its_unacknowledged_reports, Fixture) {
  connect();
  // Each message: one recipient delivered (reported), one the sink defers (still queued).
  expect_ack(submit("M1", {"ok1@dest.test", "later1@dest.test"}));
  expect_ack(submit("M2", {"ok2@dest.test", "later2@dest.test"}));
  BOOST_REQUIRE(
      run_until(loop, [&] { return !statuses("M1").empty() && !statuses("M2").empty(); }));
  // The inner has not acknowledged them: the edge keeps both reports.
  BOOST_CHECK_EQUAL(server->reports().messages(), 2u);
  BOOST_REQUIRE(queue->find("M1"));
  BOOST_REQUIRE(queue->find("M2"));
  BOOST_CHECK_EQUAL(stored(), 4u);

  uint64_t w = withdraw("M1");
  expect_ack(w);
  BOOST_CHECK(!queue->find("M1"));
  BOOST_CHECK(queue->find("M2"));
  BOOST_CHECK_EQUAL(stored(), 2u);  // M2's body and state only
  BOOST_CHECK_EQUAL(server->reports().messages(), 1u);

  // A new link gets every unacknowledged report again: M2's, and nothing of M1.
  connect();
  BOOST_REQUIRE(run_until(loop, [&] { return !statuses("M2").empty(); }));
  run_for(200);
  BOOST_CHECK(statuses("M1").empty());
  BOOST_REQUIRE_EQUAL(statuses("M2").size(), 1u);
  BOOST_CHECK_EQUAL(statuses("M2")[0].recipients.at(0).recipient, "ok2@dest.test");
  // M1 is not attempted again, even when its deferred recipient would be due.
  size_t conns = sink.conns.size();
  clock.advance(3600);
  queue->run_due();
  BOOST_REQUIRE(run_until(loop, [&] { return sink.conns.size() > conns; }));
  run_for(200);
  BOOST_CHECK_EQUAL(sink.conns.size(), conns + 1);  // M2's retry only
  BOOST_CHECK(!queue->find("M1"));
  BOOST_CHECK(statuses("M1").empty());
}

BOOST_FIXTURE_TEST_CASE(withdraw_twice_and_withdraw_of_an_unknown_id_are_acked, Fixture) {
  connect();
  expect_ack(submit("M1", {"later@dest.test"}));
  uint64_t a = withdraw("M1");
  uint64_t b = withdraw("M1");
  uint64_t c = withdraw("NEVER-SUBMITTED");
  expect_ack(a);
  expect_ack(b);
  expect_ack(c);
  BOOST_CHECK(!queue->find("M1"));
  BOOST_CHECK_EQUAL(stored(), 0u);
  // Again on a later link (the inner lost the first ACK): the same answer.
  connect();
  expect_ack(withdraw("M1"));
  BOOST_CHECK(inner().s->is_open());
}

BOOST_FIXTURE_TEST_CASE(withdraw_is_acked_only_after_the_synced_commit, Fixture) {
  connect();
  expect_ack(submit("M1", {"later@dest.test"}));
  BOOST_REQUIRE(run_until(loop, [&] { return !sink.conns.empty() && sink.open == 0; }));
  BOOST_CHECK_EQUAL(stored(), 2u);
  uint64_t w = 0;
  {
    WriterGate gate(*gc);
    w = withdraw("M1");
    run_for(300);
    // The delete cannot be committed yet: no answer, and the records are still on disk.
    BOOST_CHECK(answer(w) == nullptr);
    BOOST_CHECK_EQUAL(stored(), 2u);
    BOOST_CHECK(!queue->find("M1"));  // already out of the schedule
    gate.open();
    BOOST_REQUIRE(run_until(loop, [&] { return answer(w) != nullptr; }));
    // When the ACK is there, so is the commit.
    BOOST_CHECK_EQUAL(stored(), 0u);
  }
  expect_ack(w);
}

BOOST_FIXTURE_TEST_CASE(a_delivery_in_flight_reports_nothing_and_does_not_come_back, Fixture) {
  connect();
  sink.hold_greeting = true;  // the attempt connects and waits for the greeting
  expect_ack(submit("M1", {"ok@dest.test", "later@dest.test"}));
  BOOST_REQUIRE(run_until(loop, [&] { return sink.open == 1; }));
  BOOST_REQUIRE(queue->find("M1"));
  BOOST_CHECK(queue->find("M1")->in_flight);
  expect_ack(withdraw("M1"));
  // The attempt was cancelled: its connection is closed by the edge.
  BOOST_REQUIRE(run_until(loop, [&] { return sink.open == 0; }));
  // Whatever the sink says now reaches nobody; no STATUS, nothing stored, nothing retried.
  sink.greet();
  run_for(300);
  clock.advance(86400);
  queue->run_due();
  run_for(200);
  BOOST_CHECK_EQUAL(status_frames(), 0u);
  BOOST_CHECK(sink.messages.empty());
  BOOST_CHECK_EQUAL(sink.conns.size(), 1u);
  BOOST_CHECK(!queue->find("M1"));
  BOOST_CHECK_EQUAL(queue->size(), 0u);
  BOOST_CHECK_EQUAL(stored(), 0u);
  BOOST_CHECK_EQUAL(server->reports().messages(), 0u);
  BOOST_CHECK(inner().s->is_open());
}

BOOST_FIXTURE_TEST_CASE(a_bad_withdraw_payload_is_refused_for_good, Fixture) {
  connect();
  expect_ack(submit("M1", {"later@dest.test"}));
  auto good = link::encode(link::WithdrawPayload{"M1"});
  BOOST_REQUIRE(good.ok());
  const std::vector<std::string> bad = {
      "",                                             // no id at all
      *good + "x",                                    // trailing bytes
      std::string(1, '\x41') + std::string(65, 'A'),  // longer than any message id
      std::string("\x02M\x01", 3),                    // not printable
  };
  for (const auto& p : bad) {
    const link::Frame& f = wait_answer(send(link::FrameType::withdraw, p));
    BOOST_REQUIRE(f.type == link::FrameType::nack);
    auto n = link::decode_nack(f.payload);
    BOOST_REQUIRE(n.ok());
    BOOST_CHECK(n->kind == link::NackKind::permanent);
    BOOST_CHECK(!n->reason.empty());
  }
  // Nothing was withdrawn, and the link is still up for a good one.
  BOOST_CHECK(queue->find("M1"));
  BOOST_CHECK_EQUAL(stored(), 2u);
  BOOST_CHECK(inner().s->is_open());
  expect_ack(withdraw("M1"));
  BOOST_CHECK_EQUAL(stored(), 0u);
}

BOOST_FIXTURE_TEST_CASE(withdraw_without_an_outbound_queue_is_refused_for_now, NoWithdrawFixture) {
  connect();
  const link::Frame& f = wait_answer(withdraw("M1"));
  BOOST_REQUIRE(f.type == link::FrameType::nack);
  auto n = link::decode_nack(f.payload);
  BOOST_REQUIRE(n.ok());
  BOOST_CHECK(n->kind == link::NackKind::temporary);
}
