// Fuzzes clean_body on whole messages. Properties checked for any input: the result starts
// with exactly one X-Nightjar-Content field and holds no other; cleaning the result again
// finds no HTML left to remove; the MIME tree of the result has as many parts as the input's.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/mail/headers.h"
#include "common/mail/message.h"
#include "edge/content/body_clean.h"

using namespace nj::edge::content;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  BodyLimits limits;
  limits.mime.max_parts = 200;
  limits.html.max_tags = 2000;
  limits.max_message_tags = 4000;
  auto r = clean_body(in, limits);
  if (!r) return 0;
  auto hs = nj::mail::parse_headers(r->message);
  check(hs.ok());
  check(!hs->fields.empty() && hs->fields[0].is(kContentField) && hs->count(kContentField) == 1);
  auto before = nj::mail::parse_mime(in, limits.mime);
  auto after = nj::mail::parse_mime(r->message, limits.mime);
  check(before.ok() && after.ok());
  check(before->parts.size() == after->parts.size());
  auto again = clean_body(r->message, limits);
  if (!again) return 0;  // e.g. more tags after cleaning than the budget
  if (!again->removed.empty() || again->html_parts != r->html_parts) {
    std::fprintf(stderr, "second pass: %s\n", again->field_value.c_str());
    std::abort();
  }
  return 0;
}
