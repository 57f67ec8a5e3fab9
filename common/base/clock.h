// Clock: the one way the daemons read time, so tests can move it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace nj {

// Unix seconds as UTC text for people: iso "2026-12-07T14:05:00Z" (the ctl's listings),
// seconds "2026-12-07 14:05:00 UTC" (status), minutes "2026-12-07 14:05 UTC" (the fleet's
// notes). "?" for a time that has no such text.
enum class UtcStyle { iso, seconds, minutes };
std::string utc_text(int64_t unix_seconds, UtcStyle style = UtcStyle::iso);
// An age or a span for people: "0s", "42s", "5m 2s", "3h 4m", "2d 3h" (negative counts as 0).
std::string age_text(int64_t seconds);

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch (UTC).
  virtual int64_t now() const = 0;
  // Milliseconds from an arbitrary start; never goes backwards.
  virtual uint64_t monotonic_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  uint64_t monotonic_ms() const override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
};

// For tests: time moves only when told.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start = 1'700'000'000) : now_(start) {}
  int64_t now() const override { return now_; }
  uint64_t monotonic_ms() const override { return mono_; }
  void advance(int64_t seconds) {
    now_ += seconds;
    mono_ += static_cast<uint64_t>(seconds) * 1000;
  }
  void set(int64_t unix_seconds) { now_ = unix_seconds; }

 private:
  int64_t now_;
  uint64_t mono_ = 0;
};

}  // namespace nj
