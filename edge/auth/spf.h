// SPF (RFC 7208) check_host() as a pure function over a DNS cache. spf_evaluate() walks the
// record tree using only the answers in `cache`; when it needs a name the cache lacks it stops
// and says which names (all it can tell at that point, so independent lookups go out together).
// The caller (sender_auth.cpp) fetches those with the edge's resolver, asynchronously, adds the
// answers and evaluates again, until the evaluation completes. Evaluating again is cheap (a
// record tree bounded by the limits below) and keeps every step testable without a network.
// Written here rather than taken from libspf2: libspf2 has no asynchronous DNS layer, its
// upstream has been dormant since 2012, and its macro expander has had several memory-safety
// CVEs (2021-20314, 2021-33912/33913, 2023-42118); this one works on std::string with bounds.
// Everything RFC 7208 asks of check_host() is done, macros included (%{p} and the ptr
// mechanism with validated names); exp= is parsed but no explanation is built (the edge never
// refuses on SPF alone, so there is no reply to explain).
// Limits (RFC 7208 4.6.4): 10 DNS-querying terms (include, a, mx, ptr, exists, redirect), 2 void
// lookups, 10 MX names per mx, 10 PTR names; a record of at most kMaxRecord octets.
// Trust: the sender, the HELO name and every record are hostile.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/dns/resolver.h"
#include "edge/auth/auth_results.h"

namespace nj::edge::auth {

inline constexpr int kMaxDnsTerms = 10;
inline constexpr int kMaxVoidLookups = 2;
inline constexpr size_t kMaxMxNames = 10;
inline constexpr size_t kMaxPtrNames = 10;
inline constexpr size_t kMaxRecord = 4096;

// Answers by (lowercased name without trailing dot, type).
using DnsKey = std::pair<std::string, dns::Type>;
using DnsCache = std::map<DnsKey, dns::Answer>;

struct SpfRequest {
  std::string ip;      // the client's address, textual
  std::string local;   // the sender's local part; "postmaster" for the null sender
  std::string domain;  // the sender's domain; the HELO name for the null sender
  std::string helo;
};

struct SpfOutcome {
  bool complete = false;
  SpfResult result = SpfResult::none;
  std::vector<DnsKey> missing;  // when !complete: names to look up before evaluating again
  std::string problem;          // for the log: why permerror/temperror (no peer text)
};

SpfOutcome spf_evaluate(const SpfRequest& request, const DnsCache& cache);

// The name as the cache keys it: ASCII lowercase, no trailing dot.
std::string dns_key_name(std::string_view name);

// Macro expansion of one domain-spec (RFC 7208 7), for tests and the fuzz target: `d` is the
// current domain; %{p} expands to "unknown" here. Empty result: a syntax error.
std::string spf_expand_for_test(std::string_view spec, const SpfRequest& request,
                                std::string_view d);

}  // namespace nj::edge::auth
