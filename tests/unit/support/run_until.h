// run_until: drives a test's event loop until a condition holds or a deadline passes (the one
// helper the unit tests over real sockets share).
#pragma once

#include <cstdint>

#include "common/uv/handles.h"
#include "common/uv/loop.h"

namespace nj::testing {

// Runs `loop` one turn at a time until `pred()` holds or `ms` milliseconds have passed; returns
// pred() at the end.
template <class P>
bool run_until(uv::Loop& loop, P pred, uint64_t ms = 5000) {
  uv::Timer guard(loop);
  bool timed_out = false;
  guard.start(ms, 0, [&] { timed_out = true; });
  while (!pred() && !timed_out) loop.run_once();
  return pred();
}

}  // namespace nj::testing
