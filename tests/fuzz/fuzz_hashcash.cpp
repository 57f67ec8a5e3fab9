// Fuzzes the hashcash v1 parser and checker: any bytes give a stamp or an error, never a crash;
// a parsed stamp keeps its limits, and an accepted stamp really has the bits it claims.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "inner/policy/hashcash.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto s = nj::policy::parse_stamp(text);
  if (s.ok()) {
    if (s->bits < 0 || s->bits > nj::policy::kMaxBits) std::abort();
    if (s->resource.empty() || s->resource.size() > nj::policy::kMaxResourceLength) std::abort();
  } else if (s.error().empty()) {
    std::abort();
  }
  // With no minimum weight, acceptance must still mean: it parsed, it names the expected
  // resource, and SHA-1 of the stamp as checked (blanks trimmed) has the bits it claims.
  const std::string expected = "quota:alice@users.nightjar.test";
  auto c = nj::policy::check_stamp(text, expected, 1'795'305'600, 0);
  if (c.verdict == nj::policy::StampVerdict::ok) {
    if (!s.ok() || c.stamp.bits != s->bits) std::abort();
    if (c.stamp.resource.size() != expected.size()) std::abort();
    std::string_view t = text;
    while (!t.empty() &&
           (t.front() == ' ' || t.front() == '\t' || t.front() == '\r' || t.front() == '\n'))
      t.remove_prefix(1);
    while (!t.empty() &&
           (t.back() == ' ' || t.back() == '\t' || t.back() == '\r' || t.back() == '\n'))
      t.remove_suffix(1);
    if (nj::policy::leading_zero_bits(t) < c.stamp.bits) std::abort();
  }
  return 0;
}
