// nightjarctl queue: the inner's outbound queue.
#pragma once

#include "common/ctl/args.h"

namespace nj::ctl {

int cmd_queue(const Args& args);

}  // namespace nj::ctl
