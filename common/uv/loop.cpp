#include "common/uv/loop.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace nj::uv {

namespace detail {

void HandleState::registered() {
  handle()->data = this;
  registered_ = true;
  loop_->states_.insert(this);
}

void HandleState::close() {
  if (closing_) return;
  closing_ = true;
  if (!registered_) {
    // libuv never saw the handle, so nobody else references this memory.
    detach();
    on_closed();
    delete this;
    return;
  }
  uv_handle_t* h = handle();
  if (!uv_is_closing(h)) uv_close(h, &HandleState::close_cb);
}

void HandleState::close_cb(uv_handle_t* h) {
  auto* s = static_cast<HandleState*>(h->data);
  s->loop_->states_.erase(s);
  if (s->back_) *s->back_ = nullptr;
  s->back_ = nullptr;
  s->on_closed();
  delete s;
}

}  // namespace detail

Loop::Loop() {
  if (int rc = uv_loop_init(&loop_); rc != 0) {
    // No loop means no daemon: this is a start-up failure, not a data-path error.
    std::fprintf(stderr, "uv_loop_init: %s\n", uv_strerror(rc));
    std::abort();
  }
}

Loop::~Loop() {
  std::vector<detail::HandleState*> open(states_.begin(), states_.end());
  for (auto* s : open) {
    // Teardown: owners still alive see a closed handle, and no user callback (on_close
    // included) runs into objects that may themselves be half torn down.
    s->detach();
    s->close();
  }
  // Handles not created through these wrappers: close them so the loop can be closed; their
  // owners must not touch them afterwards.
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  while (uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
  }
  uv_loop_close(&loop_);
}

bool Loop::run() {
  return uv_run(&loop_, UV_RUN_DEFAULT) != 0;
}
bool Loop::run_once() {
  return uv_run(&loop_, UV_RUN_ONCE) != 0;
}
bool Loop::run_nowait() {
  return uv_run(&loop_, UV_RUN_NOWAIT) != 0;
}

}  // namespace nj::uv
