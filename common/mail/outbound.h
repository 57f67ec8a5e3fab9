// What a message goes through before it leaves toward the Internet (DESIGN.md "Privacy rules"):
// the top-level header section passes an allowlist, Date becomes the send time in UTC,
// Message-ID is regenerated, addresses in the internal (overlay) domains are rewritten to the
// public ones, and MIME part headers lose file paths, file dates, host-naming Content-IDs and
// client-shaped boundaries. Trusts nothing in the message: it was written by the user's mail
// client, which is exactly what leaks (client name, time zone, host names, home directories).
// Signed or encrypted parts (MimePart::opaque) are kept byte for byte; text and attachment
// bodies are kept byte for byte except where a cid: reference in a text part is renamed.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/mail/message.h"

namespace nj::mail {

struct DomainRewrite {
  std::string internal_domain;  // e.g. "mail.example.i2p" (compared case-insensitively)
  std::string public_domain;    // e.g. "example.org"
};

struct OutboundPolicy {
  // Right-hand side of the new Message-ID and of regenerated Content-IDs. Must be a valid
  // domain name.
  std::string public_domain;
  // The time the message actually leaves (not when it was written: the delay class would
  // otherwise be undone by the Date field).
  std::time_t send_time = 0;
  // Applied to every address and msg-id in From, Sender, Reply-To, To, Cc, In-Reply-To and
  // References, and to every field of an attached message/rfc822. Every internal user is
  // reachable at the public domain, so rewriting another user's internal address is correct too.
  std::vector<DomainRewrite> rewrites;
  MimeLimits limits;
};

// Longest parameter value (file name, charset, ...) the sanitizer re-serializes; a longer one
// is refused rather than truncated into a different name.
inline constexpr size_t kMaxOutboundParamValue = 1000;

// Returns the sanitized message, or an error (the message or a part does not parse, a
// Content-Disposition or Content-ID cannot be parsed, the policy is invalid). The result parses
// with parse_mime() under the same limits, and sanitizing it again changes only the Message-ID.
Result<std::string> sanitize_outbound(std::string_view message, const OutboundPolicy& policy);

// A fresh MIME boundary in the form is_generated_boundary() knows ("=_" and 32 random letters and
// digits; "=_" cannot occur in base64 or quoted-printable text, RFC 2045 6.7). The one maker of
// boundaries for the sanitizer and for the reports the inner writes (DSNs, bounces).
std::string new_boundary();

// True for the boundaries and Content-ID local parts this sanitizer generates ("=_" and 32
// letters/digits; 16 letters/digits): those are kept, everything else is regenerated.
bool is_generated_boundary(std::string_view boundary);
bool is_generated_content_id(std::string_view id, std::string_view public_domain);

// File name without any directory ("C:\Users\a\x.pdf", "/home/a/x.pdf", "C:x.pdf" -> "x.pdf").
// A name that is only a path ("dir/") becomes "attachment".
std::string strip_directory(std::string_view name);

}  // namespace nj::mail
