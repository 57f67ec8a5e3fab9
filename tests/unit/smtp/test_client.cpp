#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "common/smtp/client.h"
#include "common/smtp/server.h"
#include "tests/unit/smtp/test_util.h"

using namespace nj::smtp;

namespace {

struct AcceptingHooks : Hooks {
  std::vector<Message> messages;
  std::vector<Violation> violations;
  std::string auth;
  std::optional<Reply> on_helo(std::string_view, bool) override { return Reply::ok(); }
  std::optional<Reply> on_mail(std::string_view, const std::vector<EsmtpParam>&) override {
    return Reply::make(250, "2.1.0", "Ok");
  }
  std::optional<Reply> on_rcpt(std::string_view path, const std::vector<EsmtpParam>&) override {
    if (path.find("unknown") != std::string_view::npos)
      return Reply::make(550, "5.1.1", "No such user");
    return Reply::make(250, "2.1.5", "Ok");
  }
  std::optional<Reply> on_message(const Message& m) override {
    messages.push_back(m);
    return Reply::make(250, "2.0.0", "Ok: queued");
  }
  std::optional<Reply> on_auth(std::string_view, std::string_view, std::string_view user,
                               std::string_view pass) override {
    auth = std::string(user);
    return pass == "secret" ? Reply::auth_ok() : Reply::auth_failed();
  }
  bool on_violation(Violation v) override {
    violations.push_back(v);
    return false;
  }
};

// A client and a server engine wired back to back in memory.
struct Wire {
  ServerConfig scfg;
  ClientConfig ccfg;
  AcceptingHooks hooks;
  std::unique_ptr<ServerSession> server;
  std::unique_ptr<ClientSession> client;
  std::string sent;  // everything the client wrote

  Wire() {
    scfg.hostname = "mx.test";
    ccfg.helo_name = "out.test";
  }
  void start() {
    server = std::make_unique<ServerSession>(scfg, hooks);
    client = std::make_unique<ClientSession>(ccfg);
    server->greet();
  }
  void pump() {
    for (int i = 0; i < 1000; ++i) {
      bool moved = false;
      if (auto s = server->take_output(); !s.empty()) {
        client->feed(s);
        moved = true;
      }
      if (auto c = client->take_output(); !c.empty()) {
        sent += c;
        server->feed(c);
        moved = true;
      }
      if (client->want_starttls() && server->want_starttls()) {
        server->tls_started();
        client->tls_started();
        moved = true;
      }
      if (!moved) return;
    }
    BOOST_FAIL("engines did not settle");
  }
};

OutboundMessage msg(std::vector<std::string> rcpts, std::string data = "Subject: t\r\n\r\nhi\r\n") {
  OutboundMessage m;
  m.reverse_path = "alice@a.test";
  m.recipients = std::move(rcpts);
  m.data = std::move(data);
  return m;
}

// Canned server: feed replies, read commands.
struct Canned {
  ClientConfig cfg;
  std::unique_ptr<ClientSession> c;
  Canned() { cfg.helo_name = "out.test"; }
  ClientSession& start() {
    c = std::make_unique<ClientSession>(cfg);
    return *c;
  }
  std::string say(std::string_view s) {
    c->feed(s);
    return c->take_output();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(client)

BOOST_AUTO_TEST_CASE(dot_stuff_normalises) {
  BOOST_CHECK_EQUAL(dot_stuff(".a\r\n..b\r\n.\r\nc"), "..a\r\n...b\r\n..\r\nc\r\n");
  BOOST_CHECK_EQUAL(dot_stuff("a\nb\rc\r\n"), "a\r\nb\r\nc\r\n");
  BOOST_CHECK_EQUAL(dot_stuff(""), "");
  BOOST_CHECK_EQUAL(dot_stuff("x.y\r\n"), "x.y\r\n");
}

BOOST_AUTO_TEST_CASE(delivers_pipelined_against_server_engine) {
  Wire w;
  w.start();
  const std::string data = ".leading\r\n..two\r\n.\r\nmid . dot\r\nlast line no crlf";
  const uint64_t id = w.client->add_message(msg({"bob@b.test", "carol@b.test"}, data));
  w.client->quit_when_idle();
  w.pump();
  BOOST_CHECK(w.client->done());
  BOOST_CHECK(w.server->want_close());
  BOOST_CHECK(!w.client->session_error());
  BOOST_CHECK(w.hooks.violations.empty());
  BOOST_CHECK(w.client->capabilities().pipelining);
  BOOST_REQUIRE_EQUAL(w.hooks.messages.size(), 1u);
  BOOST_CHECK_EQUAL(w.hooks.messages[0].data, data + "\r\n");
  BOOST_CHECK_EQUAL(w.hooks.messages[0].recipients.size(), 2u);
  auto res = w.client->take_results();
  BOOST_REQUIRE_EQUAL(res.size(), 1u);
  BOOST_CHECK_EQUAL(res[0].id, id);
  BOOST_CHECK(res[0].all_delivered());
  BOOST_CHECK_EQUAL(res[0].reply.code, 250);
  BOOST_CHECK(w.sent.find("MAIL FROM:<alice@a.test> SIZE=") != std::string::npos);
  // Pipelined: MAIL, RCPTs and DATA left in one write, so the server got them in one feed.
  BOOST_CHECK(w.sent.find("MAIL FROM:<alice@a.test> SIZE=" + std::to_string(data.size()) +
                          "\r\nRCPT TO:<bob@b.test>\r\nRCPT TO:<carol@b.test>\r\nDATA\r\n") !=
              std::string::npos);
}

BOOST_AUTO_TEST_CASE(several_messages_rset_and_per_recipient_results) {
  for (bool pipelining : {true, false}) {
    Wire w;
    w.scfg.pipelining = pipelining;
    w.start();
    w.client->add_message(msg({"bob@b.test", "unknown@b.test"}));
    w.client->add_message(msg({"unknown@b.test"}));
    OutboundMessage eight = msg({"carol@b.test"});
    eight.eight_bit = true;
    w.client->add_message(eight);
    w.pump();
    BOOST_CHECK(!w.client->done());  // idle, waiting for more work
    w.client->add_message(msg({"dave@b.test"}));
    w.client->quit_when_idle();
    w.pump();
    BOOST_CHECK(w.client->done());
    BOOST_CHECK(w.hooks.violations.empty());  // lock-step when pipelining is not offered
    auto res = w.client->take_results();
    BOOST_REQUIRE_EQUAL(res.size(), 4u);
    BOOST_CHECK(res[0].recipients[0].outcome == Outcome::delivered);
    BOOST_CHECK(res[0].recipients[1].outcome == Outcome::permanent);
    BOOST_CHECK_EQUAL(res[0].recipients[1].reply.enhanced, "5.1.1");
    BOOST_CHECK(!res[0].all_delivered());
    BOOST_CHECK(res[1].recipients[0].outcome == Outcome::permanent);
    BOOST_CHECK_EQUAL(res[1].reply.code, 550);
    BOOST_CHECK(res[2].all_delivered());
    BOOST_CHECK(res[3].all_delivered());
    BOOST_CHECK_EQUAL(w.hooks.messages.size(), 3u);
    BOOST_CHECK(w.hooks.messages[1].body == BodyType::eight_bit_mime);
    BOOST_CHECK(w.sent.find("BODY=8BITMIME") != std::string::npos);
    BOOST_CHECK(w.sent.find("RSET\r\n") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(starttls_and_auth_against_server_engine) {
  Wire w;
  w.scfg.starttls_available = true;
  w.scfg.auth_enabled = true;
  w.scfg.auth_required = true;
  w.ccfg.starttls = TlsPolicy::required;
  w.ccfg.credentials = ClientCredentials{"", "alice", "secret"};
  w.start();
  w.client->add_message(msg({"bob@b.test"}));
  w.client->quit_when_idle();
  w.pump();
  BOOST_CHECK(w.client->tls_active());
  BOOST_CHECK(w.server->tls_active());
  BOOST_CHECK(w.client->authenticated());
  BOOST_CHECK_EQUAL(w.hooks.auth, "alice");
  BOOST_CHECK(w.client->take_results().at(0).all_delivered());
  // EHLO twice: once in clear, once after TLS.
  BOOST_CHECK_NE(w.sent.find("EHLO"), w.sent.rfind("EHLO"));
}

BOOST_AUTO_TEST_CASE(auth_failure_fails_the_session) {
  Wire w;
  w.scfg.auth_enabled = true;
  w.ccfg.credentials = ClientCredentials{"", "alice", "wrong"};
  w.start();
  w.client->add_message(msg({"bob@b.test"}));
  w.pump();
  BOOST_CHECK(w.client->done());
  BOOST_REQUIRE(w.client->session_error());
  BOOST_CHECK_EQUAL(w.client->session_error()->code, 535);
  auto res = w.client->take_results();
  BOOST_CHECK(res.at(0).recipients.at(0).outcome == Outcome::permanent);
  BOOST_CHECK(w.hooks.messages.empty());
}

BOOST_AUTO_TEST_CASE(tls_required_but_not_offered) {
  Wire w;
  w.ccfg.starttls = TlsPolicy::required;
  w.start();
  w.client->add_message(msg({"bob@b.test"}));
  w.pump();
  BOOST_CHECK(w.client->done());
  BOOST_CHECK_EQUAL(w.client->session_error()->enhanced, "4.7.10");
  BOOST_CHECK(w.client->take_results().at(0).recipients[0].outcome == Outcome::transient);
  BOOST_CHECK(w.sent.find("MAIL") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(local_failures_smtputf8_and_size) {
  Wire w;
  w.scfg.smtputf8 = false;
  w.scfg.max_message_size = 100;
  w.start();
  w.client->add_message(msg({"\xc3\xbc@b.test"}));
  w.client->add_message(msg({"bob@b.test"}, std::string(200, 'x')));
  OutboundMessage flagged = msg({"bob@b.test"});
  flagged.smtputf8 = true;
  w.client->add_message(flagged);
  w.client->add_message(msg({"bob@b.test"}));
  w.client->quit_when_idle();
  w.pump();
  auto res = w.client->take_results();
  BOOST_REQUIRE_EQUAL(res.size(), 4u);
  BOOST_CHECK_EQUAL(res[0].reply.enhanced, "5.6.7");
  BOOST_CHECK(res[0].reply.local);
  BOOST_CHECK(res[0].recipients[0].outcome == Outcome::permanent);
  BOOST_CHECK_EQUAL(res[1].reply.enhanced, "5.3.4");
  BOOST_CHECK_EQUAL(res[2].reply.enhanced, "5.6.7");
  BOOST_CHECK(res[3].all_delivered());
  BOOST_CHECK_EQUAL(w.hooks.messages.size(), 1u);
}

BOOST_AUTO_TEST_CASE(greeting_refused) {
  Canned t;
  auto& c = t.start();
  c.add_message(msg({"bob@b.test"}));
  BOOST_CHECK_EQUAL(c.timeout().count(), 300);
  BOOST_CHECK_EQUAL(t.say("554 5.7.1 no thanks\r\n"), "QUIT\r\n");
  BOOST_CHECK_EQUAL(c.session_error()->code, 554);
  BOOST_CHECK(c.take_results().at(0).recipients[0].outcome == Outcome::permanent);
  t.say("221 bye\r\n");
  BOOST_CHECK(c.done());
}

BOOST_AUTO_TEST_CASE(ehlo_falls_back_to_helo_and_lock_step) {
  Canned t;
  auto& c = t.start();
  BOOST_CHECK_EQUAL(t.say("220 old ESMTP\r\n"), "EHLO out.test\r\n");
  BOOST_CHECK_EQUAL(t.say("502 5.5.1 what\r\n"), "HELO out.test\r\n");
  BOOST_CHECK(t.say("250 old\r\n").empty());
  c.add_message(msg({"bob@b.test", "carol@b.test"}));
  BOOST_CHECK_EQUAL(c.take_output(), "MAIL FROM:<alice@a.test>\r\n");  // no SIZE without ESMTP
  BOOST_CHECK_EQUAL(c.timeout().count(), 300);
  BOOST_CHECK_EQUAL(t.say("250 ok\r\n"), "RCPT TO:<bob@b.test>\r\n");
  BOOST_CHECK_EQUAL(t.say("250 ok\r\n"), "RCPT TO:<carol@b.test>\r\n");
  BOOST_CHECK_EQUAL(t.say("550 5.1.1 no\r\n"), "DATA\r\n");
  BOOST_CHECK_EQUAL(c.timeout().count(), 120);
  BOOST_CHECK_EQUAL(t.say("354 go\r\n"), "Subject: t\r\n\r\nhi\r\n.\r\n");
  BOOST_CHECK_EQUAL(c.timeout().count(), 600);
  // Final DATA reply 451: the accepted recipient is deferred, the refused one keeps its 550.
  t.say("451 4.3.0 later\r\n");
  auto res = c.take_results();
  BOOST_REQUIRE_EQUAL(res.size(), 1u);
  BOOST_CHECK(res[0].recipients[0].outcome == Outcome::transient);
  BOOST_CHECK_EQUAL(res[0].recipients[0].reply.code, 451);
  BOOST_CHECK(res[0].recipients[1].outcome == Outcome::permanent);
  c.quit_when_idle();
  BOOST_CHECK_EQUAL(c.take_output(), "QUIT\r\n");
}

BOOST_AUTO_TEST_CASE(server_421_mid_transaction) {
  Canned t;
  auto& c = t.start();
  t.say("220 mx\r\n");
  t.say("250-mx\r\n250 PIPELINING\r\n");
  c.add_message(msg({"bob@b.test"}));
  c.add_message(msg({"carol@b.test"}));
  BOOST_CHECK_EQUAL(c.take_output(),
                    "MAIL FROM:<alice@a.test>\r\nRCPT TO:<bob@b.test>\r\nDATA\r\n");
  BOOST_CHECK(t.say("250 ok\r\n421 4.3.2 shutting down\r\n").empty());
  BOOST_CHECK(c.done());
  BOOST_CHECK(c.want_close());
  auto res = c.take_results();
  BOOST_REQUIRE_EQUAL(res.size(), 2u);
  for (const auto& r : res) BOOST_CHECK(r.recipients[0].outcome == Outcome::transient);
  // Work added after the end fails at once instead of waiting forever.
  c.add_message(msg({"dave@b.test"}));
  BOOST_CHECK(c.take_results().at(0).recipients[0].outcome == Outcome::transient);
}

BOOST_AUTO_TEST_CASE(pipelined_mail_refused_and_empty_data) {
  Canned t;
  auto& c = t.start();
  t.say("220 mx\r\n");
  t.say("250-mx\r\n250-PIPELINING\r\n250 SIZE\r\n");
  c.add_message(msg({"bob@b.test"}));
  c.take_output();
  BOOST_CHECK(t.say("550 5.7.1 sender refused\r\n503 5.5.1 no\r\n503 5.5.1 no\r\n").empty());
  auto res = c.take_results();
  BOOST_CHECK_EQUAL(res.at(0).recipients[0].reply.enhanced, "5.7.1");
  // Next message: RSET first. The server wrongly accepts DATA with no valid recipient: the
  // client ends it with an empty body (RFC 2920 3.1) and reports the refusal.
  c.add_message(msg({"unknown@b.test"}));
  BOOST_CHECK_EQUAL(
      c.take_output(),
      "RSET\r\nMAIL FROM:<alice@a.test> SIZE=18\r\nRCPT TO:<unknown@b.test>\r\nDATA\r\n");
  BOOST_CHECK_EQUAL(t.say("250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n354 go\r\n"), ".\r\n");
  t.say("554 5.5.1 no valid recipients\r\n");
  auto r2 = c.take_results();
  BOOST_REQUIRE_EQUAL(r2.size(), 1u);
  BOOST_CHECK_EQUAL(r2[0].reply.enhanced, "5.1.1");
  BOOST_CHECK(r2[0].recipients[0].outcome == Outcome::permanent);
}

BOOST_AUTO_TEST_CASE(starttls_response_injection_is_dropped) {
  Canned t;
  t.cfg.starttls = TlsPolicy::opportunistic;
  auto& c = t.start();
  t.say("220 mx\r\n");
  BOOST_CHECK_EQUAL(t.say("250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
  BOOST_CHECK(t.say("220 2.0.0 go\r\n250-mx\r\n250 PIPELINING\r\n").empty());
  BOOST_CHECK(c.want_starttls());
  c.tls_started();
  BOOST_CHECK_EQUAL(c.take_output(), "EHLO out.test\r\n");
  BOOST_CHECK(!c.capabilities().pipelining);  // the injected reply was not kept
  t.say("250-mx\r\n250 SIZE 5\r\n");
  BOOST_CHECK_EQUAL(c.capabilities().size_limit, 5u);
  BOOST_CHECK(!c.session_error());
}

BOOST_AUTO_TEST_CASE(starttls_refused_opportunistic_continues) {
  Canned t;
  auto& c = t.start();
  t.say("220 mx\r\n");
  t.say("250-mx\r\n250 STARTTLS\r\n");
  BOOST_CHECK(t.say("454 4.7.0 TLS not available\r\n").empty());
  c.add_message(msg({"bob@b.test"}));
  BOOST_CHECK_EQUAL(c.take_output(), "MAIL FROM:<alice@a.test>\r\n");
}

BOOST_AUTO_TEST_CASE(malformed_reply_timeout_and_lost_connection) {
  {
    Canned t;
    auto& c = t.start();
    c.add_message(msg({"bob@b.test"}));
    t.say("2x0 what\r\n");
    BOOST_CHECK(c.done());
    BOOST_CHECK_EQUAL(c.session_error()->enhanced, "4.5.0");
    BOOST_CHECK(c.take_results().at(0).recipients[0].outcome == Outcome::transient);
  }
  {
    Canned t;
    auto& c = t.start();
    c.add_message(msg({"bob@b.test"}));
    c.on_timeout();
    BOOST_CHECK(c.done());
    BOOST_CHECK_EQUAL(c.session_error()->enhanced, "4.4.2");
    BOOST_CHECK(c.take_results().at(0).recipients[0].outcome == Outcome::transient);
  }
  {
    Canned t;
    auto& c = t.start();
    t.say("220 mx\r\n");
    t.say("250 mx\r\n");
    c.add_message(msg({"bob@b.test"}));
    c.on_connection_closed();
    BOOST_CHECK(c.done());
    BOOST_CHECK(c.take_results().at(0).recipients[0].outcome == Outcome::transient);
  }
  {  // a reply nobody asked for
    Canned t;
    auto& c = t.start();
    t.say("220 mx\r\n");
    t.say("250 mx\r\n");
    t.say("250 surprise\r\n");
    BOOST_CHECK(c.done());
  }
}

BOOST_AUTO_TEST_CASE(envelope_injection_is_refused_locally) {
  Canned t;
  auto& c = t.start();
  t.say("220 mx\r\n");
  t.say("250 mx\r\n");
  c.add_message(msg({"bob@b.test>\r\nRCPT TO:<evil@x.test"}));
  BOOST_CHECK(c.take_output().empty());
  BOOST_CHECK_EQUAL(c.take_results().at(0).reply.code, 554);
}

BOOST_AUTO_TEST_SUITE_END()
