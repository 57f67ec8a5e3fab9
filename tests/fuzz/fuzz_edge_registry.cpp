// Fuzz the fleet registry's record decoders: records are the inner's own bytes, but a damaged
// store must never crash the daemon, and an added edge that decodes is named by its key.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "inner/fleet/edge_registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The first byte: the record kind (bit 0) and how many of the next bytes are the key's tail
  // (the rest, up to 127); the value follows.
  if (in.empty()) return 0;
  bool added = (in[0] & 1) == 0;
  size_t k = static_cast<unsigned char>(in[0]) >> 1;
  in.remove_prefix(1);
  if (k > in.size()) k = in.size();
  std::string key = std::string(added ? "a/" : "r/") + std::string(in.substr(0, k));
  std::string_view value = in.substr(k);
  if (added) {
    if (auto e = nj::inner::decode_added(key, value); e.ok()) {
      if (e->link.name != key.substr(2) || e->link.address.empty()) std::abort();
    }
  } else {
    (void)nj::inner::decode_revoked(key, value);
  }
  return 0;
}
