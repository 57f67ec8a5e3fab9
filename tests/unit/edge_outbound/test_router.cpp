#define BOOST_TEST_MODULE edge_outbound
#include <boost/test/unit_test.hpp>
#include <map>
#include <optional>
#include <random>

#include "edge/outbound/router.h"
#include "tests/unit/edge_outbound/fake_resolver.h"

using namespace nj;
using namespace nj::edge::outbound;
using test::FakeResolver;

namespace {

const std::string kOnionA = "abupq2yypwtojgupttylrbwnabmpmydsf4evb2onasmib2go23jyyhqd.onion";
const std::string kOnionB = "xibrfarp4uiwgjrfwbefue6kwlglxxdnfkiebbxcenm4qgg6vcnweqid.onion";
const std::string kOnionC = "4my2dd2okjr75aho.onion";

// Always the lowest value: deterministic "random" choices.
uint32_t lowest(uint32_t) {
  return 0;
}

Route route_of(Router& r, const std::string& domain) {
  std::optional<Route> out;
  r.route(domain, [&](Route x) { out = std::move(x); });
  BOOST_REQUIRE(out.has_value());
  return *out;
}

RouterConfig base_config() {
  RouterConfig c;
  c.our_domains = {"example.org", "mail.example.onion"};
  c.onion_map.add("mapped.test", kOnionA);
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(our_domains_never_leave_and_ask_nothing) {
  FakeResolver dns;
  Router r(dns, base_config(), lowest);
  auto route = route_of(r, "Example.ORG.");
  BOOST_CHECK(route.verdict == Verdict::ours);
  BOOST_CHECK(route.destinations.empty());
  BOOST_CHECK(dns.asked.empty());
}

BOOST_AUTO_TEST_CASE(static_map_comes_first_and_asks_no_dns) {
  FakeResolver dns;
  // Even with an SRV and MX published, the map wins.
  dns.set("_onion-mx._tcp.mapped.test", dns::Type::SRV, test::srv({{0, 0, 2525, kOnionB}}));
  dns.set("mapped.test", dns::Type::MX, test::mx({{10, "mx.mapped.test"}}));
  Router r(dns, base_config(), lowest);
  auto route = route_of(r, "MAPPED.test");
  BOOST_REQUIRE(route.verdict == Verdict::route);
  BOOST_REQUIRE_EQUAL(route.destinations.size(), 1u);
  BOOST_CHECK_EQUAL(route.destinations[0].host, kOnionA);
  BOOST_CHECK_EQUAL(route.destinations[0].port, 25);
  BOOST_CHECK(route.destinations[0].via_socks);
  BOOST_CHECK(dns.asked.empty());
}

BOOST_AUTO_TEST_CASE(onion_domains_are_never_queried) {
  FakeResolver dns;
  Router r(dns, base_config(), lowest);
  auto route = route_of(r, kOnionC);
  BOOST_REQUIRE(route.verdict == Verdict::route);
  BOOST_CHECK_EQUAL(route.destinations[0].host, kOnionC);
  BOOST_CHECK(route.destinations[0].via_socks);
  auto bad = route_of(r, "notanonion.onion");
  BOOST_CHECK(bad.verdict == Verdict::permanent);
  BOOST_CHECK(dns.asked.empty());
}

BOOST_AUTO_TEST_CASE(srv_onion_mx_with_priorities_and_ports) {
  FakeResolver dns;
  dns.set("_onion-mx._tcp.srv.test", dns::Type::SRV,
          test::srv({{20, 0, 2600, kOnionC + "."},
                     {10, 0, 2525, kOnionB + "."},
                     {15, 5, 25, "clearnet.srv.test."},  // never a clearnet target from SRV
                     {5, 0, 0, kOnionA}}));              // port 0: unusable
  dns.set("srv.test", dns::Type::MX, test::mx({{10, "mx.srv.test"}}));
  Router r(dns, base_config(), lowest);
  auto route = route_of(r, "srv.test");
  BOOST_REQUIRE(route.verdict == Verdict::route);
  BOOST_REQUIRE_EQUAL(route.destinations.size(), 2u);
  BOOST_CHECK((route.destinations[0] == Destination{kOnionB, 2525, true}));
  BOOST_CHECK((route.destinations[1] == Destination{kOnionC, 2600, true}));
  BOOST_CHECK(!dns.was_asked("srv.test"));  // no MX lookup once SRV routed it
  BOOST_CHECK(!dns.was_asked(kOnionB));
  BOOST_CHECK(!dns.was_asked(kOnionC));
}

BOOST_AUTO_TEST_CASE(srv_temporary_failure_retries_instead_of_clearnet) {
  FakeResolver dns;
  dns.set("_onion-mx._tcp.flaky.test", dns::Type::SRV, test::status(dns::Status::servfail));
  dns.set("flaky.test", dns::Type::MX, test::mx({{10, "mx.flaky.test"}}));
  Router r(dns, base_config(), lowest);
  auto route = route_of(r, "flaky.test");
  BOOST_CHECK(route.verdict == Verdict::transient);
  BOOST_CHECK(!dns.was_asked("flaky.test"));
}

BOOST_AUTO_TEST_CASE(srv_weights_follow_rfc2782) {
  // Two records at one priority, weights 80 and 20: the first pick is weighted.
  std::vector<dns::SrvRecord> recs = {
      {1, 20, 25, "light"}, {1, 80, 25, "heavy"}, {0, 0, 25, "first"}};
  // rand returns exactly the value we dictate: sum = 100 -> [0,100].
  auto fixed = [](uint32_t v) { return [v](uint32_t upper) { return v % upper; }; };
  auto o1 = order_srv(recs, fixed(20));  // running sums 20, 100: 20 picks "light"
  BOOST_CHECK_EQUAL(o1[0].target, "first");
  BOOST_CHECK_EQUAL(o1[1].target, "light");
  BOOST_CHECK_EQUAL(o1[2].target, "heavy");
  auto o2 = order_srv(recs, fixed(21));  // 21 > 20: "heavy"
  BOOST_CHECK_EQUAL(o2[1].target, "heavy");
  BOOST_CHECK_EQUAL(o2[2].target, "light");
  // Statistically with the real generator: heavy first about 80% of the time.
  int heavy = 0;
  std::mt19937 gen(7);
  auto real = [&](uint32_t upper) {
    return std::uniform_int_distribution<uint32_t>(0, upper - 1)(gen);
  };
  for (int i = 0; i < 4000; ++i) {
    heavy += order_srv({{1, 20, 25, "light"}, {1, 80, 25, "heavy"}}, real)[0].target == "heavy";
  }
  BOOST_CHECK_GT(heavy, 3000);
  BOOST_CHECK_LT(heavy, 3400);
  // Weight 0 entries still get picked when the random number is 0.
  auto z = order_srv({{1, 0, 25, "zero"}, {1, 10, 25, "ten"}}, fixed(0));
  BOOST_CHECK_EQUAL(z[0].target, "zero");
}

BOOST_AUTO_TEST_CASE(mx_sorted_by_preference_equal_ones_shuffled) {
  FakeResolver dns;
  dns.set(
      "mx.test", dns::Type::MX,
      test::mx({{20, "b.mx.test"}, {10, "a1.mx.test"}, {10, "a2.mx.test."}, {30, "c.mx.test"}}));
  std::mt19937 gen(1);
  auto real = [&](uint32_t upper) {
    return std::uniform_int_distribution<uint32_t>(0, upper - 1)(gen);
  };
  Router r(dns, base_config(), real);
  std::map<std::string, int> first;
  for (int i = 0; i < 200; ++i) {
    auto route = route_of(r, "mx.test");
    BOOST_REQUIRE(route.verdict == Verdict::route);
    BOOST_REQUIRE_EQUAL(route.destinations.size(), 4u);
    first[route.destinations[0].host]++;
    BOOST_CHECK(route.destinations[0].host.starts_with("a"));
    BOOST_CHECK(route.destinations[1].host.starts_with("a"));
    BOOST_CHECK_EQUAL(route.destinations[2].host, "b.mx.test");
    BOOST_CHECK_EQUAL(route.destinations[3].host, "c.mx.test");
    BOOST_CHECK(!route.destinations[0].via_socks);
    BOOST_CHECK_EQUAL(route.destinations[0].port, 25);
  }
  // Both equal-preference hosts come first sometimes.
  BOOST_CHECK_GT(first["a1.mx.test"], 50);
  BOOST_CHECK_GT(first["a2.mx.test"], 50);
}

BOOST_AUTO_TEST_CASE(implicit_mx_when_no_mx_records) {
  FakeResolver dns;
  dns.set("_onion-mx._tcp.plain.test", dns::Type::SRV, test::status(dns::Status::nodata));
  dns.set("plain.test", dns::Type::MX, test::status(dns::Status::nodata));
  RouterConfig c = base_config();
  c.smtp_port = 2525;
  Router r(dns, c, lowest);
  auto route = route_of(r, "plain.test");
  BOOST_REQUIRE(route.verdict == Verdict::route);
  BOOST_REQUIRE_EQUAL(route.destinations.size(), 1u);
  BOOST_CHECK((route.destinations[0] == Destination{"plain.test", 2525, false}));
}

BOOST_AUTO_TEST_CASE(null_mx_is_permanent_rfc7505) {
  FakeResolver dns;
  dns.set("nullmx.test", dns::Type::MX, test::mx({{0, "."}}));
  Router r(dns, base_config(), lowest);
  auto route = route_of(r, "nullmx.test");
  BOOST_CHECK(route.verdict == Verdict::permanent);
  BOOST_CHECK_EQUAL(route.enhanced, "5.1.10");
  BOOST_CHECK(route.reason.find("does not accept mail") != std::string::npos);
  // c-ares may hand the root as an empty name.
  dns.set("nullmx2.test", dns::Type::MX, test::mx({{0, ""}}));
  BOOST_CHECK(route_of(r, "nullmx2.test").verdict == Verdict::permanent);
  // A "." among real MX records is ignored, not a null MX.
  dns.set("mixed.test", dns::Type::MX, test::mx({{0, "."}, {10, "mx.mixed.test"}}));
  auto mixed = route_of(r, "mixed.test");
  BOOST_REQUIRE(mixed.verdict == Verdict::route);
  BOOST_REQUIRE_EQUAL(mixed.destinations.size(), 1u);
  BOOST_CHECK_EQUAL(mixed.destinations[0].host, "mx.mixed.test");
}

BOOST_AUTO_TEST_CASE(nxdomain_is_permanent_and_servfail_transient) {
  FakeResolver dns;
  dns.set("gone.test", dns::Type::MX, test::status(dns::Status::nxdomain));
  dns.set("slow.test", dns::Type::MX, test::status(dns::Status::timeout));
  Router r(dns, base_config(), lowest);
  auto gone = route_of(r, "gone.test");
  BOOST_CHECK(gone.verdict == Verdict::permanent);
  BOOST_CHECK_EQUAL(gone.enhanced, "5.1.2");
  auto slow = route_of(r, "slow.test");
  BOOST_CHECK(slow.verdict == Verdict::transient);
  BOOST_CHECK_EQUAL(slow.enhanced[0], '4');
}

BOOST_AUTO_TEST_CASE(mx_naming_an_onion_is_skipped_not_resolved) {
  FakeResolver dns;
  dns.set("sly.test", dns::Type::MX, test::mx({{5, kOnionA}, {10, "mx.sly.test"}}));
  Router r(dns, base_config(), lowest);
  auto route = route_of(r, "sly.test");
  BOOST_REQUIRE(route.verdict == Verdict::route);
  BOOST_REQUIRE_EQUAL(route.destinations.size(), 1u);
  BOOST_CHECK_EQUAL(route.destinations[0].host, "mx.sly.test");
  BOOST_CHECK(!dns.was_asked(kOnionA));
  dns.set("onlyonion.test", dns::Type::MX, test::mx({{5, kOnionA}}));
  BOOST_CHECK(route_of(r, "onlyonion.test").verdict == Verdict::permanent);
}

// ---- the OnionMX map file ----

BOOST_AUTO_TEST_CASE(onion_map_parses_onionmx_format) {
  std::string yaml = "# OnionMX map\n---\n'" + kOnionC + "':\n  - 'calyx.com'\n  - 'Calyx.ORG'\n'" +
                     kOnionA + "':\n  - koumbit.org\n";
  auto m = OnionMap::parse(yaml, "map.yml");
  BOOST_REQUIRE_MESSAGE(m.ok(), (m.ok() ? std::string() : m.error()));
  BOOST_CHECK_EQUAL(m->size(), 3u);
  BOOST_CHECK_EQUAL(*m->lookup("calyx.org."), kOnionC);
  BOOST_CHECK_EQUAL(*m->lookup("KOUMBIT.org"), kOnionA);
  BOOST_CHECK(!m->lookup("riseup.net"));
  auto empty = OnionMap::parse("", "map.yml");
  BOOST_REQUIRE(empty.ok());
  BOOST_CHECK_EQUAL(empty->size(), 0u);
}

BOOST_AUTO_TEST_CASE(onion_map_refuses_malformed_entries_with_lines) {
  struct Case {
    std::string yaml;
    std::string want;
  } cases[] = {
      {"'notonion.example':\n  - a.org\n", "map.yml:1: 'notonion.example' is not an onion name"},
      {"'" + kOnionC + "':\n  - a.org\n  - 'bad domain'\n", "map.yml:3: 'bad domain'"},
      {"'" + kOnionC + "': a.org\n", "map.yml:1: " + kOnionC + ": needs a non-empty list"},
      {"'" + kOnionC + "':\n  - a.org\n'" + kOnionA + "':\n  - A.org\n",
       "map.yml:4: a.org: mapped twice"},
      {"'" + kOnionC + "':\n  - a.org\n'" + kOnionC + "':\n  - b.org\n", "map.yml:3:"},
      {"'" + kOnionC + "':\n  - {x: 1}\n", "map.yml:2:"},
      {"'" + kOnionC + "':\n  - " + kOnionA + "\n", "map.yml:2:"},
      {"- a\n- b\n", "map.yml:1: onion map must be a map"},
      {"'" + kOnionC + "':\n  - [unclosed\n", "map.yml:"},
  };
  for (const auto& c : cases) {
    auto m = OnionMap::parse(c.yaml, "map.yml");
    BOOST_REQUIRE_MESSAGE(!m.ok(), c.yaml);
    BOOST_CHECK_MESSAGE(m.error().find(c.want) == 0, m.error() + " / want " + c.want);
  }
  OnionMapLimits small;
  small.max_domains = 2;
  auto big = OnionMap::parse("'" + kOnionC + "':\n  - a.org\n  - b.org\n  - c.org\n", "m", small);
  BOOST_REQUIRE(!big.ok());
  BOOST_CHECK(big.error().find("m:4: more than 2 domains") == 0);
}

BOOST_AUTO_TEST_CASE(onion_name_syntax) {
  BOOST_CHECK(is_onion_name(kOnionA));
  BOOST_CHECK(is_onion_name(kOnionC));
  BOOST_CHECK(is_onion_name("smtp." + kOnionA));
  BOOST_CHECK(!is_onion_name("short.onion"));
  BOOST_CHECK(!is_onion_name("onion"));  // found by fuzz_onion_map: no label before .onion
  BOOST_CHECK(!is_onion_name("onion."));
  BOOST_CHECK(!is_onion_name("4my2dd2okjr75ah1.onion"));  // '1' is not base32
  BOOST_CHECK(is_onion_domain("anything.ONION."));
  BOOST_CHECK(!is_onion_domain("onion.example"));
}
