#include "inner/link/dial_policy.h"

#include <algorithm>
#include <utility>

namespace nj::inner {
namespace {
constexpr uint64_t kHourMs = 3600 * 1000;
}

DialPolicy::DialPolicy(Options options, RandomFn rand)
    : opt_(options), rand_(std::move(rand)), backoff_ms_(options.first_backoff_ms) {}

void DialPolicy::forget_old(uint64_t now_ms) {
  while (!dials_.empty() && dials_.front() + kHourMs <= now_ms) dials_.pop_front();
}

void DialPolicy::dialed(uint64_t now_ms) {
  forget_old(now_ms);
  dials_.push_back(now_ms);
  open_ = false;
}

void DialPolicy::opened(uint64_t now_ms) {
  open_ = true;
  opened_at_ = now_ms;
}

uint64_t DialPolicy::ended(uint64_t now_ms) {
  // Only a link that proved useful for a while earns a quick redial; a handshake alone does not.
  if (open_ && now_ms - opened_at_ >= opt_.stable_ms) backoff_ms_ = opt_.first_backoff_ms;
  open_ = false;
  uint64_t jitter = backoff_ms_ * opt_.jitter_percent / 100;
  uint64_t wait = backoff_ms_ - jitter;
  if (jitter && rand_) wait += rand_(static_cast<uint32_t>(std::min<uint64_t>(2 * jitter, UINT32_MAX)));
  backoff_ms_ = std::min(backoff_ms_ * 2, opt_.max_backoff_ms);
  forget_old(now_ms);
  if (opt_.max_per_hour && dials_.size() >= opt_.max_per_hour) {
    // The next dial would be one too many in the last hour: wait until the oldest leaves it.
    uint64_t free_at = dials_[dials_.size() - opt_.max_per_hour] + kHourMs;
    if (free_at > now_ms) wait = std::max(wait, free_at - now_ms);
  }
  return std::max<uint64_t>(wait, 1);
}

size_t DialPolicy::dials_last_hour(uint64_t now_ms) const {
  return static_cast<size_t>(std::count_if(dials_.begin(), dials_.end(),
                                           [&](uint64_t t) { return t + kHourMs > now_ms; }));
}

}  // namespace nj::inner
