#include <boost/test/unit_test.hpp>

#include "inner/policy/delay.h"

using namespace nj::policy;

namespace {
constexpr int64_t kMidnight = 1'795'305'600;  // 2026-11-22 00:00 UTC
Uniform fixed(uint64_t v) {
  return [v](uint64_t bound) { return v < bound ? v : bound - 1; };
}
}  // namespace

BOOST_AUTO_TEST_CASE(delay_class_names) {
  BOOST_TEST(parse_delay_class("none").has_value());
  BOOST_TEST((*parse_delay_class("batch") == DelayClass::batch));
  BOOST_TEST(!parse_delay_class("Defer").has_value());
  BOOST_TEST(!parse_delay_class("").has_value());
  BOOST_TEST(std::string(to_string(DelayClass::defer)) == "defer");
}

BOOST_AUTO_TEST_CASE(none_leaves_at_once) {
  DelayRules r;
  BOOST_TEST(due_time(DelayClass::none, kMidnight + 5, r, fixed(0)) == kMidnight + 5);
}

BOOST_AUTO_TEST_CASE(defer_stays_inside_its_window) {
  DelayRules r;  // 2000..4000 s
  int64_t t = kMidnight + 777;
  BOOST_TEST(due_time(DelayClass::defer, t, r, fixed(0)) == t + 2000);
  BOOST_TEST(due_time(DelayClass::defer, t, r, fixed(5000)) == t + 4000);
  BOOST_TEST(due_time(DelayClass::defer, t, r, fixed(1234)) == t + 3234);
  // With the real random source, every draw is inside the window and both halves are hit.
  bool low = false, high = false;
  uint64_t state = 88172645463325252ull;
  Uniform xorshift = [&state](uint64_t bound) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state % bound;
  };
  for (int i = 0; i < 1000; ++i) {
    int64_t d = due_time(DelayClass::defer, t, r, xorshift) - t;
    BOOST_REQUIRE(d >= 2000);
    BOOST_REQUIRE(d <= 4000);
    low |= d < 3000;
    high |= d > 3000;
  }
  BOOST_TEST((low && high));
  DelayRules tiny{.defer_min = 2, .defer_max = 2, .batch_times = {}};
  BOOST_TEST(due_time(DelayClass::defer, t, tiny, fixed(9)) == t + 2);
}

BOOST_AUTO_TEST_CASE(batch_waits_for_the_next_batch_time_utc) {
  DelayRules r;  // 00:00 and 12:00 UTC
  BOOST_TEST(due_time(DelayClass::batch, kMidnight + 1, r, fixed(0)) == kMidnight + 12 * 3600);
  BOOST_TEST(due_time(DelayClass::batch, kMidnight + 12 * 3600 - 1, r, fixed(0)) ==
             kMidnight + 12 * 3600);
  // Exactly at a batch time: the next one.
  BOOST_TEST(due_time(DelayClass::batch, kMidnight + 12 * 3600, r, fixed(0)) == kMidnight + 86400);
  BOOST_TEST(due_time(DelayClass::batch, kMidnight + 23 * 3600, r, fixed(0)) == kMidnight + 86400);
  DelayRules odd{.defer_min = 1, .defer_max = 1, .batch_times = {6 * 3600 + 30 * 60}};
  BOOST_TEST(due_time(DelayClass::batch, kMidnight + 7 * 3600, odd, fixed(0)) ==
             kMidnight + 86400 + 6 * 3600 + 30 * 60);
}
