// SenderAuth with a fake resolver (the only fake: the seam every lookup goes through), a real
// libuv loop and thread pool, libopendkim and the public suffix list.
#include <boost/test/unit_test.hpp>
#include <optional>

#include "common/uv/loop.h"
#include "edge/auth/sender_auth.h"
#include "fixture.h"
#include "tests/unit/edge_checks/fake_resolver.h"

using namespace nj::edge::auth;
using namespace nj::edge::auth::test;
using nj::checks::test::FakeResolver;
using nj::checks::test::with_status;
using nj::dns::Answer;
using nj::dns::Status;
using nj::dns::Type;

namespace {

Answer txt(std::vector<std::string> t) {
  Answer a;
  a.status = Status::ok;
  a.txt = std::move(t);
  return a;
}

struct World {
  nj::uv::Loop loop;
  FakeResolver dns;
  std::shared_ptr<const DkimLibrary> lib;
  PublicSuffixList psl;
  std::unique_ptr<SenderAuth> auth;

  World() : psl(*PublicSuffixList::parse("test\ncom\n")) {
    auto l = DkimLibrary::create();
    BOOST_REQUIRE(l.ok());
    lib = std::move(*l);
    SenderAuthOptions o;
    o.authserv_id = "mx.example.org";
    o.draw = [] { return 0u; };
    o.deadline_ms = 2000;
    auth = std::make_unique<SenderAuth>(loop, dns, lib, psl, o);
    dns.set("rs._domainkey.signed.test", Type::TXT, txt({key_record("rs")}));
    dns.set("ed._domainkey.signed.test", Type::TXT, txt({key_record("ed")}));
    dns.set("signed.test", Type::TXT, txt({"v=spf1 ip4:192.0.2.0/24 -all"}));
    dns.set("_dmarc.signed.test", Type::TXT, txt({"v=DMARC1; p=reject"}));
    dns.set("bank.test", Type::TXT, txt({"v=spf1 -all"}));
    dns.set("_dmarc.bank.test", Type::TXT, txt({"v=DMARC1; p=reject"}));
  }

  AuthVerdict run(const std::string& msg, const std::string& sender_domain,
                  const std::string& ip = "192.0.2.1") {
    std::optional<AuthVerdict> v;
    AuthInput in{ip, true, "mail.helo.test", "alice", sender_domain, "t"};
    auto p = auth->check(std::make_shared<std::string>(msg), in,
                         [&](AuthVerdict x) { v = std::move(x); });
    BOOST_TEST(!v.has_value());  // never before check() returns
    while (!v) {
      if (dns.pending()) {
        dns.answer_all_reversed();
        continue;
      }
      if (!loop.run_once()) break;
    }
    BOOST_REQUIRE(v.has_value());
    auto parsed = parse_authentication_results(v->field);
    BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : parsed.error()));
    BOOST_TEST(v->field.find("192.0.2.1") == std::string::npos);
    return *v;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(signed_mail_passes_everything) {
  World w;
  w.dns.defer(true);
  auto v = w.run(data_file("signed.eml"), "signed.test");
  BOOST_TEST(v.field ==
             "Authentication-Results: mx.example.org;\r\n"
             "\tspf=pass smtp.mailfrom=signed.test;\r\n"
             "\tdkim=pass header.d=signed.test header.s=rs header.a=rsa-sha256 header.b=" +
                 v.report.dkim[0].b_prefix +
                 ";\r\n"
                 "\tdkim=pass header.d=signed.test header.s=ed header.a=ed25519-sha256 header.b=" +
                 v.report.dkim[1].b_prefix +
                 ";\r\n"
                 "\tdmarc=pass (p=reject dis=none) header.from=signed.test\r\n");
  BOOST_TEST(!v.reject);
  BOOST_TEST(v.summary == "spf=pass dkim=pass,pass dmarc=pass disposition=none");
  // Every lookup went to the resolver: keys, SPF, DMARC.
  BOOST_TEST(w.dns.was_asked("rs._domainkey.signed.test", Type::TXT));
  BOOST_TEST(w.dns.was_asked("signed.test", Type::TXT));
  BOOST_TEST(w.dns.was_asked("_dmarc.signed.test", Type::TXT));
}

BOOST_AUTO_TEST_CASE(forgery_of_a_reject_domain_is_refused) {
  World w;
  auto v = w.run("From: Bank <ceo@bank.test>\r\nSubject: pay\r\n\r\nnow\r\n", "bank.test");
  BOOST_TEST((v.report.spf.result == SpfResult::fail));
  BOOST_TEST((v.report.dmarc.result == DmarcResult::fail));
  BOOST_TEST(v.reject);
  BOOST_TEST(v.field.find("dkim=none;") != std::string::npos);
  BOOST_TEST(v.field.find("dmarc=fail (p=reject dis=reject) header.from=bank.test") !=
             std::string::npos);
  // Off in the configuration: said in the field, not refused.
  SenderAuthOptions o;
  o.authserv_id = "mx.example.org";
  o.dmarc_reject = false;
  w.auth = std::make_unique<SenderAuth>(w.loop, w.dns, w.lib, w.psl, o);
  BOOST_TEST(!w.run("From: ceo@bank.test\r\n\r\nx\r\n", "bank.test").reject);
}

BOOST_AUTO_TEST_CASE(altered_body_fails_dkim_but_aligned_spf_passes_dmarc) {
  World w;
  std::string msg = data_file("signed.eml");
  msg.replace(msg.find("signed.\r\n"), 7, "SIGNED.");
  auto v = w.run(msg, "signed.test");
  BOOST_TEST((v.report.dkim[0].result == DkimResult::fail));
  BOOST_TEST((v.report.dkim[1].result == DkimResult::fail));
  BOOST_TEST((v.report.dmarc.result == DmarcResult::pass));
  // From another address SPF fails too: DMARC fails and the message is refused.
  v = w.run(msg, "signed.test", "198.51.100.1");
  BOOST_TEST((v.report.spf.result == SpfResult::fail));
  BOOST_TEST(v.reject);
}

BOOST_AUTO_TEST_CASE(temporary_errors_never_refuse) {
  World w;
  w.dns.set("_dmarc.bank.test", Type::TXT, with_status(Status::servfail));
  auto v = w.run("From: ceo@bank.test\r\n\r\nx\r\n", "bank.test");
  BOOST_TEST((v.report.dmarc.result == DmarcResult::temperror));
  BOOST_TEST(!v.reject);
  // A key that times out: DKIM temperror; DMARC cannot fail on it.
  w.dns.set("rs._domainkey.signed.test", Type::TXT, with_status(Status::timeout));
  w.dns.set("ed._domainkey.signed.test", Type::TXT, with_status(Status::timeout));
  v = w.run(data_file("signed.eml"), "signed.test", "198.51.100.1");
  BOOST_TEST((v.report.dkim[0].result == DkimResult::temperror));
  BOOST_TEST((v.report.dmarc.result == DmarcResult::temperror));
  BOOST_TEST(!v.reject);
}

BOOST_AUTO_TEST_CASE(deadline_turns_silence_into_temperror) {
  World w;
  w.dns.defer(true);
  std::optional<AuthVerdict> v;
  AuthInput in{"192.0.2.1", true, "h.test", "ceo", "bank.test", "t"};
  auto p = w.auth->check(std::make_shared<std::string>("From: ceo@bank.test\r\n\r\nx\r\n"), in,
                         [&](AuthVerdict x) { v = std::move(x); });
  while (!v && w.loop.run_once()) {
  }  // nobody answers the resolver
  BOOST_REQUIRE(v.has_value());
  BOOST_TEST((v->report.spf.result == SpfResult::temperror));
  BOOST_TEST((v->report.dmarc.result == DmarcResult::temperror));
  BOOST_TEST(!v->reject);
  w.dns.answer_all_in_order();  // late answers are ignored
}

BOOST_AUTO_TEST_CASE(cancelled_check_never_calls_back) {
  World w;
  w.dns.defer(true);
  bool called = false;
  AuthInput in{"192.0.2.1", true, "h.test", "a", "signed.test", "t"};
  {
    auto p = w.auth->check(std::make_shared<std::string>(data_file("signed.eml")), in,
                           [&](AuthVerdict) { called = true; });
  }
  w.dns.answer_all_in_order();
  while (w.loop.run_once()) {
  }
  BOOST_TEST(!called);
}

BOOST_AUTO_TEST_CASE(several_from_domains_are_a_permerror_and_refused) {
  World w;
  auto v = w.run("From: a@bank.test, b@evil.test\r\n\r\nx\r\n", "evil.test");
  BOOST_TEST((v.report.dmarc.result == DmarcResult::permerror));
  // Otherwise the bank's p=reject would be one extra author away.
  BOOST_TEST(v.reject);
  BOOST_TEST(v.several_authors);
  // Two From fields are the same trick.
  auto two = w.run("From: a@bank.test\r\nFrom: b@evil.test\r\n\r\nx\r\n", "evil.test");
  BOOST_TEST(two.reject);
  // One domain, two authors: DMARC judges it as usual.
  auto one = w.run("From: a@evil.test, b@evil.test\r\n\r\nx\r\n", "evil.test");
  BOOST_TEST(!one.several_authors);
  // With dmarc_reject off nothing is refused for it.
  SenderAuthOptions o;
  o.authserv_id = "mx.example.org";
  o.dmarc_reject = false;
  w.auth = std::make_unique<SenderAuth>(w.loop, w.dns, w.lib, w.psl, o);
  BOOST_TEST(!w.run("From: a@bank.test, b@evil.test\r\n\r\nx\r\n", "evil.test").reject);
}
