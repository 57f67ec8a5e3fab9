#include "common/ctl/status.h"

#include <cstdio>
#include <vector>

#include "common/control/client.h"

namespace nj::ctl {

int run_status(const StatusTier& tier, const Args& args) {
  std::vector<Option> options = {{"--config"}};
  options.insert(options.end(), tier.gone.begin(), tier.gone.end());
  auto p = parse(tier.text, args, options);
  if (p.exit) return *p.exit;
  if (!p.args.positionals().empty())
    return usage_error(tier.text, unexpected(p.args.positionals()[0]));
  const std::string config = p.args.value("--config");
  if (config.empty()) return usage_error(tier.text, "--config FILE is required");
  auto dir = tier.data_dir(config);
  if (!dir) return fail(tier.text, dir.error());
  auto r = control::request(control::socket_path(*dir), "status");
  if (!r) return fail(tier.text, r.error());
  std::fputs(r->c_str(), stdout);
  return 0;
}

}  // namespace nj::ctl
