// The Authentication-Results field the edge writes for inbound mail (RFC 8601), and a strict
// reader of the field for tests and the fuzz target. The writer is the only place the edge puts
// sender-authentication results into a message.
// Trust: domains, selectors, the HELO name and signature prefixes come from the client, the
// message or DNS records, i.e. from whoever wants the field to lie. A value is written as an
// RFC 2045 token when it is one and as a quoted-string (quoted-pairs for '"' and '\') otherwise;
// a value with a byte outside printable ASCII, or longer than kMaxValue, is left out (its
// property is not written) rather than altered. Comments hold only text this code chose from
// fixed lists, filtered again. So nothing a peer sends can end the field, add a line, or add a
// result. The client's IP address is never a property (the header reaches the user; RFC 8601's
// policy.iprev and SPF's "client-ip" comments are deliberately not written).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/result.h"

namespace nj::edge::auth {

enum class SpfResult { none, neutral, pass, fail, softfail, temperror, permerror };
enum class DkimResult { none, pass, fail, policy, neutral, temperror, permerror };
enum class DmarcResult { none, pass, fail, temperror, permerror };
enum class DmarcPolicy { none, quarantine, reject };

const char* spf_result_name(SpfResult r);
const char* dkim_result_name(DkimResult r);
const char* dmarc_result_name(DmarcResult r);
const char* dmarc_policy_name(DmarcPolicy p);

inline constexpr size_t kMaxValue = 255;  // longest property value written
// The longest field authentication_results() writes (at most 5 signatures; every value at
// kMaxValue and every octet of it quoted): bounded, so the growth of a message is too.
inline constexpr size_t kMaxAuthResultsBytes = 16 * 1024;

struct SpfReport {
  SpfResult result = SpfResult::none;
  std::string mailfrom;  // the envelope sender's domain; empty for the null sender
  std::string helo;      // written (smtp.helo) only for the null sender, and never a literal
};

struct DkimReport {
  DkimResult result = DkimResult::none;
  std::string domain;     // d=
  std::string selector;   // s=
  std::string algorithm;  // a=, e.g. "rsa-sha256"
  std::string b_prefix;   // the first characters of b= (RFC 6008), to tell signatures apart
  std::string comment;    // a short reason from this code's own list ("bad signature"), or ""
};

struct DmarcReport {
  DmarcResult result = DmarcResult::none;
  std::string from;                        // the RFC 5322 From domain; empty when there is none
  std::optional<DmarcPolicy> policy;       // the domain's published policy (p= or sp=), when found
  std::optional<DmarcPolicy> disposition;  // what the edge applied, when policy is set
};

struct AuthReport {
  std::string authserv_id;  // the edge's hostname
  SpfReport spf;
  std::vector<DkimReport> dkim;  // empty: one "dkim=none"
  DmarcReport dmarc;
};

// "Authentication-Results: <authserv-id>;\r\n\tspf=...;\r\n\tdkim=...;\r\n\tdmarc=...\r\n".
// An authserv-id that is not a valid domain name is a programming error (the configuration
// checks the hostname); it is then written as "invalid" rather than as given.
std::string authentication_results(const AuthReport& report);

// RFC 8601 pvalue as the writer writes it: a token, or a quoted-string; nullopt when the value
// is empty, too long, or holds a byte outside 0x21..0x7e.
std::optional<std::string> pvalue(std::string_view v);

struct ParsedResult {
  std::string method;                                      // lowercased
  std::string result;                                      // lowercased
  std::vector<std::pair<std::string, std::string>> props;  // "header.d" -> unquoted value
};

struct ParsedAuthResults {
  std::string authserv_id;
  std::vector<ParsedResult> results;
};

// Reads one whole field ("Authentication-Results:" to the final CRLF) strictly: ASCII only,
// exactly one line end not followed by white space (the last), comments and quoted strings as
// RFC 5322 and RFC 2045 say. For tests and fuzzing, not for mail from the Internet.
Result<ParsedAuthResults> parse_authentication_results(std::string_view field);

}  // namespace nj::edge::auth
