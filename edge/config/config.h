// The edge's configuration: one struct, filled from one YAML file by one table (config.cpp),
// which is the only list of the edge's keys, their types, defaults and checks. It trusts nothing
// in the file; a problem stops start-up with "file:line: key: problem" lines (see
// common/config/table.h). edge/edge.example.yaml documents every key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/log.h"
#include "common/base/result.h"
#include "common/config/types.h"
#include "edge/dkim/key.h"

namespace nj::edge {

using config::ClientPattern;
using config::Duration;
using config::Endpoint;
using config::Ipv4Range;

struct DomainMap {
  std::string public_domain;    // key `public`: the domain the Internet sends to
  std::string internal_domain;  // key `internal`: the same users' domain on the inner
};

// True when `domain` is the public or the internal domain of one of `domains` (ASCII case
// folded; no trailing dot, as mail::Mailbox never has one).
bool is_our_domain(const std::vector<DomainMap>& domains, std::string_view domain);
// The internal domain that `public_domain` maps to (ASCII case folded), or nullopt when it is
// none of ours.
std::optional<std::string> internal_domain_for(const std::vector<DomainMap>& domains,
                                               std::string_view public_domain);

struct ListenConfig {
  std::vector<Endpoint> mx;        // public port 25; at least one
  std::vector<Endpoint> onion_mx;  // where the overlay forwards the OnionMX service
  std::vector<Endpoint> link;      // where the overlay forwards the inner's link connections
  Endpoint metrics;                // Prometheus text format, loopback only; port 0: off
};

struct DnsConfig {
  std::vector<Endpoint> servers;  // empty: the system's /etc/resolv.conf
  Duration timeout{5000};
  int tries = 3;
};

struct TlsConfig {
  std::string cert;  // both empty: no STARTTLS
  std::string key;
};

struct KeysConfig {
  std::string edge_secret;   // this edge's static secret key file
  std::string inner_public;  // the paired inner's public key file
};

struct HeloChecks {
  bool require_fqdn = true;
  bool allow_address_literal = true;
  bool reject_our_names = true;
};

struct SenderAllowlist {
  std::string domain;                  // mail claiming a sender in this domain (or below it)...
  std::vector<ClientPattern> clients;  // ...is accepted only from these clients
};

struct SenderChecks {
  bool require_resolvable = true;
  bool reject_private_mx_ns = true;
  bool allow_loopback_dns = false;  // tests only: a private test DNS answers 127.0.0.1
  std::vector<SenderAllowlist> allowlists;
};

struct DnsblZone {
  std::string zone;
  int weight = 1;
  // Answers that count, all inside 127.0.0.0/24 (edge/checks compares the last octet).
  // Empty: any 127.0.0.0/8 answer counts except 127.255.255.0/24 (DNSBL error codes).
  std::vector<Ipv4Range> match;
};

struct DnsblChecks {
  std::vector<DnsblZone> zones;
  int threshold = 1;
};

struct GreylistChecks {
  bool enabled = true;
  Duration delay{300 * 1000};
  Duration retry_window{2LL * 86400 * 1000};
  Duration max_age{35LL * 86400 * 1000};
  int auto_allow_after = 5;  // 0: never
};

// What the end of DATA answers when clamd cannot say (down, timed out, an error, a message over
// max_size): 451 4.7.1 (the sender tries again later), or accept the message unscanned.
enum class ClamdOnError { tempfail, accept };

// Virus scanning by clamd's INSTREAM command (edge/checks/clamd.h). The section absent: none.
struct ClamdChecks {
  std::string socket;  // clamd's LocalSocket (absolute path) or a loopback host:port; "": off
  ClamdOnError on_error = ClamdOnError::tempfail;
  Duration timeout{30 * 1000};           // the whole scan: connect, send, scan, reply
  // Larger messages are not sent (on_error applies); never below limits.max_message_size.
  std::uint64_t max_size = 35ull << 20;
};

// SPF, DKIM and DMARC of inbound mail, recorded in one Authentication-Results field under the
// edge's hostname (edge/auth/sender_auth.h).
struct AuthChecks {
  bool enabled = true;
  bool dmarc_reject = true;  // DMARC fail with p=reject (after pct): 550 5.7.1
  // Debian's publicsuffix package; read at start-up (DMARC's organizational domains).
  std::string public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";
};

struct Checks {
  Duration greet_wait{6000};  // 0: no pregreet test
  HeloChecks helo;
  SenderChecks sender;
  DnsblChecks dnsbl;
  GreylistChecks greylist;
  ClamdChecks clamd;
  AuthChecks auth;
};

struct Limits {
  std::uint64_t max_message_size = 35ull << 20;
  int max_recipients = 100;
  int max_connections = 1000;
  int max_connections_per_client = 20;  // per IPv4 /24 or IPv6 /64
  int max_errors = 10;
  Duration command_timeout{300 * 1000};
};

// Internet mail queued for the inner: when the link offers it again after the inner refused it
// for now, and when the offer is the last (edge/queue/inbound_schedule.h).
struct InboundConfig {
  Duration max_queue_lifetime{5LL * 86400 * 1000};  // then the last attempt: the inner bounces
  Duration retry_initial{60 * 1000};                // back-off after the first refusal, doubling
  Duration retry_max{3600 * 1000};                  // up to this
};

// Mail the inner hands over the link, delivered to the Internet and to OnionMX domains.
struct OutboundConfig {
  std::string onion_map;      // OnionMX static map (YAML: onion name -> domains); empty: none
  Endpoint socks;             // Tor's SocksPort for onion destinations; port 0: none (onion
                              // destinations then wait; they never fall back to the clearnet)
  int per_destination_limit = 2;
  Duration retry_initial{5LL * 60 * 1000};
  Duration retry_max{4LL * 3600 * 1000};
  Duration max_queue_lifetime{5LL * 86400 * 1000};
  Duration connect_timeout{120 * 1000};
  Duration connection_cache_time{2 * 1000};  // idle clearnet connections kept; 0: none
  int connection_reuse_limit = 100;          // messages per cached connection
  int smtp_port = 25;                    // tests only: where MX hosts listen
  bool allow_private_addresses = false;  // tests only: deliver to 127.0.0.1
};

// DKIM signing of outbound mail (edge/dkim): mail whose From: is in `domain` is signed with each
// of the domain's keys (at most one ed25519 and one rsa key per domain).
struct DkimKeyConfig {
  std::string domain;    // one of domains[].public
  std::string selector;  // the record is SELECTOR._domainkey.DOMAIN
  std::string key;       // private key file (PEM), read at start-up
  dkim::Algorithm algorithm = dkim::Algorithm::ed25519;
};

using config::LogConfig;

struct EdgeConfig {
  std::string hostname;  // the public name in the banner, HELO and Received
  std::string data_dir;
  std::string user;  // runs as it: started as root, drops to it after binding; empty: as started
  std::vector<DomainMap> domains;
  ListenConfig listen;
  DnsConfig dns;
  TlsConfig tls;
  KeysConfig keys;
  Checks checks;
  Limits limits;
  InboundConfig inbound;
  OutboundConfig outbound;
  std::vector<DkimKeyConfig> dkim;
  LogConfig log;
};

// Reads and checks the edge's configuration file. On error, the message holds one
// "file:line: key: problem" line per problem. `host` is config::Host::other for a copy of
// another machine's file read for its names, ports and addresses (nightjarctl overlay): every
// check as usual except that the files, directories and user it names exist on this machine.
Result<EdgeConfig> load(const std::string& path, config::Host host = config::Host::this_one);
Result<EdgeConfig> load_text(std::string_view text, const std::string& name,
                             config::Host host = config::Host::this_one);

// The effective configuration as YAML, every key including defaults; it loads back to the same
// configuration. For operators (--check-config prints it).
std::string print_effective(const EdgeConfig& c);

}  // namespace nj::edge
