#include "common/smtp/command.h"

#include <array>

namespace nj::smtp {

namespace {

char upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_ctl(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

}  // namespace

CommandLine split_command(std::string_view line) {
  CommandLine c;
  size_t i = 0;
  while (i < line.size() && is_alpha(line[i]) && i < 16) ++i;
  // A verb must be followed by nothing or a space: "MAIL:" or "GET/" is not a verb.
  if (i == 0 || (i < line.size() && line[i] != ' ')) return c;
  c.verb.reserve(i);
  for (size_t k = 0; k < i; ++k) c.verb += upper(line[k]);
  while (i < line.size() && line[i] == ' ') ++i;
  c.arg = line.substr(i);
  // Trailing spaces are common and harmless.
  while (!c.arg.empty() && c.arg.back() == ' ') c.arg.remove_suffix(1);
  return c;
}

PathParse parse_path_arg(std::string_view arg, std::string_view prefix) {
  PathParse r;
  if (arg.size() < prefix.size() || !iequals(arg.substr(0, prefix.size()), prefix)) {
    r.error = PathError::syntax;
    return r;
  }
  arg.remove_prefix(prefix.size());
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  if (arg.empty() || arg.front() != '<') {
    r.error = arg.empty() ? PathError::syntax : PathError::bad_path;
    return r;
  }
  PathArg out;
  bool quoted = false;
  size_t close = std::string_view::npos;
  for (size_t i = 1; i < arg.size() && i < kMaxPathLength; ++i) {
    const unsigned char c = static_cast<unsigned char>(arg[i]);
    if (is_ctl(c)) break;
    if (c >= 0x80) out.eight_bit = true;
    if (quoted && c == '\\') {
      ++i;  // the escaped octet is checked on the next round only for control characters
      if (i < arg.size() && is_ctl(static_cast<unsigned char>(arg[i]))) break;
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '>') {
      close = i;
      break;
    }
    if (!quoted && c == '<') break;
  }
  if (close == std::string_view::npos) {
    r.error = PathError::bad_path;
    return r;
  }
  out.path = arg.substr(0, close + 1);
  std::string_view rest = arg.substr(close + 1);
  if (!rest.empty() && rest.front() != ' ') {
    r.error = PathError::bad_path;
    return r;
  }
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    const size_t sp = rest.find(' ');
    const std::string_view word = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
    if (out.params.size() >= kMaxParams || word.size() > kMaxParamLength) {
      r.error = PathError::bad_params;
      return r;
    }
    const size_t eq = word.find('=');
    const std::string_view key = word.substr(0, eq);
    // RFC 5321 4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    if (key.empty() || key.front() == '-') {
      r.error = PathError::bad_params;
      return r;
    }
    EsmtpParam p;
    for (char c : key) {
      if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '-') {
        r.error = PathError::bad_params;
        return r;
      }
      p.keyword += upper(c);
    }
    if (eq != std::string_view::npos) {
      const std::string_view v = word.substr(eq + 1);
      // esmtp-value: %d33-60 / %d62-126 (no '=', no controls, no space) - UTF-8 allowed later.
      for (char ch : v) {
        const unsigned char c = static_cast<unsigned char>(ch);
        if (c == '=' || is_ctl(c)) {
          r.error = PathError::bad_params;
          return r;
        }
      }
      if (v.empty()) {
        r.error = PathError::bad_params;
        return r;
      }
      p.value = std::string(v);
    }
    for (const auto& q : out.params) {
      if (q.keyword == p.keyword) {
        r.error = PathError::bad_params;
        return r;
      }
    }
    out.params.push_back(std::move(p));
  }
  r.value = std::move(out);
  return r;
}

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::array<int8_t, 256> make_decode_table() {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64[i])] = static_cast<int8_t>(i);
  return t;
}
}  // namespace

std::optional<std::string> base64_decode(std::string_view in) {
  static const std::array<int8_t, 256> table = make_decode_table();
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=') {
        // Padding only at the very end, only in the last two positions.
        if (i + 4 != in.size() || k < 2) return std::nullopt;
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad) return std::nullopt;
      v[k] = table[static_cast<unsigned char>(c)];
      if (v[k] < 0) return std::nullopt;
    }
    const uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                       (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t n = (static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                       (static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
                       static_cast<uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += kB64[n & 63];
  }
  const size_t rest = in.size() - i;
  if (rest) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) n |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += rest == 2 ? kB64[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace nj::smtp
