// queue_work: run a CPU-heavy step (Argon2id password checks, key unwrapping) on libuv's thread
// pool so the loop keeps serving other sessions, then continue on the loop thread.
// Trust: none needed. `work` must touch only what it captured by value or what outlives it; `done`
// runs on the loop and must check that its owner still exists (capture a weak_ptr).
#pragma once

#include <functional>

#include "common/uv/loop.h"

namespace nj::uv {

void queue_work(Loop& loop, std::function<void()> work, std::function<void()> done);

}  // namespace nj::uv
