// VerifyGuard: what the inner tells one edge about its recipients. An edge asks whether a
// recipient exists (VERIFY) before it answers RCPT, and the inner must answer, or the edge could
// not refuse mail for nobody. But an edge is built to be seized, and a seized edge could ask for
// name after name and so learn the list of users, which this system exists to keep. So every
// answer to an edge passes this guard, one instance per edge, kept by the inner for as long as
// that edge is paired (not per connection: reconnecting must not reset it):
//  - Rate: a token bucket (Options::rate per second, Options::burst at once). Past it, VERIFY
//    gets `temporary` (the edge answers 451 4.4.3; the sender tries again later).
//  - Enumeration: more than Options::max_unknown `unknown` answers within Options::window_ms
//    start a cool-down during which EVERY VERIFY gets `temporary`, whether the name exists or
//    not (a refusal that spared existing names would itself be the oracle), and every DELIVER is
//    refused for now (admit_delivery()), since a DELIVER's bounces and its answer would be the
//    same oracle. A cool-down that follows the last one within Options::repeat_ms lasts twice as
//    long as that one, up to Options::max_cooldown_ms. Counted, and logged once per cool-down
//    without any address.
// Why a count of unknowns and not their share of the answers: a share is defeated by asking for
// a name known to exist (postmaster, the published contact) between guesses. An honest edge
// hardly ever asks about many missing names: it asks only after its greylist has let a sender
// through, and it caches every answer (an unknown name for a minute). A dictionary attack from
// the Internet through an honest edge can start cool-downs too; then mail is delayed (4xx and
// held at the edge), never lost, and the names stay unknown to the attacker.
// Trust: the recipients come from the edge, which may be hostile; the guard never looks at them
// (it hands them to the lookup) and never logs them. No I/O: the lookup is a seam and the time
// is the caller's (monotonic milliseconds), so tests drive it with a fake clock.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "common/link/payloads.h"
#include "inner/accounts/accounts.h"
#include "inner/mailbox/mailbox.h"

namespace nj::inner {

class VerifyGuard {
 public:
  struct Options {
    // A small mail domain's honest edge asks at most a few times a second: every VERIFY follows
    // a RCPT that passed the edge's checks and greylist, and the edge caches the answers (known
    // names for ten minutes). 10 a second sustained is far above that; a burst of 100 lets a
    // message to a whole local mailing list of users through at once after the edge restarts
    // with an empty cache.
    double rate = 10;
    double burst = 100;
    // More unknown recipients than this within window_ms start a cool-down. 20 in ten minutes
    // leaves room for typing errors and for mail to users removed lately, and bounds what a
    // seized edge learns to about 20 names per cool-down instead of thousands a minute.
    size_t max_unknown = 20;
    uint64_t window_ms = 10 * 60 * 1000;
    // The first cool-down; each one that starts within repeat_ms of the end of the one before
    // lasts twice as long as that one, up to max_cooldown_ms. A retrying Internet sender waits
    // out an hour without noticing; a seized edge learns at most about 20 names an hour.
    uint64_t cooldown_ms = 10 * 60 * 1000;
    uint64_t max_cooldown_ms = 60 * 60 * 1000;
    uint64_t repeat_ms = 24 * 3600 * 1000;
    // How to name this edge in log lines (never an address).
    std::string label = "edge";
  };

  struct Stats {
    uint64_t asked = 0;             // VERIFYs
    uint64_t looked_up = 0;         // VERIFYs answered from the accounts
    uint64_t unknown = 0;           // unknown recipients: VERIFY answers and DELIVER recipients
    uint64_t rate_refused = 0;      // VERIFYs over the rate: temporary
    uint64_t cooldown_refused = 0;  // VERIFYs during a cool-down: temporary
    uint64_t deliver_refused = 0;   // DELIVERs refused for now (cool-down)
    uint64_t cooldowns = 0;         // cool-downs started
  };

  // Asks whether `recipient` exists and can take mail; called only when the guard lets the
  // question through. Returns exists / unknown / full, or temporary (the store failed).
  using Lookup = std::function<link::VerifyOutcome(std::string_view recipient)>;

  explicit VerifyGuard(Lookup lookup) : VerifyGuard(std::move(lookup), Options{}) {}
  VerifyGuard(Lookup lookup, Options options);

  // The answer the edge gets for a VERIFY of `recipient` at `now_ms` (monotonic milliseconds,
  // e.g. Clock::monotonic_ms()).
  link::VerifyOutcome answer(std::string_view recipient, uint64_t now_ms);

  // A DELIVER from this edge names `unknown` recipients that are no account and have not been
  // bounced for that message yet. True: go ahead (they are counted like `unknown` answers, and
  // bounced). False: refuse the whole DELIVER for now, answering nothing about its recipients
  // (NACK temporary; the edge keeps the message): a cool-down is on, or these unknowns start one.
  bool admit_delivery(size_t unknown, uint64_t now_ms);

  bool cooling_down(uint64_t now_ms) const { return now_ms < cooldown_until_; }
  const Stats& stats() const { return stats_; }
  const Options& options() const { return opt_; }

 private:
  bool take_token(uint64_t now_ms);
  void forget_old(uint64_t now_ms);
  // Records `n` unknown recipients at now_ms; starts a cool-down (and says so) when the window
  // then holds more than max_unknown.
  bool count_unknown(size_t n, uint64_t now_ms);
  void start_cooldown(uint64_t now_ms);

  Lookup lookup_;
  Options opt_;
  Stats stats_;
  double tokens_;
  uint64_t refilled_ms_ = 0;
  bool started_ = false;           // refilled_ms_ is meaningful
  std::deque<uint64_t> unknowns_;  // times of the latest unknown answers (max_unknown + 1 at most)
  uint64_t cooldown_until_ = 0;
  uint64_t last_cooldown_ms_ = 0;  // length of the latest cool-down
  bool had_cooldown_ = false;
  uint64_t rate_logged_ms_ = 0;  // rate refusals are logged at most once a minute
  uint64_t rate_unlogged_ = 0;
  bool rate_logged_once_ = false;
};

// The production lookup: `recipient` (as the edge sends it: on the internal domain) is exists
// when it is an account whose mailbox can take mail, full when its mailbox has less than
// Mailbox::kMinRoom left, unknown when it is no account (or not an address on our internal
// domain), temporary when the store fails (logged without the address).
link::VerifyOutcome lookup_recipient(Accounts& accounts, Mailbox& mailbox,
                                     std::string_view recipient);

}  // namespace nj::inner
