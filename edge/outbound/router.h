// Router: where the mail for one recipient domain goes, in the order the issue fixes: our own
// domains never leave; the static onion map; the `_onion-mx._tcp.<domain>` SRV record (RFC 2782
// priority and weight, its port); otherwise MX per RFC 5321 5.1 (preference order, equal
// preferences shuffled, implicit MX) with RFC 7505 null MX.
// Trust: DNS answers are untrusted input (names are checked, sizes bounded by the resolver).
// An onion name is never handed to DNS, and a domain that routes to an onion never falls back
// to the clearnet: a temporary SRV failure is a retry, not an MX lookup.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/backoff.h"
#include "common/dns/resolver.h"
#include "edge/outbound/onion_map.h"

namespace nj::edge::outbound {

struct Destination {
  std::string host;  // MX host name (resolved later) or onion name (never resolved)
  uint16_t port = 25;
  bool via_socks = false;  // onion: through the SOCKS5 proxy, by name
  bool operator==(const Destination&) const = default;
};

enum class Verdict {
  route,      // try `destinations` in order
  ours,       // one of our domains: never leaves the edge
  permanent,  // bounce (null MX, NXDOMAIN, no usable MX)
  transient,  // retry later (temporary DNS failure)
};

struct Route {
  Verdict verdict = Verdict::transient;
  std::vector<Destination> destinations;
  std::string enhanced;  // for permanent / transient: "5.1.10", "5.1.2", "4.4.3"
  std::string reason;    // short text for the report (no addresses)
};

using nj::RandomFn;  // common/base/backoff.h

struct RouterConfig {
  std::vector<std::string> our_domains;  // public and internal domains
  OnionMap onion_map;
  uint16_t onion_port = 25;  // for map entries and bare .onion domains
  uint16_t smtp_port = 25;   // for MX hosts (tests point it at a sink)
  size_t max_destinations = 10;
};

// RFC 5321 5.1: by preference, equal preferences in random order. Null MX ("." or empty host)
// entries are dropped here; see is_null_mx.
std::vector<dns::MxRecord> order_mx(std::vector<dns::MxRecord> mx, const RandomFn& rand);
// RFC 7505: a single MX record whose host is ".".
bool is_null_mx(const std::vector<dns::MxRecord>& mx);
// RFC 2782: by priority; within a priority, weighted random selection (weight 0 entries first,
// then running sums, a random number in [0, sum], the first entry whose running sum reaches it).
std::vector<dns::SrvRecord> order_srv(std::vector<dns::SrvRecord> srv, const RandomFn& rand);

class Router {
 public:
  Router(dns::Resolver& resolver, RouterConfig config, RandomFn rand = {});

  // The callback runs exactly once, possibly before route() returns (static answers).
  void route(std::string_view domain, std::function<void(Route)> cb);

  bool is_ours(std::string_view domain) const;
  const RouterConfig& config() const { return config_; }

 private:
  void route_mx(const std::string& domain, std::function<void(Route)> cb);

  dns::Resolver& resolver_;
  RouterConfig config_;
  RandomFn rand_;
};

}  // namespace nj::edge::outbound
