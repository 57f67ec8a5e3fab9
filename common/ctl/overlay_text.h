// The text of `nightjarctl overlay tor|i2p` that is neither tier's: comment wrapping, the lines
// that map an overlay port to nightjar's loopback listeners (torrc HiddenServicePort, i2pd server
// sections), and an edge's whole part — its torrc lines or i2pd tunnels and its DNS records —
// rendered from EdgeFacts, a few facts the edge's tool takes from its own configuration and its
// options (edge/ctl/overlay.cpp). The inner's part is the inner's (inner/ctl/overlay.cpp).
// Each edge's link service admits only the inner, filled in, never a placeholder: the commands
// that install the inner's client key for Tor's onion client authorization, the inner's link
// destination as I2P's accesslist (without it an edge's I2P link tunnel is refused, not printed
// open). Nor is an SRV record printed before the edge's OnionMX onion name is known.
// Trust: the facts come from a configuration its loader checked and from the operator's options
// (names checked by the caller; onion and I2P names by common/ctl/overlay_names.h). The output is
// text for the operator to read and install; it holds no key material.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/config/types.h"

namespace nj::ctl {

// OnionMX senders dial port 25, as on the Internet.
constexpr int kMxPort = 25;
// Where Debian's i2pd keeps its keys files, relative to which the printed `keys =` are read.
constexpr std::string_view kDebianI2pdData = "/var/lib/i2pd";
// The keys file of the inner's i2pd SOCKS proxy, whose destination every edge's link tunnel
// admits (its name is the inner's; the edge's text says where the destination comes from).
constexpr std::string_view kInnerLinkKeys = "nightjar-inner-link.dat";
constexpr std::string_view kDefaultTorDir = "/var/lib/tor";

// `text` as comment lines ("# " and its words) of at most 80 columns; a word longer than a line
// stands on its own.
std::string comment(std::string_view text);

// DIR/NAME: a HiddenServiceDir under tor_dir (its trailing slashes dropped).
std::string tor_service_dir(std::string_view tor_dir, std::string_view name);

// "HiddenServicePort VPORT TARGET" for each target: several listeners for one virtual port, of
// which tor picks one per connection.
std::string hs_ports(int virtual_port, const std::vector<config::Endpoint>& targets);

// An i2pd tunnels.conf server section mapping I2P port `inport` to `target`.
std::string i2p_server(std::string_view name, const config::Endpoint& target, int inport,
                       std::string_view keys);

// i2pd maps one server tunnel to one target: the listeners after the first, as comments.
std::string not_exposed(const std::vector<config::Endpoint>& listeners);

// What an edge's part is made from.
struct EdgeFacts {
  std::string name = "edge";                // its entry in the inner's `edges:`
  std::string hostname;                     // its MX name
  std::vector<std::string> public_domains;  // the public domains it serves, in order
  std::vector<config::Endpoint> link;       // listen.link: the inner's link connections
  std::vector<config::Endpoint> onion_mx;   // listen.onion_mx: OnionMX senders
  config::Endpoint socks;                   // outbound.socks; port 0: none
  int link_port = 0;  // the port the inner dials the link at (its `address` in `edges:`)
  // The MX preference of this edge, 10 to 65535; its SRV priority is mx_preference - 10, so
  // that the SRV records order the edges as the MX records do.
  int mx_preference = 10;
  std::string onion_mx_name;   // "<56 base32>.onion", or empty: not known yet
  std::string inner_link_b32;  // "<52 base32>.b32.i2p": the one client of its I2P link tunnel
  std::string tor_dir = std::string(kDefaultTorDir);  // parent of its HiddenServiceDirs
  // Its DKIM records, one zone file line each (edge.yaml dkim:, from the key files), and a
  // comment line for each key whose file could not be read here.
  std::vector<std::string> dkim_records;
  std::vector<std::string> dkim_unreadable;
  bool dkim_configured = false;  // edge.yaml has a dkim: section with keys
};

// torrc lines for the edge's machine: the SocksPort for OnionMX delivery (outbound.socks, else
// none), the link service (virtual port link_port; with the commands that install the inner's
// client key for this edge in its authorized_clients) and the OnionMX service.
std::string tor_edge(const EdgeFacts& e);

// i2pd tunnels.conf server sections for the edge's link and OnionMX listeners; the link tunnel's
// accesslist is inner_link_b32. With a link listener and no inner_link_b32, an error saying what
// to pass (--inner-link-b32), so an open link tunnel is never printed.
Result<std::string> i2p_edge(const EdgeFacts& e);

// The DNS records the operator publishes for this edge: an MX record for each public domain it
// serves (its hostname, at mx_preference) and, with `tor`, the `_onion-mx._tcp` SRV records of
// its OnionMX onion. Without onion_mx_name no SRV record (one is never printed with a stand-in
// for the name), only a comment saying where the name will be.
std::string dns_records(const EdgeFacts& e, bool tor);

// The DMARC record every public domain publishes: reject what fails, strict alignment, and no
// rua= or ruf= (aggregate and failure reports would go to a mailbox of ours and tell whoever
// sends them, and every receiver that reports, about our users' traffic).
constexpr std::string_view kDmarcRecord = "v=DMARC1; p=reject; adkim=s; aspf=s";
// SPF: mail of a public domain comes only from its MX hosts, the edges, which are also what
// delivers it.
constexpr std::string_view kSpfRecord = "v=spf1 mx -all";

// The mail authentication records of each public domain the edge serves: its SPF and DMARC
// records (the same from every edge: published once per domain) and this edge's DKIM records.
std::string auth_records(const EdgeFacts& e);

}  // namespace nj::ctl
