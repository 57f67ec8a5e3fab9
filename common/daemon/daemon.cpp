#include "common/daemon/daemon.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

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

namespace {

// "root", "nightjar-edge", or "uid 1234" for an owner without a name (under systemd's
// PrivateUsers=, every owner but root and the daemon's user shows as nobody).
std::string owner_name(uid_t uid) {
  if (passwd* pw = getpwuid(uid)) return pw->pw_name;
  return "uid " + std::to_string(uid);
}

// Calls `each` on data_dir and then on everything in it, stopping at the first problem. data_dir
// itself is the operator's choice and may be a symbolic link (followed: `follow` is true); what is
// inside was written by the daemon's user, so a link there is taken as the link, never the file it
// names. `listing` says what the walk is for, after "cannot list it".
Status walk_data_dir(const std::string& data_dir, const std::string& listing,
                     const std::function<Status(const std::filesystem::path&, bool follow)>& each) {
  if (auto st = each(data_dir, true); !st) return st;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(data_dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (auto st = each(it->path(), false); !st) return st;
  if (ec)
    return make_error("data_dir: " + data_dir + ": cannot list it" + listing + ": " + ec.message());
  return {};
}

}  // namespace

Status check_user(const std::string& user, const std::string& data_dir) {
  if (user.empty() || geteuid() == 0) return {};
  passwd* pw = getpwnam(user.c_str());
  if (!pw) return make_error("user: " + user + ": no such user");
  const uid_t uid = pw->pw_uid;
  if (geteuid() != uid)
    return make_error("user: " + user + ": the daemon runs as " + owner_name(geteuid()) +
                      ", which is neither root nor " + user + ": start it as " + user +
                      " (systemd's User=) or as root");
  // Nothing can give data_dir away now: an entry that is not the user's (something `nightjarctl`
  // wrote there as root, a copy restored without its owners) would fail later, less clearly.
  auto owned = [&](const std::filesystem::path& p, bool follow) -> Status {
    struct stat st {};
    if ((follow ? ::stat(p.c_str(), &st) : ::lstat(p.c_str(), &st)) != 0)
      return make_error("data_dir: " + p.string() + ": " + std::strerror(errno));
    if (st.st_uid == uid) return {};
    return make_error("data_dir: " + p.string() + " belongs to " + owner_name(st.st_uid) +
                      ", not to " + user + ", which the daemon runs as: give data_dir to " + user +
                      " (chown -R " + user + ": " + data_dir + ")");
  };
  return walk_data_dir(data_dir, "", owned);
}

Status drop_privileges(const std::string& user, const std::string& data_dir) {
  if (user.empty()) return {};
  passwd* pw = getpwnam(user.c_str());
  if (!pw) return make_error("user: " + user + ": no such user");
  if (geteuid() == pw->pw_uid) return {};  // started as the user: nothing to drop
  if (geteuid() != 0)
    return make_error("user: " + user + ": the daemon runs as " + owner_name(geteuid()) +
                      ": only root can change user");
  // The first entry that cannot be given to the user stops start-up: the daemon would fail on it
  // later, as that user, with a less helpful message (or not at all until a restart).
  auto give = [&](const std::filesystem::path& p, bool follow) -> Status {
    if ((follow ? chown(p.c_str(), pw->pw_uid, pw->pw_gid)
                : lchown(p.c_str(), pw->pw_uid, pw->pw_gid)) != 0)
      return make_error("data_dir: cannot give " + p.string() + " to " + user + ": " +
                        std::strerror(errno));
    return {};
  };
  if (auto st = walk_data_dir(data_dir, " to give it to " + user, give); !st) return st;
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
