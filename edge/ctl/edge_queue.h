// nightjarctl edge-queue: inspect an edge's sealed inbound queue with the inner's secret key.
#pragma once

#include "common/ctl/args.h"

namespace nj::ctl {

int cmd_edge_queue(const Args& args);

}  // namespace nj::ctl
