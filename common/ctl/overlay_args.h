// What both tools' `nightjarctl overlay tor|i2p --config FILE [--tor-dir DIR] ...` start with:
// the one overlay named, the daemon's configuration file given, tor's directory absolute. Each
// tier declares its other options and reads them from `args`.
// Trust: the arguments are the operator's.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/ctl/args.h"

namespace nj::ctl {

struct OverlayArgs {
  Parsed args;
  bool tor = false;         // tor, else i2p
  std::string config;       // --config
  std::string tor_dir;      // --tor-dir, else kDefaultTorDir
  std::optional<int> exit;  // set: return it (0 after --help, kExitUsage after a problem)
};

// `options` must hold --config and --tor-dir; `config_name` names the file in the problem
// ("--config EDGE.yaml is required").
OverlayArgs parse_overlay(const CommandText& cmd, const Args& args, std::span<const Option> options,
                          std::string_view config_name);

}  // namespace nj::ctl
