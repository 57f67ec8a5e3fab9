// nightjarctl status --config FILE: asks a running daemon for its status over its control
// socket, <data_dir>/control.sock (common/control), and prints the answer. The client is the same
// on both machines; each tier says how its configuration names the data directory, and its own
// usage and help.
// Trust: run by the operator on the daemon's machine; the answer is printed as it comes, bounded
// by the control client.
#pragma once

#include <span>
#include <string>

#include "common/base/result.h"
#include "common/config/types.h"
#include "common/ctl/args.h"

namespace nj::ctl {

struct StatusTier {
  CommandText text;  // "status": its usage and what the daemon's status holds
  // The daemon's data_dir from its configuration file, loaded as the daemon loads it; an error
  // is the loader's.
  Result<std::string> (*data_dir)(const std::string& config_path);
  std::span<const Option> gone;  // old options of this command and what does their work now
};

int run_status(const StatusTier& tier, const Args& args);

// StatusTier::data_dir for a daemon whose loader is `load` (edge::load, inner::load).
template <class Config, Result<Config> (*load)(const std::string&, config::Host)>
Result<std::string> data_dir_of(const std::string& config_path) {
  auto c = load(config_path, config::Host::this_one);
  if (!c) return make_error(c.error());
  return c->data_dir;
}

}  // namespace nj::ctl
