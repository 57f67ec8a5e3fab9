// Fuzz the queue envelope decoder: bytes from disk or the link must never crash it, and whatever
// it accepts must re-encode to something that decodes to the same envelope.
#include <cstdint>
#include <cstdlib>

#include "common/queue/envelope.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto d = nj::queue::decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!d.ok()) return 0;
  auto again = nj::queue::decode(nj::queue::encode(*d, 0));
  if (!again.ok() || again->message != d->message || again->recipients != d->recipients ||
      again->mail_from != d->mail_from || again->id != d->id)
    std::abort();
  return 0;
}
