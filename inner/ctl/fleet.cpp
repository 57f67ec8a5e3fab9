// nightjarctl edge and nightjarctl status (inner/ctl/fleet.h).
// Trust: run by the operator on the daemon's machine. The registry is written in one synced
// transaction (LMDB serializes it with the daemon's writer); the entry is checked by the
// config's own rules. The daemon's answers are printed as they come, bounded by the client.
#include "inner/ctl/fleet.h"

#include <cstdio>
#include <ctime>
#include <string>

#include "common/base/clock.h"
#include "common/control/client.h"
#include "common/crypto/crypto.h"
#include "common/crypto/keyfile.h"
#include "common/store/lmdb.h"
#include "edge/config/config.h"
#include "inner/config/config.h"
#include "inner/fleet/edge_registry.h"

namespace nj::ctl {
namespace {

constexpr const char* kEdgeUsage =
    "usage: nightjarctl edge --config FILE add NAME --address HOST:PORT\n"
    "                          --public-key FILE [--transport tor|i2p|direct]\n"
    "                          [--socks HOST:PORT] [--failover-after DURATION]\n"
    "       nightjarctl edge --config FILE remove NAME\n"
    "       nightjarctl edge --config FILE list\n";

constexpr const char* kStatusUsage =
    "usage: nightjarctl status --config INNER.yaml\n"
    "       nightjarctl status --edge-config EDGE.yaml\n";

int usage(const char* cmd, const char* text, const std::string& problem) {
  std::fprintf(stderr, "nightjarctl %s: %s\n%s", cmd, problem.c_str(), text);
  return 2;
}

int fail(const char* cmd, const std::string& problem) {
  std::fprintf(stderr, "nightjarctl %s: %s\n", cmd, problem.c_str());
  return 1;
}

const char* transport_name(inner::Transport t) {
  switch (t) {
    case inner::Transport::tor:
      return "tor";
    case inner::Transport::i2p:
      return "i2p";
    case inner::Transport::direct:
      return "direct";
  }
  return "?";
}

// Tells a running inner to re-read its fleet; says what happened either way.
int tell_the_inner(const inner::InnerConfig& cfg) {
  const std::string path = control::socket_path(cfg.data_dir);
  if (!control::answers(path)) {
    std::printf(
        "the inner is not running (nothing answers on %s): the change takes effect "
        "when it starts\n",
        path.c_str());
    return 0;
  }
  auto r = control::request(path, "reload", 30000);
  if (!r) return fail("edge", "the change is stored, but the running inner says: " + r.error());
  std::printf("the running inner applied it:\n%s", r->c_str());
  return 0;
}

}  // namespace

int cmd_edge(const std::vector<std::string_view>& args) {
  std::string config, address, public_key, transport, socks, failover_after;
  std::vector<std::string> pos;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "%s"
          "add: a new edge of the fleet, with its link address and the public key it\n"
          "made (its edge.pub); transport defaults to tor, failover_after to 10m.\n"
          "remove: revokes the edge's key for good (it never opens a link again, even\n"
          "if it comes back) and hands what it holds to the other edges at once.\n"
          "list: the fleet as the inner runs it, and the revoked keys.\n"
          "A running inner applies add and remove at once; SIGHUP does the same for\n"
          "changes to inner.yaml's edges.\n",
          kEdgeUsage);
      return 0;
    }
    auto value = [&](std::string& into) {
      if (i + 1 >= args.size()) return false;
      into = std::string(args[++i]);
      return true;
    };
    bool ok = true;
    if (a == "--config")
      ok = value(config);
    else if (a == "--address")
      ok = value(address);
    else if (a == "--public-key")
      ok = value(public_key);
    else if (a == "--transport")
      ok = value(transport);
    else if (a == "--socks")
      ok = value(socks);
    else if (a == "--failover-after")
      ok = value(failover_after);
    else if (a.size() > 2 && a.substr(0, 2) == "--")
      return usage("edge", kEdgeUsage, "unknown option '" + std::string(a) + "'");
    else
      pos.emplace_back(a);
    if (!ok) return usage("edge", kEdgeUsage, std::string(a) + " needs a value");
  }
  if (config.empty()) return usage("edge", kEdgeUsage, "--config FILE is required");
  if (pos.empty()) return usage("edge", kEdgeUsage, "add, remove or list?");
  const std::string action = pos[0];
  if (action == "add" && (pos.size() != 2 || address.empty() || public_key.empty()))
    return usage("edge", kEdgeUsage, "add wants NAME, --address and --public-key");
  if (action == "remove" && pos.size() != 2) return usage("edge", kEdgeUsage, "remove wants NAME");
  if (action == "list" && pos.size() != 1) return usage("edge", kEdgeUsage, "list takes no NAME");
  if (action != "add" && action != "remove" && action != "list")
    return usage("edge", kEdgeUsage, "unknown action '" + action + "'");
  if (action != "add" && (!address.empty() || !public_key.empty() || !transport.empty() ||
                          !socks.empty() || !failover_after.empty()))
    return usage("edge", kEdgeUsage, "only add takes --address and the like");

  auto cfg = inner::load(config);
  if (!cfg) return fail("edge", cfg.error());
  crypto::init();
  auto configured = inner::configured_edges(*cfg);
  if (!configured) return fail("edge", config + ": " + configured.error());

  inner::EdgeSpec spec;
  if (action == "add") {
    auto entry = inner::check_edge_entry(pos[1], address, transport, socks, failover_after);
    if (!entry) return fail("edge", "add " + pos[1] + ":\n" + entry.error());
    auto key = crypto::load_public_key(public_key);
    if (!key) return fail("edge", "--public-key " + public_key + ": " + key.error());
    spec.link = *entry;
    spec.key = *key;
  }

  const std::string dir = cfg->data_dir + "/store";
  auto env = store::Env::open(dir);
  if (!env) return fail("edge", dir + ": " + env.error());
  auto reg = inner::EdgeRegistry::open(*env);
  if (!reg) return fail("edge", dir + ": " + reg.error());
  SystemClock clock;

  if (action == "add") {
    if (auto s = (*reg)->add(spec, *configured, clock.now()); !s) return fail("edge", s.error());
    std::printf("edge %s added: %s over %s\n", spec.link.name.c_str(),
                crypto::public_key_line(spec.key).c_str(), transport_name(spec.link.transport));
    return tell_the_inner(*cfg);
  }
  if (action == "remove") {
    auto r = (*reg)->remove(pos[1], *configured, clock.now());
    if (!r) return fail("edge", r.error());
    std::printf("edge %s revoked: its key never opens a link again\n", r->name.c_str());
    for (const auto& c : *configured)
      if (c.key == r->key)
        std::printf(
            "(inner.yaml still names it as %s; delete that entry: the inner leaves it "
            "out meanwhile)\n",
            c.origin.c_str());
    return tell_the_inner(*cfg);
  }

  std::vector<std::string> warnings;
  auto fleet = inner::effective_fleet(*cfg, **reg, warnings);
  if (!fleet) return fail("edge", fleet.error());
  std::printf("%zu edges:\n", fleet->size());
  for (const auto& e : *fleet)
    std::printf("  %-12s %-6s %s (%s), failover after %llds\n", e.link.name.c_str(),
                transport_name(e.link.transport), e.link.address.c_str(), e.origin.c_str(),
                static_cast<long long>(e.link.failover_after.count() / 1000));
  for (const auto& w : warnings) std::printf("warning: %s\n", w.c_str());
  auto revoked = (*reg)->revoked();
  if (!revoked) return fail("edge", revoked.error());
  if (!revoked->empty()) {
    std::printf("revoked keys:\n");
    for (const auto& r : *revoked)
      std::printf("  %-12s %s, revoked %s\n", r.name.c_str(),
                  crypto::public_key_line(r.key).c_str(),
                  utc_text(r.revoked_at, UtcStyle::minutes).c_str());
  }
  return 0;
}

int cmd_status(const std::vector<std::string_view>& args) {
  std::string inner_config, edge_config;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "%s"
          "Asks the running daemon for its state: on the inner, each edge's link (state,\n"
          "since when, last error, round trip), what each holds and the outbound queue\n"
          "by state and delay class; on the edge, its queues and its link. Counts, times\n"
          "and states only: never an address, an account or an IP.\n",
          kStatusUsage);
      return 0;
    }
    if (a == "--config" && i + 1 < args.size())
      inner_config = std::string(args[++i]);
    else if (a == "--edge-config" && i + 1 < args.size())
      edge_config = std::string(args[++i]);
    else
      return usage("status", kStatusUsage, "unknown argument '" + std::string(a) + "'");
  }
  if (inner_config.empty() == edge_config.empty())
    return usage("status", kStatusUsage, "give --config or --edge-config");
  std::string data_dir;
  if (!inner_config.empty()) {
    auto cfg = inner::load(inner_config);
    if (!cfg) return fail("status", cfg.error());
    data_dir = cfg->data_dir;
  } else {
    auto cfg = edge::load(edge_config);
    if (!cfg) return fail("status", cfg.error());
    data_dir = cfg->data_dir;
  }
  auto r = control::request(control::socket_path(data_dir), "status");
  if (!r) return fail("status", r.error());
  std::fputs(r->c_str(), stdout);
  return 0;
}

}  // namespace nj::ctl
