#include <boost/test/unit_test.hpp>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/pop3/multiline.h"
#include "common/pop3/server.h"

using namespace nj::pop3;

namespace nj::pop3 {
std::ostream& operator<<(std::ostream& o, State s) {
  return o << static_cast<int>(s);
}
std::ostream& operator<<(std::ostream& o, End e) {
  return o << end_name(e);
}
}  // namespace nj::pop3

namespace {

const std::vector<std::string> kMessages = {
    "From: a\r\nSubject: one\r\n\r\nfirst body\r\n",
    "From: b\r\n\r\n.hidden dot\r\nline 2\r\nline 3\r\n",
    "From: c\n\nbare lf body\n",
};

// Hooks with scripted answers. `async` makes every hook pending; `inline_resolve` makes the
// hook call resolve_*() itself before returning nullopt.
struct FakeHooks : Hooks {
  bool async = false;
  bool inline_resolve = false;
  Session* session = nullptr;
  std::optional<AuthAnswer> auth_answer;  // instead of the password check
  bool fetch_fails = false;
  nj::Status commit_status;
  std::vector<std::string> auth_calls;
  std::vector<uint32_t> fetches;
  std::vector<std::string> fetched_uidls;
  std::vector<std::vector<uint32_t>> commits;
  std::vector<End> ends;

  static std::vector<MaildropEntry> maildrop() {
    std::vector<MaildropEntry> d;
    for (size_t i = 0; i < kMessages.size(); ++i)
      d.push_back({wire_size(kMessages[i]), "uid-" + std::to_string(i + 1)});
    return d;
  }

  std::optional<AuthAnswer> on_auth(std::string_view user, std::string_view password) override {
    auth_calls.push_back(std::string(user) + "|" + std::string(password));
    AuthAnswer a = auth_answer ? *auth_answer
                   : (user == "alice" && password == "secret pass")
                       ? AuthAnswer::granted(maildrop())
                       : AuthAnswer::denied();
    if (async) return std::nullopt;
    if (inline_resolve) {
      session->resolve_auth(std::move(a));
      return std::nullopt;
    }
    return a;
  }
  std::optional<FetchAnswer> on_fetch(uint32_t number, std::string_view uidl) override {
    fetches.push_back(number);
    fetched_uidls.emplace_back(uidl);
    const FetchAnswer a =
        fetch_fails ? FetchAnswer::failed() : FetchAnswer::found(kMessages.at(number - 1));
    if (async) return std::nullopt;
    if (inline_resolve) {
      session->resolve_fetch(a);
      return std::nullopt;
    }
    return a;
  }
  std::optional<nj::Status> on_commit(const std::vector<uint32_t>& deleted) override {
    commits.push_back(deleted);
    if (async) return std::nullopt;
    if (inline_resolve) {
      session->resolve_commit(commit_status);
      return std::nullopt;
    }
    return commit_status;
  }
  void on_end(End reason) override { ends.push_back(reason); }
};

struct Pop {
  Config cfg;
  FakeHooks hooks;
  std::unique_ptr<Session> s;

  explicit Pop(Config c = {}) : cfg(std::move(c)) {
    s = std::make_unique<Session>(cfg, hooks);
    hooks.session = s.get();
    s->greet();
    BOOST_REQUIRE_EQUAL(s->take_output(), "+OK POP3 server ready\r\n");
  }
  std::string run(std::string_view in) {
    s->feed(in);
    return s->take_output();
  }
  void login() {
    BOOST_REQUIRE_EQUAL(
        run("USER alice\r\nPASS secret pass\r\n"),
        "+OK send PASS\r\n+OK maildrop has 3 messages (" + total() + " octets)\r\n");
    BOOST_REQUIRE(s->state() == State::transaction);
  }
  static std::string total() {
    uint64_t t = 0;
    for (const auto& m : kMessages) t += wire_size(m);
    return std::to_string(t);
  }
};

std::string b64(std::string_view s) {
  return nj::crypto::to_base64(s);
}
std::string plain(std::string_view authzid, std::string_view user, std::string_view pass) {
  std::string t(authzid);
  t.push_back('\0');
  t.append(user);
  t.push_back('\0');
  t.append(pass);
  return b64(t);
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(session)

BOOST_AUTO_TEST_CASE(greeting_holds_early_input) {
  FakeHooks h;
  Session s({}, h);
  s.feed("CAPA\r\n");
  BOOST_TEST(s.take_output() == "");
  s.greet();
  const std::string out = s.take_output();
  BOOST_TEST(starts_with(out, "+OK POP3 server ready\r\n+OK Capability list follows\r\n"));
}

BOOST_AUTO_TEST_CASE(capa_in_both_states_without_apop) {
  Pop p;
  const std::string capa =
      "+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
      "PIPELINING\r\nSASL PLAIN\r\n.\r\n";
  BOOST_TEST(p.run("CAPA\r\n") == capa);
  p.login();
  BOOST_TEST(p.run("capa\r\n") == capa);
  BOOST_TEST(p.run("CAPA x\r\n") == "-ERR CAPA takes no argument\r\n");
}

BOOST_AUTO_TEST_CASE(user_pass_then_transaction_commands) {
  Pop p;
  p.login();
  BOOST_TEST(p.hooks.auth_calls == std::vector<std::string>{"alice|secret pass"});
  const auto d = FakeHooks::maildrop();
  BOOST_TEST(p.run("STAT\r\n") == "+OK 3 " + Pop::total() + "\r\n");
  BOOST_TEST(p.run("LIST\r\n") == "+OK 3 messages (" + Pop::total() + " octets)\r\n1 " +
                                      std::to_string(d[0].size) + "\r\n2 " +
                                      std::to_string(d[1].size) + "\r\n3 " +
                                      std::to_string(d[2].size) + "\r\n.\r\n");
  BOOST_TEST(p.run("LIST 2\r\n") == "+OK 2 " + std::to_string(d[1].size) + "\r\n");
  BOOST_TEST(p.run("UIDL\r\n") ==
             "+OK unique-id listing follows\r\n1 uid-1\r\n2 uid-2\r\n3 uid-3\r\n.\r\n");
  BOOST_TEST(p.run("UIDL 3\r\n") == "+OK 3 uid-3\r\n");
  BOOST_TEST(p.run("NOOP\r\n") == "+OK\r\n");
  BOOST_TEST(p.run("RETR 1\r\n") ==
             "+OK " + std::to_string(d[0].size) + " octets\r\n" + kMessages[0] + ".\r\n");
  BOOST_TEST(p.hooks.fetches == std::vector<uint32_t>{1});
  BOOST_TEST(p.hooks.fetched_uidls == std::vector<std::string>{"uid-1"});
  BOOST_TEST(p.s->stats().retrieved == 1u);
  // Dot-stuffing and CRLF on the wire.
  BOOST_TEST(p.run("RETR 2\r\n") == "+OK " + std::to_string(d[1].size) +
                                        " octets\r\nFrom: b\r\n\r\n..hidden dot\r\nline 2\r\nline "
                                        "3\r\n.\r\n");
  BOOST_TEST(p.run("RETR 3\r\n") == "+OK " + std::to_string(d[2].size) +
                                        " octets\r\nFrom: c\r\n\r\nbare lf body\r\n.\r\n");
  BOOST_TEST(p.s->state() == State::transaction);
  BOOST_TEST(p.hooks.ends.empty());
}

BOOST_AUTO_TEST_CASE(top_variants) {
  Pop p;
  p.login();
  BOOST_TEST(p.run("TOP 2 0\r\n") == "+OK top of message follows\r\nFrom: b\r\n\r\n.\r\n");
  BOOST_TEST(p.run("TOP 2 1\r\n") ==
             "+OK top of message follows\r\nFrom: b\r\n\r\n..hidden dot\r\n.\r\n");
  BOOST_TEST(p.run("TOP 2 99\r\n") ==
             "+OK top of message follows\r\nFrom: b\r\n\r\n..hidden dot\r\nline 2\r\nline "
             "3\r\n.\r\n");
  BOOST_TEST(p.run("TOP 2 18446744073709551615\r\n") ==
             "+OK top of message follows\r\nFrom: b\r\n\r\n..hidden dot\r\nline 2\r\nline "
             "3\r\n.\r\n");
  // TOP is not a retrieval.
  BOOST_TEST(p.s->stats().retrieved == 0u);
  for (std::string_view bad :
       {"TOP 2\r\n", "TOP\r\n", "TOP 2 -1\r\n", "TOP 2 +1\r\n", "TOP 2 x\r\n", "TOP 2 1 1\r\n",
        "TOP  2 1\r\n", "TOP 2 18446744073709551616\r\n"}) {
    const std::string out = p.run(bad);
    BOOST_TEST(starts_with(out, "-ERR "), bad << " -> " << out);
  }
  BOOST_TEST(p.run("TOP 9 1\r\n") == "-ERR no such message, only 3 messages in maildrop\r\n");
  BOOST_TEST(p.hooks.fetches.size() == 4u);
}

BOOST_AUTO_TEST_CASE(bad_arguments_change_nothing) {
  Config c;
  c.max_errors = 100;
  Pop p(c);
  p.login();
  const std::string stat = p.run("STAT\r\n");
  for (std::string_view bad :
       std::initializer_list<std::string_view>{"RETR\r\n",
                                               "RETR 0\r\n",
                                               "RETR 4\r\n",
                                               "RETR +1\r\n",
                                               "RETR -1\r\n",
                                               "RETR 1x\r\n",
                                               "RETR 0x1\r\n",
                                               "RETR  1\r\n",
                                               "RETR 1 2\r\n",
                                               "RETR 99999999999999999999\r\n",
                                               "RETR 000000000000000000001\r\n",
                                               "LIST 1 2\r\n",
                                               "LIST x\r\n",
                                               "LIST 0\r\n",
                                               "UIDL 4\r\n",
                                               "UIDL -3\r\n",
                                               "DELE\r\n",
                                               "DELE 4\r\n",
                                               "DELE 1 1\r\n",
                                               "DELE one\r\n",
                                               "STAT 1\r\n",
                                               "NOOP 1\r\n",
                                               "RSET 1\r\n",
                                               "QUIT now\r\n",
                                               "XTND\r\n",
                                               "APOP alice "
                                               "0123456789abcdef0123456789abcdef\r\n",
                                               "USER bob\r\n",
                                               "PASS x\r\n",
                                               "AUTH PLAIN\r\n",
                                               "\r\n",
                                               "   \r\n",
                                               std::string_view("RE\0TR 1\r\n", 9)}) {
    const std::string out = p.run(bad);
    BOOST_TEST((starts_with(out, "-ERR ") && out.find("\r\n") == out.size() - 2),
               bad << " -> " << out);
  }
  BOOST_TEST(p.hooks.fetches.empty());
  BOOST_TEST(p.hooks.auth_calls.size() == 1u);
  BOOST_TEST(p.run("STAT\r\n") == stat);
  BOOST_TEST(p.s->state() == State::transaction);
  BOOST_TEST(p.run("RETR 4\r\n") == "-ERR no such message, only 3 messages in maildrop\r\n");
  BOOST_TEST(p.run("USER x\r\n") == "-ERR already authenticated\r\n");
  BOOST_TEST(p.run("FOO\r\n") == "-ERR unknown command\r\n");
}

BOOST_AUTO_TEST_CASE(leading_zeros_are_a_number) {
  Pop p;
  p.login();
  BOOST_TEST(p.run("UIDL 002\r\n") == "+OK 2 uid-2\r\n");
}

BOOST_AUTO_TEST_CASE(authorization_state_refuses_transaction_commands) {
  Config c;
  c.max_errors = 100;
  Pop p(c);
  for (std::string_view cmd : {"STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET",
                               "TOP 1 1", "UIDL", "UIDL 1"}) {
    BOOST_TEST(
        p.run(std::string(cmd) + "\r\n") == "-ERR command not valid before authentication\r\n",
        cmd);
  }
  BOOST_TEST(p.run("APOP alice 0123456789abcdef0123456789abcdef\r\n") ==
             "-ERR unknown command\r\n");
  BOOST_TEST(p.hooks.auth_calls.empty());
  BOOST_TEST(p.hooks.fetches.empty());
  BOOST_TEST(p.s->state() == State::authorization);
}

BOOST_AUTO_TEST_CASE(keywords_are_case_insensitive) {
  Pop p;
  BOOST_TEST(p.run("user alice\r\npAsS secret pass\r\n") ==
             "+OK send PASS\r\n+OK maildrop has 3 messages (" + Pop::total() + " octets)\r\n");
  BOOST_TEST(p.run("stat\r\n") == "+OK 3 " + Pop::total() + "\r\n");
  BOOST_TEST(starts_with(p.run("uidl 1\r\nlist 1\r\nDeLe 1\r\n"), "+OK 1 uid-1\r\n+OK 1 "));
}

BOOST_AUTO_TEST_CASE(bad_password_is_auth_error_and_never_echoed) {
  Pop p;
  const std::string out = p.run("USER alice\r\nPASS wrong words\r\n");
  BOOST_TEST(out == "+OK send PASS\r\n-ERR [AUTH] invalid user name or password\r\n");
  BOOST_TEST(out.find("wrong") == std::string::npos);
  BOOST_TEST(p.s->state() == State::authorization);
  // PASS must follow a USER again.
  BOOST_TEST(p.run("PASS secret pass\r\n") == "-ERR send USER first\r\n");
  // Anything between USER and PASS voids the USER (RFC 1939 7).
  BOOST_TEST(starts_with(p.run("USER alice\r\nCAPA\r\nPASS secret pass\r\n"),
                         "+OK send PASS\r\n+OK Capability"));
  BOOST_TEST(p.hooks.auth_calls.size() == 1u);
  BOOST_TEST(p.s->stats().errors == 3u);
  p.login();
  BOOST_TEST(p.hooks.ends.empty());
}

BOOST_AUTO_TEST_CASE(unknown_user_looks_like_bad_password) {
  Pop p;
  BOOST_TEST(p.run("USER nobody\r\nPASS x\r\n") ==
             "+OK send PASS\r\n-ERR [AUTH] invalid user name or password\r\n");
}

BOOST_AUTO_TEST_CASE(user_argument_is_bounded_and_shaped) {
  Config c;
  c.max_errors = 100;
  Pop p(c);
  BOOST_TEST(p.run("USER " + std::string(128, 'a') + "\r\n") == "+OK send PASS\r\n");
  BOOST_TEST(p.run("USER " + std::string(129, 'a') + "\r\n") == "-ERR invalid user name\r\n");
  BOOST_TEST(p.run("USER\r\n") == "-ERR invalid user name\r\n");
  BOOST_TEST(p.run("USER a b\r\n") == "-ERR invalid user name\r\n");
  BOOST_TEST(p.run("USER a\tb\r\n") == "-ERR invalid user name\r\n");
  BOOST_TEST(p.run("USER a\x7f\r\n") == "-ERR invalid user name\r\n");
  BOOST_TEST(p.run("USER alice\r\nPASS \r\n") == "+OK send PASS\r\n-ERR missing password\r\n");
  BOOST_TEST(p.hooks.auth_calls.empty());
}

BOOST_AUTO_TEST_CASE(password_keeps_its_blanks) {
  Pop p;
  p.hooks.auth_answer = AuthAnswer::denied();
  p.run("USER alice\r\nPASS  two  words \r\n");
  BOOST_TEST(p.hooks.auth_calls == std::vector<std::string>{"alice| two  words "});
}

BOOST_AUTO_TEST_CASE(in_use_and_temporary_failure) {
  Pop p;
  p.hooks.auth_answer = AuthAnswer::locked();
  BOOST_TEST(p.run("USER alice\r\nPASS secret pass\r\n") ==
             "+OK send PASS\r\n-ERR [IN-USE] maildrop is in use by another session\r\n");
  BOOST_TEST(p.s->state() == State::authorization);
  p.hooks.auth_answer = AuthAnswer::unavailable();
  BOOST_TEST(p.run("USER alice\r\nPASS secret pass\r\n") ==
             "+OK send PASS\r\n-ERR [SYS/TEMP] authentication is unavailable, try again later\r\n");
  // Neither is the client's fault.
  BOOST_TEST(p.s->stats().errors == 0u);
  p.hooks.auth_answer.reset();
  p.login();
}

BOOST_AUTO_TEST_CASE(quit_in_authorization) {
  Pop p;
  BOOST_TEST(p.run("QUIT\r\nCAPA\r\n") == "+OK bye\r\n");
  BOOST_TEST(p.s->want_close());
  BOOST_TEST(p.hooks.commits.empty());
  BOOST_TEST(p.hooks.ends == std::vector<End>{End::quit});
  BOOST_TEST(p.run("CAPA\r\n") == "");
}

BOOST_AUTO_TEST_CASE(dele_rset_quit_flow) {
  Pop p;
  p.login();
  const auto d = FakeHooks::maildrop();
  BOOST_TEST(p.run("DELE 2\r\n") == "+OK message 2 marked deleted\r\n");
  BOOST_TEST(p.run("DELE 2\r\n") == "-ERR message 2 already deleted\r\n");
  BOOST_TEST(p.run("RETR 2\r\n") == "-ERR message 2 already deleted\r\n");
  BOOST_TEST(p.run("TOP 2 0\r\n") == "-ERR message 2 already deleted\r\n");
  BOOST_TEST(p.run("LIST 2\r\n") == "-ERR message 2 already deleted\r\n");
  BOOST_TEST(p.run("UIDL 2\r\n") == "-ERR message 2 already deleted\r\n");
  BOOST_TEST(p.hooks.fetches.empty());
  const std::string live = std::to_string(d[0].size + d[2].size);
  BOOST_TEST(p.run("STAT\r\n") == "+OK 2 " + live + "\r\n");
  BOOST_TEST(p.run("LIST\r\n") == "+OK 2 messages (" + live + " octets)\r\n1 " +
                                      std::to_string(d[0].size) + "\r\n3 " +
                                      std::to_string(d[2].size) + "\r\n.\r\n");
  BOOST_TEST(p.run("UIDL\r\n") == "+OK unique-id listing follows\r\n1 uid-1\r\n3 uid-3\r\n.\r\n");
  BOOST_TEST(p.run("RSET\r\n") == "+OK maildrop has 3 messages (" + Pop::total() + " octets)\r\n");
  BOOST_TEST(p.run("STAT\r\n") == "+OK 3 " + Pop::total() + "\r\n");
  BOOST_TEST(p.run("LIST 2\r\n") == "+OK 2 " + std::to_string(d[1].size) + "\r\n");
  BOOST_TEST(p.run("DELE 3\r\nDELE 1\r\n") ==
             "+OK message 3 marked deleted\r\n+OK message 1 marked deleted\r\n");
  BOOST_TEST(p.hooks.commits.empty());
  BOOST_TEST(p.run("QUIT\r\n") == "+OK bye, 2 messages deleted\r\n");
  BOOST_TEST((p.hooks.commits == std::vector<std::vector<uint32_t>>{{1, 3}}));
  BOOST_TEST(p.hooks.ends == std::vector<End>{End::quit});
  BOOST_TEST(p.s->stats().deleted == 2u);
  BOOST_TEST(p.s->want_close());
  BOOST_TEST(p.s->state() == State::ended);
}

BOOST_AUTO_TEST_CASE(quit_without_deletions_still_commits_nothing_and_ends) {
  Pop p;
  p.login();
  BOOST_TEST(p.run("QUIT\r\n") == "+OK bye, 0 messages deleted\r\n");
  BOOST_TEST((p.hooks.commits == std::vector<std::vector<uint32_t>>{{}}));
}

BOOST_AUTO_TEST_CASE(quit_commit_failure_deletes_nothing) {
  Pop p;
  p.login();
  p.hooks.commit_status = nj::make_error("disk full");
  BOOST_TEST(p.run("DELE 1\r\nQUIT\r\n") ==
             "+OK message 1 marked deleted\r\n-ERR [SYS/TEMP] deleted messages could not be "
             "removed; none were\r\n");
  BOOST_TEST((p.hooks.commits == std::vector<std::vector<uint32_t>>{{1}}));
  BOOST_TEST(p.hooks.ends == std::vector<End>{End::commit_failed});
  BOOST_TEST(p.s->stats().deleted == 0u);
  BOOST_TEST(p.s->want_close());
}

BOOST_AUTO_TEST_CASE(commit_answer_comes_later) {
  Pop p;
  p.login();
  p.hooks.async = true;
  BOOST_TEST(p.run("DELE 1\r\nQUIT\r\nSTAT\r\n") == "+OK message 1 marked deleted\r\n");
  BOOST_TEST(p.s->pending());
  BOOST_TEST(p.s->state() == State::update);
  BOOST_TEST(!p.s->want_close());
  // Nothing is read after QUIT, and the wrong answer kinds change nothing.
  BOOST_TEST(p.run("NOOP\r\n") == "");
  p.s->resolve_fetch(FetchAnswer::found("x"));
  p.s->resolve_auth(AuthAnswer::granted({}));
  BOOST_TEST(p.s->take_output() == "");
  BOOST_TEST(p.hooks.ends.empty());
  p.s->resolve_commit(nj::Status());
  BOOST_TEST(p.s->take_output() == "+OK bye, 1 messages deleted\r\n");
  BOOST_TEST(p.hooks.ends == std::vector<End>{End::quit});
  BOOST_TEST(p.s->want_close());
  // A late second answer is ignored.
  p.s->resolve_commit(nj::make_error("late"));
  BOOST_TEST(p.s->take_output() == "");
  BOOST_TEST(p.hooks.ends.size() == 1u);
}

BOOST_AUTO_TEST_CASE(session_ending_without_quit_deletes_nothing) {
  {
    Pop p;
    p.login();
    p.run("DELE 1\r\nDELE 2\r\n");
    p.s->abandon();
    BOOST_TEST(p.hooks.commits.empty());
    BOOST_TEST(p.hooks.ends == std::vector<End>{End::dropped});
    BOOST_TEST(p.s->want_close());
    BOOST_TEST(p.run("QUIT\r\n") == "");
    BOOST_TEST(p.hooks.commits.empty());
    p.s.reset();
    BOOST_TEST(p.hooks.ends.size() == 1u);
  }
  {
    Pop p;
    p.login();
    p.run("DELE 1\r\n");
    p.s.reset();
    BOOST_TEST(p.hooks.commits.empty());
    BOOST_TEST(p.hooks.ends == std::vector<End>{End::dropped});
  }
}

BOOST_AUTO_TEST_CASE(autologout_timeout) {
  Pop p;
  BOOST_TEST(p.s->timeout() == std::chrono::seconds(600));
  p.login();
  p.run("DELE 1\r\n");
  p.s->on_timeout();
  // RFC 1939 3: close without a response, removing nothing.
  BOOST_TEST(p.s->take_output() == "");
  BOOST_TEST(p.s->want_close());
  BOOST_TEST(p.hooks.commits.empty());
  BOOST_TEST(p.hooks.ends == std::vector<End>{End::timeout});
  p.s->on_timeout();
  BOOST_TEST(p.hooks.ends.size() == 1u);
}

BOOST_AUTO_TEST_CASE(timeout_while_commit_pending_ignores_late_answer) {
  Pop p;
  p.login();
  p.hooks.async = true;
  p.run("QUIT\r\n");
  p.s->on_timeout();
  p.s->resolve_commit(nj::Status());
  BOOST_TEST(p.s->take_output() == "");
  BOOST_TEST(p.hooks.ends == std::vector<End>{End::timeout});
}

BOOST_AUTO_TEST_CASE(pipelining_in_one_feed_and_byte_by_byte) {
  const std::string script =
      "CAPA\r\nUSER alice\r\nPASS secret pass\r\nSTAT\r\nLIST\r\nRETR 2\r\nTOP 1 0\r\n"
      "DELE 1\r\nUIDL\r\nRSET\r\nDELE 3\r\nQUIT\r\n";
  Pop a;
  const std::string all = a.run(script);
  Pop b;
  std::string bytewise;
  for (char c : script) bytewise += b.run(std::string_view(&c, 1));
  BOOST_TEST(all == bytewise);
  BOOST_TEST(all.find("+OK bye, 1 messages deleted\r\n") == all.size() - 29);
  BOOST_TEST((a.hooks.commits == std::vector<std::vector<uint32_t>>{{3}}));
  BOOST_TEST((b.hooks.commits == std::vector<std::vector<uint32_t>>{{3}}));
  BOOST_TEST(a.hooks.fetches == (std::vector<uint32_t>{2, 1}));
}

BOOST_AUTO_TEST_CASE(async_hooks_hold_pipelined_commands) {
  Pop sync;
  const std::string script = "USER alice\r\nPASS secret pass\r\nRETR 1\r\nSTAT\r\nQUIT\r\n";
  const std::string expected = sync.run(script);

  Pop p;
  p.hooks.async = true;
  BOOST_TEST(p.run(script) == "+OK send PASS\r\n");
  BOOST_TEST(p.s->pending());
  BOOST_TEST(p.hooks.auth_calls.size() == 1u);
  std::string out;
  p.s->resolve_auth(AuthAnswer::granted(FakeHooks::maildrop()));
  out += p.s->take_output();
  BOOST_TEST(p.s->pending());
  BOOST_TEST(p.hooks.fetches == std::vector<uint32_t>{1});
  // More input while pending is buffered, not run.
  p.s->feed("NOOP\r\n");
  p.s->resolve_fetch(FetchAnswer::found(kMessages[0]));
  out += p.s->take_output();
  BOOST_TEST(p.hooks.commits.size() == 1u);
  p.s->resolve_commit(nj::Status());
  out += p.s->take_output();
  BOOST_TEST("+OK send PASS\r\n" + out == expected);
  BOOST_TEST(p.s->want_close());
}

BOOST_AUTO_TEST_CASE(hooks_resolving_from_inside) {
  Pop sync;
  const std::string script =
      "USER alice\r\nPASS secret pass\r\nRETR 2\r\nDELE 2\r\nTOP 1 1\r\nQUIT\r\n";
  const std::string expected = sync.run(script);
  Pop p;
  p.hooks.inline_resolve = true;
  BOOST_TEST(p.run(script) == expected);
  BOOST_TEST(p.hooks.ends == std::vector<End>{End::quit});
}

BOOST_AUTO_TEST_CASE(fetch_failure_is_temporary) {
  Pop p;
  p.login();
  p.hooks.fetch_fails = true;
  BOOST_TEST(p.run("RETR 1\r\n") == "-ERR [SYS/TEMP] message unavailable, try again later\r\n");
  BOOST_TEST(p.s->stats().retrieved == 0u);
  p.hooks.fetch_fails = false;
  BOOST_TEST(starts_with(p.run("RETR 1\r\n"), "+OK "));
}

BOOST_AUTO_TEST_CASE(resolve_without_pending_is_ignored) {
  Pop p;
  p.s->resolve_auth(AuthAnswer::granted(FakeHooks::maildrop()));
  p.s->resolve_fetch(FetchAnswer::found("x"));
  p.s->resolve_commit(nj::Status());
  BOOST_TEST(p.s->take_output() == "");
  BOOST_TEST(p.s->state() == State::authorization);
  BOOST_TEST(p.hooks.ends.empty());
}

BOOST_AUTO_TEST_CASE(error_limit_closes_the_session) {
  Config c;
  c.max_errors = 3;
  Pop p(c);
  p.login();
  p.run("DELE 1\r\n");
  BOOST_TEST(p.run("BAD\r\nBAD\r\nBAD\r\nBAD\r\nSTAT\r\n") ==
             "-ERR unknown command\r\n-ERR unknown command\r\n-ERR unknown command\r\n-ERR too "
             "many errors, closing\r\n");
  BOOST_TEST(p.s->want_close());
  BOOST_TEST(p.hooks.ends == std::vector<End>{End::too_many_errors});
  BOOST_TEST(p.hooks.commits.empty());
  BOOST_TEST(p.run("STAT\r\n") == "");
}

BOOST_AUTO_TEST_CASE(failed_logins_count_as_errors) {
  Config c;
  c.max_errors = 2;
  Pop p(c);
  std::string out;
  for (int i = 0; i < 3; ++i) out += p.run("USER alice\r\nPASS nope\r\n");
  BOOST_TEST(out.find("-ERR too many errors, closing\r\n") != std::string::npos);
  BOOST_TEST(p.hooks.ends == std::vector<End>{End::too_many_errors});
}

BOOST_AUTO_TEST_CASE(command_line_limit_is_255_with_crlf) {
  Pop p;
  // "USER " + 248 + CRLF = 255 octets: at the limit (the name is too long, but the line is read).
  Config c;
  c.max_user = 1000;
  Pop q(c);
  BOOST_TEST(q.run("USER " + std::string(248, 'u') + "\r\n") == "+OK send PASS\r\n");
  BOOST_TEST(q.run("USER " + std::string(249, 'u') + "\r\n") == "-ERR line too long\r\n");
  // A long line arriving in pieces without LF is dropped as it comes and answered once.
  BOOST_TEST(p.run(std::string(200, 'x')) == "");
  BOOST_TEST(p.run(std::string(200, 'x')) == "");
  BOOST_TEST(p.run(std::string(5000, 'x')) == "");
  BOOST_TEST(p.run("yyy\r\nCAPA\r\n").find("-ERR line too long\r\n+OK Capability") == 0u);
  BOOST_TEST(p.s->stats().errors == 1u);
}

BOOST_AUTO_TEST_CASE(partial_line_survives_buffer_compaction) {
  Pop p;
  p.login();
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "NOOP\r\n";
  std::string expected;
  for (int i = 0; i < 1000; ++i) expected += "+OK\r\n";
  BOOST_TEST(p.run(many + "ST") == expected);
  BOOST_TEST(p.run("AT\r\n") == "+OK 3 " + Pop::total() + "\r\n");
  BOOST_TEST(p.run("USER a") == "");
  BOOST_TEST(p.run("bc\r\nNOOP\r\n") == "-ERR already authenticated\r\n+OK\r\n");
}

BOOST_AUTO_TEST_CASE(bare_lf_line_ends_are_accepted) {
  Pop p;
  BOOST_TEST(p.run("USER alice\nPASS secret pass\nSTAT\n") ==
             "+OK send PASS\r\n+OK maildrop has 3 messages (" + Pop::total() +
                 " octets)\r\n+OK 3 " + Pop::total() + "\r\n");
}

BOOST_AUTO_TEST_CASE(trailing_blanks_are_forgiven_outside_pass) {
  Pop p;
  p.login();
  BOOST_TEST(p.run("STAT \r\n") == "+OK 3 " + Pop::total() + "\r\n");
  BOOST_TEST(p.run("UIDL 1  \r\n") == "+OK 1 uid-1\r\n");
}

BOOST_AUTO_TEST_CASE(sasl_plain_initial_response) {
  Pop p;
  BOOST_TEST(p.run("AUTH PLAIN " + plain("", "alice", "secret pass") + "\r\n") ==
             "+OK maildrop has 3 messages (" + Pop::total() + " octets)\r\n");
  BOOST_TEST(p.hooks.auth_calls == std::vector<std::string>{"alice|secret pass"});
  BOOST_TEST(p.s->state() == State::transaction);
  BOOST_TEST(p.run("AUTH PLAIN " + plain("", "alice", "secret pass") + "\r\n") ==
             "-ERR already authenticated\r\n");
}

BOOST_AUTO_TEST_CASE(sasl_plain_continuation_and_authzid) {
  Pop p;
  BOOST_TEST(p.run("auth plain\r\n") == "+ \r\n");
  BOOST_TEST(p.run(plain("alice", "alice", "secret pass") + "\r\n") ==
             "+OK maildrop has 3 messages (" + Pop::total() + " octets)\r\n");
  BOOST_TEST(p.hooks.auth_calls == std::vector<std::string>{"alice|secret pass"});
}

BOOST_AUTO_TEST_CASE(sasl_plain_refusals) {
  Config c;
  c.max_errors = 100;
  Pop p(c);
  // Acting as someone else is refused before the hook is asked.
  BOOST_TEST(p.run("AUTH PLAIN " + plain("bob", "alice", "secret pass") + "\r\n") ==
             "-ERR [AUTH] authentication failed\r\n");
  BOOST_TEST(p.run("AUTH PLAIN\r\n" + plain("bob", "alice", "secret pass") + "\r\n") ==
             "+ \r\n-ERR [AUTH] authentication failed\r\n");
  // Bad base64, initial and continued.
  BOOST_TEST(p.run("AUTH PLAIN AGFsaWNl!\r\n") == "-ERR invalid base64 in SASL response\r\n");
  BOOST_TEST(p.run("AUTH PLAIN\r\nnot base64\r\n") ==
             "+ \r\n-ERR invalid base64 in SASL response\r\n");
  BOOST_TEST(p.run("AUTH PLAIN AGFsaWNlAHg\r\n") == "-ERR invalid base64 in SASL response\r\n");
  // Cancel.
  BOOST_TEST(p.run("AUTH PLAIN\r\n*\r\n") == "+ \r\n-ERR authentication cancelled\r\n");
  // Empty and malformed responses.
  BOOST_TEST(p.run("AUTH PLAIN =\r\n") == "-ERR malformed PLAIN response\r\n");
  BOOST_TEST(p.run("AUTH PLAIN\r\n\r\n") == "+ \r\n-ERR malformed PLAIN response\r\n");
  BOOST_TEST(p.run("AUTH PLAIN " + b64(std::string("alice\0secret", 12)) + "\r\n") ==
             "-ERR malformed PLAIN response\r\n");
  BOOST_TEST(p.run("AUTH PLAIN " + plain("", "alice", "") + "\r\n") ==
             "-ERR malformed PLAIN response\r\n");
  BOOST_TEST(p.run("AUTH PLAIN " + b64(std::string("\0alice\0pw\0x", 11)) + "\r\n") ==
             "-ERR malformed PLAIN response\r\n");
  BOOST_TEST(p.run("AUTH PLAIN " + plain("", "", "pw") + "\r\n") ==
             "-ERR [AUTH] authentication failed\r\n");
  BOOST_TEST(p.run("AUTH PLAIN " + plain("", "al ice", "pw") + "\r\n") ==
             "-ERR [AUTH] authentication failed\r\n");
  // Mechanisms.
  BOOST_TEST(p.run("AUTH\r\n") == "-ERR missing SASL mechanism\r\n");
  BOOST_TEST(p.run("AUTH LOGIN\r\n") == "-ERR unsupported SASL mechanism\r\n");
  BOOST_TEST(p.run("AUTH CRAM-MD5\r\n") == "-ERR unsupported SASL mechanism\r\n");
  BOOST_TEST(p.hooks.auth_calls.empty());
  // Wrong password through SASL carries [AUTH] too.
  BOOST_TEST(p.run("AUTH PLAIN " + plain("", "alice", "nope") + "\r\n") ==
             "-ERR [AUTH] invalid user name or password\r\n");
  BOOST_TEST(p.s->state() == State::authorization);
  // After all that, the session still works.
  p.login();
}

BOOST_AUTO_TEST_CASE(sasl_response_line_is_bounded) {
  Config c;
  c.max_sasl_line = 64;
  Pop p(c);
  BOOST_TEST(p.run("AUTH PLAIN\r\n" + std::string(63, 'A') + "\r\n") ==
             "+ \r\n-ERR SASL response too long\r\n");
  BOOST_TEST(p.run("AUTH PLAIN\r\n" + std::string(100, 'A')) == "+ \r\n");
  BOOST_TEST(p.run(std::string(100, 'A') + "\r\nCAPA\r\n")
                 .find("-ERR SASL response too long\r\n+OK Capability") == 0u);
  // Back in command mode: a normal login works.
  p.login();
}

BOOST_AUTO_TEST_CASE(async_sasl) {
  Pop p;
  p.hooks.async = true;
  BOOST_TEST(p.run("AUTH PLAIN\r\n" + plain("", "alice", "secret pass") + "\r\nSTAT\r\n") ==
             "+ \r\n");
  p.s->resolve_auth(AuthAnswer::locked());
  BOOST_TEST(p.s->take_output() ==
             "-ERR [IN-USE] maildrop is in use by another session\r\n-ERR command not valid "
             "before authentication\r\n");
}

BOOST_AUTO_TEST_CASE(overflow_while_pending_ends_the_session) {
  Config c;
  c.max_pipelined_bytes = 1024;
  Pop p(c);
  p.login();
  p.hooks.async = true;
  p.run("RETR 1\r\n");
  BOOST_TEST(p.s->pending());
  p.run(std::string(1000, 'N'));
  BOOST_TEST(!p.s->want_close());
  BOOST_TEST(p.run(std::string(100, 'N')) == "");
  BOOST_TEST(p.s->want_close());
  BOOST_TEST(p.hooks.ends == std::vector<End>{End::input_overflow});
  BOOST_TEST(p.hooks.commits.empty());
  p.s->resolve_fetch(FetchAnswer::found(kMessages[0]));
  BOOST_TEST(p.s->take_output() == "");
}

BOOST_AUTO_TEST_CASE(output_backpressure) {
  Config c;
  c.output_high_water = 32;
  Pop p(c);
  p.login();
  const std::string first = p.run("RETR 1\r\nRETR 2\r\nRETR 3\r\n");
  // RETR 1 passes the high-water mark; the others wait for resume().
  BOOST_TEST(p.hooks.fetches == std::vector<uint32_t>{1});
  BOOST_TEST(p.s->needs_resume());
  p.s->resume();
  BOOST_TEST(p.hooks.fetches == (std::vector<uint32_t>{1, 2}));
  const std::string second = p.s->take_output();
  p.s->resume();
  const std::string third = p.s->take_output();
  BOOST_TEST(!p.s->needs_resume());
  BOOST_TEST(p.hooks.fetches == (std::vector<uint32_t>{1, 2, 3}));
  Pop q;
  q.login();
  BOOST_TEST(first + second + third == q.run("RETR 1\r\nRETR 2\r\nRETR 3\r\n"));
  // Input that arrives while stalled is run by feed() too once the output was taken.
  p.run("RETR 1\r\nRETR 2\r\n");
  BOOST_TEST(p.s->needs_resume());
  p.run("NOOP\r\n");
  BOOST_TEST(p.s->needs_resume());
  BOOST_TEST(p.run("") == "+OK\r\n");
  BOOST_TEST(!p.s->needs_resume());
}

BOOST_AUTO_TEST_CASE(bad_maildrop_from_host_is_refused) {
  for (auto drop :
       {std::vector<MaildropEntry>{{10, "has space"}}, std::vector<MaildropEntry>{{10, ""}},
        std::vector<MaildropEntry>{{10, std::string(71, 'u')}},
        std::vector<MaildropEntry>{{UINT64_MAX, "a"}, {1, "b"}}}) {
    Pop p;
    p.hooks.auth_answer = AuthAnswer::granted(drop);
    BOOST_TEST(p.run("USER alice\r\nPASS secret pass\r\nSTAT\r\n") ==
               "+OK send PASS\r\n-ERR [SYS/PERM] maildrop unavailable\r\n");
    BOOST_TEST(p.hooks.ends == std::vector<End>{End::bad_maildrop});
    BOOST_TEST(p.s->want_close());
  }
  Pop ok;
  ok.hooks.auth_answer = AuthAnswer::granted({{0, std::string(70, '~')}});
  BOOST_TEST(starts_with(ok.run("USER alice\r\nPASS secret pass\r\nRETR 1\r\n"),
                         "+OK send PASS\r\n+OK maildrop has 1 messages (0 octets)\r\n+OK 0 "
                         "octets\r\n"));
  BOOST_TEST(ok.hooks.fetches == std::vector<uint32_t>{1});
}

BOOST_AUTO_TEST_CASE(empty_maildrop) {
  Pop p;
  p.hooks.auth_answer = AuthAnswer::granted({});
  BOOST_TEST(p.run("USER alice\r\nPASS x\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nQUIT\r\n") ==
             "+OK send PASS\r\n+OK maildrop has 0 messages (0 octets)\r\n+OK 0 0\r\n+OK 0 "
             "messages (0 octets)\r\n.\r\n+OK unique-id listing follows\r\n.\r\n-ERR no such "
             "message, only 0 messages in maildrop\r\n+OK bye, 0 messages deleted\r\n");
}

BOOST_AUTO_TEST_CASE(end_names) {
  BOOST_TEST(std::string(end_name(End::quit)) == "quit");
  BOOST_TEST(std::string(end_name(End::input_overflow)) == "input-overflow");
}

BOOST_AUTO_TEST_SUITE_END()
