#include "inner/policy/hashcash.h"

#include <openssl/evp.h>

#include <algorithm>
#include <ctime>

namespace nj::policy {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int num(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// rand and counter: hashcash writes base64 characters; nothing else is needed.
bool b64ish(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
  });
}

// The resource is a mail address behind a "quota:" tag: printable ASCII without ':'.
bool resource_ok(std::string_view s) {
  return !s.empty() && s.size() <= kMaxResourceLength &&
         std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 127; });
}

bool digest(const EVP_MD* md, std::string_view text, unsigned char* out, unsigned* len) {
  return EVP_Digest(text.data(), text.size(), out, len, md, nullptr) == 1;
}

// YYMMDD, YYMMDDhhmm or YYMMDDhhmmss, UTC; years 2000-2099.
Result<int64_t> parse_date(std::string_view d) {
  if (!all_digits(d) || (d.size() != 6 && d.size() != 10 && d.size() != 12))
    return make_error("bad date");
  std::tm tm{};
  tm.tm_year = 100 + num(d.substr(0, 2));
  tm.tm_mon = num(d.substr(2, 2)) - 1;
  tm.tm_mday = num(d.substr(4, 2));
  if (d.size() >= 10) {
    tm.tm_hour = num(d.substr(6, 2));
    tm.tm_min = num(d.substr(8, 2));
  }
  if (d.size() == 12) tm.tm_sec = num(d.substr(10, 2));
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > kDays[tm.tm_mon] ||
      tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
    return make_error("bad date");
  int64_t t = timegm(&tm);
  // timegm normalises 29 February of a common year into March; refuse that instead.
  std::tm back{};
  time_t tt = static_cast<time_t>(t);
  gmtime_r(&tt, &back);
  if (back.tm_mday != tm.tm_mday) return make_error("bad date");
  return t;
}

}  // namespace

Result<Stamp> parse_stamp(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.size() > kMaxStampLength) return make_error("bad length");
  // version, bits and date from the left; ext, rand and counter from the right; the resource is
  // what lies between (a quota resource holds one ':' itself, "quota:address").
  std::string_view f[7];
  std::string_view rest = text;
  for (int i = 0; i < 3; ++i) {
    size_t c = rest.find(':');
    if (c == std::string_view::npos) return make_error("too few fields");
    f[i] = rest.substr(0, c);
    rest.remove_prefix(c + 1);
  }
  for (int i = 6; i > 3; --i) {
    size_t c = rest.rfind(':');
    if (c == std::string_view::npos) return make_error("too few fields");
    f[i] = rest.substr(c + 1);
    rest = rest.substr(0, c);
  }
  f[3] = rest;
  if (f[0] != "1") return make_error("not version 1");
  if (!all_digits(f[1]) || f[1].size() > 3) return make_error("bad bits");
  Stamp s;
  s.bits = num(f[1]);
  if (s.bits > kMaxBits) return make_error("bad bits");
  auto date = parse_date(f[2]);
  if (!date) return make_error(date.error());
  s.date = *date;
  // Only one ':' inside the resource, and only as the tag separator of "tag:value".
  if (std::count(f[3].begin(), f[3].end(), ':') > 1 || !resource_ok(f[3]))
    return make_error("bad resource");
  // Extensions are not used by quota stamps; a stamp with any is refused rather than guessed at.
  if (!f[4].empty()) return make_error("extensions not supported");
  if (f[5].empty() || f[5].size() > kMaxFieldLength || !b64ish(f[5])) return make_error("bad rand");
  if (f[6].empty() || f[6].size() > kMaxFieldLength || !b64ish(f[6]))
    return make_error("bad counter");
  s.resource = std::string(f[3]);
  return s;
}

int leading_zero_bits(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (!digest(EVP_sha1(), text, md, &len)) return 0;
  int bits = 0;
  for (unsigned i = 0; i < len; ++i) {
    if (md[i] == 0) {
      bits += 8;
      continue;
    }
    for (int b = 7; b >= 0 && !(md[i] & (1u << b)); --b) ++bits;
    break;
  }
  return bits;
}

std::string stamp_digest(std::string_view text) {
  text = trim(text);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (!digest(EVP_sha256(), text, md, &len)) return {};
  return std::string(reinterpret_cast<const char*>(md), len);
}

const char* to_string(StampVerdict v) {
  switch (v) {
    case StampVerdict::ok:
      return "accepted";
    case StampVerdict::malformed:
      return "malformed stamp";
    case StampVerdict::future:
      return "dated in the future";
    case StampVerdict::expired:
      return "expired";
    case StampVerdict::underweight:
      return "too few bits";
    case StampVerdict::wrong_resource:
      return "wrong resource";
    case StampVerdict::spent:
      return "already spent";
  }
  return "?";
}

StampCheck check_stamp(std::string_view text, std::string_view expected_resource, int64_t now,
                       int min_bits, const StampRules& rules) {
  StampCheck c;
  text = trim(text);
  auto s = parse_stamp(text);
  if (!s) return c;
  c.stamp = std::move(*s);
  auto lower = [](std::string_view v) {
    std::string o(v);
    for (auto& ch : o)
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    return o;
  };
  if (lower(c.stamp.resource) != lower(expected_resource)) {
    c.verdict = StampVerdict::wrong_resource;
  } else if (c.stamp.date > now + rules.grace) {
    c.verdict = StampVerdict::future;
  } else if (c.stamp.date + rules.validity + rules.grace < now) {
    c.verdict = StampVerdict::expired;
  } else if (c.stamp.bits < min_bits || leading_zero_bits(text) < c.stamp.bits) {
    c.verdict = StampVerdict::underweight;
  } else {
    c.verdict = StampVerdict::ok;
  }
  return c;
}

}  // namespace nj::policy
