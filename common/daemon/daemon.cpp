#include "common/daemon/daemon.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/uv/handles.h"

namespace nj::daemon {
namespace {

void usage(FILE* to, const char* name, const char* example) {
  std::fprintf(to,
               "usage: %s --config FILE [--check-config]\n"
               "  --config FILE    the YAML configuration (see %s)\n"
               "  --check-config   validate the configuration, print the effective settings, exit\n"
               "  --version        print the version\n",
               name, example);
}

}  // namespace

std::optional<int> parse_args(int argc, char** argv, const char* name, const char* version,
                              const char* example, Args& args) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      args.config = argv[++i];
    } else if (a == "--check-config") {
      args.check_only = true;
    } else if (a == "--version") {
      std::printf("%s %s\n", name, version);
      return 0;
    } else if (a == "--help" || a == "-h") {
      usage(stdout, name, example);
      return 0;
    } else {
      std::fprintf(stderr, "%s: unknown argument: %s\n", name, a.c_str());
      usage(stderr, name, example);
      return kExitUsage;
    }
  }
  if (args.config.empty()) {
    usage(stderr, name, example);
    return kExitUsage;
  }
  return std::nullopt;
}

void init_logging(const char* name, log::Level level, bool redact) {
  log::Options lo;
  lo.ident = name;
  lo.level = level;
  lo.redact = redact;
  lo.timestamps = std::getenv("JOURNAL_STREAM") == nullptr;  // the journal adds its own
  log::init(lo);
  if (!redact)
    NJ_LOG_WARN("log.redact is off: client addresses and mail addresses are written in the clear");
}

void raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

Status drop_privileges(const std::string& user, const std::string& data_dir) {
  if (user.empty()) return {};
  if (geteuid() != 0) return make_error("user: " + user + ": only root can change user");
  passwd* pw = getpwnam(user.c_str());
  if (!pw) return make_error("user: " + user + ": no such user");
  // The first entry that cannot be given to the user stops start-up: the daemon would fail on it
  // later, as that user, with a less helpful message (or not at all until a restart). data_dir
  // itself is the operator's choice and may be a symbolic link; what is inside was written by the
  // daemon's user, so a link there is given away as a link (lchown), never the file it names.
  auto give = [&](const std::filesystem::path& p, bool follow) -> Status {
    if ((follow ? chown(p.c_str(), pw->pw_uid, pw->pw_gid)
                : lchown(p.c_str(), pw->pw_uid, pw->pw_gid)) != 0)
      return make_error("data_dir: cannot give " + p.string() + " to " + user + ": " +
                        std::strerror(errno));
    return {};
  };
  if (auto st = give(data_dir, true); !st) return st;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(data_dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (auto st = give(it->path(), false); !st) return st;
  if (ec)
    return make_error("data_dir: " + data_dir + ": cannot list it to give it to " + user + ": " +
                      ec.message());
  if (setgroups(0, nullptr) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
    return make_error("user: " + user + ": cannot drop privileges: " + std::strerror(errno));
  if (setuid(0) == 0) return make_error("user: " + user + ": root could be regained");
  return {};
}

void run_until_signal(uv::Loop& loop, const std::function<void()>& stop,
                      const std::function<void()>& reload) {
  signal(SIGPIPE, SIG_IGN);
  uv::Signal sigterm(loop), sigint(loop), sighup(loop);
  auto on_signal = [&](int signum) {
    NJ_LOG_INFO("signal %d: shutting down", signum);
    stop();
    sigterm.close();
    sigint.close();
    sighup.close();
    loop.stop();
  };
  (void)sigterm.start(SIGTERM, on_signal);
  (void)sigint.start(SIGINT, on_signal);
  if (reload) {
    (void)sighup.start(SIGHUP, [&](int) {
      NJ_LOG_INFO("signal SIGHUP: reloading");
      reload();
    });
  } else {
    // Nothing to re-read: a stray SIGHUP must not end the daemon (its default action).
    (void)sighup.start(SIGHUP, [](int) { NJ_LOG_INFO("signal SIGHUP: nothing to reload"); });
  }
  loop.run();
}

}  // namespace nj::daemon
