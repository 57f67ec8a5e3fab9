// Clock: the one way the daemons read time, so tests can move it.
#pragma once

#include <chrono>
#include <cstdint>

namespace nj {

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
