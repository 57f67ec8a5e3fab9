#include <boost/test/unit_test.hpp>

#include "check_capture.h"
#include "edge/checks/sender_allowlist.h"
#include "fake_resolver.h"

using namespace nj::checks;
using namespace nj::checks::test;
using nj::dns::Status;
using nj::dns::Type;

namespace {

const std::string kRejected =
    "550 5.7.1 Sender address rejected: not sent from an authorized client";
const std::string kTemp = "451 4.4.3 Client name lookup failed, try again later";

SenderAllowlistOptions paypal() {
  AllowlistRule r;
  r.domain = "paypal.com";
  r.networks = {*parse_cidr("64.4.240.0/21"), *parse_cidr("2620:0:1000::/40")};
  r.ptr_suffixes = {"paypal.com"};
  AllowlistRule bank;
  bank.domain = "bank.example";
  bank.networks = {*parse_cidr("198.51.100.0/24")};
  SenderAllowlistOptions o;
  o.rules = {r, bank};
  return o;
}

std::string run(FakeResolver& r, const nj::mail::Mailbox& from, std::string_view ip) {
  SenderAllowlist a(r, paypal());
  Capture c;
  Pending p = a.check(from, ip, c.cb());
  r.answer_all_in_order();
  BOOST_CHECK_EQUAL(c.calls, 1);
  if (c.decision) {
    BOOST_CHECK(c.decision->reason.find("paypal") == std::string::npos);
    BOOST_CHECK(c.decision->reason.find(std::string(ip)) == std::string::npos);
  }
  return c.decision ? (c.decision->accept ? "accept" : c.line()) : "<none>";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sender_allowlist)

BOOST_AUTO_TEST_CASE(other_domains_are_not_affected) {
  FakeResolver r;
  BOOST_CHECK_EQUAL(run(r, sender("a", "example.org"), "203.0.113.9"), "accept");
  BOOST_CHECK_EQUAL(run(r, sender("a", "notpaypal.com"), "203.0.113.9"), "accept");
  BOOST_CHECK_EQUAL(run(r, null_sender(), "203.0.113.9"), "accept");
  BOOST_CHECK(r.asked.empty());
}

BOOST_AUTO_TEST_CASE(listed_networks_pass_v4_and_v6) {
  FakeResolver r;
  BOOST_CHECK_EQUAL(run(r, sender("service", "paypal.com"), "64.4.244.7"), "accept");
  BOOST_CHECK_EQUAL(run(r, sender("service", "mail.paypal.com"), "2620:0:10ff::7"), "accept");
  BOOST_CHECK_EQUAL(run(r, sender("x", "bank.example"), "198.51.100.77"), "accept");
  BOOST_CHECK(r.asked.empty());
}

BOOST_AUTO_TEST_CASE(unlisted_client_without_suffixes_is_rejected) {
  FakeResolver r;
  BOOST_CHECK_EQUAL(run(r, sender("x", "bank.example"), "203.0.113.9"), kRejected);
  BOOST_CHECK_EQUAL(run(r, sender("x", "BANK.example"), "2001:db8::1"), kRejected);
}

BOOST_AUTO_TEST_CASE(forward_confirmed_reverse_dns_passes_v4) {
  FakeResolver r;
  r.set("9.113.0.203.in-addr.arpa", Type::PTR, names({"mx9.phx.paypal.com"}));
  r.set("mx9.phx.paypal.com", Type::A, addresses({"203.0.113.8", "203.0.113.9"}));
  BOOST_CHECK_EQUAL(run(r, sender("service", "paypal.com"), "203.0.113.9"), "accept");
}

BOOST_AUTO_TEST_CASE(forward_confirmed_reverse_dns_passes_v6) {
  FakeResolver r;
  const std::string rev =
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
  r.set(rev, Type::PTR, names({"other.example.net", "mx.paypal.com."}));
  r.set("mx.paypal.com", Type::AAAA, addresses({"2001:db8:0:0::1"}));
  BOOST_CHECK_EQUAL(run(r, sender("service", "paypal.com"), "2001:db8::1"), "accept");
  BOOST_CHECK(!r.was_asked("other.example.net", Type::AAAA));  // no suffix match: not asked
}

BOOST_AUTO_TEST_CASE(unconfirmed_or_wrong_names_are_rejected) {
  FakeResolver r;
  // A PTR the attacker controls that claims paypal.com but does not resolve back.
  r.set("9.113.0.203.in-addr.arpa", Type::PTR, names({"mail.paypal.com"}));
  r.set("mail.paypal.com", Type::A, addresses({"64.4.250.1"}));
  BOOST_CHECK_EQUAL(run(r, sender("service", "paypal.com"), "203.0.113.9"), kRejected);
  // A look-alike name that resolves back is still not under paypal.com.
  r.set("9.113.0.203.in-addr.arpa", Type::PTR, names({"mail.evilpaypal.com"}));
  r.set("mail.evilpaypal.com", Type::A, addresses({"203.0.113.9"}));
  BOOST_CHECK_EQUAL(run(r, sender("service", "paypal.com"), "203.0.113.9"), kRejected);
  // No PTR at all.
  r.set("9.113.0.203.in-addr.arpa", Type::PTR, with_status(Status::nxdomain));
  BOOST_CHECK_EQUAL(run(r, sender("service", "paypal.com"), "203.0.113.9"), kRejected);
}

BOOST_AUTO_TEST_CASE(temporary_failures_defer) {
  FakeResolver r;
  r.set("9.113.0.203.in-addr.arpa", Type::PTR, with_status(Status::timeout));
  BOOST_CHECK_EQUAL(run(r, sender("service", "paypal.com"), "203.0.113.9"), kTemp);
  r.set("9.113.0.203.in-addr.arpa", Type::PTR, names({"mx.paypal.com"}));
  r.set("mx.paypal.com", Type::A, with_status(Status::servfail));
  BOOST_CHECK_EQUAL(run(r, sender("service", "paypal.com"), "203.0.113.9"), kTemp);
}

BOOST_AUTO_TEST_CASE(ptr_names_confirmed_are_bounded_and_answers_may_come_late) {
  FakeResolver r;
  std::vector<std::string> many;
  for (int i = 0; i < 20; ++i) many.push_back("h" + std::to_string(i) + ".paypal.com");
  r.set("9.113.0.203.in-addr.arpa", Type::PTR, names(many));
  r.set("h3.paypal.com", Type::A, addresses({"203.0.113.9"}));
  r.defer(true);
  SenderAllowlist a(r, paypal());
  Capture c;
  Pending p = a.check(sender("service", "paypal.com"), "203.0.113.9", c.cb());
  BOOST_CHECK_EQUAL(c.calls, 0);
  r.answer(0);
  BOOST_CHECK_EQUAL(r.pending(), 5u);  // max_ptr_names
  r.answer_all_reversed();
  BOOST_CHECK(c.accepted());
  BOOST_CHECK(!r.was_asked("h5.paypal.com", Type::A));
}

BOOST_AUTO_TEST_CASE(most_specific_rule_wins) {
  SenderAllowlistOptions o = paypal();
  AllowlistRule sub;
  sub.domain = "mail.paypal.com";
  sub.networks = {*parse_cidr("192.0.2.0/24")};
  o.rules.push_back(sub);
  FakeResolver r;
  SenderAllowlist a(r, o);
  BOOST_REQUIRE(a.rule_for("x.mail.paypal.com") != nullptr);
  BOOST_CHECK_EQUAL(a.rule_for("x.mail.paypal.com")->domain, "mail.paypal.com");
  BOOST_CHECK_EQUAL(a.rule_for("paypal.com")->domain, "paypal.com");
  BOOST_CHECK(a.rule_for("example.org") == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
