// The edge's retry schedules use the one back-off of common/base/backoff.h; these names keep
// the edge's code in its own namespace.
#pragma once

#include "common/base/backoff.h"

namespace nj::edge::outbound {

using nj::BackoffPolicy;
using nj::backoff_delay;
using nj::expired;
using nj::RandomFn;

}  // namespace nj::edge::outbound
