#include "inner/ctl/overlay.h"

#include <cstdio>
#include <string>

namespace nj::ctl {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

constexpr const char* kUsage =
    "tor|i2p --inner-config FILE [--edge-config FILE] [--edge-onion NAME] [--tor-dir DIR]";

// The ports the world expects: users' mail clients know 587 and 110, and OnionMX senders dial 25.
constexpr int kSubmissionPort = 587;
constexpr int kPop3Port = 110;
constexpr int kMxPort = 25;

constexpr const char* kOnionPlaceholder = "EDGE-MX-ONION.onion";

std::string tor_service_dir(const OverlayOptions& o, const char* name) {
  std::string d = o.tor_dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d + "/" + name;
}

std::string hs_ports(int virtual_port, const std::vector<config::Endpoint>& targets) {
  // Several listeners for one virtual port: tor picks one of them per connection.
  std::string out;
  for (const auto& t : targets)
    out += "HiddenServicePort " + std::to_string(virtual_port) + " " + t.str() + "\n";
  return out;
}

// The link's virtual port: the port the inner dials (its edge.address) when the inner is known
// and dials over this overlay, else the edge's own link listener port.
int link_virtual_port(const edge::EdgeConfig& edge, const inner::InnerConfig* inner,
                      inner::Transport transport) {
  if (inner != nullptr && !inner->edge.address.empty() && inner->edge.transport == transport)
    return inner::split_edge_address(inner->edge.address).second;
  return edge.listen.link.front().port;
}

std::string not_exposed(const std::vector<config::Endpoint>& eps) {
  // i2pd maps one server tunnel to one target: the first listener is exposed, the others said.
  std::string out;
  for (size_t i = 1; i < eps.size(); ++i)
    out += "# not exposed over I2P (one target per tunnel): " + eps[i].str() + "\n";
  return out;
}

std::string i2p_server(const std::string& name, const config::Endpoint& target, int inport,
                       const std::string& keys) {
  return "[" + name + "]\ntype = server\nhost = " + target.host +
         "\nport = " + std::to_string(target.port) + "\ninport = " + std::to_string(inport) +
         "\nkeys = " + keys + "\n";
}

bool is_base32_lower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

// The raw 32-byte X25519 key at the end of openssl's DER output, as tor's .auth files want it:
// base32 without padding (52 characters, so base32 does not wrap the line).
constexpr const char* kRawKeyToBase32 = "tail -c 32 | base32 | tr -d =";

}  // namespace

Result<std::string> parse_onion_name(std::string_view name) {
  std::string s(name);
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  constexpr std::string_view kSuffix = ".onion";
  if (s.size() >= kSuffix.size() &&
      s.compare(s.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0)
    s.resize(s.size() - kSuffix.size());
  // A v3 onion name: 56 base32 characters (key, checksum, version 3 — which ends in 'd').
  if (s.size() != 56)
    return make_error("'" + std::string(name) + "' is not a v3 onion name (56 base32 characters)");
  for (char c : s)
    if (!is_base32_lower(c))
      return make_error("'" + std::string(name) + "' is not a v3 onion name (not base32)");
  if (s.back() != 'd')
    return make_error("'" + std::string(name) + "' is not a v3 onion name (version is not 3)");
  return s + ".onion";
}

// The link onion's name without ".onion" when the inner dials a v3 onion over Tor, else "".
std::string link_onion_label(const inner::InnerConfig& in) {
  if (in.edge.address.empty() || in.edge.transport != inner::Transport::tor) return {};
  auto name = parse_onion_name(inner::split_edge_address(in.edge.address).first);
  if (!name) return {};
  return name->substr(0, name->size() - std::string_view(".onion").size());
}

std::string tor_inner(const inner::InnerConfig& in, const OverlayOptions& o) {
  std::string out;
  out += "# The inner's submission and POP3 listeners as one onion service; its name (in\n";
  out += "# " + tor_service_dir(o, "nightjar-inner") + "/hostname once tor has started) is\n";
  out += "# what users' mail clients connect to, on ports 587 and 110.\n";
  out += "HiddenServiceDir " + tor_service_dir(o, "nightjar-inner") + "\n";
  out += hs_ports(kSubmissionPort, in.listen.submission);
  out += hs_ports(kPop3Port, in.listen.pop3);
  if (in.edge.address.empty()) {
    out += "# No edge in the inner's configuration: the inner dials nothing.\n";
  } else if (in.edge.transport == inner::Transport::direct) {
    out += "# edge.transport is direct (tests and the local demo only): no SOCKS settings.\n";
  } else {
    std::string auth_dir = tor_service_dir(o, "nightjar-onion-auth");
    out += "# The inner dials its edge's link service through this SocksPort (edge.socks);\n";
    out += "# ExtendedErrors lets its log say why an onion could not be reached.\n";
    out += "SocksPort " + in.edge.socks.str() + " ExtendedErrors\n";
    out += "# The link service's client key is read from this directory; tor refuses to start\n";
    out += "# until it exists (the commands below make it).\n";
    out += "ClientOnionAuthDir " + auth_dir + "\n";
    std::string onion = link_onion_label(in);
    if (onion.empty()) {
      out += "# Client authorization for the link service: edge.address does not name the link\n";
      out += "# onion yet. Its name is in " + tor_service_dir(o, "nightjar-edge-link") +
             "/hostname on the edge once\n";
      out += "# tor runs there: set edge.address and run this again for the commands that make\n";
      out += "# the client key.\n";
    } else {
      out += "# Onion client authorization for the link service: make the key pair on this\n";
      out += "# machine, in a private working directory (the private half never leaves it), then\n";
      out += "# copy link-client.pub to the edge's machine (see the edge's part):\n";
      out += "#   $ umask 077\n";
      out += "#   $ openssl genpkey -algorithm x25519 -out link-client.pem\n";
      out += std::string("#   $ openssl pkey -in link-client.pem -pubout -outform DER | ") +
             kRawKeyToBase32 + " > link-client.pub\n";
      out += "#   $ install -d -m 0700 " + auth_dir + "\n";
      out += "#   $ echo \"" + onion + ":descriptor:x25519:$(openssl pkey -in link-client.pem " +
             "-outform DER | " + kRawKeyToBase32 + ")\" > " + auth_dir +
             "/edge-link.auth_private\n";
      out += "#   $ rm link-client.pem\n";
    }
    out += "# If tor runs as its own user (Debian: debian-tor), make it the owner:\n";
    out += "#   chown -R debian-tor: " + auth_dir + "\n";
  }
  return out;
}

std::string tor_edge(const edge::EdgeConfig& e, const inner::InnerConfig* in,
                     const OverlayOptions& o) {
  std::string out;
  if (e.outbound.socks.port != 0) {
    out += "# The edge delivers to OnionMX domains through this SocksPort (outbound.socks);\n";
    out += "# ExtendedErrors lets its log say why an onion could not be reached.\n";
    out += "SocksPort " + e.outbound.socks.str() + " ExtendedErrors\n";
  } else {
    out += "# outbound.socks is unset: the edge dials no onion, so tor opens no SOCKS port.\n";
    out += "SocksPort 0\n";
  }
  if (e.listen.link.empty()) {
    out += "# No link listener (listen.link is empty): no link service.\n";
  } else {
    int vport = link_virtual_port(e, in, inner::Transport::tor);
    std::string dir = tor_service_dir(o, "nightjar-edge-link");
    out += "# The link service, dialed only by the inner. Onion client authorization keeps its\n";
    out += "# descriptor unreadable without the inner's key, so nobody else can even reach it.\n";
    out += "HiddenServiceDir " + dir + "\n";
    out += hs_ports(vport, e.listen.link);
    out += "# Its name is in " + dir + "/hostname once tor has started: set the inner's\n";
    out += "# edge.address to <that name>:" + std::to_string(vport) +
           ". Its one authorized client is the inner's\n";
    out += "# link-client.pub (see the inner's part); with it in the working directory:\n";
    out += "#   $ umask 077\n";
    out += "#   $ install -d -m 0700 " + dir + " " + dir + "/authorized_clients\n";
    out += "#   $ echo \"descriptor:x25519:$(cat link-client.pub)\" > " + dir +
           "/authorized_clients/inner.auth\n";
    out +=
        "# then restart tor: it publishes the descriptor encrypted to that key. If tor runs as\n";
    out += "# its own user (Debian: debian-tor), make it the owner:\n";
    out += "#   chown -R debian-tor: " + dir + "\n";
  }
  if (e.listen.onion_mx.empty()) {
    out += "# No OnionMX listener (listen.onion_mx is empty): no OnionMX service.\n";
  } else {
    out += "# The OnionMX service: mail servers that speak Tor deliver here instead of port 25\n";
    out += "# on the Internet. Public, like the MX.\n";
    out += "HiddenServiceDir " + tor_service_dir(o, "nightjar-edge-mx") + "\n";
    out += hs_ports(kMxPort, e.listen.onion_mx);
  }
  return out;
}

std::string tor_dns(const edge::EdgeConfig& e, const OverlayOptions& o) {
  if (e.listen.onion_mx.empty())
    return "# No OnionMX listener (listen.onion_mx is empty): no SRV record to publish.\n";
  std::string out;
  std::string onion = o.edge_onion.empty() ? kOnionPlaceholder : o.edge_onion;
  if (o.edge_onion.empty()) {
    out += "# " + std::string(kOnionPlaceholder) +
           " is a placeholder: once tor runs on the "
           "edge, the name is in\n";
    out += "# " + tor_service_dir(o, "nightjar-edge-mx") +
           "/hostname; run this again with --edge-onion NAME.\n";
  }
  for (const auto& d : e.domains)
    out += "_onion-mx._tcp." + d.public_domain + ". IN SRV 0 0 " + std::to_string(kMxPort) + " " +
           onion + ".\n";
  return out;
}

std::string i2p_inner(const inner::InnerConfig& in) {
  std::string out;
  out += "# tunnels.conf (Debian: a file in /etc/i2pd/tunnels.conf.d/): submission and POP3\n";
  out += "# share one destination (the same keys file); the I2P port selects the listener. Its\n";
  out += "# .b32.i2p name (logged by i2pd) is what users' mail clients use. Keys files are\n";
  out += "# relative to i2pd's data directory (Debian: /var/lib/i2pd); i2pd creates them.\n";
  out += i2p_server("nightjar-inner-submission", in.listen.submission.front(), kSubmissionPort,
                    "nightjar-inner.dat");
  out += not_exposed(in.listen.submission);
  out += "\n";
  out += i2p_server("nightjar-inner-pop3", in.listen.pop3.front(), kPop3Port, "nightjar-inner.dat");
  out += not_exposed(in.listen.pop3);
  if (in.edge.address.empty()) {
    out += "\n# No edge in the inner's configuration: the inner dials nothing.\n";
  } else if (in.edge.transport == inner::Transport::direct) {
    out += "\n# edge.transport is direct (tests and the local demo only): no SOCKS settings.\n";
  } else {
    out += "\n# i2pd.conf: the SOCKS proxy the inner dials its edge through (edge.socks). Its\n";
    out += "# own keys file gives it a fixed destination, which the edge's link tunnel allows.\n";
    out += "# This replaces i2pd.conf's [socksproxy] section (Debian's has one; i2pd refuses\n";
    out += "# an option given twice).\n";
    out += "[socksproxy]\nenabled = true\naddress = " + in.edge.socks.host +
           "\nport = " + std::to_string(in.edge.socks.port) + "\nkeys = nightjar-inner-link.dat\n";
  }
  return out;
}

std::string i2p_edge(const edge::EdgeConfig& e, const inner::InnerConfig* in) {
  std::string out;
  if (e.listen.link.empty()) {
    out += "# No link listener (listen.link is empty): no link tunnel.\n";
  } else {
    int vport = link_virtual_port(e, in, inner::Transport::i2p);
    out += "# tunnels.conf (Debian: a file in /etc/i2pd/tunnels.conf.d/; keys files are relative\n";
    out += "# to i2pd's data directory, Debian: /var/lib/i2pd). The link tunnel, for the inner\n";
    out += "# only: replace the placeholder in accesslist by the .b32.i2p name of the inner's\n";
    out += "# nightjar-inner-link.dat (i2pd on the inner logs it) and uncomment it; set the\n";
    out += "# inner's edge.address to this tunnel's .b32.i2p name and port " +
           std::to_string(vport) + ".\n";
    out += i2p_server("nightjar-edge-link", e.listen.link.front(), vport, "nightjar-edge-link.dat");
    out += "# accesslist = INNER-LINK-DESTINATION.b32.i2p\n";
    out += not_exposed(e.listen.link);
  }
  if (e.listen.onion_mx.empty()) {
    out += "# No OnionMX listener (listen.onion_mx is empty): no MX tunnel.\n";
  } else {
    out += "\n# The MX tunnel: mail servers that speak I2P deliver here. Public, like the MX.\n";
    out +=
        i2p_server("nightjar-edge-mx", e.listen.onion_mx.front(), kMxPort, "nightjar-edge-mx.dat");
    out += not_exposed(e.listen.onion_mx);
  }
  return out;
}

int cmd_overlay(const std::vector<std::string_view>& args) {
  auto usage = [](const std::string& problem) {
    std::fprintf(stderr, "nightjarctl overlay: %s\nusage: nightjarctl overlay %s\n",
                 problem.c_str(), kUsage);
    return kExitUsage;
  };
  if (args.empty()) return usage("which overlay: tor or i2p");
  if (args[0] == "--help" || args[0] == "-h") {
    std::printf(
        "usage: nightjarctl overlay %s\n"
        "Prints the overlay daemon's configuration for nightjar's listeners: torrc lines (tor)\n"
        "or i2pd tunnels.conf / i2pd.conf sections (i2p) for the inner's machine and, with\n"
        "--edge-config, the edge's machine; for tor also the _onion-mx._tcp SRV records.\n"
        "  --edge-onion NAME  the edge's OnionMX onion name for the SRV records\n"
        "  --tor-dir DIR      parent of the HiddenServiceDir directories (/var/lib/tor)\n",
        kUsage);
    return 0;
  }
  bool tor = args[0] == "tor";
  if (!tor && args[0] != "i2p")
    return usage("unknown overlay '" + std::string(args[0]) + "' (tor or i2p)");
  std::string inner_path, edge_path, onion;
  OverlayOptions o;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view a = args[i];
    std::string* target = nullptr;
    // --config: nightjarctl's global option (`nightjarctl --config FILE overlay tor`) is the
    // inner's configuration, as for the other commands.
    if (a == "--inner-config" || a == "--config")
      target = &inner_path;
    else if (a == "--edge-config")
      target = &edge_path;
    else if (a == "--edge-onion")
      target = &onion;
    else if (a == "--tor-dir")
      target = &o.tor_dir;
    else
      return usage("unknown argument '" + std::string(a) + "'");
    if (i + 1 >= args.size()) return usage(std::string(a) + " needs a value");
    *target = std::string(args[++i]);
  }
  if (inner_path.empty()) return usage("--inner-config FILE is required");
  if (!onion.empty()) {
    if (!tor) return usage("--edge-onion is for tor");
    if (edge_path.empty()) return usage("--edge-onion needs --edge-config");
    auto name = parse_onion_name(onion);
    if (!name) return usage("--edge-onion: " + name.error());
    o.edge_onion = *name;
  }
  if (o.tor_dir.empty() || o.tor_dir.front() != '/') return usage("--tor-dir must be absolute");

  auto in = inner::load(inner_path);
  if (!in) {
    std::fprintf(stderr, "nightjarctl overlay: %s\n", in.error().c_str());
    return kExitFailure;
  }
  // The inner's link transport must be the overlay asked for, or the output would not let the
  // inner reach its edge.
  if (!in->edge.address.empty() && in->edge.transport != inner::Transport::direct &&
      (in->edge.transport == inner::Transport::tor) != tor) {
    std::fprintf(stderr,
                 "nightjarctl overlay: %s: edge.transport is %s, so the inner dials its edge over "
                 "%s: run 'nightjarctl overlay %s'\n",
                 inner_path.c_str(), tor ? "i2p" : "tor", tor ? "I2P" : "Tor", tor ? "i2p" : "tor");
    return kExitFailure;
  }
  std::optional<edge::EdgeConfig> ed;
  if (!edge_path.empty()) {
    auto e = edge::load(edge_path);
    if (!e) {
      std::fprintf(stderr, "nightjarctl overlay: %s\n", e.error().c_str());
      return kExitFailure;
    }
    ed = std::move(*e);
  }

  std::string out = "# Generated by nightjarctl overlay " + std::string(args[0]) + " from " +
                    inner_path + (ed ? " and " + edge_path : std::string()) + ".\n";
  if (tor) {
    out += "\n# ---- torrc on the inner's machine ----\n" + tor_inner(*in, o);
    if (ed) {
      out += "\n# ---- torrc on the edge's machine ----\n" + tor_edge(*ed, &*in, o);
      out += "\n# ---- DNS: publish in each public domain's zone ----\n" + tor_dns(*ed, o);
    }
  } else {
    out += "\n# ---- i2pd on the inner's machine ----\n" + i2p_inner(*in);
    if (ed) out += "\n# ---- i2pd on the edge's machine ----\n" + i2p_edge(*ed, &*in);
  }
  std::fputs(out.c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : kExitFailure;
}

}  // namespace nj::ctl
