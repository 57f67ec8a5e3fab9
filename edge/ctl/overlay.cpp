#include "edge/ctl/overlay.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include "common/config/types.h"
#include "common/ctl/overlay_args.h"
#include "common/ctl/overlay_names.h"
#include "common/ctl/overlay_text.h"
#include "edge/config/config.h"
#include "edge/dkim/key.h"

namespace nj::ctl {
namespace {

constexpr CommandText kText{
    "overlay",
    "usage: nightjarctl overlay tor --config EDGE.yaml [--name NAME] [--link-port N]\n"
    "           [--onion ONION] [--mx-preference N] [--tor-dir DIR]\n"
    "       nightjarctl overlay i2p --config EDGE.yaml [--name NAME] [--link-port N]\n"
    "           --inner-link-b32 NAME.b32.i2p [--mx-preference N]\n",
    "Prints this edge's half of the overlay set-up: its torrc lines (tor) or i2pd\n"
    "tunnels.conf sections (i2p), for its link service (which admits only the\n"
    "inner), its OnionMX service and the SocksPort it delivers through; and the DNS\n"
    "records to publish for it: an MX record for each public domain it serves and,\n"
    "for tor, the _onion-mx._tcp SRV records once its OnionMX onion is known; and\n"
    "each domain's SPF and DMARC records and this edge's DKIM records (dkim:). The\n"
    "inner prints its own half with its nightjarctl overlay. Only names, ports and\n"
    "addresses are read from EDGE.yaml, and the public half of its DKIM keys.\n"
    "  --name NAME             its entry in the inner's edges: (default edge)\n"
    "  --link-port N           the port of that entry's address, where the inner\n"
    "                          dials the link (default: the link listener's port)\n"
    "  --onion ONION           its OnionMX onion name, for the SRV records; without\n"
    "                          it, DIR/nightjar-edge-mx/hostname once tor wrote it\n"
    "  --mx-preference N       its MX preference, 10 to 65535 (default 10; equal\n"
    "                          edges share the mail); its SRV priority is N - 10\n"
    "  --tor-dir DIR           parent of the HiddenServiceDir directories\n"
    "                          (default /var/lib/tor)\n"
    "  --inner-link-b32 NAME.b32.i2p\n"
    "                          the inner's link destination, the one client of the\n"
    "                          link tunnel: the inner's 'nightjarctl overlay i2p\n"
    "                          --inner-link-keys FILE' prints it\n"
    "Example, edge mx1 of the inner's edges:, dialled at port 2600:\n"
    "  nightjarctl overlay tor --config /etc/nightjar/edge.yaml --name mx1 \\\n"
    "      --link-port 2600\n"};

constexpr Option kOptions[] = {{"--config"}, {"--name"},           {"--link-port"},
                               {"--onion"},  {"--inner-link-b32"}, {"--mx-preference"},
                               {"--tor-dir"}};

// The name of an entry of the inner's `edges:` (the inner's configuration checks the same rule):
// it names files and stands in the printed shell commands.
bool valid_edge_name(std::string_view s) {
  return !s.empty() && s.size() <= 32 && s.front() != '-' &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string_view::npos;
}

// The OnionMX onion's name from the hostname file tor writes: nullopt when the file is not there
// or not readable (tor has not run yet, or it is tor's own); an error when it holds no onion name.
Result<std::optional<std::string>> onion_from_tor(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::optional<std::string>();
  std::string text(128, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(f.gcount()));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  auto name = parse_onion_name(text);
  if (!name) return make_error(path + ": " + name.error());
  return std::optional<std::string>(*name);
}

// A number option within its range, or the usage problem.
Result<int> number(const Parsed& p, std::string_view option, int min, int max, int fallback) {
  if (!p.has(option)) return fallback;
  auto n = config::parse_integer(p.value(option), min, max);
  if (!n) return make_error(std::string(option) + ": " + n.error());
  return static_cast<int>(*n);
}

}  // namespace

EdgeFacts edge_facts(const edge::EdgeConfig& c) {
  EdgeFacts f;
  f.hostname = c.hostname;
  for (const auto& d : c.domains)
    if (std::find(f.public_domains.begin(), f.public_domains.end(), d.public_domain) ==
        f.public_domains.end())
      f.public_domains.push_back(d.public_domain);
  f.link = c.listen.link;
  f.onion_mx = c.listen.onion_mx;
  f.socks = c.outbound.socks;
  if (!f.link.empty()) f.link_port = f.link.front().port;
  // DKIM records from the key files, read where the edge's unit loads them; a key this user
  // cannot read is named, with the command that prints its record where it can be read.
  f.dkim_configured = !c.dkim.empty();
  for (const auto& k : c.dkim) {
    auto key = edge::dkim::load_key(config::file_for_this_process(k.key), k.algorithm);
    if (key) {
      f.dkim_records.push_back(edge::dkim::txt_record(k.selector, k.domain, *key));
    } else {
      f.dkim_unreadable.push_back(
          "No record for selector " + k.selector + " of " + k.domain + ": " + key.error() +
          ". Run this as root, or where the key is: nightjarctl dkim record --domain " + k.domain +
          " --selector " + k.selector + " --algorithm " +
          std::string(edge::dkim::algorithm_name(k.algorithm)) + " --key FILE");
    }
  }
  return f;
}

int cmd_edge_overlay(const Args& args) {
  auto o = parse_overlay(kText, args, kOptions, "EDGE.yaml");
  if (o.exit) return *o.exit;
  const Parsed& a = o.args;

  EdgeFacts given;  // what the options say, checked before the configuration is read
  if (a.has("--name")) given.name = a.value("--name");
  if (!valid_edge_name(given.name))
    return usage_error(kText, "--name: \"" + given.name +
                                  "\" is not 1 to 32 of a-z, 0-9 and '-' (the edge's name in "
                                  "the inner's edges:)");
  given.tor_dir = o.tor_dir;
  auto link_port = number(a, "--link-port", 1, 65535, 0);
  if (!link_port) return usage_error(kText, link_port.error());
  auto preference = number(a, "--mx-preference", 10, 65535, 10);
  if (!preference) return usage_error(kText, preference.error());
  if (a.has("--onion")) {
    if (!o.tor) return usage_error(kText, "--onion is for tor");
    auto name = parse_onion_name(a.value("--onion"));
    if (!name) return usage_error(kText, "--onion: " + name.error());
    given.onion_mx_name = *name;
  }
  if (a.has("--inner-link-b32")) {
    if (o.tor) return usage_error(kText, "--inner-link-b32 is for i2p");
    auto name = parse_b32_i2p_name(a.value("--inner-link-b32"));
    if (!name) return usage_error(kText, "--inner-link-b32: " + name.error());
    given.inner_link_b32 = *name;
  }

  auto c = edge::load(o.config, config::Host::other);
  if (!c) return fail(kText, c.error());
  EdgeFacts f = edge_facts(*c);
  f.name = given.name;
  f.tor_dir = given.tor_dir;
  if (*link_port != 0) f.link_port = *link_port;
  f.mx_preference = *preference;
  f.onion_mx_name = given.onion_mx_name;
  f.inner_link_b32 = given.inner_link_b32;
  if (o.tor && f.onion_mx_name.empty()) {
    auto known = onion_from_tor(tor_service_dir(f.tor_dir, "nightjar-edge-mx") + "/hostname");
    if (!known) return fail(kText, known.error());
    if (*known) f.onion_mx_name = **known;
  }

  std::string out =
      comment("Generated by nightjarctl overlay " + std::string(o.tor ? "tor" : "i2p") + " from " +
              o.config + " for edge " + f.name + ".");
  if (o.tor) {
    out += "\n# ---- torrc on edge " + f.name + "'s machine ----\n" + tor_edge(f);
  } else {
    auto part = i2p_edge(f);
    if (!part) return fail(kText, part.error());
    out += "\n# ---- i2pd on edge " + f.name + "'s machine ----\n" + *part;
  }
  out += "\n# ---- DNS: publish in each public domain's zone ----\n" + dns_records(f, o.tor);
  out += "\n# ---- DNS: SPF, DMARC and DKIM, in each public domain's zone ----\n" +
         auth_records(f);
  std::fputs(out.c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : kExitFailure;
}

}  // namespace nj::ctl
