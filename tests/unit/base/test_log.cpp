#define BOOST_TEST_MODULE base
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/result.h"

namespace {
std::vector<std::string> g_lines;
void capture(nj::log::Level, std::string_view line) { g_lines.emplace_back(line); }
}  // namespace

BOOST_AUTO_TEST_CASE(redacts_ip_and_address_by_default) {
  nj::log::Options o;
  o.timestamps = false;
  nj::log::init(o);
  nj::log::set_sink(capture);
  g_lines.clear();
  NJ_LOG_INFO("client=%s from=%s", nj::log::ip("192.0.2.7").c_str(),
              nj::log::addr("alice@example.org").c_str());
  nj::log::set_sink(nullptr);
  BOOST_REQUIRE_EQUAL(g_lines.size(), 1u);
  BOOST_CHECK(g_lines[0].find("192.0.2.7") == std::string::npos);
  BOOST_CHECK(g_lines[0].find("alice") == std::string::npos);
  BOOST_CHECK(g_lines[0].find("example.org") == std::string::npos);
  BOOST_CHECK(g_lines[0].find("ip:") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(same_value_same_tag_within_a_run) {
  nj::log::init(nj::log::Options{});
  BOOST_CHECK_EQUAL(nj::log::ip("192.0.2.7"), nj::log::ip("192.0.2.7"));
  BOOST_CHECK_NE(nj::log::ip("192.0.2.7"), nj::log::ip("192.0.2.8"));
  BOOST_CHECK_EQUAL(nj::log::addr(""), "<>");
}

BOOST_AUTO_TEST_CASE(clear_when_redaction_is_off) {
  nj::log::Options o;
  o.redact = false;
  nj::log::init(o);
  BOOST_CHECK_EQUAL(nj::log::ip("192.0.2.7"), "192.0.2.7");
  nj::log::init(nj::log::Options{});
}

BOOST_AUTO_TEST_CASE(level_filters) {
  nj::log::Options o;
  o.level = nj::log::Level::warn;
  nj::log::init(o);
  nj::log::set_sink(capture);
  g_lines.clear();
  NJ_LOG_INFO("hidden");
  NJ_LOG_DEBUG("hidden");
  NJ_LOG_WARN("shown");
  nj::log::set_sink(nullptr);
  BOOST_CHECK_EQUAL(g_lines.size(), 1u);
  nj::log::init(nj::log::Options{});
}

BOOST_AUTO_TEST_CASE(manual_clock_moves_only_when_told) {
  nj::ManualClock c(1000);
  BOOST_CHECK_EQUAL(c.now(), 1000);
  c.advance(300);
  BOOST_CHECK_EQUAL(c.now(), 1300);
  BOOST_CHECK_EQUAL(c.monotonic_ms(), 300000u);
}

BOOST_AUTO_TEST_CASE(result_carries_value_or_error) {
  nj::Result<int> a(5);
  BOOST_CHECK(a.ok());
  BOOST_CHECK_EQUAL(*a, 5);
  nj::Result<int> b(nj::make_error("bad"));
  BOOST_CHECK(!b.ok());
  BOOST_CHECK_EQUAL(b.error(), "bad");
  nj::Status s;
  BOOST_CHECK(s.ok());
}
