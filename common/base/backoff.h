// Retry schedules: exponential back-off with jitter, capped, and a maximum lifetime after which
// a message expires (Postfix's maximal_queue_lifetime). The edge's outbound queue, its inbound
// schedule and the inner's hand-over of refused SUBMITs all wait by it.
// Trust: none needed; pure arithmetic on our own counters.
#pragma once

#include <cstdint>
#include <functional>

namespace nj {

// Uniform in [0, upper) for upper > 0; crypto::random_uniform in production.
using RandomFn = std::function<uint32_t(uint32_t upper)>;

struct BackoffPolicy {
  int64_t initial_s = 300;       // after the first failed attempt
  int64_t max_s = 4 * 3600;      // cap on the nominal delay
  uint32_t jitter_percent = 20;  // +-, so retries of many messages do not move in lockstep
  int64_t max_lifetime_s = 5 * 86400;
};

// Delay before the next attempt after `failed_attempts` (>= 1) failures: initial * 2^(n-1),
// capped at max_s, then moved by a uniform jitter within +-jitter_percent. At least 1 second.
int64_t backoff_delay(const BackoffPolicy& p, uint32_t failed_attempts, const RandomFn& rand);

// True once a message first queued at `first_queued` has outlived the policy at `now`.
inline bool expired(const BackoffPolicy& p, int64_t first_queued, int64_t now) {
  return now - first_queued >= p.max_lifetime_s;
}

}  // namespace nj
