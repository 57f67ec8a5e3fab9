// uv: owning wrappers around libuv. A libuv handle's memory must stay valid until libuv's close
// callback runs, which is one loop iteration after uv_close(). So every wrapper here is a thin,
// non-copyable owner of a heap "state" that libuv frees in its close callback; destroying the
// owner only detaches it and starts the close, so no user callback runs after its owner is gone.
// Trust: nothing here interprets network data; the loop is single-threaded (Async::send is the
// one call that may come from another thread).
#pragma once

#include <uv.h>

#include <cstdint>
#include <unordered_set>

namespace nj::uv {

class Loop;

namespace detail {

// Heap state of one libuv handle. Deleted only from libuv's close callback (or directly when
// the handle was never initialised).
class HandleState {
 public:
  explicit HandleState(Loop& loop) : loop_(&loop) {}
  virtual ~HandleState() = default;
  HandleState(const HandleState&) = delete;
  HandleState& operator=(const HandleState&) = delete;

  virtual uv_handle_t* handle() = 0;

  // Call once after a successful uv_*_init: the loop now knows the handle.
  void registered();
  // Idempotent. After this no callback of the handle runs except the internal close callback.
  void close();
  bool closing() const { return closing_; }
  // The owner is going away: never call back into it again.
  void detach() {
    if (back_) *back_ = nullptr;
    back_ = nullptr;
    detached_ = true;
  }
  bool detached() const { return detached_; }
  void set_back(HandleState** back) { back_ = back; }
  Loop& loop() { return *loop_; }

 protected:
  // Runs in libuv's close callback just before the state is deleted.
  virtual void on_closed() {}

 private:
  static void close_cb(uv_handle_t* h);
  friend class nj::uv::Loop;

  Loop* loop_;
  HandleState** back_ = nullptr;
  bool closing_ = false;
  bool detached_ = false;
  bool registered_ = false;
};

// Owner side: holds the state pointer, which libuv's close callback clears.
template <class S>
class Owned {
 public:
  Owned() = default;
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { reset(); }

  void adopt(S* s) {
    reset();
    p_ = s;
    if (p_) p_->set_back(&p_);
  }
  // Detach and close; idempotent.
  void reset() {
    if (!p_) return;
    HandleState* s = p_;
    s->detach();  // clears p_
    s->close();
  }
  S* get() const { return static_cast<S*>(p_); }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  HandleState* p_ = nullptr;
};

}  // namespace detail

class Loop {
 public:
  Loop();
  // Closes every handle still open (owners see their handle as closed; none of their callbacks
  // run, not even Connection::on_close), runs the loop until
  // libuv has released all of them, then closes the loop.
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  uv_loop_t* raw() { return &loop_; }
  // Runs until stop() or until nothing is active. Returns false if stopped with work left.
  bool run();
  // One iteration, blocking for I/O if there is any. Returns true if work is left.
  bool run_once();
  // One iteration without blocking.
  bool run_nowait();
  void stop() { uv_stop(&loop_); }
  uint64_t now_ms() { return uv_now(&loop_); }
  size_t open_handles() const { return states_.size(); }

 private:
  friend class detail::HandleState;
  uv_loop_t loop_;
  std::unordered_set<detail::HandleState*> states_;
};

}  // namespace nj::uv
