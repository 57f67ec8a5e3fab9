// Shared by the outbound sanitizer tests: the policy used throughout, loading the client
// messages under data/ (stored with LF, sent with CRLF), and structural comparisons.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/mail/message.h"
#include "common/mail/outbound.h"
#include "common/mail/text.h"

namespace nj::mail::test {

inline constexpr std::time_t kSendTime = 1700000000;  // Tue, 14 Nov 2023 22:13:20 +0000
inline constexpr const char* kSendDate = "Tue, 14 Nov 2023 22:13:20 +0000";

inline OutboundPolicy policy() {
  OutboundPolicy p;
  p.public_domain = "example.org";
  p.send_time = kSendTime;
  p.rewrites = {{"mail.example.i2p", "example.org"}};
  return p;
}

inline std::string sanitize(std::string_view m) {
  auto r = sanitize_outbound(m, policy());
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
  return *r;
}

inline std::string crlf(std::string_view lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

inline std::string load(const std::string& name) {
  const char* src = std::getenv("NJ_SOURCE_DIR");
  std::string dir = src ? src : ".";
  std::ifstream f(dir + "/tests/unit/mail_outbound/data/" + name, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(f.good(), "cannot open test data " + name);
  std::stringstream ss;
  ss << f.rdbuf();
  return crlf(ss.str());
}

inline MimeTree tree(std::string_view m) {
  auto t = parse_mime(m);
  BOOST_REQUIRE_MESSAGE(t.ok(), (t.ok() ? "" : t.error()));
  return *t;
}

inline std::vector<std::string> header_names(const MimePart& p) {
  std::vector<std::string> out;
  for (const auto& f : p.headers) out.emplace_back(f.name);
  return out;
}

inline std::string header(const MimePart& p, std::string_view name) {
  for (const auto& f : p.headers) {
    if (f.is(name)) return f.unfolded();
  }
  return "";
}

inline std::string qp_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=' && i + 2 < s.size() + 1 && s.substr(i + 1, 2) == "\r\n") {
      i += 2;
    } else if (s[i] == '=' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The message with its Message-ID line removed: what must not change between two runs.
inline std::string without_message_id(std::string_view m) {
  std::string s(m);
  size_t p = s.find("\r\nMessage-ID: <");
  if (s.starts_with("Message-ID: <"))
    p = 0;
  else if (p != std::string::npos)
    p += 2;
  if (p == std::string::npos) return s;
  size_t e = s.find("\r\n", p);
  return s.erase(p, e + 2 - p);
}

}  // namespace nj::mail::test
