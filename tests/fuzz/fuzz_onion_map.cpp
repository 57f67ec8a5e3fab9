// Fuzz target for the OnionMX map parser (edge/outbound/onion_map.h): any bytes either parse
// into a map whose every entry looks up, or fail with a "name:line:" error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edge/outbound/onion_map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  nj::edge::outbound::OnionMapLimits limits;
  limits.max_onions = 100;
  limits.max_domains = 1000;
  auto m = nj::edge::outbound::OnionMap::parse(in, "fuzz", limits);
  if (m.ok()) {
    if (m->size() > limits.max_domains) std::abort();
  } else if (m.error().rfind("fuzz:", 0) != 0) {
    std::abort();
  }
  return 0;
}
