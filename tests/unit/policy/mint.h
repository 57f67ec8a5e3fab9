// A small hashcash v1 minter for the tests: cheap stamps (few bits) with any date and resource,
// so that every refusal reason can be produced without the real tool's seconds of work.
#pragma once

#include <ctime>
#include <string>

#include "inner/policy/hashcash.h"

namespace nj::policy::test {

inline std::string yymmdd(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%y%m%d", &tm);
  return buf;
}

// A stamp whose SHA-1 has at least `real_bits` zero bits, claiming `claimed_bits`.
inline std::string mint(int claimed_bits, int real_bits, int64_t date, const std::string& resource,
                        const std::string& rand = "c2FsdHNhbHQ") {
  std::string head =
      "1:" + std::to_string(claimed_bits) + ":" + yymmdd(date) + ":" + resource + "::" + rand + ":";
  for (unsigned long c = 0;; ++c) {
    std::string s = head + std::to_string(c);
    if (leading_zero_bits(s) >= real_bits) return s;
  }
}

// A stamp that has fewer than `bits` zero bits (for the underweight case).
inline std::string mint_light(int claimed_bits, int64_t date, const std::string& resource) {
  std::string head =
      "1:" + std::to_string(claimed_bits) + ":" + yymmdd(date) + ":" + resource + "::bGlnaHQ:";
  for (unsigned long c = 0;; ++c) {
    std::string s = head + std::to_string(c);
    if (leading_zero_bits(s) < claimed_bits) return s;
  }
}

}  // namespace nj::policy::test
