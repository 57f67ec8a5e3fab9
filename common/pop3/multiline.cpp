#include "common/pop3/multiline.h"

#include <cstring>

namespace nj::pop3 {

namespace {

// Calls f(line) for each line of `m` without its line end (LF or CRLF); a last line without
// LF counts too. Returning false from f stops the walk.
template <class F>
void for_each_line(std::string_view m, F&& f) {
  size_t i = 0;
  while (i < m.size()) {
    const void* lfp = std::memchr(m.data() + i, '\n', m.size() - i);
    const size_t end =
        lfp ? static_cast<size_t>(static_cast<const char*>(lfp) - m.data()) : m.size();
    size_t content_end = end;
    if (content_end > i && m[content_end - 1] == '\r') --content_end;
    if (!f(m.substr(i, content_end - i))) return;
    i = lfp ? end + 1 : m.size();
  }
}

}  // namespace

uint64_t wire_size(std::string_view message) {
  uint64_t n = 0;
  for_each_line(message, [&](std::string_view line) {
    n += line.size() + 2;
    return true;
  });
  return n;
}

void append_multiline(std::string& out, std::string_view message,
                      std::optional<uint64_t> body_lines) {
  // One reservation for RETR: stuffing and LF->CRLF rarely add more than a few percent.
  if (!body_lines) out.reserve(out.size() + message.size() + message.size() / 32 + 8);
  bool in_body = false;
  uint64_t sent_body = 0;
  for_each_line(message, [&](std::string_view line) {
    if (in_body && body_lines && sent_body >= *body_lines) return false;
    if (!line.empty() && line.front() == '.') out.push_back('.');
    out.append(line);
    out.append("\r\n");
    if (in_body)
      ++sent_body;
    else if (line.empty())
      in_body = true;
    return true;
  });
  out.append(".\r\n");
}

}  // namespace nj::pop3
