// nightjar-edge: the public MX. Reads its configuration, binds its listeners as root if it must,
// drops to the configured user, and serves until SIGTERM/SIGINT.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/uv/handles.h"
#include "common/uv/loop.h"
#include "edge/config/config.h"
#include "edge/server/edge_server.h"

namespace {

constexpr int kExitUsage = 64;   // EX_USAGE
constexpr int kExitConfig = 78;  // EX_CONFIG
constexpr int kExitFailure = 1;

void usage(FILE* to) {
  std::fputs(
      "usage: nightjar-edge --config FILE [--check-config]\n"
      "  --config FILE    the edge's YAML configuration (see edge.example.yaml)\n"
      "  --check-config   validate the configuration, print the effective settings, exit\n"
      "  --version        print the version\n",
      to);
}

// Raise the open-file limit to its hard maximum: every SMTP session holds a descriptor.
void raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

nj::Status drop_privileges(const std::string& user, const std::string& data_dir) {
  if (user.empty()) return {};
  if (geteuid() != 0) return nj::make_error("user: " + user + ": only root can change user");
  errno = 0;
  passwd* pw = getpwnam(user.c_str());
  if (!pw) return nj::make_error("user: " + user + ": no such user");
  // The data directory and the store's files belong to the daemon's user.
  std::error_code ec;
  auto own = [&](const std::filesystem::path& p) {
    if (chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) ec = std::error_code(errno, std::generic_category());
  };
  own(data_dir);
  for (auto it = std::filesystem::recursive_directory_iterator(data_dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    own(it->path());
  if (ec) return nj::make_error("data_dir: " + data_dir + ": cannot give it to " + user + ": " + ec.message());
  if (setgroups(0, nullptr) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
    return nj::make_error("user: " + user + ": cannot drop privileges: " + std::strerror(errno));
  if (setuid(0) == 0) return nj::make_error("user: " + user + ": root could be regained");
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--check-config") {
      check_only = true;
    } else if (a == "--version") {
      std::puts("nightjar-edge " NJ_VERSION);
      return 0;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "nightjar-edge: unknown argument: %s\n", a.c_str());
      usage(stderr);
      return kExitUsage;
    }
  }
  if (config_path.empty()) {
    usage(stderr);
    return kExitUsage;
  }

  auto cfg = nj::edge::load(config_path);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().c_str());
    return kExitConfig;
  }
  if (check_only) {
    std::fputs(nj::edge::print_effective(*cfg).c_str(), stdout);
    std::fprintf(stderr, "%s: configuration ok\n", config_path.c_str());
    return 0;
  }

  nj::log::Options lo;
  lo.ident = "nightjar-edge";
  lo.level = cfg->log.level;
  lo.redact = cfg->log.redact;
  lo.timestamps = getenv("JOURNAL_STREAM") == nullptr;  // the journal adds its own
  nj::log::init(lo);
  if (!lo.redact)
    NJ_LOG_WARN("log.redact is off: client addresses and mail addresses are written in the clear");

  signal(SIGPIPE, SIG_IGN);
  raise_nofile();
  umask(077);
  std::filesystem::create_directories(cfg->data_dir);

  nj::uv::Loop loop;
  nj::SystemClock clock;
  auto server = nj::edge::EdgeServer::create(*cfg, loop, clock);
  if (!server) {
    NJ_LOG_ERROR("start-up failed: %s", server.error().c_str());
    return kExitFailure;
  }
  if (auto s = (*server)->listen(); !s) {
    NJ_LOG_ERROR("start-up failed: %s", s.error().c_str());
    return kExitFailure;
  }
  if (auto s = drop_privileges(cfg->user, cfg->data_dir); !s) {
    NJ_LOG_ERROR("start-up failed: %s", s.error().c_str());
    return kExitFailure;
  }

  nj::uv::Signal sigterm(loop), sigint(loop);
  auto stop = [&](int signum) {
    NJ_LOG_INFO("signal %d: shutting down", signum);
    (*server)->shutdown();
    sigterm.close();
    sigint.close();
    loop.stop();
  };
  (void)sigterm.start(SIGTERM, stop);
  (void)sigint.start(SIGINT, stop);

  NJ_LOG_INFO("started hostname=%s domains=%zu", cfg->hostname.c_str(), cfg->domains.size());
  loop.run();
  server->reset();
  NJ_LOG_INFO("stopped");
  return 0;
}
