#include <boost/test/unit_test.hpp>

#include "check_capture.h"
#include "common/base/clock.h"
#include "edge/checks/dnsbl.h"
#include "fake_resolver.h"

using namespace nj::checks;
using namespace nj::checks::test;
using nj::dns::Status;
using nj::dns::Type;

namespace {

const std::string kListed = "550 5.7.1 Service unavailable; client listed by DNSBL";
const char* kClient = "203.0.113.9";
const std::string kRev = "9.113.0.203.";
const char* kClient6 = "2001:db8::1";
const std::string kRev6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.";

DnsblZone zone(const char* spec) {
  auto z = parse_dnsbl_zone(spec);
  BOOST_REQUIRE_MESSAGE(z.ok(), spec);
  return *z;
}

DnsblOptions three_zones(int threshold) {
  DnsblOptions o;
  o.zones = {zone("zen.example=127.0.0.[2..11]*3"), zone("bl.example*2"), zone("weak.example")};
  o.threshold = threshold;
  return o;
}

Capture score(DnsblScorer& s, FakeResolver& r, std::string_view ip) {
  Capture c;
  Pending p = s.score(ip, c.cb());
  r.answer_all_in_order();
  BOOST_CHECK_EQUAL(c.calls, 1);
  if (c.decision) BOOST_CHECK(c.decision->reason.find(std::string(ip)) == std::string::npos);
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dnsbl)

BOOST_AUTO_TEST_CASE(zone_spec_parsing) {
  auto z = zone("zen.spamhaus.org=127.0.0.[2..11;20]*3");
  BOOST_CHECK_EQUAL(z.zone, "zen.spamhaus.org");
  BOOST_CHECK_EQUAL(z.weight, 3);
  BOOST_REQUIRE_EQUAL(z.filter.size(), 2u);
  BOOST_CHECK(z.matches("127.0.0.2"));
  BOOST_CHECK(z.matches("127.0.0.11"));
  BOOST_CHECK(z.matches("127.0.0.20"));
  BOOST_CHECK(!z.matches("127.0.0.12"));
  BOOST_CHECK(!z.matches("127.0.1.2"));
  auto single = zone("list.example=127.0.0.4");
  BOOST_CHECK_EQUAL(single.weight, 1);
  BOOST_CHECK(single.matches("127.0.0.4"));
  BOOST_CHECK(!single.matches("127.0.0.5"));
  BOOST_CHECK_EQUAL(zone("allow.example*-5").weight, -5);
  auto any = zone("any.example");
  BOOST_CHECK(any.matches("127.0.0.2"));
  BOOST_CHECK(any.matches("127.1.2.3"));
  BOOST_CHECK(!any.matches("127.255.255.254"));  // "query refused"
  BOOST_CHECK(!any.matches("198.51.100.1"));     // NXDOMAIN rewriting resolvers
  BOOST_CHECK(!any.matches("::1"));
  for (const char* bad :
       {"", "=127.0.0.2", "z.example=127.0.0.300", "z.example=10.0.0.2", "z.example=127.0.0.[5..2]",
        "z.example=127.0.0.[2..", "z.example*", "z.example*x", "z.example*100000",
        "z.example=127.0.0.1.2", "z.example=127.0.0.[]"}) {
    BOOST_CHECK_MESSAGE(!parse_dnsbl_zone(bad).ok(), bad);
  }
  std::string many = "z.example=127.0.0.[";
  for (int i = 0; i < 40; ++i) many += std::to_string(i) + (i < 39 ? ";" : "]");
  BOOST_CHECK(!parse_dnsbl_zone(many).ok());
}

BOOST_AUTO_TEST_CASE(not_listed_passes) {
  FakeResolver r;
  nj::ManualClock clock;
  DnsblScorer s(r, clock, three_zones(3));
  auto c = score(s, r, kClient);
  BOOST_CHECK(c.accepted());
  BOOST_CHECK(r.was_asked(kRev + "zen.example", Type::A));
  BOOST_CHECK(r.was_asked(kRev + "bl.example", Type::A));
  BOOST_CHECK(r.was_asked(kRev + "weak.example", Type::A));
}

BOOST_AUTO_TEST_CASE(weights_add_up_to_the_threshold) {
  FakeResolver r;
  nj::ManualClock clock;
  r.set(kRev + "bl.example", Type::A, addresses({"127.0.0.2"}));
  {
    DnsblScorer s(r, clock, three_zones(3));
    BOOST_CHECK(score(s, r, kClient).accepted());  // 2 < 3
  }
  r.set(kRev + "weak.example", Type::A, addresses({"127.0.0.2"}));
  {
    DnsblScorer s(r, clock, three_zones(3));
    auto c = score(s, r, kClient);  // 2 + 1 = 3
    BOOST_CHECK_EQUAL(c.line(), kListed);
    BOOST_CHECK(c.decision->reason.find("bl.example") != std::string::npos);
    BOOST_CHECK(c.decision->reason.find("score 3/3") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(reply_filter_decides_what_counts) {
  FakeResolver r;
  nj::ManualClock clock;
  r.set(kRev + "zen.example", Type::A, addresses({"127.0.0.12"}));  // outside [2..11]
  {
    DnsblScorer s(r, clock, three_zones(3));
    BOOST_CHECK(score(s, r, kClient).accepted());
  }
  r.set(kRev + "zen.example", Type::A, addresses({"127.0.0.12", "127.0.0.4"}));
  {
    DnsblScorer s(r, clock, three_zones(3));
    BOOST_CHECK_EQUAL(score(s, r, kClient).line(), kListed);
  }
}

BOOST_AUTO_TEST_CASE(ipv6_client) {
  FakeResolver r;
  nj::ManualClock clock;
  r.set(kRev6 + "zen.example", Type::A, addresses({"127.0.0.3"}));
  DnsblScorer s(r, clock, three_zones(3));
  BOOST_CHECK_EQUAL(score(s, r, kClient6).line(), kListed);
}

BOOST_AUTO_TEST_CASE(negative_weight_allowlists) {
  FakeResolver r;
  nj::ManualClock clock;
  DnsblOptions o;
  o.zones = {zone("bl.example*2"), zone("wl.example=127.0.0.[0..255]*-2")};
  o.threshold = 1;
  r.set(kRev + "bl.example", Type::A, addresses({"127.0.0.2"}));
  r.set(kRev + "wl.example", Type::A, addresses({"127.0.0.5"}));
  DnsblScorer s(r, clock, o);
  BOOST_CHECK(score(s, r, kClient).accepted());
}

BOOST_AUTO_TEST_CASE(failures_count_zero_and_are_reported) {
  FakeResolver r;
  nj::ManualClock clock;
  r.set(kRev + "zen.example", Type::A, with_status(Status::timeout));
  r.set(kRev + "bl.example", Type::A, with_status(Status::servfail));
  r.set(kRev + "weak.example", Type::A, addresses({"127.0.0.2"}));
  DnsblScorer s(r, clock, three_zones(1));
  auto c = score(s, r, kClient);
  BOOST_CHECK_EQUAL(c.line(), kListed);  // weak alone reaches 1
  BOOST_CHECK(c.decision->reason.find("failed=zen.example(timeout),bl.example(servfail)") !=
              std::string::npos);
  DnsblScorer s3(r, clock, three_zones(3));
  auto c3 = score(s3, r, kClient);
  BOOST_CHECK(c3.accepted());  // fail open
  BOOST_CHECK(c3.decision->reason.find("failed=") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(all_zones_asked_at_once_answers_in_any_order) {
  for (int order = 0; order < 2; ++order) {
    FakeResolver r;
    nj::ManualClock clock;
    r.set(kRev + "zen.example", Type::A, addresses({"127.0.0.2"}));
    r.defer(true);
    DnsblScorer s(r, clock, three_zones(3));
    Capture c;
    Pending p = s.score(kClient, c.cb());
    BOOST_CHECK_EQUAL(r.pending(), 3u);
    r.answer(1);
    BOOST_CHECK_EQUAL(c.calls, 0);
    if (order == 0)
      r.answer_all_reversed();
    else
      r.answer_all_in_order();
    BOOST_CHECK_EQUAL(c.calls, 1);
    BOOST_CHECK_EQUAL(c.line(), kListed);
  }
}

BOOST_AUTO_TEST_CASE(cache_for_an_hour_keyed_by_hash) {
  FakeResolver r;
  nj::ManualClock clock;
  r.set(kRev + "zen.example", Type::A, addresses({"127.0.0.2"}));
  DnsblScorer s(r, clock, three_zones(3));
  BOOST_CHECK_EQUAL(score(s, r, kClient).line(), kListed);
  size_t asked = r.asked.size();
  BOOST_CHECK_EQUAL(s.cache_size(), 1u);
  clock.advance(3599);
  auto cached = score(s, r, kClient);
  BOOST_CHECK_EQUAL(cached.line(), kListed);
  BOOST_CHECK(cached.decision->reason.find("cached") != std::string::npos);
  BOOST_CHECK_EQUAL(r.asked.size(), asked);
  // Delisting shows after the hour.
  r.set(kRev + "zen.example", Type::A, with_status(Status::nxdomain));
  clock.advance(1);
  BOOST_CHECK(score(s, r, kClient).accepted());
  BOOST_CHECK_EQUAL(r.asked.size(), asked + 3);
}

BOOST_AUTO_TEST_CASE(failed_zones_are_asked_again) {
  FakeResolver r;
  nj::ManualClock clock;
  r.set(kRev + "zen.example", Type::A, with_status(Status::timeout));
  DnsblScorer s(r, clock, three_zones(3));
  BOOST_CHECK(score(s, r, kClient).accepted());
  r.asked.clear();
  r.set(kRev + "zen.example", Type::A, addresses({"127.0.0.2"}));
  BOOST_CHECK_EQUAL(score(s, r, kClient).line(), kListed);
  BOOST_REQUIRE_EQUAL(r.asked.size(), 1u);  // only the zone that failed
  BOOST_CHECK_EQUAL(r.asked[0].first, kRev + "zen.example");
}

BOOST_AUTO_TEST_CASE(cache_is_bounded) {
  FakeResolver r;
  nj::ManualClock clock;
  DnsblOptions o = three_zones(3);
  o.max_cache_entries = 2;
  DnsblScorer s(r, clock, o);
  score(s, r, "198.51.100.1");
  score(s, r, "198.51.100.2");
  score(s, r, "198.51.100.3");
  BOOST_CHECK_EQUAL(s.cache_size(), 2u);
  r.asked.clear();
  score(s, r, "198.51.100.1");  // the oldest was evicted
  BOOST_CHECK_EQUAL(r.asked.size(), 3u);
}

BOOST_AUTO_TEST_CASE(scorer_may_go_before_the_answers) {
  FakeResolver r;
  nj::ManualClock clock;
  r.set(kRev + "zen.example", Type::A, addresses({"127.0.0.2"}));
  r.defer(true);
  Capture c;
  Pending p;
  {
    DnsblScorer s(r, clock, three_zones(3));
    p = s.score(kClient, c.cb());
  }
  r.answer_all_in_order();
  BOOST_CHECK_EQUAL(c.line(), kListed);
}

BOOST_AUTO_TEST_CASE(no_zones_or_bad_address_pass) {
  FakeResolver r;
  nj::ManualClock clock;
  DnsblScorer none(r, clock, DnsblOptions{});
  BOOST_CHECK(score(none, r, kClient).accepted());
  DnsblScorer s(r, clock, three_zones(1));
  BOOST_CHECK(score(s, r, "not an address").accepted());
  BOOST_CHECK(r.asked.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dnsbl_limits)

BOOST_AUTO_TEST_CASE(threshold_below_one_does_not_refuse_everyone) {
  FakeResolver r;
  nj::ManualClock clock;
  DnsblOptions o = three_zones(0);
  DnsblScorer s(r, clock, o);
  BOOST_CHECK(score(s, r, kClient).accepted());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dnsbl_mapped)

BOOST_AUTO_TEST_CASE(ipv4_mapped_client_is_asked_as_ipv4) {
  FakeResolver r;
  nj::ManualClock clock;
  r.set(kRev + "zen.example", Type::A, addresses({"127.0.0.2"}));
  DnsblScorer s(r, clock, three_zones(3));
  BOOST_CHECK_EQUAL(score(s, r, "::ffff:203.0.113.9").line(), kListed);
}

BOOST_AUTO_TEST_SUITE_END()
