#include "common/base/backoff.h"

#include <algorithm>

namespace nj {

int64_t backoff_delay(const BackoffPolicy& p, uint32_t failed_attempts, const RandomFn& rand) {
  int64_t nominal = std::max<int64_t>(p.initial_s, 1);
  for (uint32_t i = 1; i < failed_attempts && nominal < p.max_s; ++i) nominal *= 2;
  nominal = std::min(nominal, std::max<int64_t>(p.max_s, 1));
  int64_t span = nominal * static_cast<int64_t>(std::min<uint32_t>(p.jitter_percent, 100)) / 100;
  int64_t delay = nominal;
  if (span > 0) {
    // Uniform in [-span, +span].
    delay += static_cast<int64_t>(rand(static_cast<uint32_t>(2 * span + 1))) - span;
  }
  return std::max<int64_t>(delay, 1);
}

}  // namespace nj
