// Content-Transfer-Encoding for the parts the cleaner rewrites (RFC 2045 6.7, 6.8). Decoding
// follows what mail readers do; encoding writes canonical lines so what the reader decodes is
// exactly what we cleaned. Trust: any bytes.
#pragma once

#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::edge::content {

inline constexpr size_t kMaxEncodedLine = 76;  // RFC 2045 6.7 (5), 6.8
inline constexpr size_t kMaxIdentityLine = 998;  // RFC 5322 2.1.1, octets before CRLF

// Soft line breaks ("=" CRLF) removed, "=XX" (either case) decoded, transport padding (white
// space before a CRLF) dropped. An "=" not followed by two hex digits stays as it is, as
// readers keep it.
std::string decode_quoted_printable(std::string_view body);

// CRLF line breaks stay hard breaks; lines are cut with soft breaks to at most 76 octets;
// "=", controls, octets >= 0x80, white space before a line end and a '-' that starts a line
// (so that no line can be taken for a multipart delimiter) are encoded.
std::string encode_quoted_printable(std::string_view data);

// White space (CR, LF, SP, HT) anywhere is ignored; anything else outside the alphabet, or
// bad padding, is an error.
Result<std::string> decode_base64_body(std::string_view body);

// 76-character lines separated by CRLF, no CRLF after the last.
std::string encode_base64_body(std::string_view data);

}  // namespace nj::edge::content
