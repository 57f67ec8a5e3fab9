#include "common/ctl/overlay_args.h"

#include "common/ctl/overlay_text.h"

namespace nj::ctl {

OverlayArgs parse_overlay(const CommandText& cmd, const Args& args, std::span<const Option> options,
                          std::string_view config_name) {
  OverlayArgs o;
  auto p = parse(cmd, args, options);
  if (p.exit) {
    o.exit = p.exit;
    return o;
  }
  o.args = std::move(p.args);
  auto problem = [&](const std::string& text) {
    o.exit = usage_error(cmd, text);
    return o;
  };
  const auto& pos = o.args.positionals();
  if (pos.empty()) return problem("which overlay: tor or i2p");
  o.tor = pos[0] == "tor";
  if (!o.tor && pos[0] != "i2p") return problem("unknown overlay '" + pos[0] + "' (tor or i2p)");
  if (pos.size() > 1) return problem(unexpected(pos[1]));
  o.config = o.args.value("--config");
  if (o.config.empty()) return problem("--config " + std::string(config_name) + " is required");
  o.tor_dir = o.args.has("--tor-dir") ? o.args.value("--tor-dir") : std::string(kDefaultTorDir);
  if (o.tor_dir.front() != '/') return problem("--tor-dir must be absolute");
  return o;
}

}  // namespace nj::ctl
