#include <boost/test/unit_test.hpp>
#include <cstdlib>

#include "edge/auth/dmarc.h"

using namespace nj::edge::auth;

namespace {

PublicSuffixList small_list() {
  auto l = PublicSuffixList::parse(
      "// comment\ncom\nuk\nco.uk\n*.ck\n!www.ck\ntest\n\n// ===BEGIN PRIVATE DOMAINS===\n"
      "blogspot.com\n");
  BOOST_REQUIRE(l.ok());
  return std::move(*l);
}

DkimReport dkim(DkimResult r, const std::string& d) {
  DkimReport k;
  k.result = r;
  k.domain = d;
  return k;
}

}  // namespace

BOOST_AUTO_TEST_CASE(organizational_domains) {
  auto l = small_list();
  BOOST_TEST(l.organizational_domain("mail.example.com") == "example.com");
  BOOST_TEST(l.organizational_domain("example.com") == "example.com");
  BOOST_TEST(l.organizational_domain("a.b.example.co.uk") == "example.co.uk");
  BOOST_TEST(l.organizational_domain("x.y.foo.ck") == "y.foo.ck");
  BOOST_TEST(l.organizational_domain("a.www.ck") == "www.ck");
  BOOST_TEST(l.organizational_domain("me.blogspot.com") == "me.blogspot.com");
  BOOST_TEST(l.organizational_domain("a.b.unlisted") == "b.unlisted");
  BOOST_TEST(l.organizational_domain("com") == "com");
  BOOST_TEST(l.organizational_domain("Mail.Example.COM.") == "example.com");
}

BOOST_AUTO_TEST_CASE(the_installed_list_loads) {
  auto l = PublicSuffixList::load("/usr/share/publicsuffix/public_suffix_list.dat");
  BOOST_TEST_REQUIRE(l.ok(), (l.ok() ? std::string() : l.error()));
  BOOST_TEST(l->size() > 5000u);
  BOOST_TEST(l->organizational_domain("www.bbc.co.uk") == "bbc.co.uk");
  BOOST_TEST(!PublicSuffixList::load("/nonexistent/list.dat").ok());
}

BOOST_AUTO_TEST_CASE(records) {
  auto r = parse_dmarc_record("v=DMARC1; p=reject; sp=none; pct=30; adkim=s; aspf=r");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST((r->p == DmarcPolicy::reject));
  BOOST_TEST((*r->sp == DmarcPolicy::none));
  BOOST_TEST(r->pct == 30);
  BOOST_TEST(r->strict_dkim);
  BOOST_TEST(!r->strict_spf);
  BOOST_TEST(!parse_dmarc_record("p=reject; v=DMARC1"));  // v must come first
  BOOST_TEST(!parse_dmarc_record("v=DMARC2; p=reject"));
  BOOST_TEST(!parse_dmarc_record("v=DMARC1"));  // neither p nor rua
  auto rua = parse_dmarc_record("v=DMARC1; rua=mailto:x@y.test");
  BOOST_TEST_REQUIRE(rua.has_value());
  BOOST_TEST((rua->p == DmarcPolicy::none));
  BOOST_TEST(parse_dmarc_record("v=DMARC1; p=reject; pct=500")->pct == 100);
  BOOST_TEST((parse_dmarc_record("v=DMARC1;p=QUARANTINE")->p == DmarcPolicy::quarantine));

  nj::dns::Answer a;
  a.status = nj::dns::Status::ok;
  a.txt = {"v=spf1 -all", "v=DMARC1; p=reject"};
  DmarcRecord out;
  BOOST_TEST((select_dmarc_record(a, out) == DmarcDiscovery::found));
  a.txt.push_back("v=DMARC1; p=none");
  BOOST_TEST((select_dmarc_record(a, out) == DmarcDiscovery::none));  // two records
  a.status = nj::dns::Status::servfail;
  BOOST_TEST((select_dmarc_record(a, out) == DmarcDiscovery::temperror));
  a.status = nj::dns::Status::nxdomain;
  BOOST_TEST((select_dmarc_record(a, out) == DmarcDiscovery::none));
}

BOOST_AUTO_TEST_CASE(alignment_and_policy) {
  auto l = small_list();
  DmarcInput in;
  in.from = "bank.test";
  in.record = *parse_dmarc_record("v=DMARC1; p=reject");
  // Nothing passes: fail, reject.
  auto r = dmarc_evaluate(in, l);
  BOOST_TEST((r.result == DmarcResult::fail));
  BOOST_TEST((*r.disposition == DmarcPolicy::reject));
  // A DKIM pass by an unrelated domain does not align.
  in.dkim = {dkim(DkimResult::pass, "evil.test")};
  BOOST_TEST((dmarc_evaluate(in, l).result == DmarcResult::fail));
  // Relaxed: a subdomain's signature aligns; strict: it does not.
  in.dkim = {dkim(DkimResult::pass, "mail.bank.test")};
  BOOST_TEST((dmarc_evaluate(in, l).result == DmarcResult::pass));
  in.record->strict_dkim = true;
  BOOST_TEST((dmarc_evaluate(in, l).result == DmarcResult::fail));
  // SPF pass of an aligned MAIL FROM domain.
  in.dkim.clear();
  in.spf = SpfResult::pass;
  in.spf_domain = "bounces.bank.test";
  BOOST_TEST((dmarc_evaluate(in, l).result == DmarcResult::pass));
  in.record->strict_spf = true;
  BOOST_TEST((dmarc_evaluate(in, l).result == DmarcResult::fail));
  // A DKIM failure of the From domain is still a failure.
  in.spf = SpfResult::fail;
  in.dkim = {dkim(DkimResult::fail, "bank.test")};
  BOOST_TEST((dmarc_evaluate(in, l).result == DmarcResult::fail));
  // A temporary error that could have passed: temperror, nothing applied.
  in.dkim = {dkim(DkimResult::temperror, "bank.test")};
  r = dmarc_evaluate(in, l);
  BOOST_TEST((r.result == DmarcResult::temperror));
  BOOST_TEST((*r.disposition == DmarcPolicy::none));
}

BOOST_AUTO_TEST_CASE(sp_and_pct) {
  auto l = small_list();
  DmarcInput in;
  in.from = "news.bank.test";
  in.record = *parse_dmarc_record("v=DMARC1; p=reject; sp=quarantine; pct=50");
  in.at_org = true;
  in.draw = 10;
  auto r = dmarc_evaluate(in, l);
  BOOST_TEST((*r.policy == DmarcPolicy::quarantine));
  BOOST_TEST((*r.disposition == DmarcPolicy::quarantine));
  in.at_org = false;  // the record was the From domain's own: p applies
  BOOST_TEST((*dmarc_evaluate(in, l).disposition == DmarcPolicy::reject));
  in.draw = 50;  // outside the sample: one step down
  BOOST_TEST((*dmarc_evaluate(in, l).disposition == DmarcPolicy::quarantine));
  in.record->pct = 0;
  in.draw = 0;
  BOOST_TEST((*dmarc_evaluate(in, l).disposition == DmarcPolicy::quarantine));
  // No record, no From.
  in.record.reset();
  BOOST_TEST((dmarc_evaluate(in, l).result == DmarcResult::none));
  in.temperror = true;
  BOOST_TEST((dmarc_evaluate(in, l).result == DmarcResult::temperror));
}
