#include "common/uv/handles.h"

#include <atomic>
#include <string>

namespace nj::uv {

// ---- Timer

struct Timer::State final : detail::HandleState {
  using HandleState::HandleState;
  uv_timer_t h{};
  std::function<void()> cb;
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&h); }
};

Timer::Timer(Loop& loop) {
  auto* s = new State(loop);
  uv_timer_init(loop.raw(), &s->h);  // cannot fail for a valid loop
  s->registered();
  s_.adopt(s);
}

void Timer::start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> cb) {
  State* s = s_.get();
  if (!s) return;
  s->cb = std::move(cb);
  uv_timer_start(
      &s->h,
      [](uv_timer_t* h) {
        auto* st = static_cast<State*>(h->data);
        if (st->detached() || !st->cb) return;
        // A copy, so the callback may restart or destroy this timer.
        auto fn = st->cb;
        fn();
      },
      timeout_ms, repeat_ms);
}

void Timer::stop() {
  if (State* s = s_.get()) uv_timer_stop(&s->h);
}

void Timer::again() {
  if (State* s = s_.get()) uv_timer_again(&s->h);
}

bool Timer::active() const {
  State* s = s_.get();
  return s && uv_is_active(reinterpret_cast<uv_handle_t*>(&s->h));
}

// ---- Signal

struct Signal::State final : detail::HandleState {
  using HandleState::HandleState;
  uv_signal_t h{};
  std::function<void(int)> cb;
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&h); }
};

Signal::Signal(Loop& loop) {
  auto* s = new State(loop);
  uv_signal_init(loop.raw(), &s->h);
  s->registered();
  s_.adopt(s);
}

Status Signal::start(int signum, std::function<void(int)> cb) {
  State* s = s_.get();
  if (!s) return make_error("signal handle is closed");
  s->cb = std::move(cb);
  int rc = uv_signal_start(
      &s->h,
      [](uv_signal_t* h, int sig) {
        auto* st = static_cast<State*>(h->data);
        if (st->detached() || !st->cb) return;
        auto fn = st->cb;
        fn(sig);
      },
      signum);
  if (rc != 0) return make_error(std::string("uv_signal_start: ") + uv_strerror(rc));
  return {};
}

void Signal::stop() {
  if (State* s = s_.get()) uv_signal_stop(&s->h);
}

// ---- Async

struct Async::State final : detail::HandleState {
  using HandleState::HandleState;
  uv_async_t h{};
  std::function<void()> cb;
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&h); }
};

Async::Async(Loop& loop, std::function<void()> cb) {
  auto* s = new State(loop);
  s->cb = std::move(cb);
  uv_async_init(loop.raw(), &s->h, [](uv_async_t* h) {
    auto* st = static_cast<State*>(h->data);
    if (st->detached() || !st->cb) return;
    auto fn = st->cb;
    fn();
  });
  s->registered();
  s_.adopt(s);
}

void Async::send() {
  if (State* s = s_.get()) uv_async_send(&s->h);
}

// ---- Deferred

struct Deferred::CheckState final : detail::HandleState {
  CheckState(Loop& loop, Deferred* o) : HandleState(loop), owner(o) {}
  uv_check_t h{};
  Deferred* owner;  // valid while not detached (the owner detaches before it goes away)
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&h); }
};

struct Deferred::IdleState final : detail::HandleState {
  using HandleState::HandleState;
  uv_idle_t h{};
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&h); }
};

Deferred::Deferred(Loop& loop, std::function<void()> cb) : cb_(std::move(cb)) {
  auto* c = new CheckState(loop, this);
  uv_check_init(loop.raw(), &c->h);  // cannot fail for a valid loop
  c->registered();
  check_.adopt(c);
  auto* i = new IdleState(loop);
  uv_idle_init(loop.raw(), &i->h);
  i->registered();
  idle_.adopt(i);
}

void Deferred::schedule() {
  CheckState* c = check_.get();
  IdleState* i = idle_.get();
  if (!c || !i) return;
  uv_check_start(&c->h, [](uv_check_t* h) {
    auto* st = static_cast<CheckState*>(h->data);
    if (st->detached()) return;
    st->owner->fire();
  });
  // Only its being active matters: the loop does not block in poll while an idle handle is.
  uv_idle_start(&i->h, [](uv_idle_t*) {});
}

void Deferred::cancel() {
  if (CheckState* c = check_.get()) uv_check_stop(&c->h);
  if (IdleState* i = idle_.get()) uv_idle_stop(&i->h);
}

bool Deferred::scheduled() const {
  CheckState* c = check_.get();
  return c && uv_is_active(reinterpret_cast<uv_handle_t*>(&c->h));
}

void Deferred::close() {
  check_.reset();
  idle_.reset();
}

void Deferred::fire() {
  cancel();  // once per schedule(); the callback may schedule again
  // A copy, so the callback may close or destroy this object.
  auto fn = cb_;
  if (fn) fn();
}

// ---- Poll

struct Poll::State final : detail::HandleState {
  using HandleState::HandleState;
  uv_poll_t h{};
  Callback cb;
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&h); }
};

Poll::Poll(Loop& loop, uv_os_sock_t sock) {
  auto* s = new State(loop);
  if (uv_poll_init_socket(loop.raw(), &s->h, sock) != 0) {
    s->close();  // never registered: freed at once; ok() is false
    return;
  }
  s->registered();
  s_.adopt(s);
}

Status Poll::start(int events, Callback cb) {
  State* s = s_.get();
  if (!s) return make_error("poll handle is closed");
  s->cb = std::move(cb);
  int rc = uv_poll_start(&s->h, events, [](uv_poll_t* h, int status, int ev) {
    auto* st = static_cast<State*>(h->data);
    if (st->detached() || !st->cb) return;
    auto fn = st->cb;
    fn(status, ev);
  });
  if (rc != 0) return make_error(std::string("uv_poll_start: ") + uv_strerror(rc));
  return {};
}

void Poll::stop() {
  if (State* s = s_.get()) uv_poll_stop(&s->h);
}

}  // namespace nj::uv
