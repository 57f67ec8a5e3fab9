// RFC 5322 header sections: split a message (or a MIME part) into its ordered header fields and
// the body offset, without copying and without changing a byte, so that fields we keep can be
// re-emitted byte-identical. Trusts nothing: the input is mail from the Internet. Every line
// must end in CRLF (the SMTP server hands over CRLF data only), and the explicit limits bound
// memory and time. Errors name the line number, never the content.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace nj::mail {

struct HeaderLimits {
  size_t max_fields = 1000;
  size_t max_line = 998;             // octets before CRLF (RFC 5322 2.1.1); longer is an error
  size_t max_section = 1024 * 1024;  // the whole header section, CRLFs included
};

// Views into the caller's buffer: the buffer must outlive the field.
struct HeaderField {
  std::string_view name;   // as sent, without the colon
  std::string_view value;  // everything after the colon up to the final CRLF, folding included
  std::string_view raw;    // the whole field: name, colon, value, every CRLF
  size_t offset = 0;       // of raw's first octet, relative to the parsed view

  // value with each CRLF that precedes white space removed (RFC 5322 2.2.3), then leading and
  // trailing white space trimmed.
  std::string unfolded() const;
  bool is(std::string_view n) const;  // case-insensitive name comparison
};

struct HeaderSection {
  std::vector<HeaderField> fields;
  // Offset of the body's first octet. Equals the input size when there is no body.
  size_t body_offset = 0;
  // False when the section ended at the end of the input without the empty line: RFC 5322 3.5
  // makes the body (and the CRLF before it) optional.
  bool has_separator = false;

  const HeaderField* find(std::string_view name) const;  // first match
  std::vector<const HeaderField*> find_all(std::string_view name) const;
  size_t count(std::string_view name) const;
};

// Parses the header section at the start of `message`. Refuses: a line without CRLF, a bare CR
// or LF, NUL, a line longer than max_line, a continuation line before the first field, a
// field name that is empty or has octets outside 33..126, a missing colon, and more fields or
// octets than the limits allow.
Result<HeaderSection> parse_headers(std::string_view message, const HeaderLimits& limits = {});

// The fields' raw bytes, concatenated in order (no separator line).
std::string serialize_fields(std::span<const HeaderField> fields);

}  // namespace nj::mail
