// link::Session over real loopback sockets: the handshake, frames both ways, keepalive, how each
// kind of end is reported (refused key, hang-up during the handshake, orderly close, timeout),
// and the flow-control window.
#include <boost/test/unit_test.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "common/link/session.h"
#include "common/uv/handles.h"
#include "common/uv/tcp.h"
#include "tests/unit/support/run_until.h"

using namespace nj;
using link::Session;

namespace {

using nj::testing::run_until;

struct Keys {
  crypto::KeyPair inner = crypto::KeyPair::generate();
  crypto::KeyPair edge = crypto::KeyPair::generate();
};

struct Side {
  std::shared_ptr<Session> s;
  bool opened = false;
  std::vector<link::Frame> frames;
  std::optional<Session::Ended> ended;
  std::function<void(const link::Frame&)> on_frame;  // the test's answer, if any
  Session::Events events() {
    return {[this] { opened = true; },
            [this](link::Frame f) {
              frames.push_back(f);
              if (on_frame) on_frame(frames.back());
            },
            [this](const Session::Ended& e) { ended = e; }};
  }
};

// A listener on 127.0.0.1 whose accepted connection becomes a responder Session pinning
// `peer`, and an initiator Session dialing it.
struct Pair {
  uv::Loop& loop;
  Side edge, inner;
  std::unique_ptr<uv::TcpListener> l;
  std::unique_ptr<uv::Connection> dialing;
  Pair(uv::Loop& lp, const crypto::KeyPair& edge_key, const crypto::PublicKey& inner_pub,
       const crypto::KeyPair& inner_key, const crypto::PublicKey& edge_pub,
       Session::Options opt = {}, std::optional<Session::Options> inner_opt = {})
      : loop(lp) {
    auto r = uv::TcpListener::bind(loop, "127.0.0.1:0", [&, opt](std::unique_ptr<uv::Connection> c) {
      edge.s = std::make_shared<Session>(loop, std::move(c), link::Role::responder, edge_key,
                                         inner_pub, opt);
      edge.s->start(edge.events());
    });
    BOOST_REQUIRE(r.ok());
    l = std::move(*r);
    bool up = false;
    auto c = uv::Connection::connect(loop, "127.0.0.1", l->port(), [&](const Status& s) {
      BOOST_REQUIRE(s.ok());
      up = true;
    });
    BOOST_REQUIRE(c.ok());
    dialing = std::move(*c);
    BOOST_REQUIRE(run_until(loop, [&] { return up; }));
    inner.s = std::make_shared<Session>(loop, std::move(dialing), link::Role::initiator,
                                        inner_key, edge_pub, inner_opt.value_or(opt));
    inner.s->start(inner.events());
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(handshake_frames_and_orderly_close) {
  crypto::init();
  uv::Loop loop;
  Keys k;
  Pair p(loop, k.edge, k.inner.pub, k.inner, k.edge.pub);
  BOOST_REQUIRE(run_until(loop, [&] { return p.inner.opened && p.edge.opened; }));
  BOOST_TEST(p.inner.s->is_open());
  uint64_t id = p.inner.s->next_id();
  BOOST_TEST(p.inner.s->send(link::Frame{link::FrameType::submit, id, "payload"}).ok());
  BOOST_REQUIRE(run_until(loop, [&] { return !p.edge.frames.empty(); }));
  BOOST_TEST(p.edge.frames[0].payload == "payload");
  BOOST_TEST(p.edge.frames[0].id == id);
  BOOST_TEST(p.edge.s->send(link::Frame{link::FrameType::ack, id, {}}).ok());
  BOOST_REQUIRE(run_until(loop, [&] { return !p.inner.frames.empty(); }));
  BOOST_TEST((p.inner.frames[0].type == link::FrameType::ack));

  p.inner.s->close("done");
  BOOST_REQUIRE(p.inner.ended.has_value());
  BOOST_TEST((p.inner.ended->how == Session::End::local));
  BOOST_REQUIRE(run_until(loop, [&] { return p.edge.ended.has_value(); }));
  BOOST_TEST((p.edge.ended->how == Session::End::closed_by_peer));
  BOOST_TEST(!p.edge.ended->handshaking);
}

BOOST_AUTO_TEST_CASE(frames_sent_just_before_a_close_arrive_before_the_end) {
  crypto::init();
  uv::Loop loop;
  Keys k;
  Pair p(loop, k.edge, k.inner.pub, k.inner, k.edge.pub);
  BOOST_REQUIRE(run_until(loop, [&] { return p.inner.opened && p.edge.opened; }));
  // In one turn of the loop: so they leave in one write with the final record after them.
  for (int i = 0; i < 5; ++i)
    BOOST_TEST(p.inner.s->send(link::Frame{link::FrameType::withdraw, p.inner.s->next_id(),
                                           "w" + std::to_string(i)})
                   .ok());
  p.inner.s->close("removed");
  // The edge answers each as it comes; the answers have nowhere to go, and that ends nothing.
  size_t answered = 0;
  p.edge.on_frame = [&](const link::Frame& f) {
    BOOST_TEST(!p.edge.s->send(link::Frame{link::FrameType::ack, f.id, {}}).ok());
    ++answered;
  };
  BOOST_REQUIRE(run_until(loop, [&] { return p.edge.ended.has_value(); }));
  BOOST_TEST(p.edge.frames.size() == 5u);
  BOOST_TEST(answered == 5u);
  BOOST_TEST((p.edge.ended->how == Session::End::closed_by_peer));
}

BOOST_AUTO_TEST_CASE(a_refused_key_is_a_refusal_on_the_edge_and_a_hang_up_on_the_inner) {
  crypto::init();
  uv::Loop loop;
  Keys k;
  auto stranger = crypto::KeyPair::generate();
  // The edge pins k.inner; the dialer holds another key (a revoked inner, say).
  Pair p(loop, k.edge, k.inner.pub, stranger, k.edge.pub);
  BOOST_REQUIRE(run_until(loop, [&] { return p.inner.ended && p.edge.ended; }));
  BOOST_TEST((p.edge.ended->how == Session::End::refused));
  BOOST_TEST(p.edge.ended->handshaking);
  BOOST_TEST(p.edge.ended->why.find("message 1") != std::string::npos);
  BOOST_TEST(p.inner.ended->handshaking);
  BOOST_TEST((p.inner.ended->how == Session::End::closed_by_peer ||
              p.inner.ended->how == Session::End::cut));
  BOOST_TEST(!p.inner.opened);
  BOOST_TEST(!p.edge.opened);
}

BOOST_AUTO_TEST_CASE(the_initiator_refuses_an_edge_with_another_key) {
  crypto::init();
  uv::Loop loop;
  Keys k;
  auto other_edge = crypto::KeyPair::generate();
  Pair p(loop, other_edge, k.inner.pub, k.inner, k.edge.pub);
  BOOST_REQUIRE(run_until(loop, [&] { return p.inner.ended.has_value(); }));
  // The other edge cannot read message 1 (it was made for k.edge), so it refuses; either way the
  // inner never opens.
  BOOST_TEST(p.inner.ended->handshaking);
  BOOST_TEST(!p.inner.opened);
}

BOOST_AUTO_TEST_CASE(a_silent_dialer_is_dropped_after_the_handshake_timeout) {
  crypto::init();
  uv::Loop loop;
  Keys k;
  Side edge;
  auto r = uv::TcpListener::bind(loop, "127.0.0.1:0", [&](std::unique_ptr<uv::Connection> c) {
    edge.s = std::make_shared<Session>(loop, std::move(c), link::Role::responder, k.edge,
                                       k.inner.pub, Session::Options{200, 30000, {}});
    edge.s->start(edge.events());
  });
  BOOST_REQUIRE(r.ok());
  bool up = false, closed = false;
  auto c = uv::Connection::connect(loop, "127.0.0.1", (*r)->port(), [&](const Status&) { up = true; });
  BOOST_REQUIRE(c.ok());
  (*c)->on_close([&](const Status&) { closed = true; });
  BOOST_REQUIRE(run_until(loop, [&] { return up; }));
  (*c)->on_read([](std::string_view) {});
  BOOST_REQUIRE(run_until(loop, [&] { return edge.ended.has_value(); }, 3000));
  BOOST_TEST((edge.ended->how == Session::End::handshake_timeout));
  BOOST_TEST(run_until(loop, [&] { return closed; }, 3000));
}

BOOST_AUTO_TEST_CASE(keepalive_pings_are_answered_and_never_reach_the_owner) {
  crypto::init();
  uv::Loop loop;
  Keys k;
  // Only the inner pings (every 100 ms when idle); the edge waits 30 s. The inner's link stays up
  // only because the edge answers each PING, and no PING or PONG reaches the owners.
  Pair p(loop, k.edge, k.inner.pub, k.inner, k.edge.pub, Session::Options{5000, 30000, {}},
         Session::Options{5000, 100, {}});
  BOOST_REQUIRE(run_until(loop, [&] { return p.inner.opened && p.edge.opened; }));
  uv::Timer t(loop);
  bool done = false;
  t.start(1000, 0, [&] { done = true; });
  run_until(loop, [&] { return done; }, 3000);
  BOOST_TEST(p.inner.s->is_open());
  BOOST_TEST(p.edge.s->is_open());
  BOOST_TEST(p.inner.frames.empty());
  BOOST_TEST(p.edge.frames.empty());
}

BOOST_AUTO_TEST_CASE(round_trip_is_measured_as_the_link_opens) {
  crypto::init();
  uv::Loop loop;
  Keys k;
  // Keepalive 30 s on both ends, so no idle PING comes in this test: the figure must come from
  // the PING each end sends as the link opens, while frames keep the link busy.
  Pair p(loop, k.edge, k.inner.pub, k.inner, k.edge.pub, Session::Options{5000, 30000, {}});
  BOOST_TEST(p.inner.s->rtt_ms() == 0u);
  BOOST_REQUIRE(run_until(loop, [&] { return p.inner.opened && p.edge.opened; }));
  for (int i = 0; i < 20; ++i)
    BOOST_REQUIRE(
        p.inner.s->send(link::Frame{link::FrameType::submit, p.inner.s->next_id(), "x"}).ok());
  BOOST_REQUIRE(run_until(
      loop,
      [&] {
        return p.inner.s->rtt_ms() > 0 && p.edge.s->rtt_ms() > 0 && p.edge.frames.size() == 20;
      },
      3000));
  BOOST_TEST(p.inner.s->rtt_ms() < 3000u);
  BOOST_TEST(p.edge.s->rtt_ms() < 3000u);
  BOOST_TEST(p.inner.frames.empty());  // PING and PONG stay inside the sessions
}

BOOST_AUTO_TEST_CASE(window_counts_and_bytes) {
  link::Window w(2, 100);
  BOOST_TEST(w.has_room());
  w.add(1, "a", 150);  // larger than the byte window: one always goes
  BOOST_TEST(!w.has_room());
  BOOST_TEST(!w.answered(7).has_value());
  BOOST_TEST(*w.answered(1) == "a");
  BOOST_TEST(w.has_room());
  w.add(2, "b", 10);
  w.add(3, "c", 10);
  BOOST_TEST(!w.has_room());  // count
  BOOST_TEST(w.bytes() == 20u);
  auto all = w.drain();
  BOOST_TEST(all.size() == 2u);
  BOOST_TEST(all[0] == "b");
  BOOST_TEST(w.size() == 0u);
  BOOST_TEST(w.bytes() == 0u);
}
