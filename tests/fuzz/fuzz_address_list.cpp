// Fuzz the RFC 5322 mailbox-list parser: any header value must give addresses or an error, and
// every address it gives must be a valid RFC 5321 path with a domain.
#include <cstdint>
#include <cstdlib>

#include "common/mail/address_list.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = nj::mail::parse_mailbox_list(in);
  if (!r.ok()) return 0;
  for (const auto& m : *r) {
    if (m.domain.empty()) std::abort();
    if (!nj::mail::parse_forward_path("<" + m.address() + ">", true).ok()) std::abort();
  }
  return 0;
}
