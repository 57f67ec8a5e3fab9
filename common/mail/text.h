// Small ASCII helpers shared by the mail parsers. Locale-independent on purpose: mail syntax is
// defined on octets, and <cctype> depends on the process locale and on signed chars.
#pragma once

#include <string>
#include <string_view>

#include "common/base/ascii.h"

namespace nj::mail {

using ascii::iequals;
using ascii::lower;

inline bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
inline bool is_alpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool is_alnum(unsigned char c) {
  return is_digit(c) || is_alpha(c);
}
inline char upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

inline std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = upper(c);
  return out;
}

// -1 if not a hex digit; xtext (RFC 3461) allows only uppercase.
inline int hex_value(char c, bool upper_only = false) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (!upper_only && c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace nj::mail
