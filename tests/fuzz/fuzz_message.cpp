// Fuzzes the header parser, the MIME tree parser and sanitize_inbound on whole messages.
// Properties checked for any input: offsets stay inside the buffer and in order, the header
// fields re-serialize to the exact input bytes, sanitizing only removes whole fields and keeps
// the body, and sanitizing twice changes nothing more.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/mail/headers.h"
#include "common/mail/message.h"
#include "common/mail/sanitize.h"

using namespace nj::mail;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  auto hs = parse_headers(in);
  if (hs) {
    check(hs->body_offset <= in.size());
    std::string again = serialize_fields(hs->fields);
    if (hs->has_separator) again += "\r\n";
    check(again == in.substr(0, hs->body_offset));
    for (const auto& f : hs->fields) {
      check(in.substr(f.offset, f.raw.size()) == f.raw);
      (void)f.unfolded();
    }
  }

  MimeLimits limits;
  limits.max_parts = 200;
  auto tree = parse_mime(in, limits);
  if (tree) {
    check(!tree->parts.empty());
    for (const auto& p : tree->parts) {
      check(p.start <= p.body_offset && p.body_offset <= p.end && p.end <= in.size());
      check(p.depth <= limits.max_depth);
      for (size_t c : p.children) {
        const auto& child = tree->parts[c];
        check(child.start >= p.body_offset && child.end <= p.end);
      }
      if (p.type.is_multipart() && !p.opaque) {
        check(p.preamble_end <= p.epilogue_start || !p.closed);
      }
    }
  }

  InboundPolicy policy;
  policy.our_hostname = "mx.ours.example";
  auto s = sanitize_inbound(in, policy);
  check(s.ok() == hs.ok());
  if (s) {
    check(s->size() <= in.size());
    check(std::string_view(*s).substr(s->size() - (in.size() - hs->body_offset)) ==
          in.substr(hs->body_offset));
    auto twice = sanitize_inbound(*s, policy);
    check(twice.ok() && *twice == *s);
  }
  for (std::string_view v : {in.substr(0, 2000)}) {
    (void)parse_content_type(v);
    (void)parse_content_disposition(v);
    (void)authserv_id(v, false);
    (void)authserv_id(v, true);
  }
  return 0;
}
