// nightjarctl overlay tor|i2p on the inner: prints the inner's half of the overlay set-up, so
// that the operator never writes a port mapping by hand. From the inner's configuration: an
// onion service (Tor) or server tunnels (I2P) for submission (587) and POP3 (110), and the SOCKS
// settings the inner dials its fleet of edges through (inner.yaml's `edges:`): for Tor, a
// SocksPort per distinct `socks`, the ClientOnionAuthDir and, per edge, the commands that make
// its client key pair for the edge's link service (the key file named after the edge, the
// commands naming the real link onion, never a placeholder); for I2P, the SOCKS proxy with its
// own keys file, whose destination is the one client every edge's link tunnel admits: given that
// file (--inner-link-keys), the command prints the destination's .b32.i2p name, which each I2P
// edge is given as --inner-link-b32.
// Each edge prints its own half (its services and its DNS records) on its own machine with the
// edge's nightjarctl (edge/ctl/overlay.h); this one says, per edge, what to run there.
//
// Trust: the configuration is the operator's and is loaded and checked by the inner's own loader
// as for a copy (config::Host::other): only names, ports and addresses are read, so the files,
// directories and user it names need not be readable by whoever runs this. The i2pd keys file is
// read by common/ctl/overlay_names.h (limits, locked memory). The output is text for the
// operator to read and install; it prints no key material: key pairs are made on the machine
// that keeps them, by openssl or by i2pd.
#pragma once

#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/ctl/args.h"
#include "inner/config/config.h"

namespace nj::ctl {

// The link onion's name without ".onion" when the inner dials this edge at a v3 onion over Tor
// (its address), else empty: the client authorization file names the onion it is for.
std::string link_onion_label(const inner::EdgeLinkConfig& link);

// torrc lines for the inner's machine: VanguardsLiteEnabled 1 (the inner's tor keeps its
// second-hop relays, see docs/overlays.md), its onion service (587 and 110 mapped to the
// configured loopback listeners; listen.metrics is never exposed) and, when it dials edges over
// Tor, one SocksPort per distinct `socks` of those edges, the ClientOnionAuthDir and, for each
// such edge whose address names a v3 onion, (as `#   $ ` comment lines) the shell commands that
// make its own client key pair and its `<name>.auth_private` file. Edges over other transports
// are named in comments. `tor_dir` is the parent of the HiddenServiceDir directories.
std::string tor_inner(const inner::InnerConfig& inner, std::string_view tor_dir);

// i2pd: tunnels.conf server sections for the inner's listeners and i2pd.conf SOCKS proxy
// settings (with their own keys file, nightjar-inner-link.dat) for dialing its I2P edges; an
// error when those edges name different `socks` (i2pd has one [socksproxy]).
Result<std::string> i2p_inner(const inner::InnerConfig& inner);

// `nightjarctl overlay tor|i2p --config INNER.yaml [--tor-dir DIR] [--inner-link-keys FILE]`;
// returns the exit status (0, 1 for a bad configuration or keys file, 2 for usage).
int cmd_inner_overlay(const Args& args);

}  // namespace nj::ctl
