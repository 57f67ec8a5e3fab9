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
    "usage: nightjarctl overlay tor --inner-config FILE [--edge-config FILE]\n"
    "                               [--edge-onion NAME] [--tor-dir DIR]\n"
    "       nightjarctl overlay i2p --inner-config FILE [--edge-config FILE]\n"
    "                               [--inner-link-keys FILE]\n";

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

// The link onion's name without ".onion" when the inner dials a v3 onion over Tor, else "".
std::string link_onion_label(const inner::InnerConfig& in) {
  if (in.edge.address.empty() || in.edge.transport != inner::Transport::tor) return {};
  auto name = parse_onion_name(inner::split_edge_address(in.edge.address).first);
  if (!name) return {};
  return name->substr(0, name->size() - std::string_view(".onion").size());
}

std::string tor_inner(const inner::InnerConfig& in, const OverlayOptions& o) {
  std::string out;
  out += "# Vanguards-lite (tor >= 0.4.7): a few second-hop relays kept for days, so that\n";
  out += "# whoever makes this tor build circuit after circuit (a seized edge dropping the link,\n";
  out += "# a stranger connecting to the inner's onion) does not get to try relay after relay\n";
  out += "# next to its guard. On by default unless the consensus says otherwise; 1 keeps it on.\n";
  out += "# (docs/overlays.md: Vanguards.)\n";
  out += "VanguardsLiteEnabled 1\n";
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
  // A record with a stand-in for the name would be published as it stands by whoever pastes the
  // part, and would send OnionMX senders nowhere: until the name is given, there is no record.
  if (o.edge_onion.empty())
    return "# The SRV records are not printed: they name the edge's OnionMX onion, and\n"
           "# --edge-onion NAME was not given. Once tor runs on the edge with the part above,\n"
           "# NAME is in " +
           tor_service_dir(o, "nightjar-edge-mx") +
           "/hostname there: run this again with\n"
           "# --edge-onion NAME.\n";
  std::string out;
  for (const auto& d : e.domains)
    out += "_onion-mx._tcp." + d.public_domain + ". IN SRV 0 0 " + std::to_string(kMxPort) + " " +
           o.edge_onion + ".\n";
  return out;
}

std::string i2p_inner(const inner::InnerConfig& in) {
  std::string out;
  out += "# tunnels.conf (Debian: a file in /etc/i2pd/tunnels.conf.d/): submission and POP3\n";
  out += "# share one destination (the same keys file); the I2P port selects the listener. Its\n";
  out += "# .b32.i2p name (logged by i2pd) is what users' mail clients use. Keys files are\n";
  out += "# relative to i2pd's data directory (Debian: " + std::string(kDebianI2pdData) +
         "); i2pd creates them.\n";
  out += i2p_server("nightjar-inner-submission", in.listen.submission.front(), kSubmissionPort,
                    kInnerMailKeys);
  out += not_exposed(in.listen.submission);
  out += "\n";
  out += i2p_server("nightjar-inner-pop3", in.listen.pop3.front(), kPop3Port, kInnerMailKeys);
  out += not_exposed(in.listen.pop3);
  if (in.edge.address.empty()) {
    out += "\n# No edge in the inner's configuration: the inner dials nothing.\n";
  } else if (in.edge.transport == inner::Transport::direct) {
    out += "\n# edge.transport is direct (tests and the local demo only): no SOCKS settings.\n";
  } else {
    out += "\n# i2pd.conf: the SOCKS proxy the inner dials its edge through (edge.socks). Its\n";
    out += "# own keys file gives it a fixed destination, the only one the edge's link tunnel\n";
    out += "# admits. Once i2pd has started with this section and written that file, print the\n";
    out += "# edge's part with --edge-config FILE --inner-link-keys KEYS, KEYS being\n";
    out += "# " + std::string(kInnerLinkKeys) +
           " in i2pd's data directory (Debian: " + kDebianI2pdData + ").\n";
    out += "# This replaces i2pd.conf's [socksproxy] section (Debian's has one; i2pd refuses\n";
    out += "# an option given twice).\n";
    out += "[socksproxy]\nenabled = true\naddress = " + in.edge.socks.host +
           "\nport = " + std::to_string(in.edge.socks.port) + "\nkeys = " + kInnerLinkKeys + "\n";
  }
  return out;
}

Result<std::string> i2p_edge(const edge::EdgeConfig& e, const inner::InnerConfig* in,
                             const OverlayOptions& o) {
  std::string out;
  if (e.listen.link.empty()) {
    out += "# No link listener (listen.link is empty): no link tunnel.\n";
  } else {
    // Anyone who can reach the link port can hold its handshake slots: the tunnel is printed
    // only with the inner's destination as its one allowed client.
    if (o.inner_link_b32.empty())
      return make_error(
          "the edge's link tunnel admits only the inner's link destination, which is not "
          "known: pass --inner-link-keys FILE, the keys file of the inner's i2pd SOCKS proxy (" +
          std::string(kInnerLinkKeys) + " in i2pd's data directory, Debian: " + kDebianI2pdData +
          "/" + kInnerLinkKeys + "; i2pd writes it when it starts with the inner's part, " +
          "which is printed without --edge-config)");
    std::string_view label(o.inner_link_b32);
    if (label.size() > kB32Suffix.size() &&
        label.substr(label.size() - kB32Suffix.size()) == kB32Suffix)
      label.remove_suffix(kB32Suffix.size());
    int vport = link_virtual_port(e, in, inner::Transport::i2p);
    out += "# tunnels.conf (Debian: a file in /etc/i2pd/tunnels.conf.d/; keys files are relative\n";
    out += "# to i2pd's data directory, Debian: " + std::string(kDebianI2pdData) +
           "). The link tunnel admits only the\n";
    out += "# inner's link destination, its SOCKS proxy's (" + std::string(kInnerLinkKeys) + "):\n";
    out += "#   " + o.inner_link_b32 + "\n";
    out += "# (accesslist takes the name without .b32.i2p). Set the inner's edge.address to this\n";
    out += "# tunnel's .b32.i2p name (i2pd here logs it) and port " + std::to_string(vport) + ".\n";
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
    std::printf(
        "%s"
        "Prints the overlay daemon's configuration for nightjar's listeners: torrc\n"
        "lines (tor) or i2pd tunnels.conf and i2pd.conf sections (i2p), for the inner's\n"
        "machine and, with --edge-config, the edge's; for tor also the _onion-mx._tcp\n"
        "SRV records to publish. It reads only names, ports and addresses from the\n"
        "two files, so either may be a copy from the other machine: the files,\n"
        "directories and users they name need not exist here.\n"
        "  --edge-onion NAME       the edge's OnionMX onion name, for the SRV records\n"
        "                          (none without it); tor on the edge writes it to\n"
        "                          DIR/nightjar-edge-mx/hostname\n"
        "  --tor-dir DIR           parent of the HiddenServiceDir directories\n"
        "                          (default /var/lib/tor)\n"
        "  --inner-link-keys FILE  the inner's i2pd SOCKS proxy keys file\n"
        "                          (/var/lib/i2pd/nightjar-inner-link.dat): its\n"
        "                          destination is the only one the edge's link tunnel\n"
        "                          admits (accesslist), so the edge's part needs it\n",
        kUsage);
    return 0;
  }
  if (args.empty()) return usage("which overlay: tor or i2p");
  bool tor = args[0] == "tor";
  if (!tor && args[0] != "i2p")
    return usage("unknown overlay '" + std::string(args[0]) + "' (tor or i2p)");
  std::string inner_path, edge_path, onion, link_keys;
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
    else if (a == "--inner-link-keys")
      target = &link_keys;
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
  if (!link_keys.empty()) {
    if (tor) return usage("--inner-link-keys is for i2p");
    if (edge_path.empty())
      return usage("--inner-link-keys is for the edge's part: it needs --edge-config");
  }

  // Only names, ports and addresses are read from either file, and one of them is a copy from
  // the other machine, whose keys, certificate, onion map, data directory and user are not here.
  auto in = inner::load(inner_path, config::Host::other);
  if (!in) return fail(in.error());
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
    auto e = edge::load(edge_path, config::Host::other);
    if (!e) return fail(e.error());
    ed = std::move(*e);
  }
  if (!link_keys.empty()) {
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
    if (ed) {
      auto edge_part = i2p_edge(*ed, &*in, o);
      if (!edge_part) return fail(edge_part.error());
      out += "\n# ---- i2pd on the edge's machine ----\n" + *edge_part;
    }
  }
  std::fputs(out.c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : kExitFailure;
}

}  // namespace nj::ctl
