// MIME structure of a message (RFC 2045/2046, RFC 2231 parameters): Content-Type and
// Content-Disposition values, and the tree of multipart/* and message/rfc822 parts with the
// offsets of every part's header section and body in the original buffer. The tree is what a
// sanitizer needs to rewrite part headers while leaving signed or encrypted parts
// byte-identical. Trusts nothing: depth, part count, field count and boundary length are
// bounded, and constructions that different readers would split differently (two Content-Type
// fields, a parameter given twice, gaps in RFC 2231 continuations) are errors, not guesses.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/mail/headers.h"

namespace nj::mail {

struct MimeParam {
  std::string name;      // lowercased, without any RFC 2231 "*N*" suffix
  std::string value;     // quotes removed, continuations joined, %XX decoded
  std::string charset;   // RFC 2231 extended values only
  std::string language;  // RFC 2231 extended values only
};

inline constexpr size_t kMaxMimeParams = 64;
inline constexpr size_t kMaxParamSegments = 64;  // RFC 2231 name*0 .. name*63
inline constexpr size_t kMaxBoundary = 70;       // RFC 2046 5.1.1

struct ContentType {
  std::string type;     // lowercased
  std::string subtype;  // lowercased
  std::vector<MimeParam> params;

  const MimeParam* param(std::string_view name) const;  // name is lowercase
  bool is(std::string_view t, std::string_view s) const { return type == t && subtype == s; }
  bool is_multipart() const { return type == "multipart"; }
};

struct ContentDisposition {
  std::string kind;  // lowercased: "inline", "attachment", ...
  std::vector<MimeParam> params;
  const MimeParam* param(std::string_view name) const;
};

// `value` is the unfolded field value (HeaderField::unfolded()). Comments are allowed between
// tokens (RFC 2045 5.1). A trailing ';' is tolerated because common mailers emit it.
Result<ContentType> parse_content_type(std::string_view value);
Result<ContentDisposition> parse_content_disposition(std::string_view value);

struct MimeLimits {
  size_t max_depth = 32;  // nesting of multipart and message/rfc822; the message is depth 0
  size_t max_parts = 1000;
  size_t max_total_fields = 20000;  // header fields over all parts
  HeaderLimits headers;             // per header section
};

// Absolute offsets into the buffer given to parse_mime().
struct MimePart {
  size_t start = 0;        // first octet of the header section
  size_t body_offset = 0;  // first octet of the body
  size_t end = 0;          // one past the body's last octet (the CRLF before a delimiter is not
                           // part of the body, RFC 2046 5.1.1)
  std::vector<HeaderField> headers;
  ContentType type;  // the explicit Content-Type, or the default for this position
  bool type_explicit = false;
  size_t depth = 0;
  std::optional<size_t> parent;  // index into MimeTree::parts
  std::vector<size_t> children;  // in order

  // multipart/* only (preamble is [body_offset, preamble_end), epilogue [epilogue_start, end)).
  std::string boundary;
  size_t preamble_end = 0;
  size_t epilogue_start = 0;
  bool closed = false;  // the close delimiter was seen; false means the part was truncated

  // multipart/signed, multipart/encrypted, application/(x-)pkcs7-mime: not descended into; a
  // sanitizer must keep [start, end) byte for byte or break the signature / encryption.
  bool opaque = false;

  std::string_view body(std::string_view buf) const {
    return buf.substr(body_offset, end - body_offset);
  }
};

struct MimeTree {
  std::vector<MimePart> parts;  // parts[0] is the message itself; parents precede children
  const MimePart& root() const { return parts.front(); }
};

// Parses the whole message. A multipart without any delimiter line, a boundary missing or
// longer than 70 octets, or a multipart/message part with a base64 or quoted-printable
// Content-Transfer-Encoding (forbidden by RFC 2045 6.4) is an error. A missing close delimiter
// is accepted, as every mail reader does: the last part runs to the end of its parent and
// `closed` stays false.
Result<MimeTree> parse_mime(std::string_view message, const MimeLimits& limits = {});

}  // namespace nj::mail
