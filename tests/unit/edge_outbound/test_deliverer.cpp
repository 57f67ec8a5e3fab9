// Deliverer against a scripted SMTP server on loopback (real TCP, real ClientSession), with a
// fake resolver; and with a fake Dialer for the onion path.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <optional>

#include "common/crypto/crypto.h"
#include "common/uv/loop.h"
#include "common/uv/tcp.h"
#include "edge/outbound/deliverer.h"
#include "tests/unit/edge_outbound/fake_resolver.h"
#include "tests/unit/tls/cert_fixture.h"

using namespace nj;
using namespace nj::edge::outbound;

namespace {

// A small SMTP server: PIPELINING, RCPT to "bad*" refused 550, DATA collected.
struct ScriptServer {
  struct Conn {
    std::unique_ptr<uv::Connection> c;
    std::string in;
    bool data = false;
    std::string body;
    int mails = 0;
  };
  std::unique_ptr<uv::TcpListener> l;
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<std::string> messages;
  std::vector<std::string> commands;
  int open = 0, max_open = 0;
  bool refuse_greeting = false;
  const tls::Context* server_tls = nullptr;  // offer STARTTLS with this context
  bool break_tls = false;                    // answer STARTTLS, then send no TLS at all
  bool one_message_per_connection = false;   // a second MAIL gets 421 and the connection closes
  bool hold_greeting = false;                // say nothing until greet() (a slow server)
  std::vector<bool> message_over_tls;

  explicit ScriptServer(uv::Loop& loop) {
    auto r = uv::TcpListener::bind(loop, "127.0.0.1:0", [this](std::unique_ptr<uv::Connection> c) {
      auto k = std::make_unique<Conn>();
      Conn* raw = k.get();
      k->c = std::move(c);
      ++open;
      max_open = std::max(max_open, open);
      k->c->on_close([this](const Status&) { --open; });
      k->c->on_read([this, raw](std::string_view b) { on_bytes(*raw, b); });
      if (!hold_greeting)
        (void)k->c->write(refuse_greeting ? "421 4.3.2 go away\r\n" : "220 sink.test ESMTP\r\n");
      if (refuse_greeting) k->c->shutdown_then_close(1000);
      conns.push_back(std::move(k));
    });
    BOOST_REQUIRE(r.ok());
    l = std::move(*r);
  }
  // The held greeting of every connection still open.
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
          message_over_tls.push_back(k.c->tls() != nullptr);
          k.body.clear();
          (void)k.c->write("250 2.0.0 queued\r\n");
        } else {
          k.body += (line.starts_with("..") ? line.substr(1) : line) + "\r\n";
        }
        continue;
      }
      commands.push_back(line);
      std::string up = line.substr(0, 4);
      for (char& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (up == "EHLO") {
        (void)k.c->write(std::string("250-sink.test\r\n250-PIPELINING\r\n") +
                         (server_tls && !k.c->tls() ? "250-STARTTLS\r\n" : "") +
                         "250 8BITMIME\r\n");
      } else if (line == "STARTTLS" && server_tls) {
        (void)k.c->write("220 2.0.0 go ahead\r\n");
        k.in.clear();  // RFC 3207: nothing pipelined before the handshake survives it
        if (break_tls) {
          (void)k.c->write("this is not TLS\r\n");
          k.c->shutdown_then_close(1000);
          return;
        }
        (void)k.c->start_tls_server(*server_tls, [](const Status&) {});
        return;
      } else if (up == "MAIL") {
        if (++k.mails > 1 && one_message_per_connection) {
          (void)k.c->write("421 4.3.2 closing\r\n");
          k.c->shutdown_then_close(1000);
          return;
        }
        (void)k.c->write("250 2.1.0 ok\r\n");
      } else if (up == "RCPT") {
        bool bad = line.find("<bad") != std::string::npos;
        (void)k.c->write(bad ? "550 5.1.1 no such user\r\n" : "250 2.1.5 ok\r\n");
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

struct Fixture {
  uv::Loop loop;
  test::FakeResolver dns;
  ManualClock clock{1'800'000'000};
  std::unique_ptr<ScriptServer> server;
  std::unique_ptr<Router> router;
  std::unique_ptr<NetDialer> dialer;
  std::unique_ptr<Deliverer> d;
  DelivererConfig cfg;

  Fixture() {
    crypto::init();
    server = std::make_unique<ScriptServer>(loop);
    cfg.helo_name = "mx.edge.example.org";
    cfg.public_domain = "example.org";
    cfg.rewrites = {{"users.example.onion", "example.org"}};
    cfg.allow_private_addresses = true;
    cfg.per_destination_limit = 1;
  }
  void build(uint16_t port) {
    RouterConfig rc;
    rc.our_domains = {"example.org"};
    rc.smtp_port = port;
    router = std::make_unique<Router>(dns, rc, [](uint32_t) { return 0u; });
    dialer = std::make_unique<NetDialer>(loop, "", 5000);
    d = std::make_unique<Deliverer>(loop, dns, *router, *dialer, nullptr, clock, cfg);
  }
  queue::Envelope env(const std::string& id, std::vector<std::string> rcpts) {
    queue::Envelope e;
    e.id = id;
    e.mail_from = "alice@users.example.onion";
    e.recipients = std::move(rcpts);
    e.message =
        "From: Alice <alice@users.example.onion>\r\nTo: <x@dest.test>\r\nSubject: hi\r\n"
        "Date: Mon, 1 Jan 2024 10:00:00 +0200\r\nMessage-ID: <1@laptop.local>\r\n"
        "User-Agent: Leaky/1.0\r\nReceived: from laptop.local by inner.onion\r\n\r\nhello\r\n";
    return e;
  }
  std::vector<RcptResult> run(const queue::Envelope& e) {
    std::optional<std::vector<RcptResult>> out;
    d->deliver(e, e.recipients, [&](std::vector<RcptResult> r) { out = std::move(r); });
    BOOST_CHECK(!out.has_value());  // never from inside deliver()
    for (int i = 0; i < 100000 && !out; ++i) loop.run_once();
    BOOST_REQUIRE(out.has_value());
    return *out;
  }
};

const RcptResult* find(const std::vector<RcptResult>& v, const std::string& a) {
  for (const auto& r : v) {
    if (r.address == a) return &r;
  }
  return nullptr;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(delivers_sanitized_with_one_received_and_per_recipient_results, Fixture) {
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  dns.set("mx.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("mx.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  build(server->l->port());
  auto r = run(env("ID1", {"x@dest.test", "bad@dest.test", "me@example.org"}));
  BOOST_REQUIRE_EQUAL(r.size(), 3u);
  BOOST_CHECK(find(r, "x@dest.test")->status == RcptStatus::delivered);
  BOOST_CHECK(find(r, "bad@dest.test")->status == RcptStatus::permanent);
  BOOST_CHECK_EQUAL(find(r, "bad@dest.test")->reply, "550 5.1.1 no such user");
  BOOST_CHECK(find(r, "me@example.org")->status == RcptStatus::permanent);  // ours: never leaves
  BOOST_REQUIRE_EQUAL(server->messages.size(), 1u);
  const std::string& m = server->messages[0];
  BOOST_CHECK(m.starts_with("Received: from example.org by mx.edge.example.org"));
  BOOST_CHECK_EQUAL(m.find("Received:", 1), std::string::npos);  // the inner's is gone
  BOOST_CHECK(m.find("laptop") == std::string::npos);
  BOOST_CHECK(m.find("inner.onion") == std::string::npos);
  BOOST_CHECK(m.find("users.example.onion") == std::string::npos);
  BOOST_CHECK(m.find("User-Agent") == std::string::npos);
  BOOST_CHECK(m.find("Date: Fri, 15 Jan 2027 08:00:00 +0000") != std::string::npos);
  BOOST_CHECK(m.find("alice@example.org") != std::string::npos);
  bool ehlo = false, mail = false;
  for (const auto& c : server->commands) {
    if (c == "EHLO mx.edge.example.org") ehlo = true;
    if (c.starts_with("MAIL FROM:<alice@users.example.onion>")) mail = true;
  }
  BOOST_CHECK(ehlo);
  BOOST_CHECK(mail);
}

// edge/dkim's own test verifies signatures; here: that what leaves is signed after sanitizing,
// below the Received line, with t= the second of its Date, and only for a signing domain.
BOOST_FIXTURE_TEST_CASE(signed_after_sanitizing_when_from_is_a_signing_domain, Fixture) {
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  dns.set("mx.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("mx.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  auto signer_for = [](const std::string& domain) {
    auto key = nj::edge::dkim::generate_key(nj::edge::dkim::Algorithm::ed25519);
    BOOST_REQUIRE(key.ok());
    std::vector<nj::edge::dkim::SigningKey> keys;
    keys.push_back({domain, "sel", std::move(*key)});
    auto s = nj::edge::dkim::Signer::create(std::move(keys));
    BOOST_REQUIRE(s.ok());
    return std::shared_ptr<nj::edge::dkim::Signer>(std::move(*s));
  };
  cfg.dkim = signer_for("example.org");
  cfg.connection_cache_ms = 0;
  build(server->l->port());
  auto r = run(env("ID1", {"x@dest.test"}));
  BOOST_REQUIRE(r.size() == 1 && r[0].status == RcptStatus::delivered);
  BOOST_REQUIRE_EQUAL(server->messages.size(), 1u);
  const std::string& m = server->messages[0];
  BOOST_CHECK(m.starts_with("Received: from example.org by mx.edge.example.org"));
  size_t sig = m.find("\r\nDKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;");
  BOOST_REQUIRE_MESSAGE(sig != std::string::npos, m);
  BOOST_CHECK_LT(sig, m.find("\r\nFrom: "));
  BOOST_CHECK(m.find("t=1800000000;") != std::string::npos);
  BOOST_CHECK(m.find("Date: Fri, 15 Jan 2027 08:00:00 +0000") != std::string::npos);
  BOOST_CHECK_EQUAL(m.find("DKIM-Signature", sig + 20), std::string::npos);

  // Keys for another domain only: the message leaves unsigned.
  cfg.dkim = signer_for("example.net");
  build(server->l->port());
  r = run(env("ID2", {"x@dest.test"}));
  BOOST_REQUIRE(r.size() == 1 && r[0].status == RcptStatus::delivered);
  BOOST_REQUIRE_EQUAL(server->messages.size(), 2u);
  BOOST_CHECK_EQUAL(server->messages[1].find("DKIM-Signature"), std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(refused_greeting_moves_to_the_next_mx, Fixture) {
  // Both MX hosts refuse at the greeting: each is tried once, and the result is transient.
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "a.dest.test"}, {20, "b.dest.test"}}));
  dns.set("a.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("a.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  dns.set("b.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("b.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  server->refuse_greeting = true;
  build(server->l->port());
  auto r = run(env("ID2", {"x@dest.test"}));
  BOOST_REQUIRE_EQUAL(r.size(), 1u);
  BOOST_CHECK(r[0].status == RcptStatus::pending);
  BOOST_CHECK(r[0].reply.starts_with("421"));
  BOOST_CHECK_EQUAL(server->conns.size(), 2u);  // both MX hosts were tried
}

BOOST_FIXTURE_TEST_CASE(private_addresses_refused_by_default, Fixture) {
  cfg.allow_private_addresses = false;
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  dns.set("mx.dest.test", dns::Type::A, test::addrs({"127.0.0.1", "10.1.2.3"}));
  dns.set("mx.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  build(server->l->port());
  auto r = run(env("ID3", {"x@dest.test"}));
  BOOST_CHECK(r[0].status == RcptStatus::pending);
  BOOST_CHECK(server->conns.empty());
}

BOOST_FIXTURE_TEST_CASE(per_destination_limit_serializes_connections, Fixture) {
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  dns.set("mx.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("mx.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  build(server->l->port());
  int done = 0;
  for (int i = 0; i < 4; ++i) {
    auto e = env("P" + std::to_string(i), {"x@dest.test"});
    d->deliver(e, e.recipients, [&](std::vector<RcptResult> r) {
      BOOST_CHECK(r[0].status == RcptStatus::delivered);
      ++done;
    });
  }
  for (int i = 0; i < 100000 && done < 4; ++i) loop.run_once();
  BOOST_CHECK_EQUAL(done, 4);
  BOOST_CHECK_EQUAL(server->messages.size(), 4u);
  BOOST_CHECK_EQUAL(server->max_open, 1);
  // Each waiting delivery took the connection the one before it left in the cache.
  BOOST_CHECK_EQUAL(server->conns.size(), 1u);
}

namespace {
int count(const ScriptServer& s, const std::string& prefix) {
  int n = 0;
  for (const auto& c : s.commands) n += c.starts_with(prefix);
  return n;
}
}  // namespace

BOOST_FIXTURE_TEST_CASE(clearnet_connection_cached_for_the_next_message_then_quit, Fixture) {
  cfg.connection_cache_ms = 200;
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  dns.set("mx.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("mx.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  build(server->l->port());
  for (int i = 0; i < 3; ++i) {
    auto r = run(env("C" + std::to_string(i), {"x@dest.test"}));
    BOOST_CHECK(r[0].status == RcptStatus::delivered);
    BOOST_CHECK_EQUAL(d->idle_connections(), 1u);
  }
  BOOST_CHECK_EQUAL(server->messages.size(), 3u);
  BOOST_CHECK_EQUAL(server->conns.size(), 1u);  // one connection, one greeting, one EHLO
  BOOST_CHECK_EQUAL(count(*server, "EHLO"), 1);
  BOOST_CHECK_EQUAL(count(*server, "MAIL FROM:"), 3);
  BOOST_CHECK_EQUAL(count(*server, "RSET"), 0);  // each DATA's reply ended its transaction
  // The route and the MX host's address were asked once, for the first message only.
  BOOST_CHECK_EQUAL(std::count(dns.asked.begin(), dns.asked.end(),
                               std::make_pair(std::string("mx.dest.test"), dns::Type::A)),
                    1);
  // Unused for the cache time: QUIT, and the server closes.
  for (int i = 0; i < 100000 && server->open > 0; ++i) loop.run_once();
  BOOST_CHECK_EQUAL(server->open, 0);
  BOOST_CHECK_EQUAL(count(*server, "QUIT"), 1);
  for (int i = 0; i < 1000 && d->idle_connections() > 0; ++i) loop.run_once();
  BOOST_CHECK_EQUAL(d->idle_connections(), 0u);
  // The next message dials afresh.
  auto r = run(env("C9", {"x@dest.test"}));
  BOOST_CHECK(r[0].status == RcptStatus::delivered);
  BOOST_CHECK_EQUAL(server->conns.size(), 2u);
}

BOOST_FIXTURE_TEST_CASE(cached_connection_lost_before_use_falls_back_to_a_fresh_one, Fixture) {
  // The server takes one message per connection and answers a second MAIL with 421: the
  // delivery over the cached connection decides nothing and is retried at once over a new one.
  server->one_message_per_connection = true;
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  dns.set("mx.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("mx.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  build(server->l->port());
  auto r1 = run(env("F1", {"x@dest.test"}));
  BOOST_CHECK(r1[0].status == RcptStatus::delivered);
  auto r2 = run(env("F2", {"x@dest.test"}));
  BOOST_CHECK_MESSAGE(r2[0].status == RcptStatus::delivered, r2[0].reply);
  BOOST_CHECK_EQUAL(server->messages.size(), 2u);
  BOOST_CHECK_EQUAL(server->conns.size(), 2u);
}

BOOST_FIXTURE_TEST_CASE(cache_off_and_reuse_limit_close_after_the_message, Fixture) {
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  dns.set("mx.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("mx.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  cfg.connection_reuse_limit = 2;  // two messages, then a new connection
  build(server->l->port());
  for (int i = 0; i < 4; ++i) {
    BOOST_CHECK(run(env("L" + std::to_string(i), {"x@dest.test"}))[0].status ==
                RcptStatus::delivered);
  }
  BOOST_CHECK_EQUAL(server->conns.size(), 2u);
  for (int i = 0; i < 100000 && server->open > 0; ++i) loop.run_once();
  BOOST_CHECK_EQUAL(count(*server, "QUIT"), 2);  // each connection after its second message
  cfg.connection_cache_ms = 0;
  build(server->l->port());
  for (int i = 0; i < 2; ++i) {
    BOOST_CHECK(run(env("N" + std::to_string(i), {"x@dest.test"}))[0].status ==
                RcptStatus::delivered);
  }
  BOOST_CHECK_EQUAL(server->conns.size(), 4u);
  BOOST_CHECK_EQUAL(d->idle_connections(), 0u);
}

namespace {
struct RecordingDialer final : Dialer {
  std::vector<std::pair<Destination, std::string>> dials;
  uv::Loop* loop = nullptr;
  std::unique_ptr<uv::Timer> t;
  Result<std::unique_ptr<Pending>> dial(const Destination& d, const std::string& ip,
                                        const std::string& tag, Callback cb) override {
    dials.emplace_back(d, ip);
    BOOST_CHECK(tag.starts_with("nj-out-"));
    t = std::make_unique<uv::Timer>(*loop);
    t->start(1, 0, [cb] { cb(make_error("proxy refused")); });
    return std::unique_ptr<Pending>(std::make_unique<Pending>());
  }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(onion_goes_by_name_through_socks_and_never_to_dns, Fixture) {
  const std::string onion = "abupq2yypwtojgupttylrbwnabmpmydsf4evb2onasmib2go23jyyhqd.onion";
  dns.set("_onion-mx._tcp.dest.test", dns::Type::SRV, test::srv({{0, 0, 2525, onion}}));
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  RouterConfig rc;
  router = std::make_unique<Router>(dns, rc, [](uint32_t) { return 0u; });
  RecordingDialer rd;
  rd.loop = &loop;
  d = std::make_unique<Deliverer>(loop, dns, *router, rd, nullptr, clock, cfg);
  auto r = run(env("ID4", {"x@dest.test"}));
  BOOST_REQUIRE_EQUAL(rd.dials.size(), 1u);
  BOOST_CHECK(rd.dials[0].first.via_socks);
  BOOST_CHECK_EQUAL(rd.dials[0].first.host, onion);
  BOOST_CHECK_EQUAL(rd.dials[0].first.port, 2525);
  BOOST_CHECK(rd.dials[0].second.empty());
  // The onion failed: a retry later, never the clearnet MX.
  BOOST_CHECK(r[0].status == RcptStatus::pending);
  BOOST_CHECK(!dns.was_asked("dest.test"));
  BOOST_CHECK(!dns.was_asked("mx.dest.test"));
  BOOST_CHECK(!dns.was_asked(onion));
}

namespace {
bool sent(const ScriptServer& s, const std::string& cmd) {
  for (const auto& c : s.commands) {
    if (c == cmd) return true;
  }
  return false;
}
}  // namespace

BOOST_FIXTURE_TEST_CASE(clearnet_uses_opportunistic_starttls, Fixture) {
  testing::CertFiles certs;
  auto server_ctx = tls::Context::server(certs.cert, certs.key);
  BOOST_REQUIRE(server_ctx.ok());
  auto client_ctx = tls::Context::client();
  BOOST_REQUIRE(client_ctx.ok());
  server->server_tls = &*server_ctx;
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  dns.set("mx.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("mx.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  build(server->l->port());
  d = std::make_unique<Deliverer>(loop, dns, *router, *dialer, &*client_ctx, clock, cfg);
  auto r = run(env("TLS1", {"x@dest.test"}));
  BOOST_CHECK(r[0].status == RcptStatus::delivered);
  BOOST_CHECK(sent(*server, "STARTTLS"));
  BOOST_REQUIRE_EQUAL(server->message_over_tls.size(), 1u);
  BOOST_CHECK(server->message_over_tls[0]);
}

BOOST_FIXTURE_TEST_CASE(failed_starttls_retries_in_the_clear, Fixture) {
  testing::CertFiles certs;
  auto server_ctx = tls::Context::server(certs.cert, certs.key);
  BOOST_REQUIRE(server_ctx.ok());
  auto client_ctx = tls::Context::client();
  BOOST_REQUIRE(client_ctx.ok());
  server->server_tls = &*server_ctx;
  server->break_tls = true;
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  dns.set("mx.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("mx.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  build(server->l->port());
  d = std::make_unique<Deliverer>(loop, dns, *router, *dialer, &*client_ctx, clock, cfg);
  auto r = run(env("TLS2", {"x@dest.test"}));
  BOOST_CHECK_MESSAGE(r[0].status == RcptStatus::delivered, r[0].reply);
  BOOST_CHECK_EQUAL(server->conns.size(), 2u);
  BOOST_REQUIRE_EQUAL(server->message_over_tls.size(), 1u);
  BOOST_CHECK(!server->message_over_tls[0]);
}

namespace {
// Plays the SOCKS proxy's part: the "onion" connection is a loopback one to the script server.
struct LoopbackDialer final : Dialer {
  uv::Loop* loop = nullptr;
  uint16_t port = 0;
  std::vector<Destination> dials;
  struct P final : Pending {
    std::unique_ptr<uv::Connection> c;
  };
  Result<std::unique_ptr<Pending>> dial(const Destination& d, const std::string& ip,
                                        const std::string&, Callback cb) override {
    dials.push_back(d);
    BOOST_CHECK(ip.empty());
    auto p = std::make_unique<P>();
    P* raw = p.get();
    auto c = uv::Connection::connect(*loop, "127.0.0.1", port, [raw, cb](const Status& s) {
      if (!s) return cb(make_error(s.error()));
      socks::Connected out;
      out.conn = std::move(raw->c);
      cb(std::move(out));
    });
    if (!c) return make_error(c.error());
    p->c = std::move(*c);
    return std::unique_ptr<Pending>(std::move(p));
  }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(onion_delivery_never_starttls, Fixture) {
  testing::CertFiles certs;
  auto server_ctx = tls::Context::server(certs.cert, certs.key);
  BOOST_REQUIRE(server_ctx.ok());
  auto client_ctx = tls::Context::client();
  BOOST_REQUIRE(client_ctx.ok());
  server->server_tls = &*server_ctx;  // offered, and still not used
  const std::string onion = "4my2dd2okjr75aho.onion";
  RouterConfig rc;
  rc.onion_map.add("dest.test", onion);
  router = std::make_unique<Router>(dns, rc, [](uint32_t) { return 0u; });
  LoopbackDialer ld;
  ld.loop = &loop;
  ld.port = server->l->port();
  d = std::make_unique<Deliverer>(loop, dns, *router, ld, &*client_ctx, clock, cfg);
  auto r = run(env("ON1", {"x@dest.test"}));
  BOOST_CHECK(r[0].status == RcptStatus::delivered);
  BOOST_REQUIRE_EQUAL(ld.dials.size(), 1u);
  BOOST_CHECK(ld.dials[0].via_socks);
  BOOST_CHECK_EQUAL(ld.dials[0].host, onion);
  BOOST_CHECK(!sent(*server, "STARTTLS"));
  BOOST_CHECK(dns.asked.empty());
  // One circuit per message: an onion connection never waits in the cache.
  BOOST_CHECK_EQUAL(d->idle_connections(), 0u);
  BOOST_CHECK(sent(*server, "QUIT"));
  auto r2 = run(env("ON2", {"x@dest.test"}));
  BOOST_CHECK(r2[0].status == RcptStatus::delivered);
  BOOST_CHECK_EQUAL(ld.dials.size(), 2u);
}

namespace {
// Runs the loop for `ms` (to see that something does NOT happen).
void run_for(uv::Loop& loop, uint64_t ms) {
  uv::Timer t(loop);
  bool up = false;
  t.start(ms, 0, [&] { up = true; });
  while (!up) loop.run_once();
}
}  // namespace

BOOST_FIXTURE_TEST_CASE(cancel_ends_the_attempt_closes_its_connection_and_frees_the_slot, Fixture) {
  // The server holds its greeting: the attempt is connected and waiting when it is cancelled.
  server->hold_greeting = true;
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  dns.set("mx.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("mx.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  dns.set("other.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  build(server->l->port());
  // Two recipient domains on the same host (limit 1): one attempt connects, the other waits for
  // the slot. Both belong to W1.
  auto e = env("W1", {"x@dest.test", "y@other.test"});
  bool done = false;
  d->deliver(e, e.recipients, [&](std::vector<RcptResult>) { done = true; });
  for (int i = 0; i < 100000 && server->conns.empty(); ++i) loop.run_once();
  BOOST_REQUIRE_EQUAL(server->conns.size(), 1u);
  BOOST_CHECK_EQUAL(d->limiter().active("host:mx.dest.test"), 1u);
  BOOST_CHECK_EQUAL(d->limiter().waiting("host:mx.dest.test"), 1u);
  BOOST_CHECK_EQUAL(d->cancel("NOT-THERE"), 0u);
  BOOST_CHECK_EQUAL(d->cancel("W1"), 2u);
  BOOST_CHECK_EQUAL(d->limiter().active("host:mx.dest.test"), 0u);
  BOOST_CHECK_EQUAL(d->limiter().waiting("host:mx.dest.test"), 0u);
  for (int i = 0; i < 100000 && server->open > 0; ++i) loop.run_once();
  BOOST_CHECK_EQUAL(server->open, 0);  // our end closed the connection
  server->greet();
  run_for(loop, 200);
  BOOST_CHECK(!done);  // a cancelled attempt never reports
  BOOST_CHECK(server->messages.empty());
  BOOST_CHECK_EQUAL(server->conns.size(), 1u);  // the waiting domain never dialled
  BOOST_CHECK_EQUAL(count(*server, "MAIL FROM:"), 0);
  BOOST_CHECK_EQUAL(d->cancel("W1"), 0u);
  // The slot is free: the next message gets through at once.
  server->hold_greeting = false;
  auto r = run(env("W2", {"x@dest.test"}));
  BOOST_CHECK_MESSAGE(r[0].status == RcptStatus::delivered, r[0].reply);
  BOOST_CHECK_EQUAL(server->messages.size(), 1u);
}

BOOST_FIXTURE_TEST_CASE(cancel_of_a_waiting_attempt_leaves_the_one_holding_the_slot, Fixture) {
  server->hold_greeting = true;
  dns.set("dest.test", dns::Type::MX, test::mx({{10, "mx.dest.test"}}));
  dns.set("mx.dest.test", dns::Type::A, test::addrs({"127.0.0.1"}));
  dns.set("mx.dest.test", dns::Type::AAAA, test::status(dns::Status::nodata));
  build(server->l->port());
  std::optional<std::vector<RcptResult>> first;
  bool second = false;
  auto e1 = env("H1", {"x@dest.test"});
  auto e2 = env("H2", {"x@dest.test"});
  d->deliver(e1, e1.recipients, [&](std::vector<RcptResult> r) { first = std::move(r); });
  d->deliver(e2, e2.recipients, [&](std::vector<RcptResult>) { second = true; });
  for (int i = 0; i < 100000 && d->limiter().waiting("host:mx.dest.test") == 0; ++i)
    loop.run_once();
  BOOST_REQUIRE_EQUAL(d->limiter().waiting("host:mx.dest.test"), 1u);
  BOOST_CHECK_EQUAL(d->cancel("H2"), 1u);
  BOOST_CHECK_EQUAL(d->limiter().waiting("host:mx.dest.test"), 0u);
  BOOST_CHECK_EQUAL(d->limiter().active("host:mx.dest.test"), 1u);
  server->greet();
  for (int i = 0; i < 100000 && !first; ++i) loop.run_once();
  BOOST_REQUIRE(first.has_value());
  BOOST_CHECK((*first)[0].status == RcptStatus::delivered);
  run_for(loop, 100);
  BOOST_CHECK(!second);
  BOOST_CHECK_EQUAL(server->messages.size(), 1u);
}
