#include "inner/ctl/overlay.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "common/ctl/overlay_args.h"
#include "common/ctl/overlay_names.h"
#include "common/ctl/overlay_text.h"

namespace nj::ctl {
namespace {

constexpr CommandText kText{
    "overlay",
    "usage: nightjarctl overlay tor --config INNER.yaml [--tor-dir DIR]\n"
    "       nightjarctl overlay i2p --config INNER.yaml [--inner-link-keys FILE]\n",
    "Prints the inner's half of the overlay set-up: torrc lines (tor) or i2pd\n"
    "tunnels.conf and i2pd.conf sections (i2p) for the inner's machine: its onion\n"
    "service or server tunnels for submission (587) and POP3 (110), and the SOCKS\n"
    "settings it dials its edges through; for tor, the commands that make its\n"
    "client key for each edge's link service. Each edge prints its own half and\n"
    "its DNS records with its own nightjarctl overlay, on its machine; the output\n"
    "ends with what to run there. Only names, ports and addresses are read from\n"
    "INNER.yaml (--inner-config is another spelling of --config).\n"
    "  --tor-dir DIR           parent of the HiddenServiceDir directories\n"
    "                          (default /var/lib/tor)\n"
    "  --inner-link-keys FILE  the inner's i2pd SOCKS proxy keys file\n"
    "                          (/var/lib/i2pd/nightjar-inner-link.dat): prints its\n"
    "                          destination, the only one the edges' link tunnels\n"
    "                          admit, for each edge's --inner-link-b32\n"};

constexpr std::string_view kOnTheEdge =
    "each edge prints its own part and DNS records on its own machine: nightjarctl overlay "
    "tor|i2p --config EDGE.yaml --name NAME there";

constexpr Option kOptions[] = {
    {"--config", Option::value, "--inner-config"},
    {"--tor-dir"},
    {"--inner-link-keys"},
    {"--edge", Option::gone, {}, kOnTheEdge},
    {"--edge-config", Option::gone, {}, kOnTheEdge},
    {"--edge-onion",
     Option::gone,
     {},
     "an edge's OnionMX onion is given on the edge: nightjarctl overlay tor --config EDGE.yaml "
     "--onion ONION there (or it reads tor's hostname file)"},
    {"--mx-order",
     Option::gone,
     {},
     "an edge's MX preference is given on the edge: nightjarctl overlay tor|i2p --config "
     "EDGE.yaml --mx-preference N there"},
};

// The ports the world expects: users' mail clients know 587 and 110.
constexpr int kSubmissionPort = 587;
constexpr int kPop3Port = 110;

// The i2pd keys file of the inner's mail destination (submission and POP3), relative to i2pd's
// data directory; its SOCKS proxy's is kInnerLinkKeys.
constexpr std::string_view kInnerMailKeys = "nightjar-inner.dat";

// The raw 32-byte X25519 key at the end of openssl's DER output, as tor's .auth files want it:
// base32 without padding (52 characters, so base32 does not wrap the line).
constexpr const char* kRawKeyToBase32 = "tail -c 32 | base32 | tr -d =";

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

const char* overlay_name(inner::Transport t) {
  switch (t) {
    case inner::Transport::tor:
      return "Tor";
    case inner::Transport::i2p:
      return "I2P";
    case inner::Transport::direct:
      break;
  }
  return "direct";
}

// "its Tor edge mx1" or "its Tor edges mx1, mx2".
std::string edges_named(const char* overlay, const std::vector<std::string>& names) {
  return std::string("its ") + overlay + (names.size() == 1 ? " edge " : " edges ") + join(names);
}

// A comment naming an edge the inner dials over `other` than the overlay being printed.
std::string elsewhere(const inner::EdgeLinkConfig& e, bool tor) {
  if (e.transport == inner::Transport::direct)
    return comment("Edge " + e.name +
                   ": transport direct (tests and the local demo only): no SOCKS settings.");
  return comment("Edge " + e.name + " is dialled over " + overlay_name(e.transport) +
                 ": its part is printed by 'nightjarctl overlay " + (tor ? "i2p" : "tor") + "'.");
}

// The distinct `socks` of the edges dialled over `t`, each with the names of the edges using it,
// in the order of the inner's list.
std::vector<std::pair<config::Endpoint, std::vector<std::string>>> socks_of(
    const inner::InnerConfig& in, inner::Transport t) {
  std::vector<std::pair<config::Endpoint, std::vector<std::string>>> out;
  for (const auto& e : in.edges) {
    if (e.transport != t) continue;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const auto& s) { return s.first.str() == e.socks.str(); });
    if (it == out.end())
      out.push_back({e.socks, {e.name}});
    else
      it->second.push_back(e.name);
  }
  return out;
}

// listen.metrics is for this machine's monitoring only: said, never mapped.
std::string metrics_not_exposed(const inner::InnerConfig& in) {
  if (in.listen.metrics.port == 0) return {};
  return comment("listen.metrics (" + in.listen.metrics.str() +
                 ") is for this machine only: it is not exposed.");
}

// The commands that make the inner's client key pair for one Tor edge's link service and its
// .auth_private file, or a note saying why they cannot be printed yet.
std::string tor_client_auth(const inner::EdgeLinkConfig& e, std::string_view tor_dir,
                            const std::string& auth_dir) {
  std::string onion = link_onion_label(e);
  if (onion.empty())
    return comment("Client authorization for edge " + e.name +
                   "'s link service: its address does not name the link onion yet. Its name is "
                   "in " +
                   tor_service_dir(tor_dir, "nightjar-edge-link") + "/hostname on edge " + e.name +
                   "'s machine once tor runs there: set its address in edges: and run this "
                   "again for the commands that make its client key.");
  std::string pem = "link-client-" + e.name + ".pem", pub = "link-client-" + e.name + ".pub";
  std::string out = comment(
      "Onion client authorization for edge " + e.name + "'s link service (" + onion +
      ".onion): make its key pair on this machine, in a private working directory (the private "
      "half never leaves it), then copy " +
      pub + " to edge " + e.name +
      "'s machine (its part says what to run there). Each edge has its own key pair: run these "
      "once for the edge (run again, they make a new key, which edge " +
      e.name + " must then be given too).");
  out += "#   $ umask 077\n";
  out += "#   $ openssl genpkey -algorithm x25519 -out " + pem + "\n";
  out += "#   $ openssl pkey -in " + pem + " -pubout -outform DER | " + kRawKeyToBase32 + " > " +
         pub + "\n";
  out += "#   $ install -d -m 0700 " + auth_dir + "\n";
  out += "#   $ echo \"" + onion + ":descriptor:x25519:$(openssl pkey -in " + pem +
         " -outform DER | " + kRawKeyToBase32 + ")\" > " + auth_dir + "/" + e.name +
         ".auth_private\n";
  out += "#   $ rm " + pem + "\n";
  return out;
}

// What to run on each edge's machine for its part: `nightjarctl overlay` there, with the name and
// the link port this inner dials it by (and for I2P the inner's link destination, when known).
std::string on_each_edge(const inner::InnerConfig& in, bool tor, const std::string& link_b32) {
  const inner::Transport mine = tor ? inner::Transport::tor : inner::Transport::i2p;
  std::string out = comment(
      "Each edge prints its own part (its link and OnionMX services) and its DNS records on its "
      "own machine, from its own configuration, with the edge's nightjarctl:");
  for (const auto& e : in.edges) {
    if (e.transport != mine) continue;
    out += "#   " + e.name + ": nightjarctl overlay " + (tor ? "tor" : "i2p") +
           " --config EDGE.yaml --name " + e.name + " --link-port " +
           std::to_string(inner::split_edge_address(e.address).second) +
           (tor ? std::string() : " --inner-link-b32 " + (link_b32.empty() ? "B32" : link_b32)) +
           "\n";
  }
  if (!tor && link_b32.empty())
    out += comment("B32: the inner's link destination, which this prints with --inner-link-keys.");
  return out;
}

}  // namespace

std::string link_onion_label(const inner::EdgeLinkConfig& link) {
  if (link.address.empty() || link.transport != inner::Transport::tor) return {};
  auto name = parse_onion_name(inner::split_edge_address(link.address).first);
  if (!name) return {};
  return std::string(name_label(*name));
}

std::string tor_inner(const inner::InnerConfig& in, std::string_view tor_dir) {
  std::string out;
  out += comment(
      "Vanguards-lite (tor >= 0.4.7): a few second-hop relays kept for days, so that whoever "
      "makes this tor build circuit after circuit (a seized edge dropping its link, a stranger "
      "connecting to the inner's onion) does not get to try relay after relay next to its "
      "guard. On by default unless the consensus says otherwise; 1 keeps it on. "
      "(docs/overlays.md: Vanguards.)");
  out += "VanguardsLiteEnabled 1\n";
  out += comment("The inner's submission and POP3 listeners as one onion service; its name (in " +
                 tor_service_dir(tor_dir, "nightjar-inner") +
                 "/hostname once tor has started) is what users' mail clients connect to, on "
                 "ports 587 and 110.");
  out += "HiddenServiceDir " + tor_service_dir(tor_dir, "nightjar-inner") + "\n";
  out += hs_ports(kSubmissionPort, in.listen.submission);
  out += hs_ports(kPop3Port, in.listen.pop3);
  out += metrics_not_exposed(in);
  if (in.edges.empty()) {
    out += "# No edge in the inner's configuration: the inner dials nothing.\n";
    return out;
  }
  for (const auto& e : in.edges)
    if (e.transport != inner::Transport::tor) out += elsewhere(e, true);
  auto socks = socks_of(in, inner::Transport::tor);
  if (socks.empty()) return out;
  for (const auto& [ep, names] : socks) {
    out += comment("The inner dials the link services of " + edges_named("Tor", names) +
                   " through this SocksPort (" + (names.size() == 1 ? "its" : "their") +
                   " socks); ExtendedErrors lets its log say why an onion could not be reached.");
    out += "SocksPort " + ep.str() + " ExtendedErrors\n";
  }
  std::string auth_dir = tor_service_dir(tor_dir, "nightjar-onion-auth");
  out += comment(
      "The link services' client keys are read from this directory, one file per edge; tor "
      "refuses to start until it exists (the commands below make it).");
  out += "ClientOnionAuthDir " + auth_dir + "\n";
  for (const auto& e : in.edges)
    if (e.transport == inner::Transport::tor) out += tor_client_auth(e, tor_dir, auth_dir);
  out += "# If tor runs as its own user (Debian: debian-tor), make it the owner:\n";
  out += "#   chown -R debian-tor: " + auth_dir + "\n";
  return out;
}

Result<std::string> i2p_inner(const inner::InnerConfig& in) {
  std::string out;
  out += comment(
      "tunnels.conf (Debian: a file in /etc/i2pd/tunnels.conf.d/): submission and POP3 share one "
      "destination (the same keys file); the I2P port selects the listener. Its .b32.i2p name "
      "(logged by i2pd) is what users' mail clients use. Keys files are relative to i2pd's data "
      "directory (Debian: " +
      std::string(kDebianI2pdData) + "); i2pd creates them.");
  out += i2p_server("nightjar-inner-submission", in.listen.submission.front(), kSubmissionPort,
                    kInnerMailKeys);
  out += not_exposed(in.listen.submission);
  out += "\n";
  out += i2p_server("nightjar-inner-pop3", in.listen.pop3.front(), kPop3Port, kInnerMailKeys);
  out += not_exposed(in.listen.pop3);
  out += metrics_not_exposed(in);
  if (in.edges.empty()) {
    out += "\n# No edge in the inner's configuration: the inner dials nothing.\n";
    return out;
  }
  std::string others;
  for (const auto& e : in.edges)
    if (e.transport != inner::Transport::i2p) others += elsewhere(e, false);
  if (!others.empty()) out += "\n" + others;
  auto socks = socks_of(in, inner::Transport::i2p);
  if (socks.empty()) return out;
  // One SOCKS proxy, one destination: the one every edge's link tunnel admits.
  if (socks.size() > 1) {
    std::string which;
    for (const auto& [ep, names] : socks)
      which += (which.empty() ? "" : "; ") + ep.str() + " (" + join(names) + ")";
    return make_error("the I2P edges name different socks: " + which +
                      "; i2pd has one SOCKS proxy ([socksproxy]), whose destination is the one "
                      "their link tunnels admit: give them all the same socks");
  }
  const auto& [ep, names] = socks.front();
  out += "\n";
  out += comment("i2pd.conf: the SOCKS proxy the inner dials " + edges_named("I2P", names) +
                 " through (" + (names.size() == 1 ? "its" : "their") +
                 " socks). Its own keys file gives it a fixed destination, the only one the "
                 "edges' link tunnels admit. Once i2pd has started with this section and written "
                 "that file, run this again with --inner-link-keys KEYS, KEYS being " +
                 std::string(kInnerLinkKeys) +
                 " in i2pd's data directory (Debian: " + std::string(kDebianI2pdData) +
                 "): it prints the destination's name, which each edge's part needs. This "
                 "replaces i2pd.conf's [socksproxy] section (Debian's has one; i2pd refuses an "
                 "option given twice).");
  out += "[socksproxy]\nenabled = true\naddress = " + ep.host +
         "\nport = " + std::to_string(ep.port) + "\nkeys = " + std::string(kInnerLinkKeys) + "\n";
  return out;
}

int cmd_inner_overlay(const Args& args) {
  auto o = parse_overlay(kText, args, kOptions, "INNER.yaml");
  if (o.exit) return *o.exit;
  const Parsed& a = o.args;
  const bool tor = o.tor;
  const std::string& inner_path = o.config;
  const std::string& tor_dir = o.tor_dir;
  const std::string link_keys = a.value("--inner-link-keys");
  if (!link_keys.empty() && tor) return usage_error(kText, "--inner-link-keys is for i2p");

  // Only names, ports and addresses are read: the keys and directories it names may be
  // readable by the inner's user and root only.
  auto in = inner::load(inner_path, config::Host::other);
  if (!in) return fail(kText, in.error());
  const inner::Transport mine = tor ? inner::Transport::tor : inner::Transport::i2p;
  const inner::Transport other = tor ? inner::Transport::i2p : inner::Transport::tor;
  auto uses = [&](inner::Transport t) {
    return std::any_of(in->edges.begin(), in->edges.end(),
                       [&](const inner::EdgeLinkConfig& e) { return e.transport == t; });
  };
  // A fleet dialled only over the other overlay: this output would not let the inner reach any
  // of its edges.
  if (!uses(mine) && uses(other)) {
    std::vector<std::string> names;
    for (const auto& e : in->edges)
      if (e.transport == other) names.push_back(e.name);
    return fail(kText, inner_path + ": the inner dials its edges (" + join(names) + ") over " +
                           overlay_name(other) + ": run 'nightjarctl overlay " +
                           (tor ? "i2p" : "tor") + "'");
  }
  std::string link_b32;
  if (!link_keys.empty()) {
    if (!uses(inner::Transport::i2p))
      return usage_error(kText, "--inner-link-keys is for the I2P edges' link tunnels: " +
                                    inner_path + " dials no edge over I2P");
    // The users' destination in place of the link's is a slip that would lock the inner out.
    std::string_view base(link_keys);
    if (auto slash = base.rfind('/'); slash != std::string_view::npos)
      base.remove_prefix(slash + 1);
    if (base == kInnerMailKeys)
      return fail(kText, "--inner-link-keys: " + link_keys +
                             " is the inner's mail destination (submission and POP3); the link's "
                             "is " +
                             std::string(kInnerLinkKeys) + ", its SOCKS proxy's");
    auto b32 = read_i2p_keys_b32(link_keys);
    if (!b32) return fail(kText, "--inner-link-keys: " + b32.error());
    link_b32 = *b32;
  }

  std::string out = comment("Generated by nightjarctl overlay " + std::string(tor ? "tor" : "i2p") +
                            " from " + inner_path + ".");
  if (tor) {
    out += "\n# ---- torrc on the inner's machine ----\n" + tor_inner(*in, tor_dir);
  } else {
    auto part = i2p_inner(*in);
    if (!part) return fail(kText, inner_path + ": " + part.error());
    out += "\n# ---- i2pd on the inner's machine ----\n" + *part;
  }
  if (!link_b32.empty())
    out += "\n# ---- the inner's link destination ----\n" +
           comment(
               "The one client every I2P edge's link tunnel admits, the destination of the "
               "inner's SOCKS proxy (" +
               link_keys + "): each edge is given it as --inner-link-b32.") +
           "#   " + link_b32 + "\n";
  if (uses(mine))
    out += "\n# ---- on each edge's machine ----\n" + on_each_edge(*in, tor, link_b32);
  std::fputs(out.c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : kExitFailure;
}

}  // namespace nj::ctl
