#include "inner/policy/delay.h"

#include <algorithm>

namespace nj::policy {

std::optional<DelayClass> parse_delay_class(std::string_view name) {
  if (name == "none") return DelayClass::none;
  if (name == "defer") return DelayClass::defer;
  if (name == "batch") return DelayClass::batch;
  return std::nullopt;
}

const char* to_string(DelayClass c) {
  switch (c) {
    case DelayClass::none:
      return "none";
    case DelayClass::defer:
      return "defer";
    case DelayClass::batch:
      return "batch";
  }
  return "?";
}

int64_t due_time(DelayClass c, int64_t now, const DelayRules& rules, const Uniform& uniform) {
  switch (c) {
    case DelayClass::none:
      return now;
    case DelayClass::defer: {
      int64_t span = std::max<int64_t>(0, rules.defer_max - rules.defer_min);
      return now + rules.defer_min + static_cast<int64_t>(uniform(static_cast<uint64_t>(span) + 1));
    }
    case DelayClass::batch: {
      if (rules.batch_times.empty()) return now;
      int64_t day = now - (now % 86400 + 86400) % 86400;
      int64_t best = -1;
      for (int64_t d : {day, day + 86400}) {
        for (int64_t t : rules.batch_times) {
          int64_t at = d + t;
          if (at > now && (best < 0 || at < best)) best = at;
        }
      }
      return best;
    }
  }
  return now;
}

}  // namespace nj::policy
