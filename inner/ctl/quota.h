// nightjarctl quota: an account's Internet recipient quota (inner/policy/quota_store.h).
#pragma once

#include <string_view>
#include <vector>

namespace nj::ctl {

int cmd_quota(const std::vector<std::string_view>& args);

}  // namespace nj::ctl
