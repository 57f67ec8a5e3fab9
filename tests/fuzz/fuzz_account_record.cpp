// Fuzz the inner's account record decoder and the settings parser: records are our own bytes,
// but a damaged store must never crash the daemon, and whatever decodes must re-encode to the
// same bytes (the encoding has one form).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "inner/accounts/accounts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = nj::inner::decode_record(in); r.ok()) {
    if (nj::inner::encode_record(*r) != in) std::abort();
  }
  if (auto kv = nj::inner::parse_setting(in); kv.ok()) {
    if (!nj::inner::validate_setting(kv->first, kv->second).ok()) std::abort();
  }
  return 0;
}
