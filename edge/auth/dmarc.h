// DMARC (RFC 7489) for inbound mail: the policy record's syntax, the organizational domain from
// the public suffix list, identifier alignment (relaxed and strict) of the SPF and DKIM results,
// and the policy to apply (p=, sp=, pct=). Written here rather than with libopendmarc: the
// evaluation is small and pure, libopendmarc would do its own DNS with the system resolver for
// anything not handed to it, and reads the PSL through its own global state; here the caller
// fetches the record with the edge's resolver and everything below is testable without a
// network. The record lookups themselves are in sender_auth.cpp.
// Trust: the From domain and the record are hostile; the list is the operator's file (read at
// start-up, bounded).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/base/result.h"
#include "common/dns/resolver.h"
#include "edge/auth/auth_results.h"

namespace nj::edge::auth {

class PublicSuffixList {
 public:
  // Debian's publicsuffix package: /usr/share/publicsuffix/public_suffix_list.dat.
  static Result<PublicSuffixList> load(const std::string& path);
  // The list's text format: one rule a line, "//" comments, "*." wildcards, "!" exceptions.
  static Result<PublicSuffixList> parse(std::string_view text);

  // RFC 7489 3.2: the public suffix of `domain` (lowercase, no trailing dot) plus one label; the
  // domain itself when it has no more labels than its public suffix. Unlisted TLDs count as
  // public suffixes (the list's implicit "*" rule).
  std::string organizational_domain(std::string_view domain) const;
  size_t size() const { return rules_.size() + wildcards_.size() + exceptions_.size(); }

 private:
  std::unordered_set<std::string> rules_;       // "co.uk"
  std::unordered_set<std::string> wildcards_;   // "*.ck" stored as "ck"
  std::unordered_set<std::string> exceptions_;  // "!www.ck" stored as "www.ck"
};

struct DmarcRecord {
  DmarcPolicy p = DmarcPolicy::none;
  std::optional<DmarcPolicy> sp;
  int pct = 100;
  bool strict_dkim = false;  // adkim=s
  bool strict_spf = false;   // aspf=s
};

// A TXT string as a DMARC record: "v=DMARC1" first, then tags; nullopt when it is not a
// usable record (RFC 7489 6.3: no p= and no rua= is discarded; p= without rua= keeps p=none).
std::optional<DmarcRecord> parse_dmarc_record(std::string_view txt);

// What a TXT answer for _dmarc.<domain> holds.
enum class DmarcDiscovery { found, none, temperror };
DmarcDiscovery select_dmarc_record(const dns::Answer& a, DmarcRecord& out);

struct DmarcInput {
  std::string from;  // RFC 5322 From domain, lowercase
  SpfResult spf = SpfResult::none;
  std::string spf_domain;  // the identity SPF checked (MAIL FROM domain, or HELO)
  std::vector<DkimReport> dkim;
  std::optional<DmarcRecord> record;  // the record that applies, if any
  bool temperror = false;             // a record lookup failed temporarily
  bool at_org = false;                // the record is the organizational domain's
  uint32_t draw = 0;                  // uniform in 0..99, for pct
};

// dmarc=pass when an aligned SPF or DKIM pass exists; fail otherwise, unless a temporary error
// could have produced an aligned pass (then temperror: no refusal rests on a DNS hiccup).
DmarcReport dmarc_evaluate(const DmarcInput& in, const PublicSuffixList& psl);

}  // namespace nj::edge::auth
