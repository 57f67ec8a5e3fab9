// What the edge does to the header section of inbound Internet mail before sealing it, and the
// one redacted Received line it adds. Trusts nothing in the message. Inbound sanitizing removes
// only fields that would lie about delivery or about our own checks; everything else is kept
// byte-identical and in order, and the body is never touched (signatures over it stay valid).
// The outbound allowlist sanitizer will live beside this one and reuse the same parsers.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/mail/headers.h"

namespace nj::mail {

struct InboundPolicy {
  // Our public host name: the authserv-id our checks write into Authentication-Results.
  std::string our_hostname;
  // Fields whose name starts with one of these (case-insensitive) claim our own results.
  std::vector<std::string> drop_prefixes = {"X-Nightjar-"};
  HeaderLimits limits;
};

// Drops every Return-Path, Delivered-To and X-Original-To (the final delivery writes its own),
// every origin mark (kOriginField, origin.h: only the inner writes it), every field named with a
// drop prefix, and every Authentication-Results /
// ARC-Authentication-Results whose authserv-id is our_hostname (RFC 8601 5: a border MTA removes
// results that claim to be its own). Such a field whose authserv-id cannot be parsed is dropped
// too: a reader might still take it for ours. Folded fields go as a whole. The header section
// must parse (see parse_headers); the result is the kept fields, the separator line if there
// was one, and the body, all byte-identical.
Result<std::string> sanitize_inbound(std::string_view message, const InboundPolicy& policy);

// The authserv-id of an Authentication-Results value (RFC 8601 2.2), or of an
// ARC-Authentication-Results value after its "i=N;" instance tag (RFC 8617 4.1.1) when `arc`.
Result<std::string> authserv_id(std::string_view unfolded_value, bool arc);

struct ReceivedInfo {
  std::string_view helo;          // the client's HELO/EHLO argument, untrusted
  std::string_view our_hostname;  // public host name, never the machine's own name
  bool esmtp = true;              // EHLO rather than HELO
  bool tls = false;
  bool authenticated = false;
  bool smtputf8 = false;
  std::string_view id;  // the per-message random id (letters and digits are kept)
  std::time_t when = 0;
};

// RFC 5321 4.4 / RFC 3848 / RFC 6531 "with" protocol name: SMTP, ESMTP, ESMTPA, ESMTPS,
// ESMTPSA, UTF8SMTP, UTF8SMTPA, UTF8SMTPS, UTF8SMTPSA.
std::string with_protocol(bool esmtp, bool tls, bool authenticated, bool smtputf8);

// "Received: from HELO by HOST with PROTO id ID;\r\n\t<date>\r\n", folded to 78 columns. It
// carries no client address, no reverse DNS name and no "for <recipient>". A HELO that is not a
// valid domain or literal is reduced to [A-Za-z0-9.-] (others become '_', at most 64 octets)
// so it cannot break the field's syntax.
std::string received_line(const ReceivedInfo& info);
// The longest received_line() can be when our_hostname is a domain name (at most 253 octets),
// id has at most 64 letters and digits and the year four digits: "Received:" 9, " from" 5, HELO
// folded 3 + 253, "by" folded 5, host folded 3 + 253, "with" folded 7, " UTF8SMTPSA" 11,
// " id" 3, id and ";" folded 3 + 65, date line 3 + 31 + 2. The link's largest message counts
// it (common/link/message_size.h); tests/unit/link/test_limits.cpp holds it to the function.
inline constexpr size_t kMaxReceivedLineBytes = 656;

// RFC 5322 3.3 date-time in UTC: "Tue, 14 Nov 2023 22:13:20 +0000".
std::string rfc5322_date(std::time_t t);

}  // namespace nj::mail
