// nightjarctl on the inner: the inner operator's commands, in one table. keygen and the status
// client are the shared ones (common/ctl); the others open the inner's store or configuration.
// It carries no edge code: the edge's commands (edge-queue, the edge's half of overlay) are the
// edge's nightjarctl (edge/ctl), and tests/unit/ctl checks that no edge library or header is in
// this one.
// Trust: run by the operator on the inner's machine; arguments are the operator's.
#include "common/ctl/keygen.h"
#include "common/ctl/status.h"
#include "common/ctl/tool.h"
#include "inner/config/config.h"
#include "inner/ctl/account.h"
#include "inner/ctl/fleet.h"
#include "inner/ctl/overlay.h"
#include "inner/ctl/queue.h"
#include "inner/ctl/quota.h"

namespace nj::ctl {
namespace {

constexpr Option kStatusGone[] = {
    {"--edge-config",
     Option::gone,
     {},
     "an edge's status is asked on the edge: nightjarctl status --config EDGE.yaml there"}};

const StatusTier kStatus{
    {"status", "usage: nightjarctl status --config INNER.yaml\n",
     "Asks the running inner for its state: each edge's link (state, since when, last\n"
     "error, round trip), what each holds and the outbound queue by state and delay\n"
     "class. Counts, times and states only: never an address, an account or an IP.\n"},
    data_dir_of<inner::InnerConfig, inner::load>,
    kStatusGone};

int cmd_status(const Args& args) {
  return run_status(kStatus, args);
}

// In the order an operator meets them. Each summary fits the 80-column help with its name.
constexpr Command kCommands[] = {
    {"keygen", "create a key pair: PREFIX.secret and PREFIX.pub", cmd_keygen},
    {"account", "add, change, list and remove the inner's accounts", cmd_account},
    {"quota", "show or raise an account's Internet recipient quota", cmd_quota},
    {"queue", "list the inner's outbound queue", cmd_queue},
    {"edge", "add, remove (revoke) and list the inner's edges", cmd_edge},
    {"status", "the running inner's links, queues and edges", cmd_status},
    {"overlay", "print the inner's torrc or i2pd lines", cmd_inner_overlay},
};

constexpr Tool kTool{kCommands,
                     "--config FILE, the inner's configuration, is passed on to the command."};

}  // namespace
}  // namespace nj::ctl

int main(int argc, char** argv) {
  return nj::ctl::run_tool(nj::ctl::kTool, argc, argv);
}
