// Fuzzes the onion-name check of the edge's `nightjarctl overlay tor` (--onion, and the hostname
// file tor writes): any bytes give a name or an error, never a crash; an accepted name is exactly
// 56 lower-case base32 characters, version 'd', and ".onion" (so nothing else can reach a DNS
// record), and it checks again to itself. The same bytes as an I2P name (the edge's
// --inner-link-b32): an accepted one is 52 lower-case base32 characters of a 32-byte hash and
// ".b32.i2p", and checks again to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/ctl/overlay_names.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto b32 = nj::ctl::parse_b32_i2p_name(in); b32.ok()) {
    const std::string& name = *b32;
    if (name.size() != 60 || name.compare(52, 8, ".b32.i2p") != 0) std::abort();
    if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567") != 52) std::abort();
    if (name[51] != 'a' && name[51] != 'q') std::abort();
    auto again = nj::ctl::parse_b32_i2p_name(name);
    if (!again.ok() || *again != name) std::abort();
  } else if (b32.error().empty()) {
    std::abort();
  }
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
