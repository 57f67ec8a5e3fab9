#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/smtp/server.h"
#include "tests/unit/smtp/test_util.h"

using namespace nj::smtp;
using nj::smtp::testing::codes;
using nj::smtp::testing::parse_replies;

namespace {

// Hooks with scripted answers. `async` makes every hook pending; `inline_resolve` makes it
// call resolve() from inside the hook before returning nullopt.
struct FakeHooks : Hooks {
  bool async = false;
  bool inline_resolve = false;
  bool drop_on_violation = false;
  ServerSession* session = nullptr;
  std::optional<Reply> helo_reply, mail_reply, data_start_reply, message_reply;
  std::vector<std::string> calls;
  std::vector<Message> messages;
  std::vector<Violation> violations;
  std::vector<std::vector<EsmtpParam>> mail_params;
  std::string auth_seen;

  std::optional<Reply> answer(const Reply& r) {
    if (async) return std::nullopt;
    if (inline_resolve) {
      session->resolve(r);
      return std::nullopt;
    }
    return r;
  }
  std::optional<Reply> on_helo(std::string_view name, bool esmtp) override {
    calls.push_back(std::string(esmtp ? "EHLO " : "HELO ") + std::string(name));
    return answer(helo_reply.value_or(Reply::ok()));
  }
  std::optional<Reply> on_mail(std::string_view path,
                               const std::vector<EsmtpParam>& params) override {
    calls.push_back("MAIL " + std::string(path));
    mail_params.push_back(params);
    return answer(mail_reply.value_or(Reply::make(250, "2.1.0", "Ok")));
  }
  std::optional<Reply> on_rcpt(std::string_view path, const std::vector<EsmtpParam>&) override {
    calls.push_back("RCPT " + std::string(path));
    if (path.find("unknown") != std::string_view::npos)
      return answer(Reply::make(550, "5.1.1", "No such user"));
    return answer(Reply::make(250, "2.1.5", "Ok"));
  }
  std::optional<Reply> on_data_start() override {
    calls.push_back("DATA");
    return answer(data_start_reply.value_or(Reply::ok()));
  }
  std::optional<Reply> on_message(const Message& m) override {
    calls.push_back("MESSAGE");
    messages.push_back(m);
    return answer(message_reply.value_or(Reply::make(250, "2.0.0", "Ok: queued")));
  }
  std::optional<Reply> on_auth(std::string_view mech, std::string_view authzid,
                               std::string_view authcid, std::string_view password) override {
    auth_seen = std::string(mech) + "|" + std::string(authzid) + "|" + std::string(authcid) + "|" +
                std::string(password);
    return answer(password == "secret" ? Reply::auth_ok() : Reply::auth_failed());
  }
  void on_rset() override { calls.push_back("RSET"); }
  void on_quit() override { calls.push_back("QUIT"); }
  bool on_violation(Violation v) override {
    violations.push_back(v);
    return drop_on_violation;
  }
};

struct Server {
  ServerConfig cfg;
  FakeHooks hooks;
  std::unique_ptr<ServerSession> s;

  Server() {
    cfg.hostname = "mx.test";
    cfg.max_message_size = 10000;
  }
  ServerSession& start() {
    s = std::make_unique<ServerSession>(cfg, hooks);
    hooks.session = s.get();
    s->greet();
    BOOST_REQUIRE_EQUAL(s->take_output(), "220 mx.test ESMTP\r\n");
    return *s;
  }
  std::string io(std::string_view in) {
    s->feed(in);
    return s->take_output();
  }
  Reply one(std::string_view in) {
    auto r = parse_replies(io(in));
    BOOST_REQUIRE_EQUAL(r.size(), 1u);
    return r[0];
  }
  void ehlo() { BOOST_REQUIRE_EQUAL(one("EHLO client.test\r\n").code, 250); }
};

void check(const Reply& r, int code, const char* enhanced) {
  BOOST_CHECK_EQUAL(r.code, code);
  BOOST_CHECK_EQUAL(r.enhanced, enhanced);
}

bool has_line(const Reply& r, const std::string& l) {
  for (const auto& x : r.lines)
    if (x == l) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(server)

BOOST_AUTO_TEST_CASE(ehlo_lists_extensions) {
  Server t;
  t.cfg.starttls_available = true;
  t.cfg.auth_enabled = true;
  t.start();
  Reply r = t.one("EHLO client.test\r\n");
  BOOST_CHECK_EQUAL(r.code, 250);
  BOOST_CHECK_EQUAL(r.lines[0], "mx.test");
  for (const char* e : {"PIPELINING", "SIZE 10000", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
                        "STARTTLS", "AUTH PLAIN LOGIN"})
    BOOST_CHECK_MESSAGE(has_line(r, e), e);
  BOOST_CHECK_EQUAL(t.hooks.calls.at(0), "EHLO client.test");

  Server u;
  u.cfg.pipelining = false;
  u.cfg.smtputf8 = false;
  u.cfg.eight_bit_mime = false;
  u.start();
  Reply v = u.one("ehlo client.test\r\n");
  BOOST_CHECK(!has_line(v, "PIPELINING"));
  BOOST_CHECK(!has_line(v, "STARTTLS"));
  BOOST_CHECK(!has_line(v, "AUTH PLAIN LOGIN"));
  BOOST_CHECK(!has_line(v, "SMTPUTF8"));
  BOOST_CHECK(!has_line(v, "8BITMIME"));
}

BOOST_AUTO_TEST_CASE(helo_and_bad_helo) {
  Server t;
  t.start();
  check(t.one("EHLO\r\n"), 501, "5.5.4");
  check(t.one("HELO two words\r\n"), 501, "5.5.4");
  Reply r = t.one("HELO client.test\r\n");
  BOOST_CHECK_EQUAL(r.code, 250);
  BOOST_CHECK_EQUAL(r.lines.size(), 1u);
  // ESMTP parameters need EHLO.
  check(t.one("MAIL FROM:<a@b.test> SIZE=10\r\n"), 555, "5.5.4");
  BOOST_CHECK_EQUAL(t.one("MAIL FROM:<a@b.test>\r\n").code, 250);
  // A refused HELO leaves the client without a greeting.
  t.hooks.helo_reply = Reply::make(550, "5.7.1", "bad helo");
  check(t.one("HELO bad.test\r\n"), 550, "5.7.1");
  check(t.one("MAIL FROM:<a@b.test>\r\n"), 503, "5.5.1");
}

BOOST_AUTO_TEST_CASE(full_transaction_lock_step) {
  Server t;
  t.start();
  t.ehlo();
  check(t.one("MAIL FROM:<alice@a.test> BODY=8BITMIME SIZE=100 SMTPUTF8\r\n"), 250, "2.1.0");
  check(t.one("RCPT TO:<bob@b.test>\r\n"), 250, "2.1.5");
  check(t.one("RCPT TO:<unknown@b.test>\r\n"), 550, "5.1.1");
  check(t.one("rcpt to: <carol@b.test>\r\n"), 250, "2.1.5");
  Reply go = t.one("DATA\r\n");
  BOOST_CHECK_EQUAL(go.code, 354);
  BOOST_CHECK(go.enhanced.empty());
  BOOST_CHECK(t.s->in_data());
  BOOST_CHECK_EQUAL(t.s->timeout().count(), 180);
  BOOST_CHECK(t.io("Subject: hi\r\n\r\n..dot\r\n").empty());
  check(t.one("end\r\n.\r\n"), 250, "2.0.0");
  BOOST_CHECK_EQUAL(t.s->timeout().count(), 300);
  BOOST_REQUIRE_EQUAL(t.hooks.messages.size(), 1u);
  const Message& m = t.hooks.messages[0];
  BOOST_CHECK_EQUAL(m.reverse_path, "<alice@a.test>");
  BOOST_REQUIRE_EQUAL(m.recipients.size(), 2u);
  BOOST_CHECK_EQUAL(m.recipients[1], "<carol@b.test>");
  BOOST_CHECK(m.body == BodyType::eight_bit_mime);
  BOOST_CHECK(m.smtputf8);
  BOOST_CHECK_EQUAL(m.data, "Subject: hi\r\n\r\n.dot\r\nend\r\n");
  BOOST_CHECK_EQUAL(t.hooks.mail_params.at(0).size(), 3u);
  // The transaction is over: RCPT needs a new MAIL.
  check(t.one("RCPT TO:<bob@b.test>\r\n"), 503, "5.5.1");
  Reply bye = t.one("QUIT\r\n");
  check(bye, 221, "2.0.0");
  BOOST_CHECK(t.s->want_close());
  BOOST_CHECK_EQUAL(t.hooks.calls.back(), "QUIT");
  BOOST_CHECK_EQUAL(t.s->stats().messages_accepted, 1u);
  BOOST_CHECK_EQUAL(t.s->stats().recipients_accepted, 2u);
  BOOST_CHECK_EQUAL(t.s->stats().recipients_refused, 1u);
  // Nothing more is read after QUIT.
  BOOST_CHECK(t.io("NOOP\r\n").empty());
}

BOOST_AUTO_TEST_CASE(pipelined_transaction_in_one_feed) {
  Server t;
  t.start();
  t.ehlo();
  auto c = codes(
      t.io("MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\nRCPT TO:<unknown@b.test>\r\nDATA\r\n"));
  BOOST_CHECK((c == std::vector<int>{250, 250, 550, 354}));
  auto d = codes(t.io("hello\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<c@b.test>\r\nDATA\r\n"));
  BOOST_CHECK((d == std::vector<int>{250, 250, 250, 354}));
  auto e = codes(t.io("x\r\n.\r\nQUIT\r\n"));
  BOOST_CHECK((e == std::vector<int>{250, 221}));
  BOOST_CHECK(t.hooks.violations.empty());
  BOOST_CHECK_EQUAL(t.hooks.messages.size(), 2u);
  BOOST_CHECK_EQUAL(t.hooks.messages[1].reverse_path, "<>");
}

BOOST_AUTO_TEST_CASE(sequence_errors) {
  Server t;
  t.start();
  check(t.one("MAIL FROM:<a@a.test>\r\n"), 503, "5.5.1");
  t.ehlo();
  check(t.one("RCPT TO:<b@b.test>\r\n"), 503, "5.5.1");
  check(t.one("DATA\r\n"), 503, "5.5.1");
  t.one("MAIL FROM:<a@a.test>\r\n");
  check(t.one("MAIL FROM:<a@a.test>\r\n"), 503, "5.5.1");
  check(t.one("DATA\r\n"), 554, "5.5.1");
  t.one("RCPT TO:<unknown@b.test>\r\n");
  Reply none = t.one("DATA\r\n");
  check(none, 554, "5.5.1");
  BOOST_CHECK(none.text().find("no valid recipients") != std::string::npos);
  check(t.one("RSET\r\n"), 250, "2.0.0");
  BOOST_CHECK_EQUAL(t.hooks.calls.back(), "RSET");
  check(t.one("RCPT TO:<b@b.test>\r\n"), 503, "5.5.1");
}

BOOST_AUTO_TEST_CASE(syntax_errors_and_parameters) {
  Server t;
  t.cfg.auth_enabled = true;
  t.start();
  t.ehlo();
  check(t.one("MAIL <a@a.test>\r\n"), 501, "5.5.4");
  check(t.one("MAIL FROM:\r\n"), 501, "5.5.4");
  check(t.one("MAIL FROM:a@a.test\r\n"), 501, "5.1.7");
  check(t.one("MAIL FROM:<a@a.test\r\n"), 501, "5.1.7");
  check(t.one("MAIL FROM:<a@a.test> FOO=1\r\n"), 555, "5.5.4");
  check(t.one("MAIL FROM:<a@a.test> SIZE=10001\r\n"), 552, "5.3.4");
  check(t.one("MAIL FROM:<a@a.test> SIZE=99999999999999999999999\r\n"), 501, "5.5.4");
  check(t.one("MAIL FROM:<a@a.test> SIZE=1x\r\n"), 501, "5.5.4");
  check(t.one("MAIL FROM:<a@a.test> BODY=9BIT\r\n"), 501, "5.5.4");
  check(t.one("MAIL FROM:<a@a.test> SMTPUTF8=yes\r\n"), 501, "5.5.4");
  check(t.one("MAIL FROM:<a@a.test> SIZE=1 SIZE=2\r\n"), 501, "5.5.4");
  check(t.one("MAIL FROM:<\xc3\xa4@a.test>\r\n"), 553, "5.6.7");
  BOOST_CHECK(t.hooks.mail_params.empty());
  check(t.one("MAIL FROM:<a@a.test> SIZE=10000\r\n"), 250, "2.1.0");
  check(t.one("RCPT b@b.test\r\n"), 501, "5.5.4");
  check(t.one("RCPT TO:<b@b.test\r\n"), 501, "5.1.3");
  check(t.one("RCPT TO:<b@b.test> NOTIFY=NEVER\r\n"), 555, "5.5.4");
  check(t.one("RCPT TO:<\xc3\xa4@b.test>\r\n"), 553, "5.6.7");
  check(t.one("DATA now\r\n"), 501, "5.5.4");
  check(t.one("RSET all\r\n"), 501, "5.5.4");
  // SMTPUTF8 transactions may use UTF-8 paths.
  t.one("RSET\r\n");
  check(t.one("MAIL FROM:<\xc3\xa4@a.test> SMTPUTF8\r\n"), 250, "2.1.0");
  check(t.one("RCPT TO:<\xc3\xa4@b.test>\r\n"), 250, "2.1.5");
  // Without the extension configured, its parameter is unknown.
  Server u;
  u.cfg.smtputf8 = false;
  u.cfg.eight_bit_mime = false;
  u.start();
  u.ehlo();
  check(u.one("MAIL FROM:<a@a.test> SMTPUTF8\r\n"), 555, "5.5.4");
  check(u.one("MAIL FROM:<a@a.test> BODY=8BITMIME\r\n"), 555, "5.5.4");
  check(u.one("MAIL FROM:<a@a.test> AUTH=<>\r\n"), 555, "5.5.4");
}

BOOST_AUTO_TEST_CASE(other_commands) {
  Server t;
  t.start();
  check(t.one("NOOP\r\n"), 250, "2.0.0");
  check(t.one("noop whatever\r\n"), 250, "2.0.0");
  check(t.one("HELP\r\n"), 214, "2.0.0");
  check(t.one("VRFY bob\r\n"), 252, "2.1.5");
  check(t.one("VRFY\r\n"), 501, "5.5.4");
  check(t.one("EXPN staff\r\n"), 502, "5.5.1");
  check(t.one("TURN\r\n"), 500, "5.5.2");
  check(t.one("\r\n"), 500, "5.5.2");
  check(t.one(std::string("NO\0OP\r\n", 7)), 500, "5.5.2");
  check(t.one("STARTTLS\r\n"), 502, "5.5.1");
  check(t.one("AUTH PLAIN\r\n"), 502, "5.5.1");
  BOOST_CHECK(t.hooks.violations.empty());
}

BOOST_AUTO_TEST_CASE(command_line_length_limit) {
  Server t;
  t.start();
  t.ehlo();
  // 510 characters + CRLF = 512 is the RFC maximum and still accepted.
  check(t.one("NOOP " + std::string(505, 'x') + "\r\n"), 250, "2.0.0");
  check(t.one("NOOP " + std::string(506, 'x') + "\r\n"), 500, "5.5.2");
  // A never-ending line is dropped as it arrives and answered once it ends.
  for (int i = 0; i < 1000; ++i) BOOST_CHECK(t.io(std::string(1000, 'y')).empty());
  auto c = codes(t.io("yyy\r\nNOOP\r\n"));
  BOOST_CHECK((c == std::vector<int>{500, 250}));
}

BOOST_AUTO_TEST_CASE(error_limit_closes_with_421) {
  Server t;
  t.cfg.max_errors = 3;
  t.start();
  for (int i = 0; i < 3; ++i) BOOST_CHECK_EQUAL(t.one("BOGUS\r\n").code, 500);
  Reply r = t.one("BOGUS\r\n");
  check(r, 421, "4.7.0");
  BOOST_CHECK(t.s->want_close());
  BOOST_REQUIRE_EQUAL(t.hooks.violations.size(), 1u);
  BOOST_CHECK(t.hooks.violations[0] == Violation::too_many_errors);
  BOOST_CHECK_EQUAL(t.s->stats().errors, 4u);
}

BOOST_AUTO_TEST_CASE(recipient_limit) {
  Server t;
  t.cfg.max_recipients = 2;
  t.cfg.max_errors = 1;
  t.start();
  t.ehlo();
  t.one("MAIL FROM:<a@a.test>\r\n");
  t.one("RCPT TO:<b1@b.test>\r\n");
  t.one("RCPT TO:<b2@b.test>\r\n");
  check(t.one("RCPT TO:<b3@b.test>\r\n"), 452, "4.5.3");
  // 452 for too many recipients is not counted as a client error.
  check(t.one("RCPT TO:<b4@b.test>\r\n"), 452, "4.5.3");
  BOOST_CHECK(!t.s->want_close());
  t.one("DATA\r\n");
  t.one("x\r\n.\r\n");
  BOOST_CHECK_EQUAL(t.hooks.messages.at(0).recipients.size(), 2u);
}

BOOST_AUTO_TEST_CASE(async_hooks_hold_pipelined_input) {
  Server t;
  t.start();
  t.hooks.async = true;
  BOOST_CHECK(t.io("EHLO c.test\r\n").empty());
  BOOST_CHECK(t.s->pending());
  t.s->resolve(Reply::ok());
  BOOST_CHECK_EQUAL(parse_replies(t.s->take_output()).at(0).lines.at(0), "mx.test");
  BOOST_CHECK(t.io("MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\n").empty());
  BOOST_CHECK_EQUAL(t.hooks.calls.back(), "MAIL <a@a.test>");
  t.s->resolve(Reply::make(250, "2.1.0", "Ok"));
  BOOST_CHECK_EQUAL(t.hooks.calls.back(), "RCPT <b@b.test>");  // the next one was processed
  t.s->resolve(Reply::make(450, "4.2.0", "greylisted"));
  // DATA is answered without a hook: no recipient was accepted.
  auto c = codes(t.s->take_output());
  BOOST_CHECK((c == std::vector<int>{250, 450, 554}));
  BOOST_CHECK(!t.s->pending());
  t.s->resolve(Reply::ok());  // nothing pending: ignored
  BOOST_CHECK(t.s->take_output().empty());
  // The message hook may also be pending; the client's next commands wait behind it.
  t.io("MAIL FROM:<a@a.test>\r\n");
  t.s->resolve(Reply::ok());
  t.io("RCPT TO:<b@b.test>\r\n");
  t.s->resolve(Reply::ok());
  t.io("DATA\r\n");
  t.s->resolve(Reply::ok());
  t.s->take_output();
  BOOST_CHECK(t.io("body\r\n.\r\nNOOP\r\n").empty());
  BOOST_CHECK_EQUAL(t.hooks.calls.back(), "MESSAGE");
  t.s->resolve(Reply::make(451, "4.3.0", "disk full"));
  auto d = codes(t.s->take_output());
  BOOST_CHECK((d == std::vector<int>{451, 250}));
  BOOST_CHECK_EQUAL(t.s->stats().messages_refused, 1u);
}

BOOST_AUTO_TEST_CASE(resolve_from_inside_a_hook) {
  Server t;
  t.hooks.inline_resolve = true;
  t.start();
  auto c = codes(t.io(
      "EHLO c.test\r\nMAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n"));
  BOOST_CHECK((c == std::vector<int>{250, 250, 250, 354, 250, 221}));
  BOOST_CHECK_EQUAL(t.hooks.messages.size(), 1u);
}

BOOST_AUTO_TEST_CASE(pipelined_input_is_bounded_while_pending) {
  Server t;
  t.cfg.max_pipelined_bytes = 1000;
  t.start();
  t.hooks.async = true;
  t.io("EHLO c.test\r\n");
  std::string flood;
  for (int i = 0; i < 200; ++i) flood += "NOOP\r\n";
  Reply r = parse_replies(t.io(flood)).at(0);
  check(r, 421, "4.7.0");
  BOOST_CHECK(t.s->want_close());
}

BOOST_AUTO_TEST_CASE(starttls_discards_injected_commands) {
  Server t;
  t.cfg.starttls_available = true;
  t.start();
  t.ehlo();
  check(t.one("STARTTLS now\r\n"), 501, "5.5.4");
  // CVE-2011-0411: the MAIL after STARTTLS in the same packet must never be executed.
  Reply r = t.one("STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n");
  check(r, 220, "2.0.0");
  BOOST_CHECK(t.s->want_starttls());
  BOOST_CHECK(t.io("RCPT TO:<evil@x.test>\r\n").empty());  // clear text before the handshake
  t.s->tls_started();
  BOOST_CHECK(!t.s->want_starttls());
  BOOST_CHECK(t.s->tls_active());
  BOOST_CHECK(t.s->take_output().empty());
  for (const auto& call : t.hooks.calls) BOOST_CHECK(call.find("evil") == std::string::npos);
  // Back to the post-greeting state: EHLO first, and STARTTLS is no longer offered.
  check(t.one("MAIL FROM:<a@a.test>\r\n"), 503, "5.5.1");
  Reply e = t.one("EHLO c.test\r\n");
  BOOST_CHECK(!has_line(e, "STARTTLS"));
  check(t.one("STARTTLS\r\n"), 503, "5.5.1");
  BOOST_REQUIRE_EQUAL(t.hooks.violations.size(), 1u);
  BOOST_CHECK(t.hooks.violations[0] == Violation::pipelining_after_sync);
}

BOOST_AUTO_TEST_CASE(starttls_not_inside_a_transaction) {
  Server t;
  t.cfg.starttls_available = true;
  t.start();
  t.ehlo();
  t.one("MAIL FROM:<a@a.test>\r\n");
  check(t.one("STARTTLS\r\n"), 503, "5.5.1");
  BOOST_CHECK(!t.s->want_starttls());
}

BOOST_AUTO_TEST_CASE(data_smuggling_refused_and_session_stays_in_sync) {
  for (const char* body : {"a\n.\nMAIL FROM:<x@x.test>\r\n.\r\n", "a\r.\rRSET\r\n.\r\n",
                           "a\n.\r\nRCPT TO:<x@x.test>\r\n.\r\n"}) {
    Server t;
    t.start();
    t.ehlo();
    t.io("MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\n");
    t.io("DATA\r\n");
    auto r = parse_replies(t.io(std::string(body) + "NOOP\r\n"));
    BOOST_REQUIRE_EQUAL(r.size(), 2u);
    check(r[0], 554, "5.5.2");
    check(r[1], 250, "2.0.0");
    BOOST_CHECK(t.hooks.messages.empty());
    BOOST_CHECK_EQUAL(t.hooks.calls.size(), 4u);  // EHLO MAIL RCPT DATA: nothing smuggled
    BOOST_CHECK_EQUAL(t.s->stats().messages_refused, 1u);
  }
}

BOOST_AUTO_TEST_CASE(data_limits) {
  Server t;
  t.cfg.max_message_size = 100;
  t.start();
  t.ehlo();
  t.io("MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\n");
  t.io("DATA\r\n");
  for (int i = 0; i < 50; ++i) BOOST_CHECK(t.io(std::string(70, 'x') + "\r\n").empty());
  check(t.one(".\r\n"), 552, "5.3.4");
  BOOST_CHECK(t.hooks.messages.empty());
  t.io("MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\n");
  t.io("DATA\r\n");
  check(t.one(std::string(999, 'l') + "\r\n.\r\n"), 554, "5.6.0");
  // A message split at every byte gives the same result as one feed.
  t.io("MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\n");
  t.io("DATA\r\n");
  std::string out;
  for (char ch : std::string("..x\r\ny\r\n.\r\n")) out += t.io(std::string(1, ch));
  BOOST_CHECK_EQUAL(codes(out).at(0), 250);
  BOOST_CHECK_EQUAL(t.hooks.messages.at(0).data, ".x\r\ny\r\n");
}

BOOST_AUTO_TEST_CASE(data_start_veto) {
  Server t;
  t.hooks.data_start_reply = Reply::make(451, "4.3.0", "queue full");
  t.start();
  t.ehlo();
  t.io("MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\n");
  check(t.one("DATA\r\n"), 451, "4.3.0");
  BOOST_CHECK(!t.s->in_data());
}

BOOST_AUTO_TEST_CASE(timeouts) {
  Server t;
  t.cfg.command_timeout = std::chrono::seconds(7);
  t.start();
  BOOST_CHECK_EQUAL(t.s->timeout().count(), 7);
  t.s->on_timeout();
  Reply r = parse_replies(t.s->take_output()).at(0);
  check(r, 421, "4.4.2");
  BOOST_CHECK_EQUAL(r.text(), "mx.test timeout");
  BOOST_CHECK(t.s->want_close());
}

BOOST_AUTO_TEST_CASE(reject_connection_answers_503_until_quit) {
  Server t;
  t.s = std::make_unique<ServerSession>(t.cfg, t.hooks);
  t.s->reject_connection(Reply::make(554, "5.7.1", "go away"));
  BOOST_CHECK_EQUAL(t.s->take_output(), "554 5.7.1 go away\r\n");
  check(t.one("EHLO c.test\r\n"), 503, "5.5.1");
  check(t.one("NOOP\r\n"), 503, "5.5.1");
  BOOST_CHECK(t.hooks.calls.empty());
  check(t.one("QUIT\r\n"), 221, "2.0.0");
  BOOST_CHECK(t.s->want_close());
}

BOOST_AUTO_TEST_CASE(input_before_greeting_waits) {
  Server t;
  t.s = std::make_unique<ServerSession>(t.cfg, t.hooks);
  t.s->feed("EHLO c.test\r\n");
  BOOST_CHECK(t.s->take_output().empty());
  t.s->greet();
  auto c = codes(t.s->take_output());
  BOOST_CHECK((c == std::vector<int>{220, 250}));
}

BOOST_AUTO_TEST_CASE(pipelining_violations) {
  {  // before PIPELINING was offered (HELO session)
    Server t;
    t.start();
    auto c = codes(t.io("HELO c.test\r\nMAIL FROM:<a@a.test>\r\n"));
    BOOST_CHECK((c == std::vector<int>{250, 250}));
    BOOST_REQUIRE_EQUAL(t.hooks.violations.size(), 1u);
    BOOST_CHECK(t.hooks.violations[0] == Violation::pipelining_not_offered);
  }
  {  // behind EHLO
    Server t;
    t.start();
    t.io("EHLO c.test\r\nMAIL FROM:<a@a.test>\r\n");
    BOOST_REQUIRE_EQUAL(t.hooks.violations.size(), 1u);
    BOOST_CHECK(t.hooks.violations[0] == Violation::pipelining_after_sync);
  }
  {  // message data sent together with DATA, dropped by policy
    Server t;
    t.hooks.drop_on_violation = true;
    t.start();
    t.ehlo();
    auto r = parse_replies(
        t.io("MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\nSubject: spam\r\n"));
    BOOST_REQUIRE_EQUAL(r.size(), 4u);
    BOOST_CHECK_EQUAL(r[2].code, 354);
    check(r[3], 421, "4.7.0");
    BOOST_CHECK(t.s->want_close());
    BOOST_CHECK(t.hooks.violations.at(0) == Violation::pipelining_after_sync);
  }
  {  // pipelining when the server did not offer it
    Server t;
    t.cfg.pipelining = false;
    t.start();
    t.io("EHLO c.test\r\nNOOP\r\n");
    BOOST_CHECK(t.hooks.violations.at(0) == Violation::pipelining_not_offered);
  }
}

BOOST_AUTO_TEST_CASE(non_smtp_commands) {
  Server t;
  t.start();
  check(t.one("GET / HTTP/1.1\r\n"), 500, "5.5.2");
  BOOST_CHECK(t.hooks.violations.at(0) == Violation::non_smtp_command);
  Server u;
  u.hooks.drop_on_violation = true;
  u.start();
  check(u.one("Host: example.org\r\n"), 421, "4.7.0");
  BOOST_CHECK(u.s->want_close());
}

BOOST_AUTO_TEST_CASE(auth_plain_and_login) {
  Server t;
  t.cfg.auth_enabled = true;
  t.start();
  check(t.one("AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"), 503, "5.5.1");  // before EHLO
  t.ehlo();
  check(t.one("AUTH CRAM-MD5\r\n"), 504, "5.5.4");
  check(t.one("AUTH PLAIN not*base64\r\n"), 501, "5.5.2");
  check(t.one("AUTH PLAIN dXNlcg==\r\n"), 501, "5.5.2");  // "user": no NULs
  // Wrong password: 535.
  check(t.one("AUTH PLAIN AHVzZXIAd3Jvbmc=\r\n"), 535, "5.7.8");
  // Two-step PLAIN, then cancel.
  BOOST_CHECK_EQUAL(t.io("AUTH PLAIN\r\n"), "334 \r\n");
  check(t.one("*\r\n"), 501, "5.0.0");
  BOOST_CHECK_EQUAL(t.io("AUTH PLAIN\r\n"), "334 \r\n");
  check(t.one("%%%\r\n"), 501, "5.5.2");
  BOOST_CHECK(!t.s->authenticated());
  // LOGIN: username then password.
  BOOST_CHECK_EQUAL(t.io("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
  BOOST_CHECK_EQUAL(t.io(base64_encode("alice") + "\r\n"), "334 UGFzc3dvcmQ6\r\n");
  check(t.one(base64_encode("secret") + "\r\n"), 235, "2.7.0");
  BOOST_CHECK_EQUAL(t.hooks.auth_seen, "LOGIN||alice|secret");
  BOOST_CHECK(t.s->authenticated());
  check(t.one("AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"), 503, "5.5.1");
  Reply e = t.one("EHLO c.test\r\n");
  BOOST_CHECK(!has_line(e, "AUTH PLAIN LOGIN"));
}

BOOST_AUTO_TEST_CASE(auth_required_and_plain_initial_response) {
  Server t;
  t.cfg.auth_enabled = true;
  t.cfg.auth_required = true;
  t.start();
  t.ehlo();
  check(t.one("MAIL FROM:<a@a.test>\r\n"), 530, "5.7.0");
  BOOST_CHECK_EQUAL(t.io("AUTH PLAIN\r\n"), "334 \r\n");
  check(t.one(base64_encode(std::string("boss\0alice\0secret", 17)) + "\r\n"), 235, "2.7.0");
  BOOST_CHECK_EQUAL(t.hooks.auth_seen, "PLAIN|boss|alice|secret");
  check(t.one("MAIL FROM:<a@a.test> AUTH=<>\r\n"), 250, "2.1.0");
  check(t.one("AUTH PLAIN =\r\n"), 503, "5.5.1");  // inside a transaction and already authed
}

BOOST_AUTO_TEST_CASE(auth_line_limits) {
  Server t;
  t.cfg.auth_enabled = true;
  t.start();
  t.ehlo();
  // Longer than 512 but within RFC 4954's 12288 for AUTH.
  std::string tok = base64_encode(std::string("\0u\0", 3) + std::string(600, 'p'));
  check(t.one("AUTH PLAIN " + tok + "\r\n"), 535, "5.7.8");
  t.io("AUTH LOGIN\r\n");
  check(t.one(std::string(13000, 'A') + "\r\n"), 500, "5.5.6");
  check(t.one("NOOP\r\n"), 250, "2.0.0");
}

BOOST_AUTO_TEST_SUITE_END()
