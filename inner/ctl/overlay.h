// nightjarctl overlay tor|i2p: prints the overlay daemon's configuration for nightjar's own
// listeners, so that the operator never writes a port mapping by hand. From the inner's
// configuration: an onion service (Tor) or server tunnels (I2P) for submission (587) and POP3
// (110), and the SOCKS settings the inner dials its edge through; from the edge's, the link
// service (Tor: with onion client authorization, so only the inner can find it) and the OnionMX
// service, plus the `_onion-mx._tcp` SRV record the operator publishes.
//
// Trust: the configuration files are the operator's and are loaded and checked by the daemons'
// own loaders (nj::inner::load, nj::edge::load); the output is text for the operator to read and
// install. It prints no key material: key pairs are made on the machine that keeps them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "edge/config/config.h"
#include "inner/config/config.h"

namespace nj::ctl {

struct OverlayOptions {
  // Tor: parent of the HiddenServiceDir directories. I2P: i2pd's keys are relative to its own
  // data directory, so this is unused there.
  std::string tor_dir = "/var/lib/tor";
  // The edge's OnionMX onion name ("<56 base32>.onion"); empty: a placeholder is printed.
  std::string edge_onion;
};

// The onion name normalised to "<56 lower-case base32>.onion" (the ".onion" suffix optional on
// input), or an error saying what is wrong with it.
Result<std::string> parse_onion_name(std::string_view name);

// The link onion's name without ".onion" when the inner dials a v3 onion over Tor (its
// edge.address), else empty: the client authorization file names the onion it is for.
std::string link_onion_label(const inner::InnerConfig& inner);

// torrc lines for the inner's machine: its onion service (587 and 110 mapped to the configured
// loopback listeners) and, when the inner dials its edge over Tor, the SocksPort, the
// ClientOnionAuthDir and (as `#   $ ` comment lines) the shell commands that make the link's
// client key pair and the .auth_private file.
std::string tor_inner(const inner::InnerConfig& inner, const OverlayOptions& o);

// torrc lines for the edge's machine: the SocksPort for OnionMX delivery (outbound.socks, else
// none), the link service (with the commands that install the inner's client key in its
// authorized_clients) and the OnionMX service. `inner` (optional) supplies the link's virtual
// port from its edge.address.
std::string tor_edge(const edge::EdgeConfig& edge, const inner::InnerConfig* inner,
                     const OverlayOptions& o);

// The DNS records the operator publishes: one `_onion-mx._tcp` SRV per public domain.
std::string tor_dns(const edge::EdgeConfig& edge, const OverlayOptions& o);

// i2pd: tunnels.conf server sections for the inner's listeners and i2pd.conf SOCKS proxy
// settings for dialing the edge; and tunnels.conf server sections for the edge's link and
// OnionMX listeners.
std::string i2p_inner(const inner::InnerConfig& inner);
std::string i2p_edge(const edge::EdgeConfig& edge, const inner::InnerConfig* inner);

// `nightjarctl overlay tor|i2p --inner-config FILE [--edge-config FILE] [--edge-onion NAME]
// [--tor-dir DIR]`; returns the exit status (0, 1 for a bad configuration, 2 for usage).
int cmd_overlay(const std::vector<std::string_view>& args);

}  // namespace nj::ctl
