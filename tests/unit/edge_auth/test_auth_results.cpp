#include <boost/test/unit_test.hpp>

#include "edge/auth/auth_results.h"

using namespace nj::edge::auth;

namespace {

AuthReport typical() {
  AuthReport r;
  r.authserv_id = "mx.example.org";
  r.spf.result = SpfResult::pass;
  r.spf.mailfrom = "sender.test";
  DkimReport d;
  d.result = DkimResult::pass;
  d.domain = "sender.test";
  d.selector = "s1";
  d.algorithm = "ed25519-sha256";
  d.b_prefix = "abcd+efg";
  r.dkim.push_back(d);
  r.dmarc.result = DmarcResult::pass;
  r.dmarc.from = "sender.test";
  r.dmarc.policy = DmarcPolicy::reject;
  r.dmarc.disposition = DmarcPolicy::none;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(writes_the_documented_form) {
  BOOST_TEST(authentication_results(typical()) ==
             "Authentication-Results: mx.example.org;\r\n"
             "\tspf=pass smtp.mailfrom=sender.test;\r\n"
             "\tdkim=pass header.d=sender.test header.s=s1 header.a=ed25519-sha256 "
             "header.b=abcd+efg;\r\n"
             "\tdmarc=pass (p=reject dis=none) header.from=sender.test\r\n");
}

BOOST_AUTO_TEST_CASE(no_signature_is_one_dkim_none_and_null_sender_names_helo) {
  AuthReport r;
  r.authserv_id = "mx.example.org";
  r.spf.helo = "mail.sender.test";
  BOOST_TEST(authentication_results(r) ==
             "Authentication-Results: mx.example.org;\r\n"
             "\tspf=none smtp.helo=mail.sender.test;\r\n"
             "\tdkim=none;\r\n"
             "\tdmarc=none\r\n");
  r.spf.helo = "[192.0.2.1]";  // an address literal is never written
  BOOST_TEST(authentication_results(r).find("192.0.2.1") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(values_are_tokens_or_quoted_strings) {
  BOOST_TEST(*pvalue("example.org") == "example.org");
  BOOST_TEST(*pvalue("abc/def=") == "\"abc/def=\"");
  BOOST_TEST(*pvalue("a\"b\\c;") == "\"a\\\"b\\\\c;\"");
  BOOST_TEST(!pvalue(""));
  BOOST_TEST(!pvalue("a b"));
  BOOST_TEST(!pvalue("a\r\nb"));
  BOOST_TEST(!pvalue("caf\xc3\xa9"));
  BOOST_TEST(!pvalue(std::string(kMaxValue + 1, 'a')));
}

BOOST_AUTO_TEST_CASE(hostile_values_stay_inside_their_property) {
  AuthReport r = typical();
  r.dkim[0].domain = "evil.test; dkim=pass header.d=bank.test";  // has spaces: dropped
  r.dkim[0].selector = "x;dmarc=pass";                           // quoted
  r.dkim[0].b_prefix = "ab)(\"\\";
  r.dmarc.from = "x\r\nX-Injected: yes";
  auto text = authentication_results(r);
  auto p = parse_authentication_results(text);
  BOOST_TEST_REQUIRE(p.ok(), (p.ok() ? std::string() : p.error()));
  BOOST_TEST_REQUIRE(p->results.size() == 3u);
  BOOST_TEST(p->results[1].method == "dkim");
  bool found = false;
  for (const auto& [k, v] : p->results[1].props) {
    BOOST_TEST(k != "header.d");
    if (k == "header.s") found = v == "x;dmarc=pass";
  }
  BOOST_TEST(found);
  BOOST_TEST(text.find("X-Injected") == std::string::npos);
  BOOST_TEST(text.find("bank.test") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(reader_round_trips_and_refuses_broken_fields) {
  auto p = parse_authentication_results(authentication_results(typical()));
  BOOST_TEST_REQUIRE(p.ok(), (p.ok() ? std::string() : p.error()));
  BOOST_TEST(p->authserv_id == "mx.example.org");
  BOOST_TEST(p->results[0].method == "spf");
  BOOST_TEST(p->results[0].result == "pass");
  BOOST_TEST(p->results[2].props[0].second == "sender.test");
  BOOST_TEST(
      !parse_authentication_results("Authentication-Results: a;\r\n spf=pass\r\nX: y\r\n").ok());
  BOOST_TEST(!parse_authentication_results("Authentication-Results: a; spf=pass\n").ok());
  BOOST_TEST(!parse_authentication_results("Authentication-Results: a; spf=pass (x\r\n").ok());
  BOOST_TEST(!parse_authentication_results("Received: a; spf=pass\r\n").ok());
}

BOOST_AUTO_TEST_CASE(the_longest_field_is_bounded) {
  std::string worst(kMaxValue, '"');  // every octet needs a quoted-pair
  AuthReport r;
  r.authserv_id = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') +
                  "." + std::string(61, 'd');
  r.spf.result = SpfResult::permerror;
  r.spf.mailfrom = worst;
  for (int i = 0; i < 5; ++i) {
    DkimReport d;
    d.result = DkimResult::permerror;
    d.domain = d.selector = d.algorithm = d.b_prefix = worst;
    d.comment = std::string(200, 'x');
    r.dkim.push_back(d);
  }
  r.dmarc.result = DmarcResult::temperror;
  r.dmarc.from = worst;
  r.dmarc.policy = DmarcPolicy::quarantine;
  r.dmarc.disposition = DmarcPolicy::quarantine;
  auto f = authentication_results(r);
  BOOST_TEST(f.size() < kMaxAuthResultsBytes);
  BOOST_TEST(parse_authentication_results(f).ok());
}
