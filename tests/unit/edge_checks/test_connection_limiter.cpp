#include <boost/test/unit_test.hpp>
#include <vector>

#include "edge/checks/connection_limiter.h"

using nj::checks::ConnectionLimiter;
using nj::checks::ConnectionLimits;

BOOST_AUTO_TEST_SUITE(connection_limiter)

BOOST_AUTO_TEST_CASE(per_network_limit_v4_24) {
  ConnectionLimiter lim(ConnectionLimits{10, 2});
  auto a = lim.acquire("192.0.2.1");
  auto b = lim.acquire("192.0.2.200");
  BOOST_CHECK(a.admitted());
  BOOST_CHECK(b.admitted());
  BOOST_CHECK(a.decision.accept);
  auto c = lim.acquire("192.0.2.3");
  BOOST_CHECK(!c.admitted());
  BOOST_CHECK_EQUAL(c.decision.smtp_line(), "421 4.7.0 Too many connections, try again later");
  BOOST_CHECK(c.decision.reason.find("192.0.2") == std::string::npos);
  // Another /24 is not affected.
  auto d = lim.acquire("192.0.3.1");
  BOOST_CHECK(d.admitted());
  BOOST_CHECK_EQUAL(lim.total(), 3u);
  // A slot frees when its ticket goes.
  a.ticket.release();
  BOOST_CHECK_EQUAL(lim.count_for("192.0.2.9"), 1u);
  BOOST_CHECK(lim.acquire("192.0.2.3").admitted());
}

BOOST_AUTO_TEST_CASE(per_network_limit_v6_64) {
  ConnectionLimiter lim(ConnectionLimits{10, 1});
  auto a = lim.acquire("2001:db8:1:2::1");
  BOOST_CHECK(a.admitted());
  BOOST_CHECK(!lim.acquire("2001:db8:1:2:ffff:ffff:ffff:ffff").admitted());
  BOOST_CHECK(lim.acquire("2001:db8:1:3::1").admitted());
}

BOOST_AUTO_TEST_CASE(total_limit) {
  ConnectionLimiter lim(ConnectionLimits{2, 5});
  auto a = lim.acquire("192.0.2.1");
  auto b = lim.acquire("198.51.100.1");
  auto c = lim.acquire("203.0.113.1");
  BOOST_CHECK(a.admitted() && b.admitted());
  BOOST_CHECK(!c.admitted());
  BOOST_CHECK_EQUAL(c.decision.code, 421);
  BOOST_CHECK_EQUAL(c.decision.enhanced, "4.7.0");
  BOOST_CHECK_EQUAL(c.decision.reason, "connection limit: total");
}

BOOST_AUTO_TEST_CASE(raii_release_and_move) {
  ConnectionLimiter lim(ConnectionLimits{3, 3});
  {
    std::vector<ConnectionLimiter::Ticket> held;
    for (int i = 0; i < 3; ++i) held.push_back(std::move(lim.acquire("192.0.2.1").ticket));
    BOOST_CHECK_EQUAL(lim.total(), 3u);
    BOOST_CHECK(!lim.acquire("192.0.2.1").admitted());
    ConnectionLimiter::Ticket moved = std::move(held[0]);
    BOOST_CHECK(!held[0].held());
    BOOST_CHECK(moved.held());
    moved = std::move(held[1]);  // releases the slot moved held before
    BOOST_CHECK_EQUAL(lim.total(), 2u);
  }
  BOOST_CHECK_EQUAL(lim.total(), 0u);
  BOOST_CHECK_EQUAL(lim.networks(), 0u);
}

BOOST_AUTO_TEST_CASE(unparseable_addresses_share_one_bucket) {
  ConnectionLimiter lim(ConnectionLimits{10, 1});
  auto a = lim.acquire("garbage");
  BOOST_CHECK(a.admitted());
  BOOST_CHECK(!lim.acquire("other garbage").admitted());
}

BOOST_AUTO_TEST_CASE(zero_limit_leaves_no_bucket) {
  ConnectionLimiter lim(ConnectionLimits{10, 0});
  BOOST_CHECK(!lim.acquire("192.0.2.1").admitted());
  BOOST_CHECK_EQUAL(lim.networks(), 0u);
}

BOOST_AUTO_TEST_SUITE_END()
