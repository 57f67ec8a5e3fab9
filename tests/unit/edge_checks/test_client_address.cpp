#include <boost/test/unit_test.hpp>

#include "edge/checks/client_address.h"
#include "edge/checks/domain_util.h"

using namespace nj::checks;

BOOST_AUTO_TEST_SUITE(client_address)

BOOST_AUTO_TEST_CASE(parses_strictly) {
  BOOST_CHECK(parse_ip("192.0.2.1").has_value());
  BOOST_CHECK(parse_ip("2001:db8::1").has_value());
  BOOST_CHECK(!parse_ip("").has_value());
  BOOST_CHECK(!parse_ip("192.0.2").has_value());
  BOOST_CHECK(!parse_ip("300.1.1.1").has_value());
  BOOST_CHECK(!parse_ip(" 192.0.2.1").has_value());
  BOOST_CHECK(!parse_ip("[192.0.2.1]").has_value());
  BOOST_CHECK(!parse_ip("fe80::1%eth0").has_value());
  BOOST_CHECK(!parse_ip(std::string(100, '1')).has_value());
}

BOOST_AUTO_TEST_CASE(mapped_ipv4_is_ipv4) {
  auto a = parse_ip("::ffff:192.0.2.1");
  BOOST_REQUIRE(a);
  BOOST_CHECK(!a->v6);
  BOOST_CHECK(*a == *parse_ip("192.0.2.1"));
  BOOST_CHECK_EQUAL(format_ip(*a), "192.0.2.1");
}

BOOST_AUTO_TEST_CASE(network_key_groups_v4_24_and_v6_64) {
  BOOST_CHECK_EQUAL(network_key(*parse_ip("192.0.2.1")), network_key(*parse_ip("192.0.2.254")));
  BOOST_CHECK_NE(network_key(*parse_ip("192.0.2.1")), network_key(*parse_ip("192.0.3.1")));
  BOOST_CHECK_EQUAL(network_key(*parse_ip("2001:db8:0:1::1")),
                    network_key(*parse_ip("2001:db8:0:1:ffff::9")));
  BOOST_CHECK_NE(network_key(*parse_ip("2001:db8:0:1::1")),
                 network_key(*parse_ip("2001:db8:0:2::1")));
  // 0.0.0.0/24 and ::/64 must not collide.
  BOOST_CHECK_NE(network_key(*parse_ip("0.0.0.1")), network_key(*parse_ip("::1")));
}

BOOST_AUTO_TEST_CASE(cidr) {
  auto c = parse_cidr("64.4.240.0/21");
  BOOST_REQUIRE(c.ok());
  BOOST_CHECK(c->contains(*parse_ip("64.4.247.255")));
  BOOST_CHECK(!c->contains(*parse_ip("64.4.248.0")));
  BOOST_CHECK(!c->contains(*parse_ip("2001:db8::1")));
  auto v6 = parse_cidr("2001:db8::/33");
  BOOST_REQUIRE(v6.ok());
  BOOST_CHECK(v6->contains(*parse_ip("2001:db8:7fff::1")));
  BOOST_CHECK(!v6->contains(*parse_ip("2001:db8:8000::1")));
  auto host = parse_cidr("192.0.2.7");
  BOOST_REQUIRE(host.ok());
  BOOST_CHECK(host->contains(*parse_ip("192.0.2.7")));
  BOOST_CHECK(!host->contains(*parse_ip("192.0.2.8")));
  BOOST_CHECK(parse_cidr("0.0.0.0/0")->contains(*parse_ip("203.0.113.9")));
  BOOST_CHECK(!parse_cidr("192.0.2.1/24").ok());  // host bits set
  BOOST_CHECK(!parse_cidr("192.0.2.0/33").ok());
  BOOST_CHECK(!parse_cidr("192.0.2.0/").ok());
  BOOST_CHECK(!parse_cidr("192.0.2.0/x").ok());
  BOOST_CHECK(!parse_cidr("nonsense/8").ok());
}

BOOST_AUTO_TEST_CASE(domain_comparisons) {
  BOOST_CHECK(same_domain("Example.ORG.", "example.org"));
  BOOST_CHECK(under_domain("mail.paypal.com", "paypal.com"));
  BOOST_CHECK(under_domain("PayPal.com.", ".paypal.com"));
  BOOST_CHECK(!under_domain("evilpaypal.com", "paypal.com"));
  BOOST_CHECK(!under_domain("com", "paypal.com"));
  BOOST_CHECK(!under_domain("paypal.com", ""));
}

BOOST_AUTO_TEST_SUITE_END()
