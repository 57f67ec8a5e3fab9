// nightjarctl quota: an account's Internet recipient quota (inner/policy/quota_store.h).
#pragma once

#include "common/ctl/args.h"

namespace nj::ctl {

int cmd_quota(const Args& args);

}  // namespace nj::ctl
