#include "common/base/clock.h"

#include <ctime>

namespace nj {

std::string utc_text(int64_t unix_seconds, UtcStyle style) {
  const char* format = style == UtcStyle::iso       ? "%Y-%m-%dT%H:%M:%SZ"
                       : style == UtcStyle::seconds ? "%Y-%m-%d %H:%M:%S UTC"
                                                    : "%Y-%m-%d %H:%M UTC";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  char buf[64];
  if (gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, format, &tm) == 0) return "?";
  return buf;
}

std::string age_text(int64_t s) {
  if (s < 0) s = 0;
  auto two = [](int64_t big, const char* bu, int64_t small, const char* su) {
    std::string out = std::to_string(big) + bu;
    if (small) out += " " + std::to_string(small) + su;
    return out;
  };
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return two(s / 60, "m", s % 60, "s");
  if (s < 86400) return two(s / 3600, "h", s % 3600 / 60, "m");
  return two(s / 86400, "d", s % 86400 / 3600, "h");
}

}  // namespace nj
