// Fuzz ReplyParser: splitting must not change the result, and every reply it accepts must
// survive serialize() and a second parse unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/smtp/reply.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = 1 + data[0] % 13;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  nj::smtp::ReplyParser::Limits l;
  l.max_line = 256;
  l.max_lines = 8;

  nj::smtp::ReplyParser whole(l);
  const bool ok = whole.feed(in).ok();
  std::vector<nj::smtp::Reply> a;
  while (auto r = whole.next()) a.push_back(*r);

  nj::smtp::ReplyParser split(l);
  std::vector<nj::smtp::Reply> b;
  bool ok2 = true;
  for (size_t pos = 0; pos < in.size(); pos += chunk) {
    ok2 = split.feed(in.substr(pos, chunk)).ok() && ok2;
    while (auto r = split.next()) b.push_back(*r);
  }
  if (ok != ok2 || a.size() != b.size()) std::abort();
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(a[i] == b[i])) std::abort();
    if (a[i].code < 200 || a[i].code > 599 || a[i].lines.empty()) std::abort();
    nj::smtp::ReplyParser again(l);
    if (!again.feed(a[i].serialize()).ok()) std::abort();
    auto r = again.next();
    if (!r || !(*r == a[i]) || again.next()) std::abort();
  }
  return 0;
}
