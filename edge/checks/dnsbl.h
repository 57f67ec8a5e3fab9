// DnsblScorer: postscreen-style DNSBL scoring. Every configured zone is asked at once about the
// client address; zones whose answer matches their filter add their weight; a score at or above
// the threshold refuses the client. Failures and timeouts count 0 (fail open) and are named in
// the log reason. Results are cached in memory per client under a keyed hash of the address
// (key generated at start, never stored), so the cache holds no address in the clear.
// Trust: zone specs come from the operator's config (parsed with limits); DNS answers are
// untrusted, and only 127.0.0.0/8 answers can count, so a resolver that rewrites NXDOMAIN into
// an advertising address does not list everybody.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/dns/resolver.h"
#include "edge/checks/decision.h"

namespace nj::checks {

struct DnsblZone {
  std::string zone;  // e.g. "zen.spamhaus.org"
  int weight = 1;    // negative weights allowlist, as in postscreen
  // Inclusive ranges of the last octet of 127.0.0.x answers that count. Empty: any 127.0.0.0/8
  // answer counts except 127.255.255.0/24, which DNSBLs use for "query refused" errors.
  std::vector<std::pair<uint8_t, uint8_t>> filter;

  bool matches(std::string_view address) const;
};

// postscreen_dnsbl_sites syntax: "zone[=127.0.0.<filter>][*weight]", where <filter> is an octet
// or "[a..b;c;...]", e.g. "zen.spamhaus.org=127.0.0.[2..11]*3". Limits: zone at most 253
// characters, at most 32 filter ranges, |weight| <= 1000.
Result<DnsblZone> parse_dnsbl_zone(std::string_view spec);

struct DnsblOptions {
  std::vector<DnsblZone> zones;  // at most 32; the config check refuses more, extra are ignored
  int threshold = 1;  // at least 1 (lower values are raised to 1: they would refuse everyone)
  int64_t cache_seconds = 3600;  // the resolver seam carries no TTL, so this bounds it
  size_t max_cache_entries = 100'000;
};

// 550 5.7.1 Service unavailable; client listed by DNSBL   (score >= threshold)
class DnsblScorer {
 public:
  DnsblScorer(dns::Resolver& resolver, const Clock& clock, DnsblOptions options);
  ~DnsblScorer();
  DnsblScorer(const DnsblScorer&) = delete;
  DnsblScorer& operator=(const DnsblScorer&) = delete;

  // Answers from the cache call back before returning. The resolver must outlive the pending
  // queries; the scorer need not (late answers then just miss the cache).
  [[nodiscard]] Pending score(std::string_view client_ip, DecisionCallback cb);

  size_t cache_size() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace nj::checks
