#define BOOST_TEST_MODULE policy
#include <boost/test/unit_test.hpp>
#include <cstdio>

#include "inner/policy/hashcash.h"
#include "tests/unit/policy/mint.h"

using namespace nj::policy;
using nj::policy::test::mint;
using nj::policy::test::mint_light;

namespace {
constexpr int64_t kNow = 1'795'000'000;  // 2026-11-18
const std::string kRes = "quota:alice@users.nightjar.test";
}  // namespace

BOOST_AUTO_TEST_CASE(parses_a_version_1_stamp) {
  auto s = parse_stamp("1:20:261122:quota:alice@x.onion::c4aH+jz4yhx18v/z:00000Ch\r\n");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s->bits == 20);
  BOOST_TEST(s->resource == "quota:alice@x.onion");
  BOOST_TEST(s->date == 1'795'305'600);  // 2026-11-22 00:00 UTC
  auto l = parse_stamp("1:20:2611221230:quota:a@b::r:c");
  BOOST_REQUIRE(l.ok());
  BOOST_TEST(l->date == 1'795'305'600 + 12 * 3600 + 30 * 60);
}

BOOST_AUTO_TEST_CASE(refuses_what_it_does_not_understand) {
  for (const char* bad :
       {"", "0:20:261122:quota:a@b::r:c", "1:20:261122:quota:a@b:ext:r:c",
        "1:x:261122:quota:a@b::r:c", "1:1000:261122:quota:a@b::r:c", "1:161:261122:q:a::r:c",
        "1:20:2611:quota:a@b::r:c", "1:20:261322:quota:a@b::r:c", "1:20:260230:quota:a@b::r:c",
        "1:20:261122:quota:a@b::r:", "1:20:261122:quota:a@b::r!:c", "1:20:261122:::r:c",
        "1:20:261122:a:b:c::r:c", "1:20:261122:quo ta::r:c", "1:20:261122",
        "1:20:2611222561:quota:a@b::r:c"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(!parse_stamp(bad).ok());
    }
  }
  BOOST_TEST(!parse_stamp("1:20:261122:quota:" + std::string(400, 'a') + "::r:c").ok());
  BOOST_TEST(!parse_stamp("1:20:261122:quota:a@b::" + std::string(65, 'r') + ":c").ok());
}

BOOST_AUTO_TEST_CASE(counts_leading_zero_bits_of_sha1) {
  // SHA-1("abc") = a9993e36...: no leading zero bit; the minted stamp has at least 12.
  BOOST_TEST(leading_zero_bits("abc") == 0);
  std::string s = mint(12, 12, kNow, kRes);
  BOOST_TEST(leading_zero_bits(s) >= 12);
}

BOOST_AUTO_TEST_CASE(each_refusal_has_its_own_reason) {
  BOOST_TEST(check_stamp(mint(10, 10, kNow, kRes), kRes, kNow, 10).verdict == StampVerdict::ok);
  // The resource compares without regard to case (addresses are case-insensitive here).
  BOOST_TEST(
      check_stamp(mint(10, 10, kNow, "quota:ALICE@users.nightjar.test"), kRes, kNow, 10).verdict ==
      StampVerdict::ok);
  BOOST_TEST(check_stamp("1:10:26", kRes, kNow, 10).verdict == StampVerdict::malformed);
  BOOST_TEST(
      check_stamp(mint(10, 10, kNow, "quota:bob@users.nightjar.test"), kRes, kNow, 10).verdict ==
      StampVerdict::wrong_resource);
  BOOST_TEST(check_stamp(mint(10, 10, kNow, "bob@users.nightjar.test"), kRes, kNow, 10).verdict ==
             StampVerdict::wrong_resource);
  // Two days of grace for a skewed clock, then future.
  BOOST_TEST(check_stamp(mint(10, 10, kNow + 2 * 86400, kRes), kRes, kNow, 10).verdict ==
             StampVerdict::ok);
  BOOST_TEST(check_stamp(mint(10, 10, kNow + 3 * 86400, kRes), kRes, kNow, 10).verdict ==
             StampVerdict::future);
  // 28 days of validity plus 2 of grace, then expired.
  BOOST_TEST(check_stamp(mint(10, 10, kNow - 29 * 86400, kRes), kRes, kNow, 10).verdict ==
             StampVerdict::ok);
  BOOST_TEST(check_stamp(mint(10, 10, kNow - 31 * 86400, kRes), kRes, kNow, 10).verdict ==
             StampVerdict::expired);
  // Claims more than its hash has; claims less than the cheapest price.
  BOOST_TEST(check_stamp(mint_light(12, kNow, kRes), kRes, kNow, 10).verdict ==
             StampVerdict::underweight);
  BOOST_TEST(check_stamp(mint(8, 8, kNow, kRes), kRes, kNow, 10).verdict ==
             StampVerdict::underweight);
}

BOOST_AUTO_TEST_CASE(accepts_stamps_from_the_real_hashcash_tool) {
  FILE* p = popen("hashcash -mq -b 12 quota:alice@users.nightjar.test 2>/dev/null", "r");
  BOOST_REQUIRE(p != nullptr);
  char buf[512] = {0};
  bool got = fgets(buf, sizeof buf, p) != nullptr;
  int rc = pclose(p);
  BOOST_REQUIRE_MESSAGE(got && rc == 0, "the hashcash tool is required (apt install hashcash)");
  std::string stamp(buf);
  auto c = check_stamp(stamp, kRes, std::time(nullptr), 12);
  BOOST_TEST_CONTEXT(stamp) {
    BOOST_TEST(c.verdict == StampVerdict::ok);
  }
  BOOST_TEST(c.stamp.bits == 12);
}
