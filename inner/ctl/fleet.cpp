// nightjarctl edge (inner/ctl/fleet.h).
// Trust: run by the operator on the inner's machine. The registry is written in one synced
// transaction (LMDB serializes it with the daemon's writer); the entry is checked by the
// config's own rules. The daemon's answer is printed as it comes, bounded by the client.
#include "inner/ctl/fleet.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <string>

#include "common/base/clock.h"
#include "common/control/client.h"
#include "common/crypto/crypto.h"
#include "common/crypto/keyfile.h"
#include "common/store/lmdb.h"
#include "inner/config/config.h"
#include "inner/fleet/edge_registry.h"

namespace nj::ctl {
namespace {

constexpr CommandText kText{
    "edge",
    "usage: nightjarctl edge --config FILE add NAME --address HOST:PORT\n"
    "                          --public-key FILE [--transport tor|i2p|direct]\n"
    "                          [--socks HOST:PORT] [--failover-after DURATION]\n"
    "       nightjarctl edge --config FILE remove NAME\n"
    "       nightjarctl edge --config FILE list\n",
    "add: a new edge of the fleet, with its link address and the public key it\n"
    "made (its edge.pub); transport defaults to tor, failover_after to 10m.\n"
    "remove: revokes the edge's key for good (it never opens a link again, even\n"
    "if it comes back) and hands what it holds to the other edges at once.\n"
    "list: the fleet as the inner runs it, and the revoked keys.\n"
    "A running inner applies add and remove at once; SIGHUP does the same for\n"
    "changes to inner.yaml's edges.\n"};

constexpr Option kOptions[] = {{"--config"},    {"--address"}, {"--public-key"},
                               {"--transport"}, {"--socks"},   {"--failover-after"}};

// add's options: only add takes them.
constexpr std::string_view kAddOnly[] = {"--address", "--public-key", "--transport", "--socks",
                                         "--failover-after"};

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
  if (!r) return fail(kText, "the change is stored, but the running inner says: " + r.error());
  std::printf("the running inner applied it:\n%s", r->c_str());
  return 0;
}

}  // namespace

int cmd_edge(const Args& args) {
  auto p = parse(kText, args, kOptions);
  if (p.exit) return *p.exit;
  const Parsed& a = p.args;
  const std::string config = a.value("--config"), address = a.value("--address"),
                    public_key = a.value("--public-key");
  const auto& pos = a.positionals();
  if (config.empty()) return usage_error(kText, "--config FILE is required");
  if (pos.empty()) return usage_error(kText, "add, remove or list?");
  const std::string action = pos[0];
  if (action == "add" && (pos.size() != 2 || address.empty() || public_key.empty()))
    return usage_error(kText, "add wants NAME, --address and --public-key");
  if (action == "remove" && pos.size() != 2) return usage_error(kText, "remove wants NAME");
  if (action == "list" && pos.size() != 1) return usage_error(kText, "list takes no NAME");
  if (action != "add" && action != "remove" && action != "list")
    return usage_error(kText, "unknown action '" + action + "'");
  if (action != "add" &&
      std::any_of(std::begin(kAddOnly), std::end(kAddOnly), [&](auto o) { return a.has(o); }))
    return usage_error(kText, "only add takes --address and the like");

  auto cfg = inner::load(config);
  if (!cfg) return fail(kText, cfg.error());
  crypto::init();
  auto configured = inner::configured_edges(*cfg);
  if (!configured) return fail(kText, config + ": " + configured.error());

  inner::EdgeSpec spec;
  if (action == "add") {
    auto entry = inner::check_edge_entry(pos[1], address, a.value("--transport"),
                                         a.value("--socks"), a.value("--failover-after"));
    if (!entry) return fail(kText, "add " + pos[1] + ":\n" + entry.error());
    auto key = crypto::load_public_key(public_key);
    if (!key) return fail(kText, "--public-key " + public_key + ": " + key.error());
    spec.link = *entry;
    spec.key = *key;
  }

  const std::string dir = cfg->data_dir + "/store";
  auto env = store::Env::open(dir);
  if (!env) return fail(kText, dir + ": " + env.error());
  auto reg = inner::EdgeRegistry::open(*env);
  if (!reg) return fail(kText, dir + ": " + reg.error());
  SystemClock clock;

  if (action == "add") {
    if (auto s = (*reg)->add(spec, *configured, clock.now()); !s) return fail(kText, s.error());
    std::printf("edge %s added: %s over %s\n", spec.link.name.c_str(),
                crypto::public_key_line(spec.key).c_str(), transport_name(spec.link.transport));
    return tell_the_inner(*cfg);
  }
  if (action == "remove") {
    auto r = (*reg)->remove(pos[1], *configured, clock.now());
    if (!r) return fail(kText, r.error());
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
  if (!fleet) return fail(kText, fleet.error());
  std::printf("%zu edges:\n", fleet->size());
  for (const auto& e : *fleet)
    std::printf("  %-12s %-6s %s (%s), failover after %llds\n", e.link.name.c_str(),
                transport_name(e.link.transport), e.link.address.c_str(), e.origin.c_str(),
                static_cast<long long>(e.link.failover_after.count() / 1000));
  for (const auto& w : warnings) std::printf("warning: %s\n", w.c_str());
  auto revoked = (*reg)->revoked();
  if (!revoked) return fail(kText, revoked.error());
  if (!revoked->empty()) {
    std::printf("revoked keys:\n");
    for (const auto& r : *revoked)
      std::printf("  %-12s %s, revoked %s\n", r.name.c_str(),
                  crypto::public_key_line(r.key).c_str(),
                  utc_text(r.revoked_at, UtcStyle::minutes).c_str());
  }
  return 0;
}

}  // namespace nj::ctl
