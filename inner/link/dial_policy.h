// DialPolicy: when the inner may dial an edge again. Exponential back-off with jitter after every
// failed attempt or lost link; only a link that stayed up for `stable_ms` resets it, so an edge
// that completes the handshake and hangs up at once (a seized edge probing for the inner's Tor
// guard: every dial is a new circuit) cannot make the inner redial every second. On top, a cap
// on dials per hour per edge. No I/O: the link client asks it and runs the timer.
// Trust: none needed; the only input is when our own attempts started, opened and ended.
#pragma once

#include <cstdint>
#include <deque>

#include "common/base/backoff.h"

namespace nj::inner {

class DialPolicy {
 public:
  struct Options {
    uint64_t first_backoff_ms = 1000;
    uint64_t max_backoff_ms = 60000;
    uint64_t stable_ms = 60000;   // a link up this long resets the back-off
    size_t max_per_hour = 30;     // dials (new circuits) per edge in any hour
    uint32_t jitter_percent = 25; // +-, so a fleet of inners does not redial in step
  };
  using RandomFn = nj::RandomFn;  // crypto::random_uniform in production

  DialPolicy(Options options, RandomFn rand);

  // A dial starts at `now_ms` (monotonic).
  void dialed(uint64_t now_ms);
  // The link it made opened.
  void opened(uint64_t now_ms);
  // The attempt failed or the link ended at `now_ms`: how long to wait before the next dial.
  uint64_t ended(uint64_t now_ms);

  // Dials in the hour before `now_ms` (for the log and tests).
  size_t dials_last_hour(uint64_t now_ms) const;
  uint64_t current_backoff_ms() const { return backoff_ms_; }

 private:
  void forget_old(uint64_t now_ms);

  Options opt_;
  RandomFn rand_;
  uint64_t backoff_ms_;
  bool open_ = false;
  uint64_t opened_at_ = 0;
  std::deque<uint64_t> dials_;  // start times within the last hour, oldest first
};

}  // namespace nj::inner
