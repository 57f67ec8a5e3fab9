// Fuzzes the configuration reader with the edge's table: any bytes must give a config or an
// error value, never a crash, and a config must print to YAML that loads back to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "edge/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = nj::edge::load_text(text, "fuzz.yaml");
  if (!r.ok()) {
    if (r.error().empty()) std::abort();
    return 0;
  }
  std::string printed = nj::edge::print_effective(*r);
  auto again = nj::edge::load_text(printed, "printed.yaml");
  if (!again.ok() || nj::edge::print_effective(*again) != printed) std::abort();
  return 0;
}
