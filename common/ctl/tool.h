// The command table and dispatch of both operator tools: `nightjarctl [--config FILE] COMMAND
// [ARGS]`. Each tier's main() is its table and one call to run_tool: the edge's binary
// (edge/ctl, installed on the edge as nightjarctl) and the inner's (inner/ctl) answer --help,
// `help COMMAND`, `COMMAND --help` and an unknown command the same way. `nightjarctl --help`
// gives one line per command; each command's details are its own --help, written beside its
// code. Every help line fits 80 columns (tests/unit/ctl checks both binaries).
// Trust: the arguments are the operator's.
#pragma once

#include <span>
#include <string_view>

#include "common/ctl/args.h"

namespace nj::ctl {

struct Command {
  std::string_view name;
  std::string_view summary;  // its one line in `nightjarctl --help`; details in COMMAND --help
  int (*run)(const Args& args);
};

struct Tool {
  std::span<const Command> commands;  // in the order an operator meets them
  // The last line of --help: whose configuration the global --config FILE is.
  std::string_view config_note;
};

// The whole of `nightjarctl --help`.
std::string help_text(const Tool& tool);

// main() of a tool: the global `--config FILE` (before COMMAND) is passed on to the command
// after its own arguments; no arguments print the help on stderr (exit 2). Returns the exit
// status.
int run_tool(const Tool& tool, int argc, char** argv);

}  // namespace nj::ctl
