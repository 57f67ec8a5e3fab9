// VerifyGuard: the rate limit, the enumeration cool-down (which refuses names that exist too),
// its growth when repeated, what a DELIVER's unknown recipients do to it, and the one log line
// per cool-down; lookup_recipient and Mailbox::full against a real store.
#include <boost/test/unit_test.hpp>
#include <map>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "inner/link/verify_guard.h"
#include "tests/unit/accounts/fixture.h"

using namespace nj;
using namespace nj::inner;
using link::VerifyOutcome;

namespace {

std::vector<std::string> g_lines;
void capture(log::Level, std::string_view line) {
  g_lines.emplace_back(line);
}

// A directory where names starting with "u" exist, "f" are full, everything else is unknown;
// it counts how often it was asked.
struct Directory {
  size_t asked = 0;
  VerifyGuard::Lookup lookup() {
    return [this](std::string_view r) {
      ++asked;
      if (!r.empty() && r[0] == 'u') return VerifyOutcome::exists;
      if (!r.empty() && r[0] == 'f') return VerifyOutcome::full;
      return VerifyOutcome::unknown;
    };
  }
};

struct GuardFixture {
  ManualClock clock;
  Directory dir;
  VerifyGuard::Options opt;
  GuardFixture() {
    opt.rate = 10;
    opt.burst = 100;
    opt.max_unknown = 20;
    opt.window_ms = 600'000;
    opt.cooldown_ms = 600'000;
    opt.max_cooldown_ms = 3'600'000;
    opt.repeat_ms = 86'400'000;
    g_lines.clear();
    log::set_sink(capture);
  }
  ~GuardFixture() { log::set_sink(nullptr); }
  uint64_t now() const { return clock.monotonic_ms(); }
  // `n` unknown names, spaced so the rate limit never bites.
  void guess(VerifyGuard& g, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      clock.advance(1);
      (void)g.answer("guess" + std::to_string(i), now());
    }
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(verify_guard, GuardFixture)

BOOST_AUTO_TEST_CASE(answers_from_the_lookup_when_within_limits) {
  VerifyGuard g(dir.lookup(), opt);
  BOOST_CHECK(g.answer("user", now()) == VerifyOutcome::exists);
  BOOST_CHECK(g.answer("full", now()) == VerifyOutcome::full);
  BOOST_CHECK(g.answer("nobody", now()) == VerifyOutcome::unknown);
  BOOST_CHECK_EQUAL(dir.asked, 3u);
}

BOOST_AUTO_TEST_CASE(over_the_rate_is_temporary_and_asks_nothing) {
  VerifyGuard g(dir.lookup(), opt);
  for (int i = 0; i < 100; ++i) BOOST_REQUIRE(g.answer("user", now()) == VerifyOutcome::exists);
  BOOST_CHECK(g.answer("user", now()) == VerifyOutcome::temporary);  // the burst is spent
  BOOST_CHECK_EQUAL(dir.asked, 100u);
  BOOST_CHECK_EQUAL(g.stats().rate_refused, 1u);
  // 10 a second: one more after 100 ms, not two. (ManualClock moves by seconds: explicit
  // milliseconds from here.)
  const uint64_t t = now();
  BOOST_CHECK(g.answer("user", t + 100) == VerifyOutcome::exists);
  BOOST_CHECK(g.answer("user", t + 100) == VerifyOutcome::temporary);
  BOOST_CHECK(g.answer("user", t + 1100) == VerifyOutcome::exists);
  // A long pause refills to the burst, not beyond.
  int ok = 0;
  for (int i = 0; i < 150; ++i) ok += g.answer("user", t + 3'600'000) == VerifyOutcome::exists;
  BOOST_CHECK_EQUAL(ok, 100);
  // Logged, but not once per refusal, and without the name.
  size_t rate_lines = 0;
  for (const auto& l : g_lines) {
    if (l.find("VERIFY over") != std::string::npos) ++rate_lines;
    BOOST_CHECK(l.find("user") == std::string::npos);
  }
  BOOST_CHECK_GE(rate_lines, 1u);
  BOOST_CHECK_LE(rate_lines, 3u);
}

BOOST_AUTO_TEST_CASE(too_many_unknowns_start_a_cool_down_that_refuses_existing_names_too) {
  VerifyGuard g(dir.lookup(), opt);
  for (size_t i = 0; i < 20; ++i) {
    clock.advance(1);
    BOOST_REQUIRE(g.answer("guess" + std::to_string(i), now()) == VerifyOutcome::unknown);
  }
  BOOST_CHECK(!g.cooling_down(now()));
  // The 21st unknown in ten minutes starts it, and is not told either.
  BOOST_CHECK(g.answer("guess21", now()) == VerifyOutcome::temporary);
  BOOST_CHECK(g.cooling_down(now()));
  const size_t asked = dir.asked;
  // Existing, full and unknown names all get the same answer; the directory is not even asked.
  BOOST_CHECK(g.answer("user", now()) == VerifyOutcome::temporary);
  BOOST_CHECK(g.answer("full", now()) == VerifyOutcome::temporary);
  BOOST_CHECK(g.answer("nobody", now()) == VerifyOutcome::temporary);
  BOOST_CHECK_EQUAL(dir.asked, asked);
  BOOST_CHECK_EQUAL(g.stats().cooldowns, 1u);
  // Ten minutes later: answers again.
  clock.advance(600);
  BOOST_CHECK(!g.cooling_down(now()));
  BOOST_CHECK(g.answer("user", now()) == VerifyOutcome::exists);
  BOOST_CHECK(g.answer("nobody", now()) == VerifyOutcome::unknown);
}

BOOST_AUTO_TEST_CASE(asking_for_existing_names_between_guesses_does_not_avoid_it) {
  VerifyGuard g(dir.lookup(), opt);
  size_t told = 0;
  for (size_t i = 0; i < 100; ++i) {
    clock.advance(1);
    (void)g.answer("user", now());
    clock.advance(1);
    told += g.answer("guess" + std::to_string(i), now()) == VerifyOutcome::unknown;
  }
  BOOST_CHECK_EQUAL(told, 20u);
  BOOST_CHECK(g.cooling_down(now()));
}

BOOST_AUTO_TEST_CASE(unknowns_spread_over_more_than_the_window_are_allowed) {
  VerifyGuard g(dir.lookup(), opt);
  for (size_t i = 0; i < 200; ++i) {
    clock.advance(31);  // 20 in ten minutes at most
    BOOST_REQUIRE(g.answer("guess" + std::to_string(i), now()) == VerifyOutcome::unknown);
  }
  BOOST_CHECK_EQUAL(g.stats().cooldowns, 0u);
}

BOOST_AUTO_TEST_CASE(repeated_cool_downs_grow_up_to_the_maximum) {
  VerifyGuard g(dir.lookup(), opt);
  std::vector<uint64_t> lengths;
  for (int round = 0; round < 5; ++round) {
    guess(g, 21);
    BOOST_REQUIRE(g.cooling_down(now()));
    uint64_t start = now();
    while (g.cooling_down(now())) clock.advance(60);
    lengths.push_back((now() - start + 59'000) / 60'000 * 60'000);
  }
  BOOST_CHECK_EQUAL(lengths[0], 600'000u);
  BOOST_CHECK_EQUAL(lengths[1], 1'200'000u);
  BOOST_CHECK_EQUAL(lengths[2], 2'400'000u);
  BOOST_CHECK_EQUAL(lengths[3], 3'600'000u);
  BOOST_CHECK_EQUAL(lengths[4], 3'600'000u);
  // After a quiet day the next one is short again.
  clock.advance(86'400 + 1);
  guess(g, 21);
  uint64_t start = now();
  while (g.cooling_down(now())) clock.advance(60);
  BOOST_CHECK_EQUAL((now() - start + 59'000) / 60'000 * 60'000, 600'000u);
}

BOOST_AUTO_TEST_CASE(one_log_line_per_cool_down_and_no_names_in_it) {
  VerifyGuard::Options o = opt;
  o.label = "edge-1";
  VerifyGuard g(dir.lookup(), o);
  guess(g, 21);
  for (int i = 0; i < 500; ++i) (void)g.answer("guess-more", now());
  size_t cool = 0;
  for (const auto& l : g_lines) {
    if (l.find("cool-down") != std::string::npos) ++cool;
    BOOST_CHECK(l.find("guess") == std::string::npos);
  }
  BOOST_CHECK_EQUAL(cool, 1u);
  BOOST_CHECK(g_lines.back().find("edge-1") != std::string::npos);
  BOOST_CHECK_EQUAL(g.stats().cooldown_refused, 501u);
}

BOOST_AUTO_TEST_CASE(a_delivers_unknown_recipients_count_like_unknown_answers) {
  VerifyGuard g(dir.lookup(), opt);
  BOOST_CHECK(g.admit_delivery(0, now()));
  BOOST_CHECK(g.admit_delivery(15, now()));
  guess(g, 5);  // 20 so far: still answered
  BOOST_CHECK(!g.cooling_down(now()));
  BOOST_CHECK(!g.admit_delivery(1, now()));  // the 21st starts the cool-down: refused
  BOOST_CHECK(g.cooling_down(now()));
  BOOST_CHECK(!g.admit_delivery(0, now()));  // and so is every DELIVER during it
  BOOST_CHECK(g.answer("user", now()) == VerifyOutcome::temporary);
  BOOST_CHECK_EQUAL(g.stats().deliver_refused, 2u);
  // One DELIVER with a thousand guessed names is never let through to bounce them.
  clock.advance(7200);
  BOOST_CHECK(!g.admit_delivery(1000, now()));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

struct LookupFixture : test::StoreFixture {
  std::unique_ptr<Mailbox> mailbox;
  LookupFixture() {
    Mailbox::Options mo;
    mo.max_size = 4096;
    auto m = Mailbox::open(*env, *accounts, mo, clock);
    BOOST_REQUIRE(m.ok());
    mailbox = std::move(*m);
    BOOST_REQUIRE(accounts->create(*gc, std::string("alice@") + test::kDomain, "a").ok());
  }
  void put(size_t plain_bytes) {
    std::optional<DeliveryResult> out;
    mailbox->deliver(*gc, (*accounts->recipient(std::string("alice@") + test::kDomain))->id,
                     std::string(plain_bytes, 'x'), [&](DeliveryResult r) { out = r; });
    uv.run_until([&] { return out.has_value(); });
    BOOST_REQUIRE(out->status == DeliveryStatus::ok);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(lookup, LookupFixture)

BOOST_AUTO_TEST_CASE(exists_unknown_and_other_domains) {
  const std::string alice = std::string("alice@") + test::kDomain;
  BOOST_CHECK(lookup_recipient(*accounts, *mailbox, alice) == VerifyOutcome::exists);
  BOOST_CHECK(lookup_recipient(*accounts, *mailbox, "ALICE@" + std::string(test::kDomain)) ==
              VerifyOutcome::exists);
  BOOST_CHECK(lookup_recipient(*accounts, *mailbox, std::string("bob@") + test::kDomain) ==
              VerifyOutcome::unknown);
  BOOST_CHECK(lookup_recipient(*accounts, *mailbox, "alice@example.org") == VerifyOutcome::unknown);
  BOOST_CHECK(lookup_recipient(*accounts, *mailbox, "not an address") == VerifyOutcome::unknown);
}

BOOST_AUTO_TEST_CASE(full_when_less_than_the_minimum_room_is_left) {
  const std::string alice = std::string("alice@") + test::kDomain;
  const auto id = (*accounts->recipient(alice))->id;
  // 4096 bytes; each message costs its size plus the seal's overhead.
  put(4096 - Mailbox::kMinRoom - crypto::kSealOverhead);  // exactly kMinRoom left
  BOOST_CHECK(!*mailbox->full(id));
  BOOST_CHECK(lookup_recipient(*accounts, *mailbox, alice) == VerifyOutcome::exists);
  put(1);  // one byte more (and the seal's overhead): less than kMinRoom left
  BOOST_CHECK(*mailbox->full(id));
  BOOST_CHECK(lookup_recipient(*accounts, *mailbox, alice) == VerifyOutcome::full);
}

BOOST_AUTO_TEST_SUITE_END()
