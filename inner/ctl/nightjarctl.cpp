// nightjarctl: the operator tool. One table of subcommands; each takes its own arguments and
// returns the process exit status. Errors go to stderr as one line, with a non-zero exit.
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
#include "inner/ctl/overlay.h"
#include "inner/ctl/queue.h"
#include "inner/ctl/quota.h"

namespace nj::ctl {
namespace {

using Args = std::vector<std::string_view>;

struct Command {
  const char* name;
  const char* usage;    // arguments after the command name
  const char* summary;  // one line for --help
  int (*run)(const Args& args);
};

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

int usage_error(const char* cmd, const char* usage, const std::string& problem) {
  std::fprintf(stderr, "nightjarctl %s: %s\nusage: nightjarctl %s %s\n", cmd, problem.c_str(), cmd,
               usage);
  return kExitUsage;
}

// keygen --out PREFIX: a new X25519 key pair in PREFIX.secret (0600) and PREFIX.pub; never
// overwrites. Prints the public key line, which the other side of a pairing needs.
int cmd_keygen(const Args& args) {
  static const char* kUsage = "--out PREFIX";
  std::string prefix;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::printf(
          "usage: nightjarctl keygen %s\n"
          "Writes PREFIX.secret (mode 0600) and PREFIX.pub; refuses to overwrite either.\n"
          "Prints the public key line.\n",
          kUsage);
      return 0;
    }
    if (args[i] == "--out") {
      if (i + 1 >= args.size()) return usage_error("keygen", kUsage, "--out needs a value");
      prefix = std::string(args[++i]);
    } else if (args[i].rfind("--out=", 0) == 0) {
      prefix = std::string(args[i].substr(6));
    } else {
      return usage_error("keygen", kUsage, "unknown argument '" + std::string(args[i]) + "'");
    }
  }
  if (prefix.empty()) return usage_error("keygen", kUsage, "--out PREFIX is required");
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

const Command kCommands[] = {
    {"keygen", "--out PREFIX", "create a key pair (PREFIX.secret, PREFIX.pub)", cmd_keygen},
    {"edge-queue", "--data-dir DIR --inner-secret FILE list|show ID",
     "read an edge's sealed inbound queue with the inner's key", cmd_edge_queue},
    {"account", "--config FILE add|passwd|reset|del|list|show|set|unset ADDRESS",
     "manage the inner's accounts and sealed mailboxes", cmd_account},
    {"queue", "--config FILE list", "list the inner's outbound queue", cmd_queue},
    {"quota", "--config FILE show ADDRESS | grant ADDRESS COUNT",
     "an account's Internet recipient quota; grant adds recipients for 24 hours", cmd_quota},
    {"overlay", "tor|i2p --inner-config FILE [--edge-config FILE] [--edge-onion NAME]",
     "print torrc / i2pd lines for the inner's and the edge's listeners", cmd_overlay},
};

void print_help(FILE* out) {
  std::fprintf(out,
               "usage: nightjarctl COMMAND [ARGS]\n"
               "       nightjarctl COMMAND --help\n\n"
               "commands:\n");
  for (const auto& c : kCommands) {
    std::fprintf(out, "  %-10s %-50s %s\n", c.name, c.usage, c.summary);
  }
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
    print_help(stdout);
    return 0;
  }
  for (const auto& c : kCommands) {
    if (cmd == c.name) {
      Args args(argv + 2, argv + argc);
      args.insert(args.end(), global.begin(), global.end());
      return c.run(args);
    }
  }
  std::fprintf(stderr, "nightjarctl: unknown command '%s' (try nightjarctl --help)\n", argv[1]);
  return kExitUsage;
}
