// What both daemons do around their server: command-line handling (--config, --check-config,
// --version), logging set-up, the open-file limit, the configured user (started as it, as systemd's
// units do, or as root, dropped after binding), and running the loop until SIGTERM/SIGINT.
// Trust: the arguments and the `user` come from the operator; the data directory is ours, but
// what is in it was written by the daemon's user (links there are not followed).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/base/log.h"
#include "common/base/result.h"
#include "common/uv/loop.h"

namespace nj::daemon {

inline constexpr int kExitUsage = 64;   // EX_USAGE
inline constexpr int kExitConfig = 78;  // EX_CONFIG
inline constexpr int kExitFailure = 1;

struct Args {
  std::string config;
  bool check_only = false;
};

// Parses argv. Returns the exit status when the process should stop here (--help, --version,
// a usage error), otherwise fills `args`.
std::optional<int> parse_args(int argc, char** argv, const char* name, const char* version,
                              const char* example, Args& args);

// Sets up logging for a daemon (timestamps only outside the journal) and warns when redaction is
// off.
void init_logging(const char* name, log::Level level, bool redact);

// Raises the open-file limit to its hard maximum: every session holds a descriptor.
void raise_nofile();

// Whether the daemon may start as the user it runs as, before it opens anything in `data_dir`.
// Root may (drop_privileges changes to `user` later), and so may anyone when `user` is empty.
// `user` itself (systemd's User=) may when `data_dir` and everything in it are already its own
// (data_dir a symbolic link followed, a link inside judged as the link): the first entry that is
// not is an error naming it, its owner and the chown that gives it. Anyone else is an error.
Status check_user(const std::string& user, const std::string& data_dir);

// Started as root: gives `data_dir` (and what is in it; a symbolic link inside as a link, not its
// target) to `user` and drops root for good. An entry that cannot be given (chown fails) is an
// error naming its path and the reason, and root is kept. Nothing when `user` is empty or the
// daemon already runs as `user` (check_user has looked at data_dir).
Status drop_privileges(const std::string& user, const std::string& data_dir);

// Runs the loop until SIGTERM or SIGINT, then calls `stop` (which must end every handle's work)
// and returns. SIGHUP calls `reload` (when given; otherwise it is logged and ignored).
void run_until_signal(uv::Loop& loop, const std::function<void()>& stop,
                      const std::function<void()>& reload = {});

}  // namespace nj::daemon
