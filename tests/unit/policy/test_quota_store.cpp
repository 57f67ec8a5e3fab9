#include <boost/test/unit_test.hpp>
#include <memory>

#include "common/base/clock.h"
#include "common/store/lmdb.h"
#include "inner/policy/quota_store.h"
#include "tests/unit/policy/mint.h"
#include "tests/unit/store/temp_dir.h"

using namespace nj;
using namespace nj::policy;
using nj::policy::test::mint;

namespace {

constexpr int64_t kMidnight = 1'795'305'600;  // 2026-11-22 00:00 UTC
const std::string kAlice = "acct-alice";
const std::string kAddr = "alice@users.nightjar.test";

struct QuotaFixture {
  store::test::TempDir dir;
  std::unique_ptr<store::Env> env;
  std::unique_ptr<QuotaStore> q;
  ManualClock clock{kMidnight + 10 * 3600};

  explicit QuotaFixture(QuotaRules rules = cheap()) {
    auto e = store::Env::open(dir.sub("store"));
    BOOST_REQUIRE(e.ok());
    env = std::make_unique<store::Env>(std::move(*e));
    auto s = QuotaStore::open(*env, std::move(rules));
    BOOST_REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error()));
    q = std::move(*s);
  }
  // Cheap prices so stamps mint in microseconds; the logic is the same as 20/22/24 bits.
  static QuotaRules cheap() {
    QuotaRules r;
    r.daily = 3;
    r.prices = {{8, 2}, {10, 4}, {12, 8}};
    return r;
  }
  template <class F>
  auto write(F f) {
    auto t = env->begin_write();
    BOOST_REQUIRE(t.ok());
    auto r = f(*t);
    if (r.ok()) BOOST_REQUIRE(t->commit().ok());
    return r;
  }
  Status charge(uint32_t n) {
    return write([&](store::Txn& t) { return q->charge_in(t, kAlice, n, clock.now()); });
  }
  uint64_t remaining() {
    auto a = q->allowance(kAlice, clock.now());
    BOOST_REQUIRE(a.ok());
    return a->remaining();
  }
  StampResult spend(const std::string& stamp) {
    auto r = write(
        [&](store::Txn& t) { return q->spend_stamp_in(t, kAlice, kAddr, stamp, clock.now()); });
    BOOST_REQUIRE(r.ok());
    return *r;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(daily_quota_resets_at_midnight_utc) {
  QuotaFixture f;
  BOOST_TEST(f.remaining() == 3u);
  BOOST_TEST(f.charge(2).ok());
  BOOST_TEST(f.remaining() == 1u);
  BOOST_TEST(!f.charge(2).ok());  // all or nothing
  BOOST_TEST(f.remaining() == 1u);
  BOOST_TEST(f.charge(1).ok());
  BOOST_TEST(f.remaining() == 0u);
  BOOST_TEST(!f.charge(1).ok());
  f.clock.set(kMidnight + 86400 - 1);  // 23:59:59 the same day
  BOOST_TEST(f.remaining() == 0u);
  f.clock.set(kMidnight + 86400);  // 00:00:00 UTC
  BOOST_TEST(f.remaining() == 3u);
  BOOST_TEST(f.charge(3).ok());
  // Another account is untouched.
  auto b = f.q->allowance("acct-bob", f.clock.now());
  BOOST_TEST(b->remaining() == 3u);
}

BOOST_AUTO_TEST_CASE(a_charge_in_an_aborted_transaction_is_not_spent) {
  QuotaFixture f;
  {
    auto t = f.env->begin_write();
    BOOST_REQUIRE(f.q->charge_in(*t, kAlice, 3, f.clock.now()).ok());
    // no commit: the message's commit failed
  }
  BOOST_TEST(f.remaining() == 3u);
}

BOOST_AUTO_TEST_CASE(credits_are_used_after_the_day_and_expire_after_24_hours) {
  QuotaFixture f;
  BOOST_TEST(
      f.write([&](store::Txn& t) { return f.q->grant_in(t, kAlice, 5, f.clock.now()); }).ok());
  int64_t bought = f.clock.now();
  BOOST_TEST(f.remaining() == 8u);
  BOOST_TEST(f.charge(4).ok());  // 3 from the day, 1 from the credit
  auto a = f.q->allowance(kAlice, f.clock.now());
  BOOST_TEST(a->used_today == 3u);
  BOOST_TEST(a->credits == 4u);
  BOOST_TEST(a->credits_expire == bought + 86400);
  // The next day the quota is back and the credit is still there until 24 h after purchase.
  f.clock.set(bought + 86400 - 1);
  BOOST_TEST(f.remaining() == 3u + 4u);
  f.clock.set(bought + 86400);
  BOOST_TEST(f.remaining() == 3u);
  BOOST_TEST(!f.charge(4).ok());
}

BOOST_AUTO_TEST_CASE(soonest_expiring_credit_is_used_first) {
  QuotaFixture f;
  BOOST_TEST(
      f.write([&](store::Txn& t) { return f.q->grant_in(t, kAlice, 2, f.clock.now()); }).ok());
  f.clock.advance(3600);
  BOOST_TEST(
      f.write([&](store::Txn& t) { return f.q->grant_in(t, kAlice, 2, f.clock.now()); }).ok());
  BOOST_TEST(f.charge(3 + 3).ok());  // the day, the first credit, one of the second
  f.clock.advance(86400 - 3600);     // the first credit would have expired now
  BOOST_TEST(f.q->allowance(kAlice, f.clock.now())->credits == 1u);
}

BOOST_AUTO_TEST_CASE(stamps_buy_recipients_once) {
  QuotaFixture f;
  int64_t now = f.clock.now();
  auto s10 = mint(10, 10, now, "quota:" + kAddr);
  auto r = f.spend(s10);
  BOOST_TEST((r.verdict == StampVerdict::ok));
  BOOST_TEST(r.credited == 4u);
  BOOST_TEST(f.remaining() == 3u + 4u);
  // The same stamp again, even with other surrounding blanks, is spent.
  r = f.spend("  " + s10 + "\r\n");
  BOOST_TEST((r.verdict == StampVerdict::spent));
  BOOST_TEST(r.credited == 0u);
  // 11 bits buy the 10-bit price; 13 bits the 12-bit price.
  BOOST_TEST(f.spend(mint(11, 11, now, "quota:" + kAddr)).credited == 4u);
  BOOST_TEST(f.spend(mint(13, 13, now, "quota:" + kAddr)).credited == 8u);
  BOOST_TEST(f.remaining() == 3u + 4u + 4u + 8u);
  BOOST_TEST(*f.q->spent_count() == 3u);
}

BOOST_AUTO_TEST_CASE(every_refused_stamp_says_why_and_buys_nothing) {
  QuotaFixture f;
  int64_t now = f.clock.now();
  std::string res = "quota:" + kAddr;
  BOOST_TEST((f.spend(mint(8, 8, now + 3 * 86400, res)).verdict == StampVerdict::future));
  BOOST_TEST((f.spend(mint(8, 8, now - 31 * 86400, res)).verdict == StampVerdict::expired));
  BOOST_TEST((f.spend(mint(6, 6, now, res)).verdict == StampVerdict::underweight));
  BOOST_TEST((f.spend(test::mint_light(10, now, res)).verdict == StampVerdict::underweight));
  BOOST_TEST((f.spend(mint(8, 8, now, "quota:bob@users.nightjar.test")).verdict ==
              StampVerdict::wrong_resource));
  BOOST_TEST((f.spend("1:8:garbage").verdict == StampVerdict::malformed));
  BOOST_TEST(f.remaining() == 3u);
  BOOST_TEST(*f.q->spent_count() == 0u);
}

BOOST_AUTO_TEST_CASE(spent_stamps_are_purged_when_they_could_no_longer_be_used) {
  QuotaFixture f;
  int64_t now = f.clock.now();
  std::string res = "quota:" + kAddr;
  auto old = mint(8, 8, now - 20 * 86400, res, "b2xk");
  auto fresh = mint(8, 8, now, res, "ZnJlc2g");
  BOOST_TEST((f.spend(old).verdict == StampVerdict::ok));
  BOOST_TEST((f.spend(fresh).verdict == StampVerdict::ok));
  BOOST_TEST(*f.q->spent_count() == 2u);
  // 11 days later the old one is past 28 + 2 days (dates are whole days: allow one more).
  f.clock.advance(11 * 86400);
  auto n = f.write([&](store::Txn& t) { return f.q->purge_in(t, f.clock.now()); });
  BOOST_REQUIRE(n.ok());
  BOOST_TEST(*n == 3u);  // the old stamp and both (expired) credits
  BOOST_TEST(*f.q->spent_count() == 1u);
  // Once purged it would still be refused: as expired, not as good.
  BOOST_TEST((f.spend(old).verdict == StampVerdict::expired));
  // The fresh one is still remembered.
  BOOST_TEST((f.spend(fresh).verdict == StampVerdict::spent));
  f.clock.advance(20 * 86400);
  BOOST_TEST(f.write([&](store::Txn& t) { return f.q->purge_in(t, f.clock.now()); }).ok());
  BOOST_TEST(*f.q->spent_count() == 0u);
}

BOOST_AUTO_TEST_CASE(forget_removes_an_account) {
  QuotaFixture f;
  BOOST_TEST(
      f.write([&](store::Txn& t) { return f.q->grant_in(t, kAlice, 5, f.clock.now()); }).ok());
  BOOST_TEST(f.charge(4).ok());
  BOOST_TEST(f.write([&](store::Txn& t) { return f.q->forget_in(t, kAlice); }).ok());
  BOOST_TEST(f.remaining() == 3u);
}
