// The time texts people read in status, listings and notes (common/base/clock.h).
#define BOOST_TEST_MODULE clock
#include <boost/test/unit_test.hpp>

#include "common/base/clock.h"

BOOST_AUTO_TEST_CASE(times_and_ages) {
  BOOST_TEST(nj::utc_text(0, nj::UtcStyle::seconds) == "1970-01-01 00:00:00 UTC");
  BOOST_TEST(nj::utc_text(1796652003, nj::UtcStyle::seconds) == "2026-12-07 14:00:03 UTC");
  BOOST_TEST(nj::age_text(-5) == "0s");
  BOOST_TEST(nj::age_text(0) == "0s");
  BOOST_TEST(nj::age_text(59) == "59s");
  BOOST_TEST(nj::age_text(60) == "1m");
  BOOST_TEST(nj::age_text(302) == "5m 2s");
  BOOST_TEST(nj::age_text(3600) == "1h");
  BOOST_TEST(nj::age_text(3 * 3600 + 4 * 60 + 59) == "3h 4m");
  BOOST_TEST(nj::age_text(2 * 86400 + 3 * 3600 + 7) == "2d 3h");
}

BOOST_AUTO_TEST_CASE(utc_styles) {
  BOOST_TEST(nj::utc_text(1796652003) == "2026-12-07T14:00:03Z");
  BOOST_TEST(nj::utc_text(1796652003, nj::UtcStyle::minutes) == "2026-12-07 14:00 UTC");
}
