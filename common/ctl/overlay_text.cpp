#include "common/ctl/overlay_text.h"

#include "common/ctl/overlay_names.h"

namespace nj::ctl {

std::string comment(std::string_view text) {
  std::string out, line = "#";
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(i, end - i);
    i = end + 1;
    if (word.empty()) continue;
    if (line.size() > 1 && line.size() + 1 + word.size() > 80) {
      out += line + "\n";
      line = "#";
    }
    line += " ";
    line += word;
  }
  if (line.size() > 1) out += line + "\n";
  return out;
}

std::string tor_service_dir(std::string_view tor_dir, std::string_view name) {
  std::string d(tor_dir);
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d + "/" + std::string(name);
}

std::string hs_ports(int virtual_port, const std::vector<config::Endpoint>& targets) {
  std::string out;
  for (const auto& t : targets)
    out += "HiddenServicePort " + std::to_string(virtual_port) + " " + t.str() + "\n";
  return out;
}

std::string i2p_server(std::string_view name, const config::Endpoint& target, int inport,
                       std::string_view keys) {
  return "[" + std::string(name) + "]\ntype = server\nhost = " + target.host +
         "\nport = " + std::to_string(target.port) + "\ninport = " + std::to_string(inport) +
         "\nkeys = " + std::string(keys) + "\n";
}

std::string not_exposed(const std::vector<config::Endpoint>& listeners) {
  std::string out;
  for (size_t i = 1; i < listeners.size(); ++i)
    out += "# not exposed over I2P (one target per tunnel): " + listeners[i].str() + "\n";
  return out;
}

std::string tor_edge(const EdgeFacts& e) {
  std::string out;
  if (e.socks.port != 0) {
    out += comment(
        "The edge delivers to OnionMX domains through this SocksPort (outbound.socks); "
        "ExtendedErrors lets its log say why an onion could not be reached.");
    out += "SocksPort " + e.socks.str() + " ExtendedErrors\n";
  } else {
    out += "# outbound.socks is unset: the edge dials no onion, so tor opens no SOCKS port.\n";
    out += "SocksPort 0\n";
  }
  if (e.link.empty()) {
    out += "# No link listener (listen.link is empty): no link service.\n";
  } else {
    std::string dir = tor_service_dir(e.tor_dir, "nightjar-edge-link");
    std::string pub = "link-client-" + e.name + ".pub";
    out += comment(
        "The link service, dialled only by the inner. Onion client authorization keeps its "
        "descriptor unreadable without the inner's key, so nobody else can even reach it.");
    out += "HiddenServiceDir " + dir + "\n";
    out += hs_ports(e.link_port, e.link);
    out += comment("Its name is in " + dir + "/hostname once tor has started: set the address of " +
                   e.name + " in the inner's edges: to <that name>:" + std::to_string(e.link_port) +
                   ". Its one authorized client is the inner's key for this edge, " + pub +
                   ", made on the inner's machine by the commands its 'nightjarctl overlay tor' "
                   "prints once that address is set (only this public half travels); with it in "
                   "the working directory:");
    out += "#   $ umask 077\n";
    out += "#   $ install -d -m 0700 " + dir + " " + dir + "/authorized_clients\n";
    out += "#   $ echo \"descriptor:x25519:$(cat " + pub + ")\" > " + dir +
           "/authorized_clients/inner.auth\n";
    out += comment(
        "then restart tor: it publishes the descriptor encrypted to that key. If tor runs as its "
        "own user (Debian: debian-tor), make it the owner:");
    out += "#   chown -R debian-tor: " + dir + "\n";
  }
  if (e.onion_mx.empty()) {
    out += "# No OnionMX listener (listen.onion_mx is empty): no OnionMX service.\n";
  } else {
    out += comment(
        "The OnionMX service: mail servers that speak Tor deliver here instead of port 25 on the "
        "Internet. Public, like the MX.");
    out += "HiddenServiceDir " + tor_service_dir(e.tor_dir, "nightjar-edge-mx") + "\n";
    out += hs_ports(kMxPort, e.onion_mx);
  }
  return out;
}

Result<std::string> i2p_edge(const EdgeFacts& e) {
  std::string out;
  if (e.link.empty()) {
    out += "# No link listener (listen.link is empty): no link tunnel.\n";
  } else {
    // Anyone who can reach the link port can hold its handshake slots: the tunnel is printed
    // only with the inner's destination as its one allowed client.
    if (e.inner_link_b32.empty())
      return make_error(
          "the link tunnel of edge " + e.name +
          " admits only the inner's link destination, which is not known: pass "
          "--inner-link-b32 NAME.b32.i2p, the name the inner's 'nightjarctl overlay i2p "
          "--inner-link-keys " +
          std::string(kDebianI2pdData) + "/" + std::string(kInnerLinkKeys) +
          "' prints (its i2pd writes that keys file when it starts with the inner's part)");
    out += comment(
        "tunnels.conf (Debian: a file in /etc/i2pd/tunnels.conf.d/; keys files are relative to "
        "i2pd's data directory, Debian: " +
        std::string(kDebianI2pdData) +
        "). The link tunnel admits only the inner's link destination, its SOCKS proxy's (" +
        std::string(kInnerLinkKeys) + "):");
    out += "#   " + e.inner_link_b32 + "\n";
    out += comment("(accesslist takes the name without .b32.i2p). Set the address of " + e.name +
                   " in the inner's edges: to this tunnel's .b32.i2p name (i2pd here logs it) "
                   "and port " +
                   std::to_string(e.link_port) + ".");
    out += i2p_server("nightjar-edge-link", e.link.front(), e.link_port, "nightjar-edge-link.dat");
    out += "accesslist = " + std::string(name_label(e.inner_link_b32)) + "\n";
    out += not_exposed(e.link);
  }
  if (e.onion_mx.empty()) {
    out += "# No OnionMX listener (listen.onion_mx is empty): no MX tunnel.\n";
  } else {
    out += "\n# The MX tunnel: mail servers that speak I2P deliver here. Public, like the MX.\n";
    out += i2p_server("nightjar-edge-mx", e.onion_mx.front(), kMxPort, "nightjar-edge-mx.dat");
    out += not_exposed(e.onion_mx);
  }
  return out;
}

std::string dns_records(const EdgeFacts& e, bool tor) {
  const std::string pref = std::to_string(e.mx_preference);
  std::string out = comment(
      "Edge " + e.name + " is an MX of each public domain it serves, at preference " + pref +
      " (--mx-preference): every edge at the same one spreads senders' mail over them; a higher "
      "one is tried only when the lower ones do not answer.");
  for (const auto& d : e.public_domains) out += d + ". IN MX " + pref + " " + e.hostname + ".\n";
  if (!tor) return out;
  if (e.onion_mx.empty())
    return out + comment("Edge " + e.name +
                         " has no OnionMX listener (listen.onion_mx is empty): no SRV record "
                         "for it.");
  // A record with a stand-in for the name would be published as it stands by whoever pastes the
  // part, and would send OnionMX senders nowhere: until the name is known, no record.
  if (e.onion_mx_name.empty())
    return out + comment("No SRV record for edge " + e.name +
                         ": it names the edge's OnionMX onion, which is not known yet. Once "
                         "tor runs here with the part above, the name is in " +
                         tor_service_dir(e.tor_dir, "nightjar-edge-mx") +
                         "/hostname: run this again (as a user that can read it), or pass "
                         "--onion ONION.");
  out += "# OnionMX: the `_onion-mx._tcp` SRV records of this edge's OnionMX onion.\n";
  for (const auto& d : e.public_domains)
    out += "_onion-mx._tcp." + d + ". IN SRV " + std::to_string(e.mx_preference - 10) + " 0 " +
           std::to_string(kMxPort) + " " + e.onion_mx_name + ".\n";
  return out;
}

std::string auth_records(const EdgeFacts& e) {
  std::string out = comment(
      "SPF and DMARC, the same from every edge: publish them once per domain. SPF names the MX "
      "hosts (the edges) as the only senders: the addresses of each edge's MX name must be the "
      "ones it connects from. DMARC has no rua= or ruf=: reports would tell every receiver that "
      "sends them, and the mailbox that gets them, about our users' traffic.");
  for (const auto& d : e.public_domains) {
    out += d + ". IN TXT \"" + std::string(kSpfRecord) + "\"\n";
    out += "_dmarc." + d + ". IN TXT \"" + std::string(kDmarcRecord) + "\"\n";
  }
  if (!e.dkim_configured)
    return out + comment("Edge " + e.name +
                         " signs nothing (edge.yaml has no dkim: keys): DMARC then rests on SPF "
                         "alone, which forwarding breaks. Make keys with 'nightjarctl dkim "
                         "keygen' and name them in dkim:.");
  out += comment("DKIM: the keys of edge " + e.name +
                 " (edge.yaml dkim:); each edge has its own selectors, so publish every edge's.");
  for (const auto& r : e.dkim_records) out += r + "\n";
  for (const auto& u : e.dkim_unreadable) out += comment(u);
  return out;
}

}  // namespace nj::ctl
