// Fuzzes sanitize_outbound on whole messages. Properties checked for any input it accepts: the
// output parses under the same limits with the same part structure, signed/encrypted parts
// keep their bytes, the top-level fields are only allowlisted ones, and sanitizing the output
// again changes nothing but the Message-ID (boundaries and Content-IDs it generated are kept).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "common/mail/message.h"
#include "common/mail/outbound.h"
#include "common/mail/text.h"

using namespace nj::mail;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

std::string without_message_id(std::string s) {
  size_t p = s.starts_with("Message-ID: <") ? 0 : s.find("\r\nMessage-ID: <");
  if (p == std::string::npos) std::abort();  // every output has one
  if (p != 0) p += 2;
  size_t e = s.find("\r\n", p);
  return s.erase(p, e + 2 - p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  OutboundPolicy policy;
  policy.public_domain = "example.org";
  policy.send_time = 1700000000;
  policy.rewrites = {{"mail.example.i2p", "example.org"}};
  policy.limits.max_parts = 200;

  auto out = sanitize_outbound(in, policy);
  if (!out) return 0;
  auto tin = parse_mime(in, policy.limits);
  auto tout = parse_mime(*out, policy.limits);
  check(tin.ok() && tout.ok());
  check(tin->parts.size() == tout->parts.size());
  static const std::set<std::string> kTop = {"from",
                                             "sender",
                                             "reply-to",
                                             "to",
                                             "cc",
                                             "subject",
                                             "date",
                                             "message-id",
                                             "in-reply-to",
                                             "references",
                                             "mime-version",
                                             "content-type",
                                             "content-transfer-encoding",
                                             "content-disposition"};
  for (const auto& f : tout->root().headers) check(kTop.count(to_lower(f.name)) == 1);
  for (size_t i = 0; i < tin->parts.size(); ++i) {
    const MimePart& a = tin->parts[i];
    const MimePart& b = tout->parts[i];
    check(a.type.type == b.type.type && a.type.subtype == b.type.subtype);
    check(a.opaque == b.opaque && a.children.size() == b.children.size());
    if (a.opaque) check(a.body(in) == b.body(*out));
    bool leaf = !a.opaque && !a.type.is_multipart() && a.children.empty();
    if (leaf && a.type.type != "text") check(a.body(in) == b.body(*out));
  }
  auto twice = sanitize_outbound(*out, policy);
  check(twice.ok());
  check(without_message_id(*twice) == without_message_id(*out));
  return 0;
}
