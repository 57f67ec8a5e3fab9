// InboundSchedule: due order, back-off with jitter, lifetime, the link's loss. Times are plain
// numbers from a ManualClock; the jitter comes from fixed random functions.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "edge/queue/inbound_schedule.h"

using namespace nj;
using namespace nj::edge;
using namespace std::chrono_literals;

namespace {

using Ids = std::vector<std::string>;

// The middle of the jitter range: the nominal delay exactly.
uint32_t mid(uint32_t upper) {
  return upper / 2;
}

outbound::BackoffPolicy defaults() {
  return InboundSchedule::policy(1min, 1h, 5 * 24h);
}

struct Fixture {
  ManualClock clock;
  InboundSchedule s{defaults(), mid};
  int64_t now() const { return clock.now(); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(policy_from_the_configuration) {
  auto p = defaults();
  BOOST_CHECK_EQUAL(p.initial_s, 60);
  BOOST_CHECK_EQUAL(p.max_s, 3600);
  BOOST_CHECK_EQUAL(p.jitter_percent, 25u);
  BOOST_CHECK_EQUAL(p.max_lifetime_s, 5 * 86400);
}

BOOST_FIXTURE_TEST_CASE(new_messages_are_due_at_once_oldest_first, Fixture) {
  BOOST_CHECK(!s.next_due());
  BOOST_CHECK(s.add("c", now() - 10, now()));
  BOOST_CHECK(s.add("a", now() - 30, now()));
  BOOST_CHECK(s.add("b", now() - 20, now()));
  BOOST_CHECK(!s.add("a", now(), now()));  // known: unchanged
  BOOST_CHECK_EQUAL(s.find("a")->queued_at, now() - 30);
  BOOST_CHECK_EQUAL(s.size(), 3u);
  BOOST_CHECK(s.due(now(), 10) == (Ids{"a", "b", "c"}));
  BOOST_CHECK(s.due(now(), 2) == (Ids{"a", "b"}));  // bounded
  BOOST_CHECK(s.due(now() - 1, 10).empty());        // not due before it was added
  BOOST_CHECK_EQUAL(*s.next_due(), now());
}

BOOST_FIXTURE_TEST_CASE(in_flight_messages_are_not_due, Fixture) {
  s.add("a", now() - 30, now());
  s.add("b", now() - 20, now());
  BOOST_CHECK(s.mark_in_flight("a"));
  BOOST_CHECK(!s.mark_in_flight("a"));
  BOOST_CHECK(!s.mark_in_flight("zz"));
  BOOST_CHECK(s.find("a")->in_flight);
  BOOST_CHECK_EQUAL(s.in_flight(), 1u);
  BOOST_CHECK(s.due(now(), 10) == (Ids{"b"}));
  BOOST_CHECK(s.mark_in_flight("b"));
  BOOST_CHECK(s.due(now() + 86400, 10).empty());
  BOOST_CHECK(!s.next_due());  // nothing for the timer while all wait for answers
}

BOOST_FIXTURE_TEST_CASE(deferral_backs_off_doubling_up_to_the_cap, Fixture) {
  s.add("a", now(), now());
  const int64_t expected[] = {60, 120, 240, 480, 960, 1920, 3600, 3600, 3600};
  for (int64_t delay : expected) {
    BOOST_REQUIRE(s.mark_in_flight("a"));
    auto next = s.deferred("a", now());
    BOOST_REQUIRE(next);
    BOOST_CHECK_EQUAL(*next, now() + delay);
    BOOST_CHECK_EQUAL(s.find("a")->next_attempt, now() + delay);
    BOOST_CHECK(!s.find("a")->in_flight);
    BOOST_CHECK(s.due(now() + delay - 1, 10).empty());
    BOOST_CHECK(s.due(now() + delay, 10) == (Ids{"a"}));
    BOOST_CHECK_EQUAL(*s.next_due(), now() + delay);
    clock.advance(delay);
  }
  BOOST_CHECK_EQUAL(s.find("a")->attempts, 9u);
  BOOST_CHECK(!s.deferred("zz", now()));
}

BOOST_AUTO_TEST_CASE(jitter_moves_the_delay_by_at_most_a_quarter) {
  ManualClock clock;
  // rand(upper) answers 0 (the low end) and upper - 1 (the high end) of [-span, +span].
  InboundSchedule low(defaults(), [](uint32_t) { return 0u; });
  InboundSchedule high(defaults(), [](uint32_t upper) { return upper - 1; });
  for (auto* s : {&low, &high}) {
    s->add("a", clock.now(), clock.now());
    s->mark_in_flight("a");
  }
  BOOST_CHECK_EQUAL(*low.deferred("a", clock.now()), clock.now() + 45);
  BOOST_CHECK_EQUAL(*high.deferred("a", clock.now()), clock.now() + 75);
  // At the cap: 1h +- 15 min.
  for (int i = 0; i < 10; ++i) {
    low.deferred("a", clock.now());
    high.deferred("a", clock.now());
  }
  BOOST_CHECK_EQUAL(low.find("a")->next_attempt, clock.now() + 2700);
  BOOST_CHECK_EQUAL(high.find("a")->next_attempt, clock.now() + 4500);
}

BOOST_FIXTURE_TEST_CASE(a_deferred_message_does_not_hold_up_new_ones, Fixture) {
  s.add("old", now() - 100, now());
  s.mark_in_flight("old");
  s.deferred("old", now());
  clock.advance(5);
  s.add("new", now(), now());
  BOOST_CHECK(s.due(now(), 10) == (Ids{"new"}));
  clock.advance(55);
  s.mark_in_flight("new");
  BOOST_CHECK(s.due(now(), 10) == (Ids{"old"}));
}

BOOST_FIXTURE_TEST_CASE(lost_link_makes_in_flight_messages_due_keeping_back_off, Fixture) {
  s.add("a", now(), now());
  s.add("b", now(), now());
  s.add("c", now(), now());
  s.mark_in_flight("a");
  s.deferred("a", now());  // refused once: waits 60 s
  clock.advance(60);
  s.mark_in_flight("a");  // offered again
  s.mark_in_flight("b");
  s.mark_in_flight("c");
  s.deferred("c", now());  // answered before the loss: waits 60 s from now
  BOOST_CHECK(s.due(now(), 10).empty());
  s.link_lost();
  BOOST_CHECK_EQUAL(s.in_flight(), 0u);
  BOOST_CHECK(!s.find("a")->in_flight && !s.find("b")->in_flight);
  BOOST_CHECK_EQUAL(s.find("a")->attempts, 1u);  // the lost offer was never answered
  BOOST_CHECK_EQUAL(s.find("b")->attempts, 0u);
  BOOST_CHECK(s.due(now(), 10) == (Ids{"b", "a"}));  // b was due earlier than a
  BOOST_CHECK_EQUAL(s.find("c")->next_attempt, now() + 60);
  // a's next refusal is its second: 120 s.
  s.mark_in_flight("a");
  BOOST_CHECK_EQUAL(*s.deferred("a", now()), now() + 120);
}

BOOST_FIXTURE_TEST_CASE(removed_messages_are_forgotten, Fixture) {
  s.add("a", now(), now());
  s.add("b", now(), now());
  s.mark_in_flight("a");
  BOOST_CHECK(s.remove("a"));  // acknowledged while in flight
  BOOST_CHECK(s.remove("b"));  // refused for good while waiting
  BOOST_CHECK(!s.remove("b"));
  BOOST_CHECK_EQUAL(s.size(), 0u);
  BOOST_CHECK_EQUAL(s.in_flight(), 0u);
  BOOST_CHECK(!s.next_due());
  s.link_lost();  // nothing comes back
  BOOST_CHECK(s.due(now(), 10).empty());
  BOOST_CHECK(!s.find("a"));
}

BOOST_FIXTURE_TEST_CASE(last_attempt_after_the_lifetime, Fixture) {
  const int64_t lifetime = 5 * 86400;
  s.add("a", now() - 100, now());
  BOOST_CHECK(!s.last_attempt("a", now()));
  BOOST_CHECK(!s.last_attempt("a", now() - 100 + lifetime - 1));
  BOOST_CHECK(s.last_attempt("a", now() - 100 + lifetime));
  BOOST_CHECK(!s.last_attempt("zz", now() + 10 * lifetime));
  // Loaded at start after the lifetime: due at once, and the offer is the last.
  s.add("late", now() - lifetime - 1, now());
  BOOST_CHECK(s.due(now(), 1) == (Ids{"late"}));
  BOOST_CHECK(s.last_attempt("late", now()));
}

BOOST_FIXTURE_TEST_CASE(the_back_off_never_passes_the_end_of_the_lifetime, Fixture) {
  const int64_t lifetime = 5 * 86400;
  const int64_t queued = now();
  s.add("a", queued, now());
  clock.set(queued + lifetime - 600);  // 10 min before the end; the back-off says 1 h
  for (int i = 0; i < 7; ++i) {
    s.mark_in_flight("a");
    s.deferred("a", now());
  }
  BOOST_CHECK_EQUAL(s.find("a")->next_attempt, queued + lifetime);
  clock.set(queued + lifetime);
  BOOST_CHECK(s.due(now(), 1) == (Ids{"a"}));
  BOOST_CHECK(s.last_attempt("a", now()));
  // Past the end, refused even on the last attempt (the inner could not take it at all):
  // the normal back-off again, the flag stays.
  s.mark_in_flight("a");
  BOOST_CHECK_EQUAL(*s.deferred("a", now()), now() + 3600);
  BOOST_CHECK(s.last_attempt("a", now() + 3600));
}

BOOST_FIXTURE_TEST_CASE(a_large_queue_answers_only_what_is_asked, Fixture) {
  // 50,000 waiting messages, most of them backed off: due() looks at the head only, and the
  // earliest is found without a scan (an O(n) due() would still pass this test; the sizes
  // of its answers are what is checked here).
  for (int i = 0; i < 50000; ++i) s.add("m" + std::to_string(i), now(), now());
  for (int i = 0; i < 49990; ++i) {
    s.mark_in_flight("m" + std::to_string(i));
    s.deferred("m" + std::to_string(i), now());
  }
  BOOST_CHECK_EQUAL(s.due(now(), 100).size(), 10u);
  BOOST_CHECK_EQUAL(s.due(now(), 3).size(), 3u);
  BOOST_CHECK_EQUAL(*s.next_due(), now());
  for (const auto& id : s.due(now(), 100)) s.remove(id);
  BOOST_CHECK_EQUAL(*s.next_due(), now() + 60);
  BOOST_CHECK_EQUAL(s.due(now() + 60, 1000).size(), 1000u);
}
