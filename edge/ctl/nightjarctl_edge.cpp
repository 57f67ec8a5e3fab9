// nightjarctl on the edge (nightjarctl-edge in the build, installed on the edge's machine as
// /usr/bin/nightjarctl): the edge operator's commands, in one table. It carries no inner code
// (DESIGN.md: the edge image holds none): keygen and the status client are the shared ones
// (common/ctl), overlay prints the edge's half (edge/ctl/overlay.h), edge-queue reads the
// edge's queue format, dkim makes DKIM keys (edge/ctl/dkim.h). tests/unit/ctl checks that no inner library or header is in it.
// Trust: run by the operator on the edge's machine; arguments are the operator's.
#include "common/ctl/keygen.h"
#include "common/ctl/status.h"
#include "common/ctl/tool.h"
#include "edge/config/config.h"
#include "edge/ctl/dkim.h"
#include "edge/ctl/edge_queue.h"
#include "edge/ctl/overlay.h"

namespace nj::ctl {
namespace {

constexpr Option kStatusGone[] = {
    {"--edge-config", Option::gone, {}, "the edge's configuration is now --config EDGE.yaml"}};

const StatusTier kStatus{
    {"status", "usage: nightjarctl status --config EDGE.yaml\n",
     "Asks the running edge for its state: its link (up or down, since when, how the\n"
     "last link ended, round trip), its inbound and outbound queues and its counts\n"
     "since start. Counts, times and states only: never an address, an account or\n"
     "an IP.\n"},
    data_dir_of<edge::EdgeConfig, edge::load>,
    kStatusGone};

int cmd_status(const Args& args) {
  return run_status(kStatus, args);
}

// In the order an operator meets them. Each summary fits the 80-column help with its name.
constexpr Command kCommands[] = {
    {"keygen", "create a key pair: PREFIX.secret and PREFIX.pub", cmd_keygen},
    {"status", "the running edge's link, queues and counts", cmd_status},
    {"overlay", "print this edge's torrc or i2pd lines and its DNS records", cmd_edge_overlay},
    {"edge-queue", "read the sealed inbound queue with the inner's key", cmd_edge_queue},
    {"dkim", "make a DKIM key for outbound mail, print its DNS record", cmd_dkim},
};

constexpr Tool kTool{kCommands,
                     "--config FILE, the edge's configuration, is passed on to the command."};

}  // namespace
}  // namespace nj::ctl

int main(int argc, char** argv) {
  return nj::ctl::run_tool(nj::ctl::kTool, argc, argv);
}
