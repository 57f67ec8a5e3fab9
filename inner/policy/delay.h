// delay: when an Internet-bound message may leave the inner. Holding mail for a random or a
// fixed-schedule time breaks the link between the moment a user writes and the moment the
// message appears on the Internet (an observer of both the overlay and the edge could otherwise
// match them by timing).
// Trust: pure computation over configuration and the clock; the class name comes from an
// operator's `nightjarctl account set` and is checked here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace nj::policy {

enum class DelayClass { none, defer, batch };

std::optional<DelayClass> parse_delay_class(std::string_view name);
const char* to_string(DelayClass c);

struct DelayRules {
  int64_t defer_min = 2000;                        // seconds
  int64_t defer_max = 4000;                        // seconds, >= defer_min
  std::vector<int64_t> batch_times{0, 12 * 3600};  // seconds after 00:00 UTC, each < 86400
};

// A uniform random integer in [0, bound); crypto::random_uniform in the daemon, fixed in tests.
using Uniform = std::function<uint64_t(uint64_t bound)>;

// The time (Unix seconds) at which mail submitted at `now` may leave:
//   none: now; defer: now + uniform[defer_min, defer_max]; batch: the next batch time strictly
//   after now (a message submitted at exactly 12:00:00 waits for the following one, so no
//   message leaves in the same second it arrived).
int64_t due_time(DelayClass c, int64_t now, const DelayRules& rules, const Uniform& uniform);

}  // namespace nj::policy
