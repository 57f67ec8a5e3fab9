// Fuzzes clean_html and the CSS cleaners. Properties checked for any input: cleaning never
// fails on input within the limits except by a limit error; the output stays within the output
// limit; cleaning the output again removes nothing (what we wrote re-parses as what we meant:
// no element, attribute or CSS we dropped reappears after a second parser reads our markup),
// and the style sheet output never holds '<'.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edge/content/css_clean.h"
#include "edge/content/html_clean.h"

using namespace nj::edge::content;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  HtmlLimits limits;
  limits.max_tags = 2000;  // keeps gumbo's quadratic corner cases within the fuzzer's timeout
  for (HtmlOctets mode : {HtmlOctets::utf8, HtmlOctets::octets}) {
    auto r = clean_html(in, mode, limits);
    if (!r) continue;
    check(r->html.size() <= limits.max_output);
    auto again = clean_html(r->html, HtmlOctets::utf8, limits);
    if (!again) continue;  // the output can hold more tags (alt text, escaped '<' do not count)
    if (!again->removed.empty()) {
      std::fprintf(stderr, "second pass removed: %s\n", again->removed.to_string().c_str());
      std::abort();
    }
  }
  Removals removed;
  std::string sheet = clean_stylesheet(in, removed);
  check(sheet.find('<') == std::string::npos);
  Removals second;
  check(clean_stylesheet(sheet, second) == sheet && second.empty());
  std::string decls = clean_css_declarations(in, removed);
  check(clean_css_declarations(decls, second) == decls && second.empty());
  (void)css_value_fetches(in);
  return 0;
}
