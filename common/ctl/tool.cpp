#include "common/ctl/tool.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace nj::ctl {
namespace {

const Command* find_command(const Tool& tool, std::string_view name) {
  for (const auto& c : tool.commands)
    if (name == c.name) return &c;
  return nullptr;
}

int unknown_command(std::string_view name) {
  std::fprintf(stderr, "%.*s: unknown command '%.*s' (try %.*s --help)\n",
               static_cast<int>(kProgram.size()), kProgram.data(), static_cast<int>(name.size()),
               name.data(), static_cast<int>(kProgram.size()), kProgram.data());
  return kExitUsage;
}

}  // namespace

std::string help_text(const Tool& tool) {
  const std::string p(kProgram);
  std::string out = "usage: " + p + " [--config FILE] COMMAND [ARGS]\n       " + p +
                    " COMMAND --help    (or: " + p + " help COMMAND)\n\ncommands:\n";
  for (const auto& c : tool.commands) {
    std::string name(c.name);
    name.resize(std::max<size_t>(name.size(), 11), ' ');
    out += "  " + name + " " + std::string(c.summary) + "\n";
  }
  return out + "\n" + std::string(tool.config_note) + "\n";
}

int run_tool(const Tool& tool, int argc, char** argv) {
  Args args(argv + 1, argv + argc);
  // `nightjarctl --config FILE COMMAND ...`: the global option goes to the command.
  Args global;
  if (args.size() >= 3 && args[0] == "--config") {
    global = {args[0], args[1]};
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty()) {
    std::fputs(help_text(tool).c_str(), stderr);
    return kExitUsage;
  }
  std::string_view cmd = args[0];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    if (cmd == "help" && args.size() >= 2) {  // `help COMMAND` is `COMMAND --help`
      if (const Command* c = find_command(tool, args[1])) return c->run({"--help"});
      return unknown_command(args[1]);
    }
    std::fputs(help_text(tool).c_str(), stdout);
    return 0;
  }
  const Command* c = find_command(tool, cmd);
  if (!c) return unknown_command(cmd);
  Args rest(args.begin() + 1, args.end());
  rest.insert(rest.end(), global.begin(), global.end());
  return c->run(rest);
}

}  // namespace nj::ctl
