// Fuzz the mailbox meta-record decoder (POP3 LIST/UIDL read these without the key): a damaged
// store must never crash the daemon, and whatever decodes re-encodes to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "inner/mailbox/mailbox.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto m = nj::inner::decode_meta(in); m.ok()) {
    if (nj::inner::encode_meta(*m) != in) std::abort();
  }
  return 0;
}
