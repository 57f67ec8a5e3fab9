// hashcash: a strict parser and verifier for hashcash version 1 stamps
// (`1:bits:date:resource:ext:rand:counter`, SHA-1, leading zero bits), the currency users pay
// with to send to more Internet recipients than their daily quota. Stamps from the real
// `hashcash -m` tool are accepted.
// Trust: the stamp text comes from a user's mail and is hostile; every field has a length and
// alphabet limit, and nothing is accepted that the parser does not fully understand.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::policy {

struct Stamp {
  int bits = 0;          // the claimed value
  int64_t date = 0;      // Unix seconds (UTC) of the stamp's date field
  std::string resource;  // e.g. "quota:alice@example.onion"
};

inline constexpr size_t kMaxStampLength = 512;
inline constexpr size_t kMaxResourceLength = 320;
inline constexpr size_t kMaxFieldLength = 64;  // ext, rand, counter each
inline constexpr int kMaxBits = 160;           // SHA-1 has no more

// Parses the stamp's fields. Leading and trailing blanks are removed first (a header value).
Result<Stamp> parse_stamp(std::string_view text);

// Leading zero bits of SHA-1(text) — the stamp's real value.
int leading_zero_bits(std::string_view text);

// SHA-256 of the (trimmed) stamp, raw bytes: the key under which a spent stamp is remembered.
std::string stamp_digest(std::string_view text);

enum class StampVerdict {
  ok,
  malformed,       // not a version 1 stamp this parser understands
  future,          // dated after now + grace
  expired,         // dated before now - validity - grace
  underweight,     // SHA-1 has fewer zero bits than claimed, or the claim buys nothing
  wrong_resource,  // not "quota:" + the user's address
  spent,           // accepted before
};
const char* to_string(StampVerdict v);
// For test output.
template <class Os>
Os& operator<<(Os& os, StampVerdict v) {
  os << to_string(v);
  return os;
}

struct StampRules {
  int64_t validity = 28 * 86400;
  int64_t grace = 2 * 86400;  // clock skew allowed either way
};

// The checks that need no store: format, date window, resource, weight (claimed bits and real
// bits both at least `min_bits`). Spent stamps are the QuotaStore's business.
struct StampCheck {
  StampVerdict verdict = StampVerdict::malformed;
  Stamp stamp;
};
StampCheck check_stamp(std::string_view text, std::string_view expected_resource, int64_t now,
                       int min_bits, const StampRules& rules = {});

}  // namespace nj::policy
