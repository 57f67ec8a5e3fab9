// nightjar-inner: the mailbox server behind Tor/I2P. Reads its configuration, binds its loopback
// listeners, drops root to the configured user if it was started as root (systemd starts it as
// that user), and serves until SIGTERM/SIGINT; SIGHUP re-reads its fleet of edges.
#include <sys/stat.h>

#include <cstdio>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/daemon/daemon.h"
#include "common/uv/loop.h"
#include "inner/config/config.h"
#include "inner/server/inner_server.h"

int main(int argc, char** argv) {
  namespace d = nj::daemon;
  d::Args args;
  if (auto rc = d::parse_args(argc, argv, "nightjar-inner", NJ_VERSION, "inner.example.yaml", args))
    return *rc;
  auto cfg = nj::inner::load(args.config);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().c_str());
    return d::kExitConfig;
  }
  if (args.check_only) {
    std::fputs(nj::inner::print_effective(*cfg).c_str(), stdout);
    std::fprintf(stderr, "%s: configuration ok\n", args.config.c_str());
    return 0;
  }
  d::init_logging("nightjar-inner", cfg->log.level, cfg->log.redact);
  d::raise_nofile();
  umask(077);

  if (auto st = d::check_user(cfg->user, cfg->data_dir); !st) {
    NJ_LOG_ERROR("start-up failed: %s", st.error().c_str());
    return d::kExitFailure;
  }

  nj::uv::Loop loop;
  nj::SystemClock clock;
  auto server = nj::inner::InnerServer::create(*cfg, loop, clock, args.config);
  nj::Status st = server ? (*server)->listen() : nj::Status(nj::make_error(server.error()));
  if (st) st = d::drop_privileges(cfg->user, cfg->data_dir);
  if (!st) {
    NJ_LOG_ERROR("start-up failed: %s", st.error().c_str());
    return d::kExitFailure;
  }
  NJ_LOG_INFO("started hostname=%s", cfg->hostname.c_str());
  d::run_until_signal(
      loop, [&] { (*server)->shutdown(); },
      [&] {
        // The fleet only: other changes to inner.yaml take effect at the next start.
        auto r = (*server)->reload();
        if (!r) NJ_LOG_ERROR("reload: %s (the running fleet is unchanged)", r.error().c_str());
      });
  server->reset();
  NJ_LOG_INFO("stopped");
  return 0;
}
