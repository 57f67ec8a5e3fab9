#include <boost/test/unit_test.hpp>

#include "check_capture.h"
#include "edge/checks/sender_domain.h"
#include "fake_resolver.h"

using namespace nj::checks;
using namespace nj::checks::test;
using nj::dns::Status;
using nj::dns::Type;

namespace {

const char* kPublicV4 = "93.184.216.34";
const char* kPublicV6 = "2606:2800:220:1:248:1893:25c8:1946";
const std::string kNoResolve = "550 5.1.8 Sender domain does not resolve";
const std::string kNullMx = "550 5.7.27 Sender domain does not accept mail";
const std::string kPrivate = "550 5.7.1 Sender domain points into private address space";
const std::string kTemp = "451 4.4.3 Sender domain lookup failed, try again later";

// example.org: one MX with public v4 and v6 addresses, NS with a public address.
void good_domain(FakeResolver& r) {
  r.set("example.org", Type::MX, mx({{10, "mx1.example.org"}}));
  r.set("mx1.example.org", Type::A, addresses({kPublicV4}));
  r.set("mx1.example.org", Type::AAAA, addresses({kPublicV6}));
  r.set("example.org", Type::A, with_status(Status::nodata));
  r.set("example.org", Type::AAAA, with_status(Status::nodata));
  r.set("example.org", Type::NS, names({"ns1.example.net"}));
  r.set("ns1.example.net", Type::A, addresses({"199.43.135.53"}));
  r.set("ns1.example.net", Type::AAAA, with_status(Status::nodata));
}

std::string run(FakeResolver& r, const nj::mail::Mailbox& m, SenderDomainOptions o = {}) {
  SenderDomainCheck check(r, o);
  Capture c;
  Pending p = check.check(m, c.cb());
  r.answer_all_in_order();
  BOOST_CHECK_EQUAL(c.calls, 1);
  if (c.decision) {
    BOOST_CHECK(c.decision->reason.find("example") == std::string::npos);
    BOOST_CHECK(c.decision->reason.find("user") == std::string::npos);
  }
  return c.decision ? (c.decision->accept ? "accept" : c.line()) : "<none>";
}

const auto kUser = sender("user", "example.org");

}  // namespace

BOOST_AUTO_TEST_SUITE(sender_domain)

BOOST_AUTO_TEST_CASE(null_sender_always_accepted_without_dns) {
  FakeResolver r;
  BOOST_CHECK_EQUAL(run(r, null_sender()), "accept");
  BOOST_CHECK(r.asked.empty());
}

BOOST_AUTO_TEST_CASE(good_domain_passes) {
  FakeResolver r;
  good_domain(r);
  BOOST_CHECK_EQUAL(run(r, kUser), "accept");
  BOOST_CHECK(r.was_asked("mx1.example.org", Type::A));
  BOOST_CHECK(r.was_asked("mx1.example.org", Type::AAAA));
  BOOST_CHECK(r.was_asked("ns1.example.net", Type::A));
}

BOOST_AUTO_TEST_CASE(nxdomain_refused) {
  FakeResolver r;
  BOOST_CHECK_EQUAL(run(r, sender("user", "nonexistent.example.org")), kNoResolve);
}

BOOST_AUTO_TEST_CASE(implicit_mx) {
  FakeResolver r;
  good_domain(r);
  r.set("example.org", Type::MX, with_status(Status::nodata));
  r.set("example.org", Type::A, addresses({kPublicV4}));
  BOOST_CHECK_EQUAL(run(r, kUser), "accept");
  r.set("example.org", Type::A, with_status(Status::nodata));
  r.set("example.org", Type::AAAA, addresses({kPublicV6}));
  BOOST_CHECK_EQUAL(run(r, kUser), "accept");
  r.set("example.org", Type::AAAA, with_status(Status::nodata));
  BOOST_CHECK_EQUAL(run(r, kUser), kNoResolve);
  // An implicit MX in private space.
  r.set("example.org", Type::A, addresses({"10.1.2.3"}));
  BOOST_CHECK_EQUAL(run(r, kUser), kPrivate);
}

BOOST_AUTO_TEST_CASE(null_mx_refused) {
  FakeResolver r;
  good_domain(r);
  r.set("example.org", Type::MX, mx({{0, "."}}));
  BOOST_CHECK_EQUAL(run(r, kUser), kNullMx);
  r.set("example.org", Type::MX, mx({{0, ""}}));
  BOOST_CHECK_EQUAL(run(r, kUser), kNullMx);
}

BOOST_AUTO_TEST_CASE(mx_hosts_that_do_not_resolve) {
  FakeResolver r;
  good_domain(r);
  r.set("example.org", Type::MX, mx({{10, "gone.example.org"}}));
  BOOST_CHECK_EQUAL(run(r, kUser), kNoResolve);
  // A "." among real hosts is skipped, not taken for a null MX.
  r.set("example.org", Type::MX, mx({{0, "."}, {10, "mx1.example.org"}}));
  BOOST_CHECK_EQUAL(run(r, kUser), "accept");
}

BOOST_AUTO_TEST_CASE(private_mx_host_v4_and_v6) {
  FakeResolver r;
  good_domain(r);
  r.set("example.org", Type::MX, mx({{10, "mx1.example.org"}, {20, "mx2.example.org"}}));
  r.set("mx2.example.org", Type::A, addresses({"192.168.1.1"}));
  BOOST_CHECK_EQUAL(run(r, kUser), kPrivate);
  r.set("mx2.example.org", Type::A, with_status(Status::nodata));
  r.set("mx2.example.org", Type::AAAA, addresses({"fd00::1"}));
  BOOST_CHECK_EQUAL(run(r, kUser), kPrivate);
  r.set("mx2.example.org", Type::AAAA, addresses({"::1"}));
  BOOST_CHECK_EQUAL(run(r, kUser), kPrivate);
}

BOOST_AUTO_TEST_CASE(each_half_of_the_check_can_be_turned_off) {
  SenderDomainOptions lax_resolve;
  lax_resolve.require_resolvable = false;
  SenderDomainOptions lax_private;
  lax_private.reject_private = false;
  FakeResolver r;
  // Unresolvable: refused by default, passed without require_resolvable, still refused when only
  // the private-range half is off.
  BOOST_CHECK_EQUAL(run(r, sender("user", "nonexistent.example.org"), lax_resolve), "accept");
  BOOST_CHECK_EQUAL(run(r, sender("user", "nonexistent.example.org"), lax_private), kNoResolve);
  // Private MX: refused without require_resolvable, passed without reject_private.
  good_domain(r);
  r.set("mx1.example.org", Type::A, addresses({"10.1.2.3"}));
  BOOST_CHECK_EQUAL(run(r, kUser, lax_resolve), kPrivate);
  BOOST_CHECK_EQUAL(run(r, kUser, lax_private), "accept");
  BOOST_CHECK_EQUAL(run(r, sender("user", "[10.0.0.1]"), lax_private), "accept");
}

BOOST_AUTO_TEST_CASE(private_ns_host_of_closest_enclosing_zone) {
  FakeResolver r;
  good_domain(r);
  // deep.sub.example.org has no NS of its own; example.org is the zone.
  r.set("deep.sub.example.org", Type::MX, mx({{10, "mx1.example.org"}}));
  r.set("deep.sub.example.org", Type::NS, with_status(Status::nodata));
  r.set("sub.example.org", Type::NS, with_status(Status::nodata));
  r.set("example.org", Type::NS, names({"ns1.example.org", "ns2.example.org"}));
  r.set("ns1.example.org", Type::A, addresses({kPublicV4}));
  r.set("ns2.example.org", Type::A, addresses({"172.16.0.53"}));
  BOOST_CHECK_EQUAL(run(r, sender("user", "deep.sub.example.org")), kPrivate);
  BOOST_CHECK(r.was_asked("sub.example.org", Type::NS));
  BOOST_CHECK(r.was_asked("example.org", Type::NS));
  BOOST_CHECK(!r.was_asked("org", Type::NS));  // the walk stops below the top level
  // Once the zone's name servers are public, the mail passes.
  r.set("ns2.example.org", Type::A, addresses({"199.43.133.53"}));
  BOOST_CHECK_EQUAL(run(r, sender("user", "deep.sub.example.org")), "accept");
}

BOOST_AUTO_TEST_CASE(zone_walk_is_bounded) {
  FakeResolver r;
  std::string d = "example.org";
  for (int i = 0; i < 20; ++i) d = "l" + std::to_string(i) + "." + d;
  r.set(d, Type::MX, mx({{10, "mx1.example.org"}}));
  r.set("mx1.example.org", Type::A, addresses({kPublicV4}));
  SenderDomainOptions o;
  o.max_zone_walk = 5;
  BOOST_CHECK_EQUAL(run(r, sender("user", d), o), "accept");
  size_t ns = 0;
  for (const auto& q : r.asked) ns += q.second == Type::NS;
  BOOST_CHECK_EQUAL(ns, 5u);
}

BOOST_AUTO_TEST_CASE(mx_hosts_resolved_are_bounded) {
  FakeResolver r;
  good_domain(r);
  std::vector<nj::dns::MxRecord> many;
  for (int i = 0; i < 30; ++i)
    many.push_back({static_cast<uint16_t>(i), "mx" + std::to_string(i) + ".example.org"});
  r.set("example.org", Type::MX, mx(many));
  r.set("mx0.example.org", Type::A, addresses({kPublicV4}));
  r.set("mx29.example.org", Type::A, addresses({"10.0.0.1"}));  // beyond the bound: not seen
  SenderDomainOptions o;
  o.max_hosts = 10;
  BOOST_CHECK_EQUAL(run(r, kUser, o), "accept");
  BOOST_CHECK(r.was_asked("mx9.example.org", Type::A));
  BOOST_CHECK(!r.was_asked("mx10.example.org", Type::A));
  BOOST_CHECK(!r.was_asked("mx29.example.org", Type::A));
}

BOOST_AUTO_TEST_CASE(temporary_failures_451) {
  for (Status s : {Status::servfail, Status::timeout}) {
    FakeResolver r;
    good_domain(r);
    r.set("example.org", Type::MX, with_status(s));
    BOOST_CHECK_EQUAL(run(r, kUser), kTemp);
  }
  {
    FakeResolver r;
    good_domain(r);
    r.set("example.org", Type::NS, with_status(Status::timeout));
    BOOST_CHECK_EQUAL(run(r, kUser), kTemp);
  }
  {
    // Every MX host's address lookup failed temporarily: nothing known yet.
    FakeResolver r;
    good_domain(r);
    r.set("mx1.example.org", Type::A, with_status(Status::timeout));
    r.set("mx1.example.org", Type::AAAA, with_status(Status::servfail));
    BOOST_CHECK_EQUAL(run(r, kUser), kTemp);
    // One address family answering is enough.
    r.set("mx1.example.org", Type::AAAA, addresses({kPublicV6}));
    BOOST_CHECK_EQUAL(run(r, kUser), "accept");
  }
  {
    // Implicit MX with the address lookups failing.
    FakeResolver r;
    good_domain(r);
    r.set("example.org", Type::MX, with_status(Status::nodata));
    r.set("example.org", Type::A, with_status(Status::timeout));
    BOOST_CHECK_EQUAL(run(r, kUser), kTemp);
  }
}

BOOST_AUTO_TEST_CASE(definite_answers_win_over_temporary_ones) {
  FakeResolver r;
  good_domain(r);
  r.set("example.org", Type::NS, with_status(Status::timeout));
  r.set("mx1.example.org", Type::A, addresses({"10.9.9.9"}));
  BOOST_CHECK_EQUAL(run(r, kUser), kPrivate);
  r.set("example.org", Type::MX, with_status(Status::nxdomain));
  BOOST_CHECK_EQUAL(run(r, kUser), kNoResolve);
}

BOOST_AUTO_TEST_CASE(allow_loopback_only_lets_loopback_through) {
  FakeResolver r;
  good_domain(r);
  r.set("mx1.example.org", Type::A, addresses({"127.0.0.2"}));
  r.set("mx1.example.org", Type::AAAA, addresses({"::1"}));
  r.set("ns1.example.net", Type::A, addresses({"127.0.0.53"}));
  SenderDomainOptions loop;
  loop.allow_loopback = true;
  BOOST_CHECK_EQUAL(run(r, kUser, loop), "accept");
  BOOST_CHECK_EQUAL(run(r, kUser), kPrivate);
  r.set("ns1.example.net", Type::A, addresses({"10.0.0.53"}));
  BOOST_CHECK_EQUAL(run(r, kUser, loop), kPrivate);
  r.set("ns1.example.net", Type::A, addresses({"127.0.0.53"}));
  r.set("mx1.example.org", Type::AAAA, addresses({"fe80::1"}));
  BOOST_CHECK_EQUAL(run(r, kUser, loop), kPrivate);
}

BOOST_AUTO_TEST_CASE(lookups_run_in_parallel_and_answers_may_come_in_any_order) {
  for (int order = 0; order < 2; ++order) {
    FakeResolver r;
    good_domain(r);
    r.set("example.org", Type::MX, mx({{10, "mx1.example.org"}, {20, "mx2.example.org"}}));
    r.set("mx2.example.org", Type::A, addresses({"10.0.0.2"}));
    r.defer(true);
    SenderDomainCheck check(r, {});
    Capture c;
    Pending p = check.check(kUser, c.cb());
    // MX, A, AAAA and NS are all asked before any answer.
    BOOST_CHECK_EQUAL(r.pending(), 4u);
    BOOST_CHECK_EQUAL(c.calls, 0);
    r.answer(0);  // MX: both hosts' addresses are asked at once
    BOOST_CHECK_EQUAL(r.pending(), 7u);
    BOOST_CHECK_EQUAL(c.calls, 0);
    if (order == 0)
      r.answer_all_reversed();
    else
      r.answer_all_in_order();
    BOOST_CHECK_EQUAL(c.calls, 1);
    BOOST_CHECK_EQUAL(c.line(), kPrivate);
  }
}

BOOST_AUTO_TEST_CASE(dropped_pending_is_not_called_back) {
  FakeResolver r;
  good_domain(r);
  r.defer(true);
  SenderDomainCheck check(r, {});
  Capture c;
  { Pending p = check.check(kUser, c.cb()); }
  r.answer_all_in_order();
  BOOST_CHECK_EQUAL(c.calls, 0);
}

BOOST_AUTO_TEST_CASE(checker_may_go_before_the_answers) {
  FakeResolver r;
  good_domain(r);
  r.defer(true);
  Capture c;
  Pending p;
  {
    SenderDomainCheck check(r, {});
    p = check.check(kUser, c.cb());
  }
  r.answer_all_reversed();
  BOOST_CHECK(c.accepted());
}

BOOST_AUTO_TEST_CASE(address_literals_and_bad_domains) {
  FakeResolver r;
  BOOST_CHECK_EQUAL(run(r, sender("user", "[93.184.216.34]")), "accept");
  BOOST_CHECK_EQUAL(run(r, sender("user", "[10.0.0.1]")), kPrivate);
  BOOST_CHECK_EQUAL(run(r, sender("user", "[IPv6:fd00::1]")), kPrivate);
  BOOST_CHECK_EQUAL(run(r, sender("user", "a..b")), kNoResolve);
  BOOST_CHECK(r.asked.empty());
}

BOOST_AUTO_TEST_SUITE_END()
