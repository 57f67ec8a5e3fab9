// The one argument parser of both operator tools (the edge's nightjarctl and the inner's) and
// their one way to report a problem. A command declares its options (flags, options with a
// value, repeatable ones, and gone ones that say where they went) and its texts; parse() reads
// `--x VALUE`, `--x=VALUE`, flags and positionals in any order, answers --help (-h) anywhere with
// the usage and the details on stdout, and refuses anything else with one line and the usage on
// stderr (exit 2). A command's own failures are one line on stderr with exit 1 (fail()).
// Every message starts "nightjarctl COMMAND: ", whichever tier's binary prints it: on either
// machine the tool is installed as nightjarctl.
// Trust: the arguments are the operator's; nothing here reads a file.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace nj::ctl {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr std::string_view kProgram = "nightjarctl";

using Args = std::vector<std::string_view>;

// A command's texts: its name, its usage lines ("usage: nightjarctl NAME ...", each ending in a
// newline) and what --help prints after them. Every line fits 80 columns (tests/unit/ctl).
struct CommandText {
  std::string_view name;
  std::string_view usage;
  std::string_view help;
};

// "nightjarctl NAME: PROBLEM" and the usage on stderr; returns kExitUsage.
int usage_error(const CommandText& cmd, std::string_view problem);
// "nightjarctl NAME: PROBLEM" on stderr; returns kExitFailure.
int fail(const CommandText& cmd, std::string_view problem);
// The usage problem of a positional argument a command does not take.
std::string unexpected(std::string_view arg);

struct Option {
  enum Kind {
    flag,      // --yes: no value
    value,     // --out PREFIX or --out=PREFIX, at most once
    repeated,  // like value, any number of times, kept in order
    gone,      // refused with `why` (an old option: what does its work now)
  };
  std::string_view name;  // "--out"
  Kind kind = value;
  std::string_view also = {};  // another spelling of the same option ("-y", "--config")
  std::string_view why = {};   // gone: the message
};

// What parse_args found. Options are looked up by their name (never by `also`).
class Parsed {
 public:
  bool has(std::string_view name) const;
  // The value of a `value` option; empty when it was not given.
  std::string value(std::string_view name) const;
  // The values of a `repeated` option in the order given.
  std::vector<std::string> values(std::string_view name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }
  bool help() const { return help_; }

 private:
  friend Result<Parsed> parse_args(const Args& args, std::span<const Option> options);
  std::vector<std::pair<std::string, std::string>> given_;  // name, value ("" for a flag)
  std::vector<std::string> positionals_;
  bool help_ = false;
};

// The arguments read by `options`; an error is the problem's one line. --help or -h anywhere
// wins over any problem. An argument that starts with '-' (other than "-" alone) is an option.
Result<Parsed> parse_args(const Args& args, std::span<const Option> options);

// parse_args for a command, with its answers printed: `exit` is set when the command must return
// at once (0 after its --help, kExitUsage after a usage error).
struct Parse {
  Parsed args;
  std::optional<int> exit;
};
Parse parse(const CommandText& cmd, const Args& args, std::span<const Option> options);

}  // namespace nj::ctl
