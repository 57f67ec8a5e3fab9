// uv handles without I/O of their own: timers, signals, cross-thread wakeups, end-of-turn
// callbacks and fd polls.
// Each is a non-copyable, non-movable owner (hold it in a std::unique_ptr to move it around).
// Destroying or close()-ing one is always safe, also from inside its own callback; no callback
// runs after that. Trust: none needed; these carry no untrusted data.
#pragma once

#include <functional>

#include "common/base/result.h"
#include "common/uv/loop.h"

namespace nj::uv {

class Timer {
 public:
  explicit Timer(Loop& loop);
  ~Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // First run after timeout_ms, then every repeat_ms (0: once). Replaces any earlier callback.
  void start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> cb);
  void stop();
  // Restart a repeating timer from now (see uv_timer_again).
  void again();
  bool active() const;
  void close() { s_.reset(); }
  bool closed() const { return !s_; }

  struct State;

 private:
  detail::Owned<State> s_;
};

class Signal {
 public:
  explicit Signal(Loop& loop);
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;

  Status start(int signum, std::function<void(int)> cb);
  void stop();
  void close() { s_.reset(); }

  struct State;

 private:
  detail::Owned<State> s_;
};

// Wakes the loop from another thread; the callback runs on the loop thread. Several send()s
// before the loop runs may be merged into one callback, as with uv_async_t.
class Async {
 public:
  Async(Loop& loop, std::function<void()> cb);
  Async(const Async&) = delete;
  Async& operator=(const Async&) = delete;

  // Thread-safe while this object is alive (the owner must outlive every sender).
  void send();
  void close() { s_.reset(); }

  struct State;

 private:
  detail::Owned<State> s_;
};

// Runs a callback once at the end of the current loop turn, so work produced by many callbacks
// in one turn is handled together (the link writes all frames of a turn in one write(2)).
// A uv_check_t runs right after the poll phase, that is after the I/O, async and work-queue
// callbacks of this iteration, which is where nearly all such work comes from. A check handle
// alone does not stop the loop from blocking in poll, so work scheduled from a timer or
// another phase before poll would wait for the next I/O event or timer; an idle handle is
// active while scheduled, which makes the poll return at once (the pattern of Node's
// setImmediate). A zero-timeout timer would instead run in the next iteration's timer phase.
// Scheduled from inside the check phase (also from its own callback), the callback runs in the
// next iteration.
class Deferred {
 public:
  Deferred(Loop& loop, std::function<void()> cb);
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;

  // Idempotent until the callback runs; a no-op once closed.
  void schedule();
  void cancel();
  bool scheduled() const;
  void close();
  bool closed() const { return !check_; }

  struct CheckState;
  struct IdleState;

 private:
  void fire();

  std::function<void()> cb_;
  detail::Owned<CheckState> check_;
  detail::Owned<IdleState> idle_;
};

// Readiness of a foreign socket (used by the c-ares resolver).
class Poll {
 public:
  // status is 0 or a negative libuv error; events a mask of UV_READABLE / UV_WRITABLE.
  using Callback = std::function<void(int status, int events)>;
  Poll(Loop& loop, uv_os_sock_t sock);
  Poll(const Poll&) = delete;
  Poll& operator=(const Poll&) = delete;

  bool ok() const { return static_cast<bool>(s_); }
  Status start(int events, Callback cb);
  void stop();
  void close() { s_.reset(); }

  struct State;

 private:
  detail::Owned<State> s_;
};

}  // namespace nj::uv
