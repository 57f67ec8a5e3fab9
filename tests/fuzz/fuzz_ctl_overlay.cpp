// Fuzzes the onion-name check of `nightjarctl overlay --edge-onion`: any bytes give a name or an
// error, never a crash; an accepted name is exactly 56 lower-case base32 characters, version 'd',
// and ".onion" (so nothing else can reach a DNS record), and it checks again to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "inner/ctl/overlay.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = nj::ctl::parse_onion_name(in);
  if (!r.ok()) {
    if (r.error().empty()) std::abort();
    return 0;
  }
  const std::string& name = *r;
  if (name.size() != 62 || name.compare(56, 6, ".onion") != 0 || name[55] != 'd') std::abort();
  for (std::size_t i = 0; i < 56; ++i) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) std::abort();
  }
  auto again = nj::ctl::parse_onion_name(name);
  if (!again.ok() || *again != name) std::abort();
  return 0;
}
