// nightjarctl edge-queue: inspect an edge's sealed inbound queue with the inner's secret key.
#pragma once

#include <string_view>
#include <vector>

namespace nj::ctl {

int cmd_edge_queue(const std::vector<std::string_view>& args);

}  // namespace nj::ctl
