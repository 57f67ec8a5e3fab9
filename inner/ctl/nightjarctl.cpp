// nightjarctl: the operator tool. One table of subcommands; each takes its own arguments and
// returns the process exit status. Errors go to stderr as one line, with a non-zero exit.
// Help: `nightjarctl --help` gives one line per command; each command's details (its usage and
// what it does) are its own `COMMAND --help`, written beside its code. Every help line fits 80
// columns (tests/unit/ctl checks them all).
// Trust: run by the operator on the daemon's machine; arguments are the operator's.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/crypto/keyfile.h"
#include "inner/ctl/account.h"
#include "inner/ctl/edge_queue.h"
#include "inner/ctl/fleet.h"
#include "inner/ctl/overlay.h"
#include "inner/ctl/queue.h"
#include "inner/ctl/quota.h"

namespace nj::ctl {
namespace {

using Args = std::vector<std::string_view>;

struct Command {
  const char* name;
  const char* summary;  // its one line in `nightjarctl --help`; details are in COMMAND --help
  int (*run)(const Args& args);
};

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

constexpr const char* kKeygenUsage = "usage: nightjarctl keygen --out PREFIX\n";

int usage_error(const char* cmd, const char* usage, const std::string& problem) {
  std::fprintf(stderr, "nightjarctl %s: %s\n%s", cmd, problem.c_str(), usage);
  return kExitUsage;
}

// keygen --out PREFIX: a new X25519 key pair in PREFIX.secret (0600) and PREFIX.pub; never
// overwrites. Prints the public key line, which the other side of a pairing needs.
int cmd_keygen(const Args& args) {
  std::string prefix;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::printf(
          "%s"
          "Writes a new key pair, PREFIX.secret (mode 0600) and PREFIX.pub, and refuses\n"
          "to overwrite either. Prints the public key line, which the other side of a\n"
          "pairing needs (it is public: any channel will do).\n",
          kKeygenUsage);
      return 0;
    }
    if (args[i] == "--out") {
      if (i + 1 >= args.size()) return usage_error("keygen", kKeygenUsage, "--out needs a value");
      prefix = std::string(args[++i]);
    } else if (args[i].rfind("--out=", 0) == 0) {
      prefix = std::string(args[i].substr(6));
    } else {
      return usage_error("keygen", kKeygenUsage, "unknown argument '" + std::string(args[i]) + "'");
    }
  }
  if (prefix.empty()) return usage_error("keygen", kKeygenUsage, "--out PREFIX is required");
  crypto::init();
  auto kp = crypto::KeyPair::generate();
  if (auto st = crypto::write_keypair(prefix, kp); !st) {
    std::fprintf(stderr, "nightjarctl keygen: %s\n", st.error().c_str());
    return kExitFailure;
  }
  std::printf("%s\n", crypto::public_key_line(kp.pub).c_str());
  std::fprintf(stderr, "nightjarctl keygen: wrote %s.secret and %s.pub\n", prefix.c_str(),
               prefix.c_str());
  return 0;
}

// In the order an operator meets them. Each summary fits the 80-column help with its name.
const Command kCommands[] = {
    {"keygen", "create a key pair: PREFIX.secret and PREFIX.pub", cmd_keygen},
    {"account", "add, change, list and remove the inner's accounts", cmd_account},
    {"quota", "show or raise an account's Internet recipient quota", cmd_quota},
    {"queue", "list the inner's outbound queue", cmd_queue},
    {"edge", "add, remove (revoke) and list the inner's edges", cmd_edge},
    {"status", "a running daemon's links, queues and edges", cmd_status},
    {"overlay", "print torrc or i2pd lines and MX records for inner and edges", cmd_overlay},
    {"edge-queue", "read an edge's sealed inbound queue with the inner's key", cmd_edge_queue},
};

void print_help(FILE* out) {
  std::fprintf(out,
               "usage: nightjarctl [--config FILE] COMMAND [ARGS]\n"
               "       nightjarctl COMMAND --help    (or: nightjarctl help COMMAND)\n"
               "\n"
               "commands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-11s %s\n", c.name, c.summary);
  std::fprintf(out,
               "\n"
               "--config FILE, the inner's configuration, is passed on to the command.\n");
}

const Command* find_command(std::string_view name) {
  for (const auto& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

}  // namespace
}  // namespace nj::ctl

int main(int argc, char** argv) {
  using namespace nj::ctl;
  if (argc < 2) {
    print_help(stderr);
    return kExitUsage;
  }
  // `nightjarctl --config FILE COMMAND ...`: the global option goes to the command.
  std::vector<std::string_view> global;
  if (argc >= 4 && std::string_view(argv[1]) == "--config") {
    global = {argv[1], argv[2]};
    argv += 2;
    argc -= 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    if (cmd == "help" && argc >= 3) {  // `help COMMAND` is `COMMAND --help`
      if (const Command* c = find_command(argv[2])) return c->run({"--help"});
      std::fprintf(stderr, "nightjarctl: unknown command '%s' (try nightjarctl --help)\n", argv[2]);
      return kExitUsage;
    }
    print_help(stdout);
    return 0;
  }
  if (const Command* c = find_command(cmd)) {
    Args args(argv + 2, argv + argc);
    args.insert(args.end(), global.begin(), global.end());
    return c->run(args);
  }
  std::fprintf(stderr, "nightjarctl: unknown command '%s' (try nightjarctl --help)\n", argv[1]);
  return kExitUsage;
}
