#include <boost/test/unit_test.hpp>
#include <vector>

#include "edge/outbound/deliverer.h"

using namespace nj::edge::outbound;

BOOST_AUTO_TEST_CASE(limiter_grants_up_to_limit_then_fifo) {
  ConcurrencyLimiter l(2);
  std::vector<int> granted;
  l.acquire("host:a", [&] { granted.push_back(1); });
  l.acquire("host:a", [&] { granted.push_back(2); });
  l.acquire("host:a", [&] { granted.push_back(3); });
  auto t4 = l.acquire("host:a", [&] { granted.push_back(4); });
  l.acquire("host:a", [&] { granted.push_back(5); });
  l.acquire("host:b", [&] { granted.push_back(10); });  // other hosts are independent
  BOOST_CHECK((granted == std::vector<int>{1, 2, 10}));
  BOOST_CHECK_EQUAL(l.active("host:a"), 2u);
  BOOST_CHECK_EQUAL(l.waiting("host:a"), 3u);
  l.cancel("host:a", t4);
  l.release("host:a");
  BOOST_CHECK((granted == std::vector<int>{1, 2, 10, 3}));
  l.release("host:a");
  BOOST_CHECK((granted == std::vector<int>{1, 2, 10, 3, 5}));
  BOOST_CHECK_EQUAL(l.active("host:a"), 2u);
  l.release("host:a");
  l.release("host:a");
  BOOST_CHECK_EQUAL(l.active("host:a"), 0u);
  l.release("host:a");  // an extra release does not go negative
  BOOST_CHECK_EQUAL(l.active("host:a"), 0u);
}
