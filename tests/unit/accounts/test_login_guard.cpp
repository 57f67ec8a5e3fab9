#include <boost/test/unit_test.hpp>

#include "common/base/clock.h"
#include "inner/accounts/login_guard.h"

using nj::ManualClock;
using nj::inner::LoginGuard;
using Verdict = LoginGuard::Verdict;

namespace {

LoginGuard::Options opts() {
  LoginGuard::Options o;
  o.max_failures = 3;
  o.lockout_ms = 600 * 1000;
  o.base_delay_ms = 1000;
  o.max_delay_ms = 8000;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(failures_on_one_connection_lock_it_out_for_a_while) {
  ManualClock clock;
  LoginGuard g(clock, opts());
  BOOST_CHECK(g.before_attempt("alice", 1).verdict == Verdict::check);
  // The reply delay doubles per failure on the connection.
  BOOST_CHECK_EQUAL(g.record_failure("alice", 1), 1000u);
  clock.advance(1);
  BOOST_CHECK(g.before_attempt("alice", 1).verdict == Verdict::check);
  BOOST_CHECK_EQUAL(g.record_failure("alice", 1), 2000u);
  clock.advance(2);
  BOOST_CHECK(g.before_attempt("alice", 1).verdict == Verdict::check);
  BOOST_CHECK_EQUAL(g.record_failure("alice", 1), 4000u);
  // Third failure = max_failures: refused, without a password check, for the lockout, counted
  // from when the (4 s late) failure reply went out.
  clock.advance(10);
  auto d = g.before_attempt("alice", 1);
  BOOST_CHECK(d.verdict == Verdict::refuse);
  BOOST_CHECK_EQUAL(d.wait_ms, 594u * 1000);
  clock.advance(593);
  BOOST_CHECK(g.before_attempt("alice", 1).verdict == Verdict::refuse);
  // The lockout is temporary.
  clock.advance(2);
  BOOST_CHECK(g.before_attempt("alice", 1).verdict == Verdict::check);
  // ... and the connection starts afresh.
  BOOST_CHECK_EQUAL(g.record_failure("alice", 1), 1000u);
  clock.advance(10);
  BOOST_CHECK(g.before_attempt("alice", 1).verdict == Verdict::check);
}

BOOST_AUTO_TEST_CASE(a_lockout_shorter_than_the_reply_delay_still_bites) {
  ManualClock clock;
  auto o = opts();
  o.lockout_ms = 3000;
  LoginGuard g(clock, o);
  g.record_failure("alice", 1);
  g.record_failure("alice", 1);
  uint64_t wait = g.record_failure("alice", 1);  // the third failure is answered 4 s later
  BOOST_CHECK_EQUAL(wait, 4000u);
  clock.advance(4);  // the client hears of it now and tries the right password at once
  BOOST_CHECK(g.before_attempt("alice", 1).verdict == Verdict::refuse);
  clock.advance(4);
  BOOST_CHECK(g.before_attempt("alice", 1).verdict != Verdict::refuse);
}

BOOST_AUTO_TEST_CASE(the_lockout_is_per_account_and_connection) {
  ManualClock clock;
  LoginGuard g(clock, opts());
  for (int i = 0; i < 3; ++i) g.record_failure("alice", 1);
  clock.advance(60);
  BOOST_CHECK(g.before_attempt("alice", 1).verdict == Verdict::refuse);
  // The same connection may try another name; another connection may try this one.
  BOOST_CHECK(g.before_attempt("bob", 1).verdict == Verdict::check);
  BOOST_CHECK(g.before_attempt("alice", 2).verdict == Verdict::check);
}

BOOST_AUTO_TEST_CASE(account_backoff_holds_but_never_refuses_the_owner) {
  ManualClock clock;
  LoginGuard g(clock, opts());
  // An attacker keeps guessing alice's password from fresh connections, as fast as allowed.
  LoginGuard::ConnectionId attacker = 100;
  for (int round = 0; round < 50; ++round) {
    auto d = g.before_attempt("alice", attacker);
    BOOST_REQUIRE(d.verdict != Verdict::refuse);
    if (d.verdict == Verdict::hold) {
      BOOST_CHECK_LE(d.wait_ms, 8000u);  // the account-wide hold is short
      clock.advance(static_cast<int64_t>((d.wait_ms + 999) / 1000));
    }
    g.record_failure("alice", attacker);
    if (round % 3 == 2) ++attacker;  // a new connection before its own lockout bites
  }
  // The owner, on their own connection, right after an attacker failure: held at most
  // max_delay, then checked — and a success clears the account's backoff.
  auto d = g.before_attempt("alice", 7);
  BOOST_CHECK(d.verdict == Verdict::hold);
  BOOST_CHECK_LE(d.wait_ms, 8000u);
  clock.advance(static_cast<int64_t>((d.wait_ms + 999) / 1000));
  g.record_success("alice", 7);
  BOOST_CHECK(g.before_attempt("alice", 7).verdict == Verdict::check);
  BOOST_CHECK(g.before_attempt("alice", 8).verdict == Verdict::check);
}

BOOST_AUTO_TEST_CASE(account_backoff_grows_and_is_capped) {
  ManualClock clock;
  LoginGuard g(clock, opts());
  uint64_t expected[] = {1000, 2000, 4000, 8000, 8000, 8000};
  for (uint64_t e : expected) {
    g.record_failure("alice", clock.monotonic_ms());  // each from a new connection
    auto d = g.before_attempt("alice", 999);
    BOOST_CHECK(d.verdict == Verdict::hold);
    BOOST_CHECK_EQUAL(d.wait_ms, e);
    clock.advance(static_cast<int64_t>(e / 1000));
    BOOST_CHECK(g.before_attempt("alice", 999).verdict == Verdict::check);
  }
  // A long quiet spell forgets the count.
  clock.advance(601);
  g.record_failure("alice", 5);
  BOOST_CHECK_EQUAL(g.before_attempt("alice", 6).wait_ms, 1000u);
}

BOOST_AUTO_TEST_CASE(success_and_close_clear_state) {
  ManualClock clock;
  LoginGuard g(clock, opts());
  g.record_failure("alice", 1);
  g.record_failure("alice", 1);
  clock.advance(5);
  g.record_success("alice", 1);
  BOOST_CHECK_EQUAL(g.tracked_accounts(), 0u);
  // Two more failures do not reach max_failures: the count restarted.
  g.record_failure("alice", 1);
  clock.advance(5);
  g.record_failure("alice", 1);
  clock.advance(5);
  BOOST_CHECK(g.before_attempt("alice", 1).verdict == Verdict::check);
  g.record_failure("bob", 1);
  g.record_failure("alice", 2);
  g.connection_closed(1);
  BOOST_CHECK_EQUAL(g.tracked_connections(), 1u);
}

BOOST_AUTO_TEST_CASE(memory_is_bounded) {
  ManualClock clock;
  auto o = opts();
  o.max_entries = 64;
  LoginGuard g(clock, o);
  for (int i = 0; i < 10000; ++i) {
    g.record_failure("name" + std::to_string(i), static_cast<uint64_t>(i));
  }
  BOOST_CHECK_LE(g.tracked_connections(), 64u);
  BOOST_CHECK_LE(g.tracked_accounts(), 64u);
  // The newest entry survives eviction.
  BOOST_CHECK(g.before_attempt("name9999", 1).verdict == Verdict::hold);
}
