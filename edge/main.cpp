// nightjar-edge: the public MX. Reads its configuration, binds its listeners (as its user with
// CAP_NET_BIND_SERVICE under systemd, or as root), drops root to the configured user if it was
// started as root, and serves until SIGTERM/SIGINT.
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/daemon/daemon.h"
#include "common/uv/loop.h"
#include "edge/config/config.h"
#include "edge/server/edge_server.h"

int main(int argc, char** argv) {
  namespace d = nj::daemon;
  d::Args args;
  if (auto rc = d::parse_args(argc, argv, "nightjar-edge", NJ_VERSION, "edge.example.yaml", args))
    return *rc;
  auto cfg = nj::edge::load(args.config);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().c_str());
    return d::kExitConfig;
  }
  if (args.check_only) {
    std::fputs(nj::edge::print_effective(*cfg).c_str(), stdout);
    std::fprintf(stderr, "%s: configuration ok\n", args.config.c_str());
    return 0;
  }
  d::init_logging("nightjar-edge", cfg->log.level, cfg->log.redact);
  d::raise_nofile();
  umask(077);

  if (auto st = d::check_user(cfg->user, cfg->data_dir); !st) {
    NJ_LOG_ERROR("start-up failed: %s", st.error().c_str());
    return d::kExitFailure;
  }

  nj::uv::Loop loop;
  nj::SystemClock clock;
  auto server = nj::edge::EdgeServer::create(*cfg, loop, clock);
  nj::Status st = server ? (*server)->listen() : nj::Status(nj::make_error(server.error()));
  if (st) st = d::drop_privileges(cfg->user, cfg->data_dir);
  if (!st) {
    NJ_LOG_ERROR("start-up failed: %s", st.error().c_str());
    return d::kExitFailure;
  }
  NJ_LOG_INFO("started hostname=%s domains=%zu", cfg->hostname.c_str(), cfg->domains.size());
  d::run_until_signal(loop, [&] { (*server)->shutdown(); });
  server->reset();
  NJ_LOG_INFO("stopped");
  return 0;
}
