// Fuzzes the SMTP argument parsers: split_path_and_params, parse_reverse_path /
// parse_forward_path (with and without SMTPUTF8), parse_helo_name and the greylist key.
// Besides not crashing, it checks properties that must hold for any input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/mail/address.h"

using namespace nj::mail;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void path(std::string_view arg, bool utf8) {
  for (bool reverse : {true, false}) {
    auto r = reverse ? parse_reverse_path(arg, utf8) : parse_forward_path(arg, utf8);
    if (!r) continue;
    check(arg.size() <= kMaxPath);
    check(r->local.size() <= kMaxLocalPart);
    check(r->domain.size() <= kMaxDomain);
    check(r->local.find('%') == std::string::npos && r->local.find('!') == std::string::npos);
    check(reverse || !r->null_path);
    // A parsed mailbox, written back in canonical form, parses to the same mailbox.
    if (!r->null_path && !r->domain.empty()) {
      auto again = parse_forward_path("<" + r->address() + ">", true);
      check(again.ok());
      check(again->domain == r->domain);
      check(again->normalized_local() == r->normalized_local());
    }
    std::string key = normalize_for_greylist(*r);
    check(key.size() <= arg.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (bool utf8 : {false, true}) {
    auto sp = split_path_and_params(in, utf8);
    if (sp) {
      check(sp->params.size() <= kMaxEsmtpParams);
      check(!sp->path.empty() && sp->path.front() == '<' && sp->path.back() == '>');
      path(sp->path, utf8);
    }
    path(in, utf8);
  }
  auto h = parse_helo_name(in);
  if (h) check(h->name.size() == in.size());
  (void)xtext_decode(in);
  (void)is_valid_domain(in, true);
  return 0;
}
