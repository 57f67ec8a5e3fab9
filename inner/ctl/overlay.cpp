#include "inner/ctl/overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/crypto/crypto.h"

namespace nj::ctl {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

constexpr const char* kUsage =
    "usage: nightjarctl overlay tor --inner-config FILE [--tor-dir DIR]\n"
    "           [--edge NAME=FILE [--edge-onion NAME=ONION]]... [--mx-order NAME,...]\n"
    "       nightjarctl overlay i2p --inner-config FILE\n"
    "           [--edge NAME=FILE]... [--inner-link-keys FILE] [--mx-order NAME,...]\n";

// The ports the world expects: users' mail clients know 587 and 110, and OnionMX senders dial 25.
constexpr int kSubmissionPort = 587;
constexpr int kPop3Port = 110;
constexpr int kMxPort = 25;

// i2pd keys files, relative to i2pd's data directory: the inner's mail destination (submission
// and POP3) and its SOCKS proxy's, from which the inner dials its edge.
constexpr const char* kInnerMailKeys = "nightjar-inner.dat";
constexpr const char* kInnerLinkKeys = "nightjar-inner-link.dat";
constexpr const char* kDebianI2pdData = "/var/lib/i2pd";

constexpr std::string_view kBase32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::string_view kB32Suffix = ".b32.i2p";

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

// `text` as comment lines ("# " and its words) of at most 80 columns; a word longer than a line
// stands on its own.
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

// The port the inner dials the edge's link at: the link service's virtual port.
int link_virtual_port(const inner::EdgeLinkConfig& link) {
  return inner::split_edge_address(link.address).second;
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
  return kBase32Alphabet.find(c) != std::string_view::npos;
}

// The raw 32-byte X25519 key at the end of openssl's DER output, as tor's .auth files want it:
// base32 without padding (52 characters, so base32 does not wrap the line).
constexpr const char* kRawKeyToBase32 = "tail -c 32 | base32 | tr -d =";

}  // namespace

std::string base32_lower(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += kBase32Alphabet[(buffer >> bits) & 31];
    }
    buffer &= (1u << bits) - 1;  // only the bits not yet written
  }
  if (bits > 0) out += kBase32Alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

Result<std::string> i2p_keys_b32(std::string_view keys) {
  // The certificate's type and length follow the 256 + 128 bytes of public keys.
  constexpr size_t kCertAt = 384;
  constexpr unsigned char kCertNull = 0, kCertKey = 5;
  constexpr size_t kKeyCertTypes = 4;  // signing key type, crypto key type (2 bytes each)
  if (keys.empty()) return make_error("empty, not an i2pd keys file");
  if (keys.size() < kI2pDestinationMin)
    return make_error("too short for an i2pd keys file (" + std::to_string(keys.size()) +
                      " bytes; its destination alone is at least " +
                      std::to_string(kI2pDestinationMin) + ")");
  auto type = static_cast<unsigned char>(keys[kCertAt]);
  size_t len = static_cast<size_t>(static_cast<unsigned char>(keys[kCertAt + 1])) << 8 |
               static_cast<unsigned char>(keys[kCertAt + 2]);
  if (type == kCertNull) {
    if (len != 0)
      return make_error("not an i2pd keys file: an empty certificate (type 0) with " +
                        std::to_string(len) + " bytes");
  } else if (type == kCertKey) {
    if (len < kKeyCertTypes || len > kMaxI2pCertPayload)
      return make_error("not an i2pd keys file: a key certificate of " + std::to_string(len) +
                        " bytes (" + std::to_string(kKeyCertTypes) + " to " +
                        std::to_string(kMaxI2pCertPayload) + ")");
  } else {
    return make_error("not an i2pd keys file: certificate type " + std::to_string(type) +
                      " (i2pd writes a key certificate, type 5)");
  }
  size_t destination = kI2pDestinationMin + len;
  if (keys.size() < destination)
    return make_error("ends inside its destination's certificate, not an i2pd keys file");
  if (keys.size() == destination)
    return make_error(
        "ends after its destination: an i2pd keys file goes on with the private keys");
  crypto::init();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(keys.data()), destination);
  return base32_lower(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest)) +
         std::string(kB32Suffix);
}

Result<std::string> read_i2p_keys_b32(const std::string& path) {
  // O_NONBLOCK: a FIFO given by mistake is refused below instead of waiting for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT)
      return make_error(path + ": no such file (i2pd writes it when it starts with the section " +
                        "that names it)");
    return make_error(path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(path + ": not a regular file");
  }
  // Only the start is needed; the private keys that follow stay in locked memory, then wiped.
  crypto::init();
  crypto::SecureBytes buf(kMaxI2pKeysRead);
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::string err = path + ": read: " + std::strerror(errno);
      ::close(fd);
      return make_error(err);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  auto b32 = i2p_keys_b32(buf.view().substr(0, got));
  if (!b32) return make_error(path + ": " + b32.error());
  return b32;
}

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

std::string link_onion_label(const inner::EdgeLinkConfig& link) {
  if (link.address.empty() || link.transport != inner::Transport::tor) return {};
  auto name = parse_onion_name(inner::split_edge_address(link.address).first);
  if (!name) return {};
  return name->substr(0, name->size() - std::string_view(".onion").size());
}

namespace {

// listen.metrics is for this machine's monitoring only: said, never mapped.
std::string metrics_not_exposed(const inner::InnerConfig& in) {
  if (in.listen.metrics.port == 0) return {};
  return comment("listen.metrics (" + in.listen.metrics.str() +
                 ") is for this machine only: it is not exposed.");
}

// The commands that make the inner's client key pair for one Tor edge's link service and its
// .auth_private file, or a note saying why they cannot be printed yet.
std::string tor_client_auth(const inner::EdgeLinkConfig& e, const OverlayOptions& o,
                            const std::string& auth_dir) {
  std::string onion = link_onion_label(e);
  if (onion.empty())
    return comment("Client authorization for edge " + e.name +
                   "'s link service: its address does not name the link onion yet. Its name is "
                   "in " +
                   tor_service_dir(o, "nightjar-edge-link") + "/hostname on edge " + e.name +
                   "'s machine once tor runs there: set its address in edges: and run this "
                   "again for the commands that make its client key.");
  std::string pem = "link-client-" + e.name + ".pem", pub = "link-client-" + e.name + ".pub";
  std::string out = comment(
      "Onion client authorization for edge " + e.name + "'s link service (" + onion +
      ".onion): make its key pair on this machine, in a private working directory (the private "
      "half never leaves it), then copy " +
      pub + " to edge " + e.name +
      "'s machine (see its part). Each edge has its own key pair: run these once for the edge "
      "(run again, they make a new key, which edge " +
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

}  // namespace

std::string tor_inner(const inner::InnerConfig& in, const OverlayOptions& o) {
  std::string out;
  out += comment(
      "Vanguards-lite (tor >= 0.4.7): a few second-hop relays kept for days, so that whoever "
      "makes this tor build circuit after circuit (a seized edge dropping its link, a stranger "
      "connecting to the inner's onion) does not get to try relay after relay next to its "
      "guard. On by default unless the consensus says otherwise; 1 keeps it on. "
      "(docs/overlays.md: Vanguards.)");
  out += "VanguardsLiteEnabled 1\n";
  out += comment("The inner's submission and POP3 listeners as one onion service; its name (in " +
                 tor_service_dir(o, "nightjar-inner") +
                 "/hostname once tor has started) is what users' mail clients connect to, on "
                 "ports 587 and 110.");
  out += "HiddenServiceDir " + tor_service_dir(o, "nightjar-inner") + "\n";
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
  std::string auth_dir = tor_service_dir(o, "nightjar-onion-auth");
  out += comment(
      "The link services' client keys are read from this directory, one file per edge; tor "
      "refuses to start until it exists (the commands below make it).");
  out += "ClientOnionAuthDir " + auth_dir + "\n";
  for (const auto& e : in.edges)
    if (e.transport == inner::Transport::tor) out += tor_client_auth(e, o, auth_dir);
  out += "# If tor runs as its own user (Debian: debian-tor), make it the owner:\n";
  out += "#   chown -R debian-tor: " + auth_dir + "\n";
  return out;
}

std::string tor_edge(const GivenEdge& g, const OverlayOptions& o) {
  const edge::EdgeConfig& e = g.config;
  const std::string& name = g.link.name;
  std::string out;
  if (e.outbound.socks.port != 0) {
    out += comment(
        "The edge delivers to OnionMX domains through this SocksPort (outbound.socks); "
        "ExtendedErrors lets its log say why an onion could not be reached.");
    out += "SocksPort " + e.outbound.socks.str() + " ExtendedErrors\n";
  } else {
    out += "# outbound.socks is unset: the edge dials no onion, so tor opens no SOCKS port.\n";
    out += "SocksPort 0\n";
  }
  if (e.listen.link.empty()) {
    out += "# No link listener (listen.link is empty): no link service.\n";
  } else {
    int vport = link_virtual_port(g.link);
    std::string dir = tor_service_dir(o, "nightjar-edge-link");
    std::string pub = "link-client-" + name + ".pub";
    out += comment(
        "The link service, dialled only by the inner. Onion client authorization keeps its "
        "descriptor unreadable without the inner's key, so nobody else can even reach it.");
    out += "HiddenServiceDir " + dir + "\n";
    out += hs_ports(vport, e.listen.link);
    out += comment("Its name is in " + dir + "/hostname once tor has started: set the address of " +
                   name + " in the inner's edges: to <that name>:" + std::to_string(vport) +
                   ". Its one authorized client is the inner's key for this edge, " + pub +
                   " (see the inner's part); with it in the working directory:");
    out += "#   $ umask 077\n";
    out += "#   $ install -d -m 0700 " + dir + " " + dir + "/authorized_clients\n";
    out += "#   $ echo \"descriptor:x25519:$(cat " + pub + ")\" > " + dir +
           "/authorized_clients/inner.auth\n";
    out += comment(
        "then restart tor: it publishes the descriptor encrypted to that key. If tor runs as its "
        "own user (Debian: debian-tor), make it the owner:");
    out += "#   chown -R debian-tor: " + dir + "\n";
  }
  if (e.listen.onion_mx.empty()) {
    out += "# No OnionMX listener (listen.onion_mx is empty): no OnionMX service.\n";
  } else {
    out += comment(
        "The OnionMX service: mail servers that speak Tor deliver here instead of port 25 on the "
        "Internet. Public, like the MX.");
    out += "HiddenServiceDir " + tor_service_dir(o, "nightjar-edge-mx") + "\n";
    out += hs_ports(kMxPort, e.listen.onion_mx);
  }
  return out;
}

std::string dns_records(const std::vector<GivenEdge>& edges, bool tor, const OverlayOptions& o) {
  // The public domains in order of first appearance.
  std::vector<std::string> domains;
  for (const auto& g : edges)
    for (const auto& d : g.config.domains)
      if (std::find(domains.begin(), domains.end(), d.public_domain) == domains.end())
        domains.push_back(d.public_domain);
  auto serves = [](const GivenEdge& g, const std::string& domain) {
    return std::any_of(g.config.domains.begin(), g.config.domains.end(),
                       [&](const edge::DomainMap& d) { return d.public_domain == domain; });
  };
  std::string out;
  if (o.mx_ordered) {
    std::vector<std::string> names;
    for (const auto& g : edges) names.push_back(g.link.name);
    out += comment(
        "Every edge is an MX of each public domain it serves, in the order --mx-order "
        "gave (" +
        join(names) + "): senders try the lowest preference first.");
  } else {
    out += comment(
        "Every edge is an MX of each public domain it serves, all at the same "
        "preference (senders spread their mail over them; --mx-order NAME,... gives "
        "increasing preferences in that order).");
  }
  for (const auto& d : domains)
    for (size_t i = 0; i < edges.size(); ++i)
      if (serves(edges[i], d))
        out += d + ". IN MX " + std::to_string(o.mx_ordered ? 10 * (i + 1) : 10) + " " +
               edges[i].config.hostname + ".\n";
  if (!tor) return out;

  std::string notes, srv;
  for (const auto& g : edges) {
    if (g.link.transport != inner::Transport::tor) continue;
    if (g.config.listen.onion_mx.empty())
      notes += comment("Edge " + g.link.name +
                       " has no OnionMX listener (listen.onion_mx is empty): no SRV record for "
                       "it.");
    // A record with a stand-in for the name would be published as it stands by whoever pastes
    // the part, and would send OnionMX senders nowhere: until the name is given, no record.
    else if (g.onion_mx.empty())
      notes += comment(
          "No SRV record for edge " + g.link.name +
          ": it names the edge's OnionMX onion, and --edge-onion " + g.link.name +
          "=ONION was not given. Once tor runs on edge " + g.link.name +
          "'s machine with its part above, ONION is in " + tor_service_dir(o, "nightjar-edge-mx") +
          "/hostname there: run this again with --edge-onion " + g.link.name + "=ONION.");
  }
  for (const auto& d : domains)
    for (size_t i = 0; i < edges.size(); ++i) {
      const GivenEdge& g = edges[i];
      if (g.link.transport != inner::Transport::tor || g.config.listen.onion_mx.empty() ||
          g.onion_mx.empty() || !serves(g, d))
        continue;
      srv += "_onion-mx._tcp." + d + ". IN SRV " + std::to_string(o.mx_ordered ? i : 0) + " 0 " +
             std::to_string(kMxPort) + " " + g.onion_mx + ".\n";
    }
  if (!srv.empty())
    out += "# OnionMX: the `_onion-mx._tcp` SRV records of the Tor edges' OnionMX onions.\n" + srv;
  return out + notes;
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
                 " socks). Its own keys file gives it a fixed destination, the "
                 "only one the edges' link tunnels admit. Once i2pd has started with this section "
                 "and written that file, print the edges' parts with --edge NAME=FILE "
                 "--inner-link-keys KEYS, KEYS being " +
                 kInnerLinkKeys + " in i2pd's data directory (Debian: " + kDebianI2pdData +
                 "). This replaces i2pd.conf's [socksproxy] section (Debian's has one; i2pd "
                 "refuses an option given twice).");
  out += "[socksproxy]\nenabled = true\naddress = " + ep.host +
         "\nport = " + std::to_string(ep.port) + "\nkeys = " + kInnerLinkKeys + "\n";
  return out;
}

Result<std::string> i2p_edge(const GivenEdge& g, const OverlayOptions& o) {
  const edge::EdgeConfig& e = g.config;
  const std::string& name = g.link.name;
  std::string out;
  if (e.listen.link.empty()) {
    out += "# No link listener (listen.link is empty): no link tunnel.\n";
  } else {
    // Anyone who can reach the link port can hold its handshake slots: the tunnel is printed
    // only with the inner's destination as its one allowed client.
    if (o.inner_link_b32.empty())
      return make_error("the link tunnel of edge " + name +
                        " admits only the inner's link destination, which is not known: pass "
                        "--inner-link-keys FILE, the keys file of the inner's i2pd SOCKS proxy (" +
                        std::string(kInnerLinkKeys) +
                        " in i2pd's data directory, Debian: " + kDebianI2pdData + "/" +
                        kInnerLinkKeys + "; i2pd writes it when it starts with the inner's part, " +
                        "which is printed without --edge)");
    std::string_view label(o.inner_link_b32);
    if (label.size() > kB32Suffix.size() &&
        label.substr(label.size() - kB32Suffix.size()) == kB32Suffix)
      label.remove_suffix(kB32Suffix.size());
    int vport = link_virtual_port(g.link);
    out += comment(
        "tunnels.conf (Debian: a file in /etc/i2pd/tunnels.conf.d/; keys files are relative to "
        "i2pd's data directory, Debian: " +
        std::string(kDebianI2pdData) +
        "). The link tunnel admits only the inner's link destination, its SOCKS proxy's (" +
        kInnerLinkKeys + "):");
    out += "#   " + o.inner_link_b32 + "\n";
    out += comment("(accesslist takes the name without .b32.i2p). Set the address of " + name +
                   " in the inner's edges: to this tunnel's .b32.i2p name (i2pd here logs it) "
                   "and port " +
                   std::to_string(vport) + ".");
    out += i2p_server("nightjar-edge-link", e.listen.link.front(), vport, "nightjar-edge-link.dat");
    out += "accesslist = " + std::string(label) + "\n";
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

namespace {

// "NAME=VALUE" split at the first '=', both parts non-empty; nullopt otherwise.
std::optional<std::pair<std::string, std::string>> name_value(std::string_view a) {
  size_t eq = a.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == a.size()) return std::nullopt;
  return std::pair<std::string, std::string>{std::string(a.substr(0, eq)),
                                             std::string(a.substr(eq + 1))};
}

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    size_t comma = s.find(',', i);
    out.emplace_back(s.substr(i, comma == std::string_view::npos ? s.npos : comma - i));
    if (comma == std::string_view::npos) break;
    i = comma + 1;
  }
  return out;
}

constexpr const char* kHelp =
    "Prints the overlay daemon's configuration for nightjar's listeners: torrc\n"
    "lines (tor) or i2pd tunnels.conf and i2pd.conf sections (i2p) for the inner's\n"
    "machine and, for each --edge, that edge's machine; and the DNS records to\n"
    "publish: an MX per edge for each public domain and, for tor, the\n"
    "_onion-mx._tcp SRV records. It reads only names, ports and addresses from the\n"
    "files, so each may be a copy from another machine: the files, directories\n"
    "and users they name need not exist here.\n"
    "  --edge NAME=FILE        edge NAME of the inner's edges: (the one-edge form's\n"
    "                          is named edge) has its configuration in FILE; once\n"
    "                          per edge, for its part and its records\n"
    "  --edge-onion NAME=ONION edge NAME's OnionMX onion name, for its SRV records\n"
    "                          (none without it); tor on that edge writes it to\n"
    "                          DIR/nightjar-edge-mx/hostname\n"
    "  --mx-order NAME,...     every --edge once, most preferred first: MX\n"
    "                          preferences 10, 20, ... (SRV priorities 0, 1, ...);\n"
    "                          without it every edge has preference 10 (priority 0)\n"
    "  --tor-dir DIR           parent of the HiddenServiceDir directories\n"
    "                          (default /var/lib/tor)\n"
    "  --inner-link-keys FILE  the inner's i2pd SOCKS proxy keys file\n"
    "                          (/var/lib/i2pd/nightjar-inner-link.dat): its\n"
    "                          destination is the only one the edges' link tunnels\n"
    "                          admit (accesslist), so the edges' parts need it\n"
    "Example, two Tor edges:\n"
    "  nightjarctl overlay tor --inner-config /etc/nightjar/inner.yaml \\\n"
    "      --edge mx1=mx1.yaml --edge-onion mx1=ONION1 \\\n"
    "      --edge mx2=mx2.yaml --edge-onion mx2=ONION2\n";

}  // namespace

int cmd_overlay(const std::vector<std::string_view>& args) {
  auto usage = [](const std::string& problem) {
    std::fprintf(stderr, "nightjarctl overlay: %s\n%s", problem.c_str(), kUsage);
    return kExitUsage;
  };
  auto fail = [](const std::string& problem) {
    std::fprintf(stderr, "nightjarctl overlay: %s\n", problem.c_str());
    return kExitFailure;
  };
  if (std::any_of(args.begin(), args.end(),
                  [](std::string_view a) { return a == "--help" || a == "-h"; })) {
    std::printf("%s%s", kUsage, kHelp);
    return 0;
  }
  if (args.empty()) return usage("which overlay: tor or i2p");
  bool tor = args[0] == "tor";
  if (!tor && args[0] != "i2p")
    return usage("unknown overlay '" + std::string(args[0]) + "' (tor or i2p)");
  std::string inner_path, link_keys, mx_order;
  bool mx_order_given = false;
  std::vector<std::pair<std::string, std::string>> edge_files;  // name, file: in argument order
  std::vector<std::pair<std::string, std::string>> onions;      // name, onion name
  OverlayOptions o;
  auto given = [&](const std::vector<std::pair<std::string, std::string>>& list,
                   const std::string& name) {
    return std::any_of(list.begin(), list.end(), [&](const auto& p) { return p.first == name; });
  };
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--edge-config")
      return usage(
          "--edge-config FILE is now --edge NAME=FILE, NAME being the edge's name in the "
          "inner's edges: (the one-edge form's edge is named 'edge')");
    bool known = a == "--inner-config" || a == "--config" || a == "--edge" || a == "--edge-onion" ||
                 a == "--tor-dir" || a == "--inner-link-keys" || a == "--mx-order";
    if (!known) return usage("unknown argument '" + std::string(a) + "'");
    if (i + 1 >= args.size()) return usage(std::string(a) + " needs a value");
    std::string_view v = args[++i];
    // --config: nightjarctl's global option (`nightjarctl --config FILE overlay tor`) is the
    // inner's configuration, as for the other commands.
    if (a == "--inner-config" || a == "--config") {
      inner_path = v;
    } else if (a == "--tor-dir") {
      o.tor_dir = v;
    } else if (a == "--inner-link-keys") {
      link_keys = v;
    } else if (a == "--mx-order") {
      mx_order = v;
      mx_order_given = true;
    } else if (a == "--edge") {
      auto nv = name_value(v);
      if (!nv) return usage("--edge '" + std::string(v) + "' is not NAME=FILE");
      if (given(edge_files, nv->first)) return usage("--edge " + nv->first + " is given twice");
      edge_files.push_back(*nv);
    } else {  // --edge-onion
      if (!tor) return usage("--edge-onion is for tor");
      auto nv = name_value(v);
      if (!nv)
        return usage("--edge-onion '" + std::string(v) +
                     "' is not NAME=ONION (NAME: the edge's name in the inner's edges:)");
      if (given(onions, nv->first)) return usage("--edge-onion " + nv->first + " is given twice");
      auto name = parse_onion_name(nv->second);
      if (!name) return usage("--edge-onion " + nv->first + ": " + name.error());
      for (const auto& [other, onion] : onions)
        if (onion == *name)
          return usage("--edge-onion: " + other + " and " + nv->first +
                       " name the same onion; each edge has its own OnionMX onion");
      onions.push_back({nv->first, *name});
    }
  }
  if (inner_path.empty()) return usage("--inner-config FILE is required");
  for (const auto& [name, onion] : onions)
    if (!given(edge_files, name))
      return usage("--edge-onion " + name + "=...: needs --edge " + name + "=FILE");
  if (o.tor_dir.empty() || o.tor_dir.front() != '/') return usage("--tor-dir must be absolute");
  if (!link_keys.empty()) {
    if (tor) return usage("--inner-link-keys is for i2p");
    if (edge_files.empty())
      return usage("--inner-link-keys is for the edges' parts: it needs --edge NAME=FILE");
  }
  std::vector<std::string> order;
  if (mx_order_given) {
    if (edge_files.empty()) return usage("--mx-order orders the --edge edges: give them");
    order = split_commas(mx_order);
    for (const auto& name : order) {
      if (!given(edge_files, name))
        return usage("--mx-order: '" + name + "' is not one of the --edge edges");
      if (std::count(order.begin(), order.end(), name) > 1)
        return usage("--mx-order: " + name + " is named twice");
    }
    for (const auto& [name, file] : edge_files)
      if (std::find(order.begin(), order.end(), name) == order.end())
        return usage("--mx-order must name every --edge edge: " + name + " is missing");
    o.mx_ordered = true;
  }

  // Only names, ports and addresses are read from any file, and the edges' are copies from
  // their machines, whose keys, certificate, onion map, data directory and user are not here.
  auto in = inner::load(inner_path, config::Host::other);
  if (!in) return fail(in.error());
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
    return fail(inner_path + ": the inner dials its edges (" + join(names) + ") over " +
                overlay_name(other) + ": run 'nightjarctl overlay " + (tor ? "i2p" : "tor") + "'");
  }
  std::vector<GivenEdge> edges;  // in the order of the inner's list
  for (const auto& arg : edge_files) {
    const std::string& name = arg.first;  // captured below: not a structured binding
    auto link = std::find_if(in->edges.begin(), in->edges.end(),
                             [&](const inner::EdgeLinkConfig& e) { return e.name == name; });
    if (link == in->edges.end()) {
      std::vector<std::string> names;
      for (const auto& e : in->edges) names.push_back(e.name);
      return usage("--edge " + name + ": " + inner_path + " has no edge named " + name +
                   (names.empty() ? std::string(" (it has no edges:)")
                                  : " (its edges: " + join(names) + ")"));
    }
    if (link->transport != inner::Transport::tor && given(onions, name))
      return usage("--edge-onion " + name + ": edge " + name + " is dialled over " +
                   overlay_name(link->transport) + ", so no tor runs there from this output");
  }
  for (const auto& link : in->edges) {
    auto arg = std::find_if(edge_files.begin(), edge_files.end(),
                            [&](const auto& p) { return p.first == link.name; });
    if (arg == edge_files.end()) continue;
    auto e = edge::load(arg->second, config::Host::other);
    if (!e) return fail(e.error());
    // The edge takes mail for the inner's public domain and hands it over as the inner's
    // internal domain; an edge that does not is no MX of this inner.
    auto internal = edge::internal_domain_for(e->domains, in->domain.public_domain);
    if (!internal || *internal != in->domain.internal_domain)
      return fail("--edge " + link.name + ": " + arg->second +
                  ": domains has no entry {public: " + in->domain.public_domain +
                  ", internal: " + in->domain.internal_domain + "}, the inner's domain");
    for (const auto& g : edges)
      if (g.config.hostname == e->hostname)
        return fail("--edge " + link.name + ": " + arg->second + ": hostname " + e->hostname +
                    " is also edge " + g.link.name + "'s; each edge is an MX of its own");
    GivenEdge g{link, std::move(*e), {}};
    for (const auto& [name, onion] : onions)
      if (name == link.name) g.onion_mx = onion;
    edges.push_back(std::move(g));
  }
  bool i2p_edge_given = std::any_of(edges.begin(), edges.end(), [](const GivenEdge& g) {
    return g.link.transport == inner::Transport::i2p;
  });
  if (!link_keys.empty()) {
    if (!i2p_edge_given)
      return usage("--inner-link-keys is for the I2P edges' parts: no --edge names one");
    // The users' destination in place of the link's is a slip that would lock the inner out.
    std::string_view base(link_keys);
    if (auto slash = base.rfind('/'); slash != std::string_view::npos)
      base.remove_prefix(slash + 1);
    if (base == kInnerMailKeys)
      return fail("--inner-link-keys: " + link_keys +
                  " is the inner's mail destination (submission and POP3); the link's is " +
                  kInnerLinkKeys + ", its SOCKS proxy's");
    auto b32 = read_i2p_keys_b32(link_keys);
    if (!b32) return fail("--inner-link-keys: " + b32.error());
    o.inner_link_b32 = *b32;
  }

  std::string from = inner_path;
  for (const auto& [name, file] : edge_files) from += ", " + name + "=" + file;
  std::string out =
      comment("Generated by nightjarctl overlay " + std::string(args[0]) + " from " + from + ".");
  std::string others;  // the given edges dialled otherwise: only their records are printed here
  for (const auto& g : edges)
    if (g.link.transport != mine) others += elsewhere(g.link, tor);
  if (tor) {
    out += "\n# ---- torrc on the inner's machine ----\n" + tor_inner(*in, o);
    for (const auto& g : edges)
      if (g.link.transport == mine)
        out += "\n# ---- torrc on edge " + g.link.name + "'s machine ----\n" + tor_edge(g, o);
  } else {
    auto inner_part = i2p_inner(*in);
    if (!inner_part) return fail(inner_path + ": " + inner_part.error());
    out += "\n# ---- i2pd on the inner's machine ----\n" + *inner_part;
    for (const auto& g : edges) {
      if (g.link.transport != mine) continue;
      auto edge_part = i2p_edge(g, o);
      if (!edge_part) return fail(edge_part.error());
      out += "\n# ---- i2pd on edge " + g.link.name + "'s machine ----\n" + *edge_part;
    }
  }
  if (!edges.empty()) {
    std::vector<GivenEdge> by_preference;
    if (o.mx_ordered) {
      for (const auto& name : order)
        for (const auto& g : edges)
          if (g.link.name == name) by_preference.push_back(g);
    } else {
      by_preference = edges;
    }
    std::vector<std::string> missing;
    for (const auto& e : in->edges)
      if (!given(edge_files, e.name)) missing.push_back(e.name);
    out += "\n# ---- DNS: publish in each public domain's zone ----\n" + others +
           dns_records(by_preference, tor, o);
    if (!missing.empty())
      out +=
          comment("Not in these records, as no --edge gave their configuration: " + join(missing) +
                  ". Every edge is an MX: give each one for the whole set.");
  }
  std::fputs(out.c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : kExitFailure;
}

}  // namespace nj::ctl
