// Fuzz DataReader: the result must not depend on how the bytes were split, the end marker
// must be a real <CRLF>.<CRLF>, and an accepted message must have only CRLF line ends.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/smtp/data_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = 1 + data[0] % 17;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  nj::smtp::DataReader::Limits l;
  l.max_size = 512;
  l.max_line = 80;

  nj::smtp::DataReader whole(l);
  const size_t used = whole.feed(in);
  if (used > in.size()) std::abort();
  if (!whole.done() && used != in.size()) std::abort();

  nj::smtp::DataReader split(l);
  size_t pos = 0;
  while (pos < in.size() && !split.done()) {
    const size_t n = std::min(chunk, in.size() - pos);
    pos += split.feed(in.substr(pos, n));
  }
  if (pos != used || split.done() != whole.done() || split.problems() != whole.problems() ||
      split.message() != whole.message() || split.size() != whole.size())
    std::abort();

  if (whole.done()) {
    const std::string_view eaten = in.substr(0, used);
    const bool at_start = eaten == ".\r\n";
    if (!at_start && (eaten.size() < 5 || eaten.substr(eaten.size() - 5) != "\r\n.\r\n"))
      std::abort();
    if (whole.problems() == 0) {
      const std::string& m = whole.message();
      for (size_t i = 0; i < m.size(); ++i) {
        if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r')) std::abort();
        if (m[i] == '\r' && (i + 1 >= m.size() || m[i + 1] != '\n')) std::abort();
      }
      if (m.size() > l.max_size) std::abort();
    }
  }
  return 0;
}
