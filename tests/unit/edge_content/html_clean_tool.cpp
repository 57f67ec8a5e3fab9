// Test helper: cleans stdin and writes the result to stdout; the summary goes to stderr.
//   html_clean_tool            stdin is an HTML document (UTF-8)
//   html_clean_tool --message  stdin is a whole message (CRLF); writes the cleaned message
// Exit status 0 on success, 1 with the error on stderr.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "edge/content/body_clean.h"
#include "edge/content/html_clean.h"

int main(int argc, char** argv) {
  std::string in((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  bool message = argc > 1 && std::string(argv[1]) == "--message";
  if (message) {
    auto r = nj::edge::content::clean_body(in);
    if (!r) {
      std::fprintf(stderr, "error: %s\n", r.error().c_str());
      return 1;
    }
    std::fwrite(r->message.data(), 1, r->message.size(), stdout);
    std::fprintf(stderr, "%s\n", r->field_value.c_str());
    return 0;
  }
  auto r = nj::edge::content::clean_html(in);
  if (!r) {
    std::fprintf(stderr, "error: %s\n", r.error().c_str());
    return 1;
  }
  std::fwrite(r->html.data(), 1, r->html.size(), stdout);
  std::fprintf(stderr, "removed: %s\n", r->removed.to_string().c_str());
  return 0;
}
