// DialPolicy: a link that opens and drops at once does not reset the back-off; only a link that
// stayed up does; and no hour ever holds more dials than the cap.
#include <boost/test/unit_test.hpp>

#include "inner/link/dial_policy.h"

using nj::inner::DialPolicy;

namespace {
DialPolicy::RandomFn no_jitter() {
  return [](uint32_t n) { return n / 2; };  // the middle of the range: exactly the nominal wait
}
}  // namespace

BOOST_AUTO_TEST_CASE(an_edge_that_hangs_up_after_each_handshake_gets_fewer_and_fewer_dials) {
  DialPolicy::Options o;  // 1 s first, 60 s cap, 60 s to be stable, 30 per hour
  DialPolicy p(o, no_jitter());
  uint64_t now = 0;
  std::vector<uint64_t> waits;
  for (int i = 0; i < 8; ++i) {
    p.dialed(now);
    p.opened(now + 200);  // the handshake completes ...
    now += 300;           // ... and the edge hangs up
    uint64_t w = p.ended(now);
    waits.push_back(w);
    now += w;
  }
  BOOST_TEST(waits[0] == 1000u);
  BOOST_TEST(waits[1] == 2000u);
  BOOST_TEST(waits[5] == 32000u);
  BOOST_TEST(waits[6] == 60000u);  // capped
}

BOOST_AUTO_TEST_CASE(never_more_than_the_cap_in_any_hour) {
  DialPolicy::Options o;
  o.max_backoff_ms = 1000;  // even with a short back-off ...
  o.max_per_hour = 30;      // ... the cap holds
  DialPolicy p(o, no_jitter());
  uint64_t now = 0;
  std::vector<uint64_t> dials;
  while (now < 3 * 3600 * 1000ull) {
    p.dialed(now);
    dials.push_back(now);
    now += 100;
    now += p.ended(now);
  }
  // Every window of one hour holds at most 30 dial starts.
  size_t lo = 0;
  for (size_t hi = 0; hi < dials.size(); ++hi) {
    while (dials[hi] - dials[lo] >= 3600 * 1000ull) ++lo;
    BOOST_TEST_REQUIRE(hi - lo + 1 <= 30u);
  }
  BOOST_TEST(dials.size() >= 85u);  // and the cap does not stop dialing altogether
  BOOST_TEST(dials.size() <= 91u);
}

BOOST_AUTO_TEST_CASE(a_link_that_stayed_up_resets_the_back_off) {
  DialPolicy::Options o;
  DialPolicy p(o, no_jitter());
  uint64_t now = 0;
  for (int i = 0; i < 5; ++i) {
    p.dialed(now);
    now += p.ended(now + 10);
  }
  BOOST_TEST(p.current_backoff_ms() == 32000u);
  p.dialed(now);
  p.opened(now + 500);
  now += 61000;  // up for more than stable_ms
  BOOST_TEST(p.ended(now) == 1000u);
}

BOOST_AUTO_TEST_CASE(jitter_stays_within_a_quarter) {
  DialPolicy::Options o;
  uint32_t seen_max = 0;
  DialPolicy p(o, [&](uint32_t n) {
    seen_max = n;
    return n - 1;  // the top of the range
  });
  p.dialed(0);
  uint64_t w = p.ended(10);
  BOOST_TEST(seen_max == 500u);  // +-25% of 1000 ms
  BOOST_TEST(w == 1249u);
}
