// nightjarctl queue: the inner's outbound queue.
#pragma once

#include <string_view>
#include <vector>

namespace nj::ctl {

int cmd_queue(const std::vector<std::string_view>& args);

}  // namespace nj::ctl
