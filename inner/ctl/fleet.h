// nightjarctl edge: the inner's fleet of edges (add, remove = revoke, list), written to the
// fleet registry in the inner's store (inner/fleet/edge_registry.h); a running inner is told
// over its control socket and applies the change at once.
#pragma once

#include "common/ctl/args.h"

namespace nj::ctl {

int cmd_edge(const Args& args);

}  // namespace nj::ctl
