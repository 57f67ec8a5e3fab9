#define BOOST_TEST_MODULE uv
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <csignal>
#include <thread>

#include "common/uv/address.h"
#include "common/uv/handles.h"
#include "common/uv/tcp.h"
#include "tests/unit/tls/cert_fixture.h"
#include "tests/unit/support/run_until.h"

using namespace nj::uv;

namespace {

using nj::testing::run_until;

// Echo server: owns accepted connections, writes back what it reads.
struct EchoServer {
  std::vector<std::unique_ptr<Connection>> conns;
  std::unique_ptr<TcpListener> l;
  explicit EchoServer(Loop& loop, std::string addr = "127.0.0.1:0") {
    auto r = TcpListener::bind(loop, addr, [this](std::unique_ptr<Connection> c) {
      Connection* raw = c.get();
      raw->on_read([raw](std::string_view b) { (void)raw->write(std::string(b)); });
      conns.push_back(std::move(c));
    });
    BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
    l = std::move(*r);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(parse_host_port_forms) {
  auto a = parse_host_port("127.0.0.1:25");
  BOOST_REQUIRE(a.ok());
  BOOST_TEST(a->host == "127.0.0.1");
  BOOST_TEST(a->port == 25);
  auto b = parse_host_port("[::1]:5353");
  BOOST_REQUIRE(b.ok());
  BOOST_TEST(b->host == "::1");
  BOOST_TEST(b->port == 5353);
  BOOST_TEST(parse_host_port("::1", 53)->port == 53);
  BOOST_TEST(parse_host_port("mx.example:587")->host == "mx.example");
  BOOST_TEST(!parse_host_port("::1:25").ok());  // ambiguous without a default port
  // With one, a bare IPv6 literal is the whole address ("::1:25" is itself an address).
  BOOST_TEST(parse_host_port("::1:25", 53)->host == "::1:25");
  BOOST_TEST(!parse_host_port("1.2.3.4:99999").ok());
  BOOST_TEST(!parse_host_port("1.2.3.4:").ok());
  BOOST_TEST(!parse_host_port("1.2.3.4").ok());
  BOOST_TEST(!parse_host_port("[::1:25").ok());
  BOOST_TEST(!parse_host_port("[nothex]:25").ok());
  BOOST_TEST(!parse_host_port("a b:25").ok());
  BOOST_TEST(!parse_host_port(std::string(400, 'a') + ":25").ok());
}

BOOST_AUTO_TEST_CASE(network_prefixes) {
  auto v4 = make_sockaddr("192.0.2.77", 25);
  BOOST_TEST(network_prefix(*v4) == "192.0.2.0/24");
  auto v6 = make_sockaddr("2001:db8:1:2:3:4:5:6", 25);
  BOOST_TEST(network_prefix(*v6) == "2001:db8:1:2::/64");
  auto mapped = make_sockaddr("::ffff:198.51.100.9", 25);
  BOOST_TEST(network_prefix(*mapped) == "198.51.100.0/24");
  BOOST_TEST(ip_text(*mapped) == "198.51.100.9");
  BOOST_TEST(is_ipv4(*mapped));
  BOOST_TEST(network_prefix(*v6, 24, 48) == "2001:db8:1::/48");
  BOOST_TEST(network_prefix(*v4, 16) == "192.0.0.0/16");
  BOOST_TEST(!make_sockaddr("example.org", 25).ok());
}

BOOST_AUTO_TEST_CASE(timer_fires_repeats_and_can_close_itself) {
  Loop loop;
  int n = 0;
  Timer t(loop);
  t.start(1, 1, [&] {
    if (++n == 3) t.close();
  });
  loop.run();
  BOOST_TEST(n == 3);
  BOOST_TEST(t.closed());
  BOOST_TEST(loop.open_handles() == 0u);
}

BOOST_AUTO_TEST_CASE(destroying_a_timer_in_its_callback_is_safe) {
  Loop loop;
  auto t = std::make_unique<Timer>(loop);
  int n = 0;
  t->start(1, 1, [&] {
    ++n;
    t.reset();
  });
  loop.run();
  BOOST_TEST(n == 1);
}

BOOST_AUTO_TEST_CASE(loop_destruction_closes_live_handles) {
  auto loop = std::make_unique<Loop>();
  Timer t(*loop);
  t.start(100000, 0, [] {});
  Async a(*loop, [] {});
  loop.reset();  // must not leak or crash (ASan checks); owners now see closed handles
  BOOST_TEST(t.closed());
  t.start(1, 0, [] {});  // a no-op on a closed handle
}

BOOST_AUTO_TEST_CASE(loop_destruction_runs_no_user_callbacks) {
  bool closed_cb = false;
  std::unique_ptr<Connection> server_side;
  {
    Loop loop;
    auto l = TcpListener::bind(loop, "127.0.0.1:0",
                               [&](std::unique_ptr<Connection> c) { server_side = std::move(c); });
    auto c = Connection::connect(loop, "127.0.0.1", (*l)->port(), [](const nj::Status&) {});
    BOOST_REQUIRE(run_until(loop, [&] { return server_side != nullptr; }));
    server_side->on_close([&](const nj::Status&) { closed_cb = true; });
  }
  BOOST_TEST(!closed_cb);
  BOOST_TEST(!server_side->is_open());
  BOOST_TEST(!server_side->write("x").ok());
}

BOOST_AUTO_TEST_CASE(async_wakes_from_another_thread) {
  Loop loop;
  std::atomic<int> seen{0};
  Async a(loop, [&] {
    seen = 1;
    a.close();
  });
  std::thread th([&] { a.send(); });
  loop.run();
  th.join();
  BOOST_TEST(seen.load() == 1);
}

BOOST_AUTO_TEST_CASE(signal_is_delivered_on_the_loop) {
  Loop loop;
  Signal s(loop);
  int got = 0;
  BOOST_REQUIRE(s.start(SIGHUP, [&](int sig) {
                   got = sig;
                   s.close();
                 }).ok());
  Timer t(loop);
  t.start(1, 0, [] { ::raise(SIGHUP); });
  BOOST_TEST(run_until(loop, [&] { return got != 0; }));
  BOOST_TEST(got == SIGHUP);
}

BOOST_AUTO_TEST_CASE(deferred_runs_once_after_the_io_of_the_same_iteration) {
  Loop loop;
  int fired = 0;
  int scheduled_in_turn = 0;
  Deferred d(loop, [&] { ++fired; });
  // Both async callbacks run in one poll phase (one wakeup, merged or not): the deferred
  // callback runs once, after them, before run_once returns.
  Async a(loop, [&] {
    for (int i = 0; i < 3; ++i) d.schedule();
    ++scheduled_in_turn;
    BOOST_TEST(d.scheduled());
    BOOST_TEST(fired == 0);
  });
  a.send();
  a.send();
  loop.run_once();
  BOOST_TEST(scheduled_in_turn >= 1);
  BOOST_TEST(fired == 1);
  BOOST_TEST(!d.scheduled());
  a.close();
  d.close();
  loop.run();
  BOOST_TEST(loop.open_handles() == 0u);
}

BOOST_AUTO_TEST_CASE(deferred_scheduled_from_a_timer_does_not_wait_in_poll) {
  Loop loop;
  bool fired = false;
  bool guard_fired = false;
  Deferred d(loop, [&] { fired = true; });
  Timer t(loop);
  t.start(1, 0, [&] { d.schedule(); });
  // Keeps the loop alive: a poll that blocked until the next timer would wait for this one.
  Timer guard(loop);
  guard.start(3000, 0, [&] { guard_fired = true; });
  uint64_t start = loop.now_ms();
  while (!fired && !guard_fired) loop.run_once();
  BOOST_TEST(fired);
  BOOST_TEST(!guard_fired);
  BOOST_TEST(loop.now_ms() - start < 1000u);
}

BOOST_AUTO_TEST_CASE(deferred_cancel_and_close_run_nothing) {
  Loop loop;
  int fired = 0;
  Deferred d(loop, [&] { ++fired; });
  d.schedule();
  d.cancel();
  BOOST_TEST(!d.scheduled());
  auto gone = std::make_unique<Deferred>(loop, [&] { ++fired; });
  gone->schedule();
  gone.reset();  // destroyed while scheduled
  Deferred closed(loop, [&] { ++fired; });
  closed.schedule();
  closed.close();
  closed.schedule();  // a no-op once closed
  BOOST_TEST(closed.closed());
  BOOST_TEST(!closed.scheduled());
  // Nothing active is left, so run() returns (a leftover idle or check handle would spin).
  loop.run();
  BOOST_TEST(fired == 0);
  d.close();
  loop.run();
  BOOST_TEST(loop.open_handles() == 0u);
}

BOOST_AUTO_TEST_CASE(deferred_can_reschedule_and_destroy_itself_in_its_callback) {
  Loop loop;
  int n = 0;
  Deferred again(loop, [&] {
    BOOST_TEST(!again.scheduled());
    if (++n < 3) again.schedule();  // runs in the next iteration
  });
  again.schedule();
  // Rescheduled from the check phase: the idle handle must keep the next poll from blocking
  // (with nothing else active it would block for ever; here until the guard of run_until).
  BOOST_TEST(run_until(loop, [&] { return n == 3; }, 2000));
  loop.run();
  BOOST_TEST(n == 3);

  auto d = std::make_unique<Deferred>(loop, nullptr);
  int m = 0;
  d = std::make_unique<Deferred>(loop, [&] {
    ++m;
    d->schedule();
    d.reset();  // destroyed while scheduled again: no further call
  });
  d->schedule();
  loop.run();
  BOOST_TEST(m == 1);
  again.close();
  loop.run();
  BOOST_TEST(loop.open_handles() == 0u);
}

BOOST_AUTO_TEST_CASE(deferred_survives_loop_destruction) {
  auto loop = std::make_unique<Loop>();
  bool fired = false;
  Deferred d(*loop, [&] { fired = true; });
  d.schedule();
  loop.reset();  // closes the handles without running the callback
  BOOST_TEST(!fired);
  BOOST_TEST(d.closed());
  d.schedule();  // a no-op on a closed handle
  BOOST_TEST(!d.scheduled());
}

BOOST_AUTO_TEST_CASE(echo_round_trip_ipv4_with_addresses) {
  Loop loop;
  EchoServer srv(loop);
  BOOST_TEST(srv.l->port() != 0);
  std::string got;
  bool connected = false;
  auto c = Connection::connect(loop, "127.0.0.1", srv.l->port(), [&](const nj::Status& st) {
    BOOST_REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error()));
    connected = true;
  });
  BOOST_REQUIRE(c.ok());
  Connection& conn = **c;
  conn.on_read([&](std::string_view b) { got.append(b); });
  BOOST_TEST(run_until(loop, [&] { return connected; }));
  BOOST_TEST(conn.peer_ip() == "127.0.0.1");
  BOOST_TEST(conn.peer_port() == srv.l->port());
  BOOST_TEST(conn.local_ip() == "127.0.0.1");
  BOOST_TEST(conn.peer_prefix() == "127.0.0.0/24");
  BOOST_REQUIRE(conn.write("hello\r\n").ok());
  BOOST_TEST(run_until(loop, [&] { return got == "hello\r\n"; }));
  BOOST_REQUIRE_EQUAL(srv.conns.size(), 1u);
  BOOST_TEST(srv.conns[0]->peer_port() == conn.local_port());
}

BOOST_AUTO_TEST_CASE(echo_round_trip_ipv6) {
  Loop loop;
  auto probe = TcpListener::bind(loop, "[::1]:0", [](std::unique_ptr<Connection>) {});
  if (!probe.ok()) {
    BOOST_TEST_MESSAGE("no IPv6 loopback here: " << probe.error());
    return;
  }
  probe->reset();
  EchoServer srv(loop, "[::1]:0");
  std::string got;
  auto c = Connection::connect(loop, "::1", srv.l->port(), [](const nj::Status&) {});
  BOOST_REQUIRE(c.ok());
  (*c)->on_read([&](std::string_view b) { got.append(b); });
  BOOST_REQUIRE(run_until(loop, [&] { return (*c)->peer_port() != 0; }));
  BOOST_TEST((*c)->peer_ip() == "::1");
  BOOST_TEST((*c)->peer_prefix() == "::/64");
  BOOST_REQUIRE((*c)->write("six").ok());
  BOOST_TEST(run_until(loop, [&] { return got == "six"; }));
}

BOOST_AUTO_TEST_CASE(large_write_applies_backpressure_and_drains) {
  Loop loop;
  std::unique_ptr<Connection> server_side;
  auto l = TcpListener::bind(loop, "127.0.0.1:0",
                             [&](std::unique_ptr<Connection> c) { server_side = std::move(c); });
  BOOST_REQUIRE(l.ok());
  auto c = Connection::connect(loop, "127.0.0.1", (*l)->port(), [](const nj::Status&) {});
  BOOST_REQUIRE(c.ok());
  Connection& client = **c;
  size_t received = 0;
  client.on_read([&](std::string_view b) { received += b.size(); });
  client.pause_reading();  // the peer does not read: the kernel buffers fill up
  BOOST_REQUIRE(run_until(loop, [&] { return server_side != nullptr; }));
  server_side->set_high_water(64 * 1024);
  int drained = 0;
  server_side->on_drain([&] { ++drained; });
  size_t server_read = 0;
  server_side->on_read([&](std::string_view b) { server_read += b.size(); });
  const size_t total = 32 * 1024 * 1024;
  for (size_t i = 0; i < total / (1024 * 1024); ++i)
    BOOST_REQUIRE(server_side->write(std::string(1024 * 1024, 'b')).ok());
  // Let libuv try; most of it must still be queued in user space.
  for (int i = 0; i < 20; ++i) loop.run_nowait();
  BOOST_TEST(server_side->queued_bytes() > 64u * 1024);
  BOOST_TEST(drained == 0);
  // While over the high-water mark the server does not read its peer either.
  BOOST_REQUIRE(client.write("ping").ok());
  for (int i = 0; i < 20; ++i) loop.run_nowait();
  BOOST_TEST(server_read == 0u);
  client.resume_reading();
  BOOST_TEST(run_until(
      loop, [&] { return received == total; }, 20000));
  BOOST_TEST(server_side->queued_bytes() == 0u);
  BOOST_TEST(drained >= 1);
  BOOST_TEST(run_until(loop, [&] { return server_read == 4; }));
}

BOOST_AUTO_TEST_CASE(peer_close_is_reported_and_alive_expires) {
  Loop loop;
  std::unique_ptr<Connection> server_side;
  auto l = TcpListener::bind(loop, "127.0.0.1:0",
                             [&](std::unique_ptr<Connection> c) { server_side = std::move(c); });
  auto c = Connection::connect(loop, "127.0.0.1", (*l)->port(), [](const nj::Status&) {});
  BOOST_REQUIRE(run_until(loop, [&] { return server_side != nullptr; }));
  std::weak_ptr<void> token = server_side->alive();
  BOOST_TEST(!token.expired());
  bool closed = false;
  bool orderly = false;
  server_side->on_read([](std::string_view) {});
  server_side->on_close([&](const nj::Status& st) {
    closed = true;
    orderly = st.ok();
  });
  c->reset();  // the client goes away
  BOOST_TEST(run_until(loop, [&] { return closed; }));
  BOOST_TEST(orderly);
  BOOST_TEST(token.expired());
  BOOST_TEST(!server_side->is_open());
  BOOST_TEST(!server_side->write("late").ok());
}

BOOST_AUTO_TEST_CASE(close_and_destroy_during_pending_write) {
  Loop loop;
  std::vector<std::unique_ptr<Connection>> accepted;
  auto l = TcpListener::bind(loop, "127.0.0.1:0", [&](std::unique_ptr<Connection> c) {
    accepted.push_back(std::move(c));
  });
  auto c1 = Connection::connect(loop, "127.0.0.1", (*l)->port(), [](const nj::Status&) {});
  auto c2 = Connection::connect(loop, "127.0.0.1", (*l)->port(), [](const nj::Status&) {});
  BOOST_REQUIRE(run_until(loop, [&] { return accepted.size() == 2; }));
  for (auto& a : accepted)
    for (int i = 0; i < 16; ++i) BOOST_REQUIRE(a->write(std::string(1024 * 1024, 'z')).ok());
  bool closed = false;
  accepted[0]->on_close([&](const nj::Status&) { closed = true; });
  accepted[0]->close();  // cancels queued writes, reports close
  accepted[1].reset();   // cancels queued writes, reports nothing
  BOOST_TEST(run_until(loop, [&] { return closed; }));
  BOOST_TEST(accepted[0]->queued_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(shutdown_then_close_flushes_first) {
  Loop loop;
  std::unique_ptr<Connection> server_side;
  auto l = TcpListener::bind(loop, "127.0.0.1:0", [&](std::unique_ptr<Connection> c) {
    server_side = std::move(c);
    (void)server_side->write(std::string(3 * 1024 * 1024, 'q'));
    (void)server_side->write("221 bye\r\n");
    server_side->shutdown_then_close();
    BOOST_TEST(!server_side->write("too late").ok());
  });
  auto c = Connection::connect(loop, "127.0.0.1", (*l)->port(), [](const nj::Status&) {});
  std::string got;
  bool eof = false;
  (*c)->on_read([&](std::string_view b) { got.append(b); });
  (*c)->on_close([&](const nj::Status& st) { eof = st.ok(); });
  BOOST_TEST(run_until(
      loop, [&] { return eof; }, 20000));
  BOOST_TEST(got.size() == 3u * 1024 * 1024 + 9);
  BOOST_TEST(got.substr(got.size() - 9) == "221 bye\r\n");
}

BOOST_AUTO_TEST_CASE(shutdown_then_close_gives_up_on_a_peer_that_never_reads) {
  Loop loop;
  std::unique_ptr<Connection> server_side;
  auto l = TcpListener::bind(loop, "127.0.0.1:0",
                             [&](std::unique_ptr<Connection> c) { server_side = std::move(c); });
  auto c = Connection::connect(loop, "127.0.0.1", (*l)->port(), [](const nj::Status&) {});
  (*c)->on_read([](std::string_view) {});
  (*c)->pause_reading();
  BOOST_REQUIRE(run_until(loop, [&] { return server_side != nullptr; }));
  for (int i = 0; i < 32; ++i) BOOST_REQUIRE(server_side->write(std::string(1 << 20, 'w')).ok());
  std::string why;
  server_side->on_close([&](const nj::Status& st) { why = st.ok() ? "ok" : st.error(); });
  auto start = loop.now_ms();
  server_side->shutdown_then_close(100);
  BOOST_TEST(run_until(loop, [&] { return !why.empty(); }));
  BOOST_TEST(why == "shutdown timed out");
  BOOST_TEST(loop.now_ms() - start < 2000u);
}

BOOST_AUTO_TEST_CASE(connect_refused_is_an_error) {
  Loop loop;
  // Find a port nobody listens on: bind, note it, close.
  uint16_t port;
  {
    auto l = TcpListener::bind(loop, "127.0.0.1:0", [](std::unique_ptr<Connection>) {});
    port = (*l)->port();
  }
  loop.run_nowait();
  bool done = false;
  std::string err;
  bool close_fired = false;
  auto c = Connection::connect(loop, "127.0.0.1", port, [&](const nj::Status& st) {
    done = true;
    err = st.ok() ? "" : st.error();
  });
  BOOST_REQUIRE(c.ok());
  (*c)->on_close([&](const nj::Status&) { close_fired = true; });
  BOOST_TEST(run_until(loop, [&] { return done; }));
  BOOST_TEST(err.find("connect") != std::string::npos);
  loop.run_nowait();
  BOOST_TEST(!close_fired);
  BOOST_TEST(!Connection::connect(loop, "not-an-ip", 25, [](const nj::Status&) {}).ok());
}

BOOST_AUTO_TEST_CASE(bind_errors) {
  Loop loop;
  BOOST_TEST(!TcpListener::bind(loop, "localhost:25", [](std::unique_ptr<Connection>) {}).ok());
  auto a = TcpListener::bind(loop, "127.0.0.1:0", [](std::unique_ptr<Connection>) {});
  BOOST_REQUIRE(a.ok());
  auto b = TcpListener::bind(loop, "127.0.0.1:" + std::to_string((*a)->port()),
                             [](std::unique_ptr<Connection>) {});
  BOOST_TEST(!b.ok());
}

BOOST_AUTO_TEST_CASE(starttls_over_a_real_socket) {
  nj::testing::CertFiles f;
  auto sctx = nj::tls::Context::server(f.cert, f.key);
  auto cctx = nj::tls::Context::client();
  BOOST_REQUIRE(sctx.ok() && cctx.ok());
  Loop loop;
  std::unique_ptr<Connection> server_side;
  std::string server_got;
  bool server_tls = false;
  auto l = TcpListener::bind(loop, "127.0.0.1:0", [&](std::unique_ptr<Connection> c) {
    server_side = std::move(c);
    Connection* s = server_side.get();
    s->on_read([&, s](std::string_view b) {
      if (!s->tls()) {
        BOOST_TEST(b == "STARTTLS\r\n");
        (void)s->write("220 go ahead\r\n");
        BOOST_REQUIRE(
            s->start_tls_server(*sctx, [&](const nj::Status& st) { server_tls = st.ok(); }).ok());
        return;
      }
      server_got.append(b);
      if (server_got == "EHLO secret\r\n") (void)s->write("250 hello " + s->tls()->protocol());
    });
  });
  std::string client_got;
  bool client_tls = false;
  std::unique_ptr<Connection> client;
  auto c = Connection::connect(loop, "127.0.0.1", (*l)->port(), [&](const nj::Status& st) {
    BOOST_REQUIRE(st.ok());
    (void)client->write("STARTTLS\r\n");
  });
  client = std::move(*c);
  client->on_read([&](std::string_view b) {
    if (!client->tls()) {
      BOOST_TEST(b == "220 go ahead\r\n");
      BOOST_REQUIRE(client
                        ->start_tls_client(*cctx, "mx.test",
                                           [&](const nj::Status& st) { client_tls = st.ok(); })
                        .ok());
      (void)client->write("EHLO secret\r\n");  // held until the handshake completes
      return;
    }
    client_got.append(b);
  });
  BOOST_TEST(run_until(loop, [&] { return client_got == "250 hello TLSv1.3"; }));
  BOOST_TEST(server_tls);
  BOOST_TEST(client_tls);
  BOOST_TEST(server_got == "EHLO secret\r\n");
  // Orderly TLS close: close_notify, then FIN.
  bool server_closed = false;
  server_side->on_close([&](const nj::Status& st) { server_closed = st.ok(); });
  client->shutdown_then_close();
  BOOST_TEST(run_until(loop, [&] { return server_closed; }));
}

BOOST_AUTO_TEST_CASE(tls_handshake_failure_closes_with_error) {
  nj::testing::CertFiles f;
  auto sctx = nj::tls::Context::server(f.cert, f.key);
  Loop loop;
  std::unique_ptr<Connection> server_side;
  std::string tls_err, close_err;
  auto l = TcpListener::bind(loop, "127.0.0.1:0", [&](std::unique_ptr<Connection> c) {
    server_side = std::move(c);
    server_side->on_read([](std::string_view) {});
    server_side->on_close([&](const nj::Status& st) { close_err = st.ok() ? "ok" : st.error(); });
    BOOST_REQUIRE(
        server_side
            ->start_tls_server(*sctx,
                               [&](const nj::Status& st) { tls_err = st.ok() ? "ok" : st.error(); })
            .ok());
  });
  auto c = Connection::connect(loop, "127.0.0.1", (*l)->port(), [&](const nj::Status&) {});
  (*c)->on_read([](std::string_view) {});
  BOOST_REQUIRE(run_until(loop, [&] { return server_side != nullptr; }));
  BOOST_REQUIRE((*c)->write("this is not a ClientHello\r\n\r\n").ok());
  BOOST_TEST(run_until(loop, [&] { return !close_err.empty(); }));
  BOOST_TEST(tls_err.find("handshake") != std::string::npos);
  BOOST_TEST(close_err.find("handshake") != std::string::npos);
}
