// Fuzzes the configuration reader with the inner's table (its loopback-only listen addresses
// in particular): any bytes must give a config or an error value, never a crash; a config must
// hold only loopback listeners and print to YAML that loads back to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "inner/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = nj::inner::load_text(text, "fuzz.yaml");
  if (!r.ok()) {
    if (r.error().empty()) std::abort();
    return 0;
  }
  for (const auto* list : {&r->listen.submission, &r->listen.pop3})
    for (const auto& e : *list)
      if (!nj::inner::is_loopback(e) || e.port < 1024) std::abort();
  std::string printed = nj::inner::print_effective(*r);
  auto again = nj::inner::load_text(printed, "printed.yaml");
  if (!again.ok() || nj::inner::print_effective(*again) != printed) std::abort();
  return 0;
}
