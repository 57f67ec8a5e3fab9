#include "common/mail/headers.h"

#include <string>

#include "common/mail/text.h"

namespace nj::mail {
namespace {

bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}

std::string at_line(const char* what, size_t line) {
  return std::string(what) + " at header line " + std::to_string(line);
}

}  // namespace

std::string HeaderField::unfolded() const {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
      ++i;  // drop the CRLF; the white space after it stays
      continue;
    }
    out.push_back(value[i]);
  }
  size_t b = 0, e = out.size();
  while (b < e && is_wsp(out[b])) ++b;
  while (e > b && is_wsp(out[e - 1])) --e;
  return out.substr(b, e - b);
}

bool HeaderField::is(std::string_view n) const {
  return iequals(name, n);
}

const HeaderField* HeaderSection::find(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.is(name)) return &f;
  }
  return nullptr;
}

std::vector<const HeaderField*> HeaderSection::find_all(std::string_view name) const {
  std::vector<const HeaderField*> out;
  for (const auto& f : fields) {
    if (f.is(name)) out.push_back(&f);
  }
  return out;
}

size_t HeaderSection::count(std::string_view name) const {
  size_t n = 0;
  for (const auto& f : fields) n += f.is(name) ? 1 : 0;
  return n;
}

Result<HeaderSection> parse_headers(std::string_view m, const HeaderLimits& limits) {
  HeaderSection hs;
  size_t pos = 0;
  size_t line_no = 0;
  size_t field_start = std::string_view::npos;  // start of the field being collected
  size_t colon = 0;

  auto finish_field = [&](size_t end) -> Status {
    if (field_start == std::string_view::npos) return {};
    if (hs.fields.size() >= limits.max_fields) return make_error("too many header fields");
    HeaderField f;
    f.offset = field_start;
    f.name = m.substr(field_start, colon - field_start);
    f.raw = m.substr(field_start, end - field_start);
    f.value = m.substr(colon + 1, end - 2 - (colon + 1));
    hs.fields.push_back(f);
    field_start = std::string_view::npos;
    return {};
  };

  while (true) {
    if (pos == m.size()) {
      // End of input right after a complete line: a message without a body.
      auto st = finish_field(pos);
      if (!st) return make_error(st.error());
      hs.body_offset = pos;
      hs.has_separator = false;
      return hs;
    }
    ++line_no;
    // Find the end of this line, checking each octet on the way.
    size_t i = pos;
    size_t limit = std::min(m.size(), pos + limits.max_line + 2);
    size_t eol = std::string_view::npos;
    for (; i < limit; ++i) {
      char c = m[i];
      if (c == '\r') {
        if (i + 1 >= m.size())
          return make_error(at_line("header section ends inside a line", line_no));
        if (m[i + 1] != '\n') return make_error(at_line("bare CR", line_no));
        eol = i;
        break;
      }
      if (c == '\n') return make_error(at_line("bare LF", line_no));
      if (c == '\0') return make_error(at_line("NUL", line_no));
    }
    if (eol == std::string_view::npos) {
      if (i == m.size()) return make_error(at_line("header section ends inside a line", line_no));
      return make_error(at_line("header line longer than the limit", line_no));
    }
    if (eol - pos > limits.max_line) {
      return make_error(at_line("header line longer than the limit", line_no));
    }
    size_t next = eol + 2;
    if (next > limits.max_section) return make_error("header section larger than the limit");

    if (eol == pos) {  // the empty line ends the section
      auto st = finish_field(pos);
      if (!st) return make_error(st.error());
      hs.body_offset = next;
      hs.has_separator = true;
      return hs;
    }
    if (is_wsp(m[pos])) {
      if (field_start == std::string_view::npos) {
        return make_error(at_line("continuation line without a field", line_no));
      }
    } else {
      auto st = finish_field(pos);
      if (!st) return make_error(st.error());
      size_t c = pos;
      while (c < eol && m[c] != ':') {
        auto u = static_cast<unsigned char>(m[c]);
        if (u < 33 || u > 126) {
          // RFC 5322 obsolete syntax allowed WSP before the colon; accepting it lets
          // "Subject :" and "Subject:" be read differently by different readers.
          return make_error(at_line("invalid header field name", line_no));
        }
        ++c;
      }
      if (c == eol) return make_error(at_line("header line without colon", line_no));
      if (c == pos) return make_error(at_line("empty header field name", line_no));
      field_start = pos;
      colon = c;
    }
    pos = next;
  }
}

std::string serialize_fields(std::span<const HeaderField> fields) {
  size_t n = 0;
  for (const auto& f : fields) n += f.raw.size();
  std::string out;
  out.reserve(n);
  for (const auto& f : fields) out.append(f.raw);
  return out;
}

}  // namespace nj::mail
