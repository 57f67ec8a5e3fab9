// nightjarctl edge: the inner's fleet of edges (add, remove = revoke, list), written to the
// fleet registry in the inner's store (inner/fleet/edge_registry.h); a running inner is told
// over its control socket and applies the change at once.
// nightjarctl status: asks a running daemon (inner or edge) for its status over its control
// socket, <data_dir>/control.sock, and prints the answer.
#pragma once

#include <string_view>
#include <vector>

namespace nj::ctl {

int cmd_edge(const std::vector<std::string_view>& args);
int cmd_status(const std::vector<std::string_view>& args);

}  // namespace nj::ctl
