// Fuzz the link payload decoders: arbitrary bytes must never crash them, and whatever one
// accepts must encode back to exactly the same bytes (one encoding per value).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/link/payloads.h"

using namespace nj::link;

namespace {
template <class R>
void round_trip(const R& decoded, std::string_view in) {
  if (!decoded.ok()) return;
  auto again = encode(*decoded);
  if (!again.ok() || *again != in) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 8) {
    case 0:
      round_trip(decode_deliver(in), in);
      break;
    case 1:
      round_trip(decode_submit(in), in);
      break;
    case 2:
      round_trip(decode_nack(in), in);
      break;
    case 3:
      round_trip(decode_verify(in), in);
      break;
    case 4:
      round_trip(decode_verify_result(in), in);
      break;
    case 5:
      round_trip(decode_status(in), in);
      break;
    case 6:
      if (decode_empty(in).ok() != in.empty()) std::abort();
      break;
    case 7:
      round_trip(decode_withdraw(in), in);
      break;
  }
  return 0;
}
