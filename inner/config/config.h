// The inner's configuration: one struct, filled from one YAML file by one table (config.cpp),
// which is the only list of the inner's keys, their types, defaults and checks. It trusts nothing
// in the file; a problem stops start-up with "file:line: key: problem" lines (see
// common/config/table.h). inner/inner.example.yaml documents every key.
//
// The inner is reachable only through an anonymity overlay, so every listener must be a loopback
// address: the overlay daemon (Tor onion service, I2P server tunnel) is what exposes it. A
// non-loopback address is refused here, and is_loopback() is exported so the daemon can assert
// the same thing again where it binds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/log.h"
#include "common/base/result.h"
#include "common/config/types.h"

namespace nj::inner {

using config::Duration;
using config::Endpoint;

struct DomainConfig {
  std::string internal_domain;  // key `internal`: the users' domain on the overlay
  std::string public_domain;    // key `public`: the same users' domain on the Internet (edge)
};

struct ListenConfig {
  std::vector<Endpoint> submission;  // mail clients submit here (AUTH required); at least one
  std::vector<Endpoint> pop3;        // mail clients retrieve here; at least one
  Endpoint metrics;                  // Prometheus text format on loopback; port 0: off
};

struct KeysConfig {
  std::string inner_secret;  // this inner's static secret key file (opens the edge's queue)
  // The one-edge form only (with an `edge:` section): that edge's static public key file. The
  // list form names each edge's key in its entry (`edges[].public_key`).
  std::string edge_public;
};

struct MailboxConfig {
  std::uint64_t max_size = 50ull << 20;  // per account, stored (sealed) bytes
};

struct AuthConfig {
  int max_failures = 5;  // wrong passwords before logins are refused for `lockout`
  Duration lockout{15 * 60 * 1000};
};

struct Limits {
  std::uint64_t max_message_size = 35ull << 20;
  int max_recipients = 100;
  int max_connections = 200;  // simultaneous, over all listeners
};

// How the inner reaches one of its edges (the link). The inner always dials; the edge never
// learns where the inner is. `direct` is plain loopback TCP for tests and the local demo only.
// An inner has a fleet of edges (`edges:`), each an MX of the public domain with its own key
// pair; it keeps a link to every one at once (docs/operations.md "A fleet of edges").
enum class Transport { tor, i2p, direct };
struct EdgeLinkConfig {
  std::string name;     // the operator's name for it: 1-32 of a-z, 0-9, '-' (logs, status)
  std::string address;  // "NAME.onion:PORT", "NAME.i2p:PORT", or "127.0.0.1:PORT" (direct)
  Transport transport = Transport::tor;
  Endpoint socks;       // the overlay's SOCKS5 port on loopback (tor, i2p); port 0 = unset
  std::string public_key;  // the path of this edge's static public key file (its .pub)
  // Its link down this long: what it holds unfinished is handed to another edge.
  Duration failover_after{10 * 60 * 1000};
};
inline constexpr std::size_t kMaxEdges = 16;

// Internet recipients per account (inner/policy/quota_store.h).
struct QuotaPrice {
  int bits = 0;                  // a hashcash stamp of at least this many bits ...
  std::uint32_t recipients = 0;  // ... buys this many recipients for 24 hours
  friend bool operator==(const QuotaPrice&, const QuotaPrice&) = default;
};

struct QuotaConfig {
  std::uint32_t daily = 20;  // Internet recipients a day (UTC) without stamps
  std::vector<QuotaPrice> prices{{20, 20}, {22, 40}, {24, 80}};  // key `prices`: "BITS:COUNT"
};

// When Internet-bound mail may leave (inner/policy/delay.h).
struct DelayConfig {
  std::string default_class = "defer";  // key `default`: none, defer or batch
  Duration defer_min{2000 * 1000};
  Duration defer_max{4000 * 1000};
  std::vector<int> batch_times{0, 12 * 3600};  // seconds after 00:00 UTC; written "HH:MM"
};

using config::LogConfig;

struct InnerConfig {
  std::string hostname;  // the public name in greetings and Received lines, never the machine's
  std::string data_dir;
  std::string user;  // runs as it: started as root, drops to it after binding; empty: as started
  DomainConfig domain;
  ListenConfig listen;
  KeysConfig keys;
  MailboxConfig mailbox;
  AuthConfig auth;
  Limits limits;
  // The fleet; empty: no edge (local mail only). The one-edge form (an `edge:` section and
  // keys.edge_public) is loaded as a list of one named "edge"; `edge` is then cleared, so
  // everything after load() sees only the list.
  std::vector<EdgeLinkConfig> edges;
  EdgeLinkConfig edge;
  QuotaConfig quota;
  DelayConfig delay;
  LogConfig log;
};

// An `edges:` entry given other than in the file (`nightjarctl edge add`), checked by the same
// rules: the entry without public_key, or one "key: problem" line per problem. An empty
// transport, socks or failover_after takes the file's default.
Result<EdgeLinkConfig> check_edge_entry(std::string_view name, std::string_view address,
                                        std::string_view transport, std::string_view socks,
                                        std::string_view failover_after);

// The edge address split into host and port (the config has checked it).
std::pair<std::string, uint16_t> split_edge_address(const std::string& address);

// True for 127.0.0.0/8 and ::1 (an Endpoint from the config holds a numeric address).
bool is_loopback(const Endpoint& e);

// Reads and checks the inner's configuration file. On error, the message holds one
// "file:line: key: problem" line per problem. `host` is config::Host::other for a copy of
// another machine's file read for its names, ports and addresses (nightjarctl overlay): every
// check as usual except that the files, directories and user it names exist on this machine.
Result<InnerConfig> load(const std::string& path, config::Host host = config::Host::this_one);
Result<InnerConfig> load_text(std::string_view text, const std::string& name,
                              config::Host host = config::Host::this_one);

// The effective configuration as YAML, every key including defaults; it loads back to the same
// configuration. For operators (--check-config prints it).
std::string print_effective(const InnerConfig& c);

}  // namespace nj::inner
