// socks::connect against a small SOCKS5 server written here (a fake at the seam) on 127.0.0.1.
#include <boost/test/unit_test.hpp>
#include <memory>
#include <vector>

#include "common/socks/connect.h"
#include "common/uv/handles.h"
#include "common/uv/tcp.h"
#include "tests/unit/support/run_until.h"

using namespace nj;

namespace {

using nj::testing::run_until;

// Speaks just enough RFC 1928/1929 to test the client; records what it was asked.
struct FakeProxy {
  enum class Mode { ok, refuse, silent, hang_up };
  Mode mode = Mode::ok;
  std::string greeting_seen, user_seen, pass_seen, host_seen;
  uint16_t port_seen = 0;
  std::string app_seen;
  std::vector<std::unique_ptr<uv::Connection>> conns;
  std::unique_ptr<uv::TcpListener> l;

  explicit FakeProxy(uv::Loop& loop) {
    auto r = uv::TcpListener::bind(loop, "127.0.0.1:0", [this](std::unique_ptr<uv::Connection> c) {
      uv::Connection* raw = c.get();
      conns.push_back(std::move(c));
      if (mode == Mode::hang_up) {
        raw->close();
        return;
      }
      auto buf = std::make_shared<std::string>();
      auto step = std::make_shared<int>(0);
      raw->on_read([this, raw, buf, step](std::string_view b) { on_bytes(raw, *buf, *step, b); });
    });
    BOOST_REQUIRE(r.ok());
    l = std::move(*r);
  }
  std::string addr() const { return "127.0.0.1:" + std::to_string(l->port()); }

  void on_bytes(uv::Connection* c, std::string& buf, int& step, std::string_view b) {
    buf.append(b);
    if (mode == Mode::silent) return;
    for (;;) {
      auto at = [&](size_t i) { return static_cast<uint8_t>(buf[i]); };
      if (step == 0) {  // greeting
        if (buf.size() < 2 || buf.size() < 2u + at(1)) return;
        greeting_seen = buf.substr(0, 2 + at(1));
        bool userpass = greeting_seen.find('\x02', 2) != std::string::npos;
        buf.erase(0, greeting_seen.size());
        (void)c->write(std::string("\x05") + (userpass ? '\x02' : '\x00'));
        step = userpass ? 1 : 2;
      } else if (step == 1) {  // RFC 1929
        if (buf.size() < 2 || buf.size() < 3u + at(1) || buf.size() < 3u + at(1) + at(2 + at(1)))
          return;
        size_t ul = at(1), pl = at(2 + ul);
        user_seen = buf.substr(2, ul);
        pass_seen = buf.substr(3 + ul, pl);
        buf.erase(0, 3 + ul + pl);
        (void)c->write(std::string("\x01\x00", 2));
        step = 2;
      } else if (step == 2) {  // CONNECT, DOMAINNAME
        if (buf.size() < 5 || buf.size() < 7u + at(4)) return;
        BOOST_TEST(at(3) == 3);
        host_seen = buf.substr(5, at(4));
        port_seen = static_cast<uint16_t>(at(5 + at(4)) << 8 | at(6 + at(4)));
        buf.erase(0, 7 + at(4));
        if (mode == Mode::refuse) {
          (void)c->write(std::string("\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 10));
          c->shutdown_then_close(100);
          return;
        }
        // The reply and the target's first bytes in one write, as a fast target would.
        (void)c->write(std::string("\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00", 10) + "220 hi\r\n");
        step = 3;
      } else {
        app_seen += buf;
        buf.clear();
        return;
      }
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(connects_through_the_proxy_with_isolation_credentials) {
  uv::Loop loop;
  FakeProxy proxy(loop);
  std::optional<Result<socks::Connected>> got;
  auto a = socks::connect(loop, proxy.addr(), "edge.example.onion", 2525, "link-7",
                          [&](Result<socks::Connected> r) { got.emplace(std::move(r)); });
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(run_until(loop, [&] { return got.has_value(); }));
  BOOST_REQUIRE_MESSAGE(got->ok(), (got->ok() ? "" : got->error()));
  BOOST_TEST(proxy.greeting_seen == std::string("\x05\x01\x02", 3));
  BOOST_TEST(proxy.host_seen == "edge.example.onion");  // the name, unresolved
  BOOST_TEST(proxy.port_seen == 2525);
  BOOST_TEST(proxy.user_seen == "link-7");
  BOOST_TEST(proxy.pass_seen.size() == 16u);  // fresh per connection
  BOOST_TEST((*got)->early_bytes == "220 hi\r\n");

  // The connection now carries application bytes both ways.
  auto conn = std::move((*got)->conn);
  std::string read;
  conn->on_read([&](std::string_view b) { read += b; });
  BOOST_TEST(conn->write("HELLO").ok());
  BOOST_TEST(run_until(loop, [&] { return proxy.app_seen == "HELLO"; }));

  // A second connection gets other credentials (its own Tor circuit).
  std::string first_pass = proxy.pass_seen;
  got.reset();
  auto b = socks::connect(loop, proxy.addr(), "edge.example.onion", 2525, "link-7",
                          [&](Result<socks::Connected> r) { got.emplace(std::move(r)); });
  BOOST_REQUIRE(b.ok());
  BOOST_REQUIRE(run_until(loop, [&] { return got.has_value(); }));
  BOOST_TEST(got->ok());
  BOOST_TEST(proxy.pass_seen != first_pass);
}

BOOST_AUTO_TEST_CASE(no_isolation_tag_means_no_authentication) {
  uv::Loop loop;
  FakeProxy proxy(loop);
  std::optional<Result<socks::Connected>> got;
  auto a = socks::connect(loop, proxy.addr(), "peer.onion", 25, "",
                          [&](Result<socks::Connected> r) { got.emplace(std::move(r)); });
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(run_until(loop, [&] { return got.has_value(); }));
  BOOST_TEST(got->ok());
  BOOST_TEST(proxy.greeting_seen == std::string("\x05\x01\x00", 3));
  BOOST_TEST(proxy.user_seen.empty());
}

BOOST_AUTO_TEST_CASE(refusal_names_the_reply_code) {
  uv::Loop loop;
  FakeProxy proxy(loop);
  proxy.mode = FakeProxy::Mode::refuse;
  std::optional<Result<socks::Connected>> got;
  auto a = socks::connect(loop, proxy.addr(), "gone.onion", 25, "t",
                          [&](Result<socks::Connected> r) { got.emplace(std::move(r)); });
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(run_until(loop, [&] { return got.has_value(); }));
  BOOST_REQUIRE(!got->ok());
  BOOST_TEST(got->error().find("connection refused (reply code 5)") != std::string::npos,
             got->error());
}

BOOST_AUTO_TEST_CASE(silent_proxy_times_out) {
  uv::Loop loop;
  FakeProxy proxy(loop);
  proxy.mode = FakeProxy::Mode::silent;
  std::optional<Result<socks::Connected>> got;
  auto a = socks::connect(
      loop, proxy.addr(), "slow.onion", 25, "t",
      [&](Result<socks::Connected> r) { got.emplace(std::move(r)); }, socks::ConnectOptions{150});
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(run_until(loop, [&] { return got.has_value(); }));
  BOOST_REQUIRE(!got->ok());
  BOOST_TEST(got->error() == "socks: timed out");
  // Exactly once: nothing more after the timeout.
  got.reset();
  run_until(
      loop, [] { return false; }, 200);
  BOOST_TEST(!got.has_value());
}

BOOST_AUTO_TEST_CASE(proxy_hanging_up_and_proxy_absent) {
  uv::Loop loop;
  {
    FakeProxy proxy(loop);
    proxy.mode = FakeProxy::Mode::hang_up;
    std::optional<Result<socks::Connected>> got;
    auto a = socks::connect(loop, proxy.addr(), "x.onion", 25, "t",
                            [&](Result<socks::Connected> r) { got.emplace(std::move(r)); });
    BOOST_REQUIRE(a.ok());
    BOOST_REQUIRE(run_until(loop, [&] { return got.has_value(); }));
    BOOST_TEST(!got->ok());
  }
  {
    // A port nobody listens on: take one from a listener and close it.
    uint16_t port = 0;
    {
      auto l = uv::TcpListener::bind(loop, "127.0.0.1:0", [](std::unique_ptr<uv::Connection>) {});
      BOOST_REQUIRE(l.ok());
      port = (*l)->port();
    }
    std::optional<Result<socks::Connected>> got;
    auto a = socks::connect(loop, "127.0.0.1:" + std::to_string(port), "x.onion", 25, "t",
                            [&](Result<socks::Connected> r) { got.emplace(std::move(r)); });
    BOOST_REQUIRE(a.ok());
    BOOST_REQUIRE(run_until(loop, [&] { return got.has_value(); }));
    BOOST_REQUIRE(!got->ok());
    BOOST_TEST(got->error().find("socks: proxy") == 0, got->error());
  }
}

BOOST_AUTO_TEST_CASE(arguments_are_checked_and_destruction_cancels) {
  uv::Loop loop;
  auto cb = [](Result<socks::Connected>) { BOOST_FAIL("callback after cancel"); };
  BOOST_TEST(!socks::connect(loop, "localhost:9050", "x.onion", 25, "", cb).ok());
  BOOST_TEST(!socks::connect(loop, "127.0.0.1", "x.onion", 25, "", cb).ok());
  BOOST_TEST(!socks::connect(loop, "127.0.0.1:9050", "", 25, "", cb).ok());
  BOOST_TEST(
      !socks::connect(loop, "127.0.0.1:9050", "x.onion", 25, std::string(300, 't'), cb).ok());
  FakeProxy proxy(loop);
  proxy.mode = FakeProxy::Mode::silent;
  {
    auto a = socks::connect(loop, proxy.addr(), "x.onion", 25, "", cb, socks::ConnectOptions{50});
    BOOST_REQUIRE(a.ok());
    loop.run_nowait();
  }
  run_until(
      loop, [] { return false; }, 200);
}

BOOST_AUTO_TEST_CASE(attempt_may_be_destroyed_inside_its_callback) {
  uv::Loop loop;
  FakeProxy proxy(loop);
  proxy.mode = FakeProxy::Mode::refuse;
  std::unique_ptr<socks::Attempt> held;
  bool called = false;
  auto a = socks::connect(loop, proxy.addr(), "x.onion", 25, "t", [&](Result<socks::Connected>) {
    called = true;
    held.reset();
  });
  BOOST_REQUIRE(a.ok());
  held = std::move(*a);
  BOOST_REQUIRE(run_until(loop, [&] { return called; }));
  BOOST_TEST(!held);
  run_until(
      loop, [] { return false; }, 100);
}
