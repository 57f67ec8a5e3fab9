// ASCII case folding for protocol text: SMTP and POP3 keywords, DNS and mail domains. The one
// home of the case-insensitive compare the parsers and checks share (Postfix's stringops.h).
// Locale-independent on purpose: protocol syntax is defined on octets, and <cctype> depends on
// the process locale and on signed chars. Bytes >= 0x80 compare as themselves.
// Trust: any bytes; nothing here allocates.
#pragma once

#include <cstddef>
#include <string_view>

namespace nj::ascii {

inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace nj::ascii
