// The edge's body cleaner: walks a message's MIME tree (common/mail/message.h) and rewrites
// every text/html part through clean_html (html_clean.h), decoding and re-encoding its
// Content-Transfer-Encoding and leaving its charset as declared. Everything else stays byte for
// byte: text/plain and other leaves, preambles and epilogues, delimiters, and the signed or
// encrypted subtrees the MIME parser marks opaque (multipart/signed, multipart/encrypted,
// application/pkcs7-mime; application/pgp-encrypted lives inside multipart/encrypted), because
// changing them would break the signature or cannot be done. The result carries exactly one
// X-Nightjar-Content field, first in the header section, saying what happened; any copy the
// sender wrote is removed.
//
// All or nothing: on any error the caller gets the error and no message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/mail/message.h"
#include "edge/content/html_clean.h"
#include "edge/content/removals.h"

namespace nj::edge::content {

inline constexpr std::string_view kContentField = "X-Nightjar-Content";

// The quadratic part of HTML parsing is per part (html_clean.h); this bounds it per message.
inline constexpr size_t kMaxMessageHtmlTags = 2 * kMaxHtmlTags;

struct BodyLimits {
  mail::MimeLimits mime;
  HtmlLimits html;  // per HTML part
  size_t max_message_tags = kMaxMessageHtmlTags;
};

struct BodyCleaned {
  std::string message;      // the whole message, field added
  std::string field_value;  // what follows "X-Nightjar-Content: " (unfolded)
  Removals removed;         // over all HTML parts
  size_t html_parts = 0;    // text/html parts cleaned
  size_t signed_parts = 0;  // opaque subtrees left alone, by kind
  size_t encrypted_parts = 0;
};

// `message` is a whole RFC 5322 message with CRLF line ends (the SMTP DATA content).
//
// The field value is made of "; "-separated clauses:
//   "no html" | "html cleaned; removed <kind>=<n> ..." | "html cleaned; nothing removed"
//   then "; signed part not cleaned" and/or "; encrypted part not cleaned" when such a
//   subtree exists (we cannot see whether it holds HTML).
// For example "X-Nightjar-Content: html cleaned; removed img=3 css-url=2 comment=1".
// Errors: MIME structure (parse_mime), an HTML part in a transfer encoding other than
// 7bit/8bit/binary/quoted-printable/base64, undecodable base64, a charset whose ASCII octets do
// not always mean ASCII (UTF-16/32, UTF-7, ISO-2022-*, EBCDIC...), the HTML limits.
Result<BodyCleaned> clean_body(std::string_view message, const BodyLimits& limits = {});

// How clean_html must read a part in `charset` (lowercase, "" when absent), or nothing when
// the charset cannot be read as ASCII plus other octets.
std::optional<HtmlOctets> octets_for_charset(std::string_view charset);

}  // namespace nj::edge::content
