// nightjarctl overlay tor|i2p: prints the overlay daemon's configuration for nightjar's own
// listeners, so that the operator never writes a port mapping by hand. From the inner's
// configuration: an onion service (Tor) or server tunnels (I2P) for submission (587) and POP3
// (110), and the SOCKS settings the inner dials its fleet of edges through (inner.yaml's
// `edges:`); from each edge's own configuration (--edge NAME=FILE, NAME being its entry in
// `edges:`), that edge's link service and OnionMX service, plus the DNS records the operator
// publishes: every edge is an MX of the public domains it serves (equal preference, or the order
// the operator gives), and each Tor edge has its `_onion-mx._tcp` SRV record.
// Each edge's link service admits only the inner, filled in, never a placeholder: Tor's onion
// client authorization (one client key pair per edge; the printed commands name the real link
// onion and key files, the inner's file named after the edge), I2P's accesslist (the inner's link
// destination, computed from its i2pd keys file, --inner-link-keys); without what it needs an
// edge's I2P part is refused, not printed open. Nor is an SRV record printed before that edge's
// OnionMX onion name is given (--edge-onion NAME=ONION).
//
// Trust: the configuration files are the operator's and are loaded and checked by the daemons'
// own loaders (nj::inner::load, nj::edge::load), as another machine's configuration
// (config::Host::other): the command runs on one machine with copies of the others' files, and
// it reads only names, ports and addresses, never the files, directories or user they name, so
// whether those exist here is not asked (every other check is). The i2pd keys file is parsed with
// limits as untrusted bytes (a wrong file gives an error, never a crash); only its public
// destination is used, and what is read of it is held in locked memory and wiped (the private keys
// follow the destination). The output is text for the operator to read and install. It prints no
// key material: key pairs are made on the machine that keeps them, by openssl or by i2pd.
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
  // Tor: parent of the HiddenServiceDir directories (on the inner's machine and on each edge's).
  // I2P: i2pd's keys are relative to its own data directory, so this is unused there.
  std::string tor_dir = "/var/lib/tor";
  // I2P: the inner's link destination ("<52 base32>.b32.i2p", from read_i2p_keys_b32), the one
  // client every edge's link tunnel admits (the inner has one SOCKS proxy for all its I2P
  // edges). Empty: i2p_edge refuses to print a link tunnel.
  std::string inner_link_b32;
  // DNS: false gives every edge MX preference 10 and SRV priority 0; true gives them 10, 20, ...
  // and 0, 1, ... in the order of the list passed to dns_records (--mx-order).
  bool mx_ordered = false;
};

// One edge whose configuration was given (--edge NAME=FILE).
struct GivenEdge {
  inner::EdgeLinkConfig link;  // its entry in the inner's `edges:` (name, address, transport)
  edge::EdgeConfig config;     // its own configuration (a copy from its machine)
  // Its OnionMX onion name ("<56 base32>.onion", --edge-onion NAME=ONION); empty: no SRV record
  // for it, only a note saying where the name is and what to pass.
  std::string onion_mx;
};

// RFC 4648 base32 in lower case without padding: the alphabet of onion and .b32.i2p names.
std::string base32_lower(std::string_view bytes);

// Limits of the i2pd keys file reader. A destination is 256 bytes of encryption public key, 128
// of signing public key and a certificate (type, 2-byte length, payload); a key certificate's
// payload is the signing and crypto key types plus the signing key's excess over the fixed
// fields (4 bytes for ECDSA-P521, 928 for ML-DSA-44), well under kMaxI2pCertPayload.
constexpr size_t kI2pDestinationMin = 387;
constexpr size_t kMaxI2pCertPayload = 4096;
constexpr size_t kMaxI2pKeysRead = kI2pDestinationMin + kMaxI2pCertPayload + 1;

// The "<52 base32>.b32.i2p" name of the destination at the start of an i2pd keys file: base32 of
// the SHA-256 of the public destination (i2pd's IdentHash). `keys` is the file, or its first
// bytes as long as they hold the destination and one byte of the private keys after it. An
// error says what is wrong: too short, a certificate that is neither none (type 0, empty) nor a
// key certificate (type 5, 4..kMaxI2pCertPayload bytes), a file that ends inside or right after
// the destination (a keys file goes on with the private keys).
Result<std::string> i2p_keys_b32(std::string_view keys);

// i2p_keys_b32 of the file at `path`, reading at most kMaxI2pKeysRead bytes into locked memory;
// errors read "path: problem" (a missing file says that i2pd writes it when it starts).
Result<std::string> read_i2p_keys_b32(const std::string& path);

// The onion name normalised to "<56 lower-case base32>.onion" (the ".onion" suffix optional on
// input), or an error saying what is wrong with it.
Result<std::string> parse_onion_name(std::string_view name);

// The link onion's name without ".onion" when the inner dials this edge at a v3 onion over Tor
// (its address), else empty: the client authorization file names the onion it is for.
std::string link_onion_label(const inner::EdgeLinkConfig& link);

// torrc lines for the inner's machine: VanguardsLiteEnabled 1 (the inner's tor keeps its
// second-hop relays, see docs/overlays.md), its onion service (587 and 110 mapped to the
// configured loopback listeners; listen.metrics is never exposed) and, when it dials edges over
// Tor, one SocksPort per distinct `socks` of those edges, the ClientOnionAuthDir and, for each
// such edge whose address names a v3 onion, (as `#   $ ` comment lines) the shell commands that
// make its own client key pair and its `<name>.auth_private` file. Edges over other transports
// are named in comments.
std::string tor_inner(const inner::InnerConfig& inner, const OverlayOptions& o);

// torrc lines for one edge's machine (e.link.transport is tor): the SocksPort for OnionMX
// delivery (outbound.socks, else none), the link service (virtual port: the port of the
// address the inner dials; with the commands that install the inner's client key for this edge
// in its authorized_clients) and the OnionMX service.
std::string tor_edge(const GivenEdge& e, const OverlayOptions& o);

// The DNS records the operator publishes, for `edges` in this order: for each public domain any
// of them serves (in order of first appearance), an MX record per edge serving it (its
// hostname); with `tor`, the `_onion-mx._tcp` SRV records of the edges dialled over Tor, each
// with the edge's OnionMX onion. An edge without e.onion_mx gets no SRV record (one is never
// printed with a stand-in for the name), only a comment saying where the name is and to run again
// with --edge-onion NAME=ONION. Preferences and priorities as o.mx_ordered says.
std::string dns_records(const std::vector<GivenEdge>& edges, bool tor, const OverlayOptions& o);

// i2pd: tunnels.conf server sections for the inner's listeners and i2pd.conf SOCKS proxy
// settings (with their own keys file, nightjar-inner-link.dat) for dialing its I2P edges; an
// error when those edges name different `socks` (i2pd has one [socksproxy]).
Result<std::string> i2p_inner(const inner::InnerConfig& inner);

// i2pd tunnels.conf server sections for one edge's link and OnionMX listeners
// (e.link.transport is i2p); the link tunnel's accesslist is o.inner_link_b32. With a link
// listener and no o.inner_link_b32, an error saying what to pass (--inner-link-keys), so an
// open link tunnel is never printed.
Result<std::string> i2p_edge(const GivenEdge& e, const OverlayOptions& o);

// `nightjarctl overlay tor|i2p --inner-config FILE [--tor-dir DIR] [--edge NAME=FILE]...
// [--edge-onion NAME=ONION]... [--inner-link-keys FILE] [--mx-order NAME,...]`; returns the
// exit status (0, 1 for a bad configuration or keys file or a refused part, 2 for usage).
int cmd_overlay(const std::vector<std::string_view>& args);

}  // namespace nj::ctl
