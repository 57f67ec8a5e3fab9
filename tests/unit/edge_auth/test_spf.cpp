#include <boost/test/unit_test.hpp>
#include <map>

#include "edge/auth/spf.h"

using namespace nj::edge::auth;
using nj::dns::Answer;
using nj::dns::Status;
using nj::dns::Type;

namespace {

// A zone: what a DNS server would answer. Unknown names are NXDOMAIN.
struct Zone {
  std::map<DnsKey, Answer> data;
  int rounds = 0;
  size_t asked = 0;

  void txt(const std::string& n, std::vector<std::string> t) {
    Answer a;
    a.status = Status::ok;
    a.txt = std::move(t);
    data[{n, Type::TXT}] = a;
  }
  void addr(const std::string& n, Type t, std::vector<std::string> v) {
    Answer a;
    a.status = Status::ok;
    a.addresses = std::move(v);
    data[{n, t}] = a;
  }
  void mx(const std::string& n, std::vector<std::string> hosts) {
    Answer a;
    a.status = Status::ok;
    for (auto& h : hosts) a.mx.push_back({10, h});
    data[{n, Type::MX}] = a;
  }
  void status(const std::string& n, Type t, Status s) {
    Answer a;
    a.status = s;
    data[{n, t}] = a;
  }

  // Evaluates, feeding whatever is missing, until the evaluation completes.
  SpfResult run(const std::string& ip, const std::string& sender_domain,
                const std::string& local = "user", const std::string& helo = "mail.helo.test") {
    SpfRequest rq{ip, local, sender_domain, helo};
    DnsCache cache;
    for (rounds = 0; rounds < 200; ++rounds) {
      auto o = spf_evaluate(rq, cache);
      if (o.complete) return o.result;
      BOOST_REQUIRE(!o.missing.empty());
      for (auto& k : o.missing) {
        BOOST_REQUIRE(!cache.count(k));  // never asks twice for what it has
        ++asked;
        auto it = data.find(k);
        Answer a;
        a.status = Status::nxdomain;
        cache[k] = it != data.end() ? it->second : a;
      }
    }
    BOOST_FAIL("evaluation did not end");
    return SpfResult::none;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(basic_results_and_qualifiers) {
  Zone z;
  z.txt("a.test", {"v=spf1 ip4:192.0.2.0/24 -all"});
  z.txt("b.test", {"v=spf1 ~all"});
  z.txt("c.test", {"v=spf1 ?all"});
  z.txt("d.test", {"v=spf1 ip6:2001:db8::/32"});
  z.txt("e.test", {"not spf", "v=spf10 +all"});
  BOOST_TEST((z.run("192.0.2.9", "a.test") == SpfResult::pass));
  BOOST_TEST((z.run("198.51.100.1", "a.test") == SpfResult::fail));
  BOOST_TEST((z.run("::ffff:192.0.2.9", "a.test") == SpfResult::pass));
  BOOST_TEST((z.run("198.51.100.1", "b.test") == SpfResult::softfail));
  BOOST_TEST((z.run("198.51.100.1", "c.test") == SpfResult::neutral));
  BOOST_TEST((z.run("2001:db8::1", "d.test") == SpfResult::pass));
  BOOST_TEST((z.run("192.0.2.1", "d.test") == SpfResult::neutral));  // no match, no all
  BOOST_TEST((z.run("192.0.2.1", "e.test") == SpfResult::none));
  BOOST_TEST((z.run("192.0.2.1", "nothing.test") == SpfResult::none));
  BOOST_TEST((z.run("192.0.2.1", "single-label") == SpfResult::none));
  BOOST_TEST((z.run("192.0.2.1", "[192.0.2.1]") == SpfResult::none));
}

BOOST_AUTO_TEST_CASE(a_mx_include_redirect_exists) {
  Zone z;
  z.txt("s.test", {"v=spf1 a/24 mx include:inc.test exists:%{ir}.x.test -all"});
  z.addr("s.test", Type::A, {"192.0.2.10"});
  z.mx("s.test", {"mx1.s.test.", "mx2.s.test."});
  z.addr("mx1.s.test", Type::A, {"203.0.113.5"});
  z.addr("mx2.s.test", Type::A, {"203.0.113.6"});
  z.txt("inc.test", {"v=spf1 ip4:198.51.100.7 -all"});
  z.addr("9.9.9.9.x.test", Type::A, {"127.0.0.2"});
  z.txt("r.test", {"v=spf1 redirect=s.test"});
  BOOST_TEST((z.run("192.0.2.200", "s.test") == SpfResult::pass));   // a/24
  BOOST_TEST((z.run("203.0.113.6", "s.test") == SpfResult::pass));   // mx
  BOOST_TEST((z.run("198.51.100.7", "s.test") == SpfResult::pass));  // include
  BOOST_TEST((z.run("9.9.9.9", "s.test") == SpfResult::pass));       // exists
  BOOST_TEST((z.run("8.8.8.8", "s.test") == SpfResult::fail));
  BOOST_TEST((z.run("203.0.113.5", "r.test") == SpfResult::pass));  // redirect
  BOOST_TEST((z.run("8.8.8.8", "r.test") == SpfResult::fail));
}

BOOST_AUTO_TEST_CASE(errors) {
  Zone z;
  z.txt("two.test", {"v=spf1 -all", "v=spf1 +all"});
  z.txt("syntax.test", {"v=spf1 ip4:300.1.1.1 -all"});
  z.txt("unknown.test", {"v=spf1 foo:bar -all"});
  z.txt("badmacro.test", {"v=spf1 exists:%{x}.test -all"});
  z.txt("inc-none.test", {"v=spf1 include:nothing.test -all"});
  z.txt("redir-none.test", {"v=spf1 redirect=nothing.test"});
  z.txt("temp.test", {"v=spf1 include:broken.test -all"});
  z.status("broken.test", Type::TXT, Status::servfail);
  z.status("tempa.test", Type::TXT, Status::timeout);
  z.txt("twice.test", {"v=spf1 redirect=a.test redirect=b.test"});
  z.txt("cidr.test", {"v=spf1 a/33 -all"});
  z.txt("lead0.test", {"v=spf1 ip4:192.0.2.0/024 -all"});
  BOOST_TEST((z.run("192.0.2.1", "two.test") == SpfResult::permerror));
  BOOST_TEST((z.run("192.0.2.1", "syntax.test") == SpfResult::permerror));
  BOOST_TEST((z.run("192.0.2.1", "unknown.test") == SpfResult::permerror));
  BOOST_TEST((z.run("192.0.2.1", "badmacro.test") == SpfResult::permerror));
  BOOST_TEST((z.run("192.0.2.1", "inc-none.test") == SpfResult::permerror));
  BOOST_TEST((z.run("192.0.2.1", "redir-none.test") == SpfResult::permerror));
  BOOST_TEST((z.run("192.0.2.1", "temp.test") == SpfResult::temperror));
  BOOST_TEST((z.run("192.0.2.1", "tempa.test") == SpfResult::temperror));
  BOOST_TEST((z.run("192.0.2.1", "twice.test") == SpfResult::permerror));
  BOOST_TEST((z.run("192.0.2.1", "cidr.test") == SpfResult::permerror));
  BOOST_TEST((z.run("192.0.2.1", "lead0.test") == SpfResult::permerror));
}

BOOST_AUTO_TEST_CASE(limits_of_rfc_7208_4_6_4) {
  Zone z;
  // A chain of 11 includes: the 11th DNS-querying term is a permerror.
  for (int i = 0; i < 11; ++i)
    z.txt("l" + std::to_string(i) + ".test",
          {"v=spf1 include:l" + std::to_string(i + 1) + ".test -all"});
  z.txt("l11.test", {"v=spf1 +all"});
  BOOST_TEST((z.run("192.0.2.1", "l0.test") == SpfResult::permerror));
  // Ten are fine.
  z.txt("l1.test", {"v=spf1 include:l11.test -all"});
  BOOST_TEST((z.run("192.0.2.1", "l0.test") == SpfResult::pass));
  // A loop ends the same way.
  z.txt("loop.test", {"v=spf1 include:loop.test -all"});
  BOOST_TEST((z.run("192.0.2.1", "loop.test") == SpfResult::permerror));
  // Three void lookups.
  z.txt("void.test", {"v=spf1 a:v1.test a:v2.test a:v3.test +all"});
  BOOST_TEST((z.run("192.0.2.1", "void.test") == SpfResult::permerror));
  z.txt("void2.test", {"v=spf1 a:v1.test a:v2.test +all"});
  BOOST_TEST((z.run("192.0.2.1", "void2.test") == SpfResult::pass));
  // More than ten MX names.
  std::vector<std::string> hosts;
  for (int i = 0; i < 11; ++i) hosts.push_back("m" + std::to_string(i) + ".test");
  z.mx("many.test", hosts);
  z.txt("manymx.test", {"v=spf1 mx:many.test -all"});
  BOOST_TEST((z.run("192.0.2.1", "manymx.test") == SpfResult::permerror));
  // The MX hosts' addresses are asked together: one round for the MX, one for all hosts.
  hosts.pop_back();
  z.mx("many.test", hosts);
  z.asked = 0;
  BOOST_TEST((z.run("192.0.2.1", "manymx.test") == SpfResult::fail));
  BOOST_TEST(z.rounds == 3);
  BOOST_TEST(z.asked == 12u);
}

BOOST_AUTO_TEST_CASE(ptr_and_p_macro) {
  Zone z;
  z.txt("p.test", {"v=spf1 ptr -all"});
  z.txt("pm.test", {"v=spf1 exists:%{p}.ok.test -all"});
  Answer ptr;
  ptr.status = Status::ok;
  ptr.names = {"host.p.test.", "liar.p.test."};
  z.data[{"9.2.0.192.in-addr.arpa", Type::PTR}] = ptr;
  z.addr("host.p.test", Type::A, {"192.0.2.9"});
  z.addr("liar.p.test", Type::A, {"198.51.100.1"});
  z.addr("host.p.test.ok.test", Type::A, {"127.0.0.2"});
  BOOST_TEST((z.run("192.0.2.9", "p.test") == SpfResult::pass));
  BOOST_TEST((z.run("192.0.2.10", "p.test") == SpfResult::fail));
  // %{p}: a validated name (here host.p.test; none lies under pm.test), else "unknown".
  BOOST_TEST((z.run("192.0.2.9", "pm.test") == SpfResult::pass));
  z.addr("unknown.ok.test", Type::A, {"127.0.0.2"});
  BOOST_TEST((z.run("192.0.2.10", "pm.test") == SpfResult::pass));  // no validated name
}

// RFC 7208 7.4's examples.
BOOST_AUTO_TEST_CASE(macro_expansion_examples) {
  SpfRequest rq{"192.0.2.3", "strong-bad", "email.example.com", "mx.example.org"};
  auto x = [&](const char* s) { return spf_expand_for_test(s, rq, "email.example.com"); };
  BOOST_TEST(x("%{s}") == "strong-bad@email.example.com");
  BOOST_TEST(x("%{o}") == "email.example.com");
  BOOST_TEST(x("%{d}") == "email.example.com");
  BOOST_TEST(x("%{d4}") == "email.example.com");
  BOOST_TEST(x("%{d3}") == "email.example.com");
  BOOST_TEST(x("%{d2}") == "example.com");
  BOOST_TEST(x("%{d1}") == "com");
  BOOST_TEST(x("%{dr}") == "com.example.email");
  BOOST_TEST(x("%{d2r}") == "example.email");
  BOOST_TEST(x("%{l}") == "strong-bad");
  BOOST_TEST(x("%{l-}") == "strong.bad");
  BOOST_TEST(x("%{lr}") == "strong-bad");
  BOOST_TEST(x("%{lr-}") == "bad.strong");
  BOOST_TEST(x("%{l1r-}") == "strong");
  BOOST_TEST(x("%{ir}.%{v}._spf.%{d2}") == "3.2.0.192.in-addr._spf.example.com");
  BOOST_TEST(x("%{lr-}.lp._spf.%{d2}") == "bad.strong.lp._spf.example.com");
  BOOST_TEST(x("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}") ==
             "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
  BOOST_TEST(x("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}") ==
             "3.2.0.192.in-addr.strong.lp._spf.example.com");
  BOOST_TEST(x("%{d2}.trusted-domains.example.net") == "example.com.trusted-domains.example.net");
  BOOST_TEST(x("%{h}.x.test") == "mx.example.org.x.test");
  BOOST_TEST(x("%{L}.x.test") == "strong-bad.x.test");
  BOOST_TEST(x("%{p}.x.test") == "unknown");  // needs DNS first
  rq.ip = "2001:db8::cb01";
  BOOST_TEST(
      x("%{ir}.%{v}._spf.%{d2}") ==
      "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
  // Syntax errors: exp-only letters, zero digits, unknown letters, a bad end.
  BOOST_TEST(x("%{c}.x.test") == "");
  BOOST_TEST(x("%{d0}.x.test") == "");
  BOOST_TEST(x("%{z}.x.test") == "");
  BOOST_TEST(x("%{d") == "");
  BOOST_TEST(x("x.%") == "");
  BOOST_TEST(x("nodot") == "");
  // Long expansions lose labels from the left until they fit in 253 octets.
  rq.local = std::string(60, 'a') + "." + std::string(60, 'b') + "." + std::string(60, 'c') + "." +
             std::string(60, 'd');
  auto long_one = x("%{l}.%{d}");
  BOOST_TEST(long_one.size() <= 253u);
  BOOST_TEST(long_one.substr(long_one.size() - 17) == "email.example.com");
}
