// Fuzz the metrics exporter's request judge: arbitrary bytes, judged as every prefix a slow
// client could have sent so far. It must never crash, its first verdict must be the one the
// whole input gets (however the client splits its bytes), and it must have one by max bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/metrics/exporter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nj::metrics::HttpVerdict;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t max = 512;  // small, so the fuzzer reaches the limit often
  const HttpVerdict whole = nj::metrics::judge_request(in, max);
  for (size_t n = 0; n <= in.size(); ++n) {
    HttpVerdict v = nj::metrics::judge_request(in.substr(0, n), max);
    if (v != HttpVerdict::incomplete) {
      if (v != whole) std::abort();
      if (nj::metrics::http_answer(v, "").find("\r\n\r\n") == std::string_view::npos)
        std::abort();
    }
    if (v == HttpVerdict::incomplete && n >= max) std::abort();
  }
  return 0;
}
