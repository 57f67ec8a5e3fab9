#include "common/mail/message.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "common/mail/text.h"

namespace nj::mail {
namespace {

constexpr size_t kMaxCommentDepth = 16;

bool is_tspecial(char c) {
  return std::strchr("()<>@,;:\\\"/[]?=", c) != nullptr && c != '\0';
}

bool is_token_char(char ch, bool allow_8bit) {
  auto c = static_cast<unsigned char>(ch);
  if (c >= 0x80) return allow_8bit;
  return c > 32 && c < 127 && !is_tspecial(ch);
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  // Skips white space and (nested) comments.
  Status skip_cfws() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++pos_;
      } else if (c == '(') {
        size_t depth = 0;
        while (pos_ < s_.size()) {
          char d = s_[pos_++];
          if (d == '\\') {
            ++pos_;
          } else if (d == '(') {
            if (++depth > kMaxCommentDepth) return make_error("comments nested too deeply");
          } else if (d == ')') {
            if (--depth == 0) break;
          }
        }
        if (depth != 0) return make_error("unterminated comment");
      } else {
        break;
      }
    }
    return {};
  }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }
  void advance() { ++pos_; }

  std::string_view token(bool allow_8bit) {
    size_t b = pos_;
    while (pos_ < s_.size() && is_token_char(s_[pos_], allow_8bit)) ++pos_;
    return s_.substr(b, pos_ - b);
  }

  Result<std::string> quoted_string() {
    std::string out;
    ++pos_;  // opening quote
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (pos_ >= s_.size()) break;
        c = s_[pos_++];
      }
      out.push_back(c);
    }
    return make_error("unterminated quoted string");
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

struct RawParam {
  std::string base;  // lowercased name without the RFC 2231 suffix
  int segment = -1;  // -1: no "*N"
  bool extended = false;
  std::string value;
};

Result<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return make_error("truncated %-escape in parameter");
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return make_error("invalid %-escape in parameter");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Splits "name*3*" into base, segment and the extended flag.
Result<RawParam> classify_name(std::string_view name) {
  RawParam p;
  size_t star = name.find('*');
  if (star == std::string_view::npos) {
    p.base = to_lower(name);
    return p;
  }
  p.base = to_lower(name.substr(0, star));
  std::string_view rest = name.substr(star + 1);
  if (p.base.empty()) return make_error("empty parameter name");
  if (rest.empty()) {
    p.extended = true;
    return p;
  }
  size_t digits = 0;
  while (digits < rest.size() && is_digit(static_cast<unsigned char>(rest[digits]))) ++digits;
  if (digits == 0 || digits > 2 || (digits > 1 && rest[0] == '0')) {
    return make_error("invalid RFC 2231 parameter section");
  }
  p.segment = std::stoi(std::string(rest.substr(0, digits)));
  std::string_view tail = rest.substr(digits);
  if (tail == "*") {
    p.extended = true;
  } else if (!tail.empty()) {
    return make_error("invalid RFC 2231 parameter section");
  }
  if (static_cast<size_t>(p.segment) >= kMaxParamSegments) {
    return make_error("too many RFC 2231 parameter sections");
  }
  return p;
}

Result<std::vector<MimeParam>> combine(std::vector<RawParam> raw) {
  std::vector<MimeParam> out;
  std::vector<std::string> order;
  std::map<std::string, std::vector<RawParam*>> by_name;
  for (auto& r : raw) {
    if (!by_name.count(r.base)) order.push_back(r.base);
    by_name[r.base].push_back(&r);
  }
  for (const auto& name : order) {
    auto& list = by_name[name];
    const RawParam* plain = nullptr;
    const RawParam* single_ext = nullptr;
    std::vector<const RawParam*> segs;
    for (const RawParam* r : list) {
      if (r->segment >= 0) {
        segs.push_back(r);
      } else if (r->extended) {
        if (single_ext) return make_error("parameter given twice");
        single_ext = r;
      } else {
        if (plain) return make_error("parameter given twice");
        plain = r;
      }
    }
    if (single_ext && !segs.empty()) return make_error("parameter given twice");
    MimeParam p;
    p.name = name;
    if (single_ext || !segs.empty()) {
      // RFC 2231 wins over a plain fallback of the same name, as common readers do.
      if (single_ext) segs.push_back(single_ext);
      std::sort(segs.begin(), segs.end(),
                [](const RawParam* a, const RawParam* b) { return a->segment < b->segment; });
      for (size_t i = 0; i < segs.size(); ++i) {
        int want = single_ext ? -1 : static_cast<int>(i);
        if (segs[i]->segment != want)
          return make_error("RFC 2231 continuation sections have a gap");
        std::string_view v = segs[i]->value;
        if (segs[i]->extended) {
          if (i == 0) {
            size_t q1 = v.find('\'');
            size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
            if (q2 == std::string_view::npos) return make_error("RFC 2231 value without charset");
            p.charset = to_lower(v.substr(0, q1));
            p.language = std::string(v.substr(q1 + 1, q2 - q1 - 1));
            v = v.substr(q2 + 1);
          }
          auto d = percent_decode(v);
          if (!d) return make_error(d.error());
          p.value += *d;
        } else {
          p.value += v;
        }
      }
    } else {
      p.value = plain->value;
    }
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<MimeParam>> parse_params(Lexer& lx) {
  std::vector<RawParam> raw;
  while (true) {
    if (auto st = lx.skip_cfws(); !st) return make_error(st.error());
    if (lx.at_end()) break;
    if (lx.peek() != ';') return make_error("expected ';' between parameters");
    lx.advance();
    if (auto st = lx.skip_cfws(); !st) return make_error(st.error());
    if (lx.at_end()) break;  // trailing ';'
    std::string_view name = lx.token(false);
    if (name.empty()) return make_error("invalid parameter name");
    if (auto st = lx.skip_cfws(); !st) return make_error(st.error());
    if (lx.at_end() || lx.peek() != '=') return make_error("parameter without '='");
    lx.advance();
    if (auto st = lx.skip_cfws(); !st) return make_error(st.error());
    if (lx.at_end()) return make_error("parameter without value");
    auto rp = classify_name(name);
    if (!rp) return make_error(rp.error());
    if (lx.peek() == '"') {
      auto q = lx.quoted_string();
      if (!q) return make_error(q.error());
      rp->value = std::move(*q);
    } else {
      // Unquoted 8-bit file names are common; they are kept as octets.
      std::string_view v = lx.token(true);
      if (v.empty()) return make_error("invalid parameter value");
      rp->value = std::string(v);
    }
    if (raw.size() >= kMaxMimeParams * 2) return make_error("too many parameters");
    raw.push_back(std::move(*rp));
  }
  auto params = combine(std::move(raw));
  if (params && params->size() > kMaxMimeParams) return make_error("too many parameters");
  return params;
}

const MimeParam* find_param(const std::vector<MimeParam>& ps, std::string_view name) {
  for (const auto& p : ps) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

bool is_bchar(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return is_alnum(c) || std::strchr("'()+_,-./:=? ", ch) != nullptr;
}

bool is_opaque(const ContentType& t) {
  return t.is("multipart", "signed") || t.is("multipart", "encrypted") ||
         t.is("application", "pkcs7-mime") || t.is("application", "x-pkcs7-mime");
}

ContentType text_plain() {
  ContentType t;
  t.type = "text";
  t.subtype = "plain";
  t.params.push_back({"charset", "us-ascii", "", ""});
  return t;
}

ContentType message_rfc822() {
  ContentType t;
  t.type = "message";
  t.subtype = "rfc822";
  return t;
}

class MimeParser {
 public:
  MimeParser(std::string_view buf, const MimeLimits& l) : buf_(buf), limits_(l) {}

  Status entity(size_t start, size_t end, size_t depth, const ContentType& default_type,
                std::optional<size_t> parent) {
    if (depth > limits_.max_depth) return make_error("MIME nesting deeper than the limit");
    if (tree_.parts.size() >= limits_.max_parts)
      return make_error("more MIME parts than the limit");
    auto hs = parse_headers(buf_.substr(start, end - start), limits_.headers);
    if (!hs) return make_error(hs.error());
    total_fields_ += hs->fields.size();
    if (total_fields_ > limits_.max_total_fields) {
      return make_error("more header fields in all parts than the limit");
    }
    MimePart part;
    part.start = start;
    part.body_offset = start + hs->body_offset;
    part.end = end;
    part.depth = depth;
    part.parent = parent;
    part.headers = std::move(hs->fields);
    for (auto& f : part.headers) f.offset += start;

    const HeaderField* ct = nullptr;
    const HeaderField* cte = nullptr;
    for (const auto& f : part.headers) {
      if (f.is("Content-Type")) {
        if (ct) return make_error("more than one Content-Type field");
        ct = &f;
      } else if (f.is("Content-Transfer-Encoding")) {
        if (cte) return make_error("more than one Content-Transfer-Encoding field");
        cte = &f;
      }
    }
    if (ct) {
      auto t = parse_content_type(ct->unfolded());
      if (!t) return make_error("Content-Type: " + t.error());
      part.type = std::move(*t);
      part.type_explicit = true;
    } else {
      part.type = default_type;
    }
    bool composite = part.type.is_multipart() || part.type.is("message", "rfc822") ||
                     part.type.is("message", "global");
    if (composite && cte) {
      std::string enc = to_lower(cte->unfolded());
      if (enc != "7bit" && enc != "8bit" && enc != "binary") {
        return make_error("encoded multipart or message part (RFC 2045 6.4)");
      }
    }
    size_t index = tree_.parts.size();
    if (parent) tree_.parts[*parent].children.push_back(index);
    part.opaque = is_opaque(part.type);
    tree_.parts.push_back(std::move(part));
    MimePart& p = tree_.parts[index];
    if (p.opaque) return {};
    if (p.type.is_multipart()) return multipart(index);
    if (composite) {
      size_t b = p.body_offset, e = p.end;
      return entity(b, e, depth + 1, text_plain(), index);
    }
    return {};
  }

  MimeTree take() { return std::move(tree_); }

 private:
  // A delimiter line at `line` (a line start inside [b, e)): "--" boundary ["--"] LWSP* CRLF.
  // Returns the offset after the line and sets `close`, or npos.
  size_t match_delimiter(size_t line, size_t e, std::string_view boundary, bool& close) const {
    std::string_view rest = buf_.substr(line, e - line);
    if (rest.size() < boundary.size() + 2 || rest[0] != '-' || rest[1] != '-' ||
        rest.substr(2, boundary.size()) != boundary) {
      return std::string_view::npos;
    }
    size_t i = 2 + boundary.size();
    close = rest.size() >= i + 2 && rest[i] == '-' && rest[i + 1] == '-';
    if (close) i += 2;
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
    if (i == rest.size()) return e;
    if (rest.size() >= i + 2 && rest[i] == '\r' && rest[i + 1] == '\n') return line + i + 2;
    return std::string_view::npos;
  }

  Status multipart(size_t index) {
    const MimeParam* bp = tree_.parts[index].type.param("boundary");
    if (!bp) return make_error("multipart without boundary parameter");
    std::string boundary = bp->value;
    if (boundary.empty() || boundary.size() > kMaxBoundary) {
      return make_error("multipart boundary empty or longer than 70 octets");
    }
    if (!std::all_of(boundary.begin(), boundary.end(), is_bchar) || boundary.back() == ' ') {
      return make_error("invalid character in multipart boundary");
    }
    const size_t b = tree_.parts[index].body_offset;
    const size_t e = tree_.parts[index].end;
    const size_t depth = tree_.parts[index].depth;
    ContentType child_default =
        tree_.parts[index].type.subtype == "digest" ? message_rfc822() : text_plain();

    std::vector<std::pair<size_t, size_t>> ranges;
    bool seen_first = false, closed = false;
    size_t preamble_end = e, epilogue_start = e;
    size_t content_start = 0;
    size_t line = b;
    while (line < e) {
      bool close = false;
      // A delimiter is CRLF "--boundary"; the body start counts as following a CRLF.
      bool at_line_start =
          line == b || (line >= b + 2 && buf_[line - 1] == '\n' && buf_[line - 2] == '\r');
      size_t after =
          at_line_start ? match_delimiter(line, e, boundary, close) : std::string_view::npos;
      if (after != std::string_view::npos) {
        size_t delim_start = line == b ? line : line - 2;
        if (!seen_first) {
          preamble_end = delim_start;
          seen_first = true;
        } else {
          ranges.emplace_back(content_start, std::max(delim_start, content_start));
        }
        if (close) {
          closed = true;
          epilogue_start = after;
          break;
        }
        content_start = after;
        line = after;
        continue;
      }
      const void* nl = std::memchr(buf_.data() + line, '\n', e - line);
      if (!nl) break;
      line = static_cast<size_t>(static_cast<const char*>(nl) - buf_.data()) + 1;
    }
    if (!seen_first) return make_error("multipart without any boundary delimiter");
    if (!closed) ranges.emplace_back(content_start, e);
    {
      MimePart& p = tree_.parts[index];
      p.boundary = std::move(boundary);
      p.preamble_end = preamble_end;
      p.epilogue_start = epilogue_start;
      p.closed = closed;
    }
    for (const auto& [cs, ce] : ranges) {
      auto st = entity(cs, ce, depth + 1, child_default, index);
      if (!st) return st;
    }
    return {};
  }

  std::string_view buf_;
  const MimeLimits& limits_;
  MimeTree tree_;
  size_t total_fields_ = 0;
};

}  // namespace

const MimeParam* ContentType::param(std::string_view name) const {
  return find_param(params, name);
}

const MimeParam* ContentDisposition::param(std::string_view name) const {
  return find_param(params, name);
}

Result<ContentType> parse_content_type(std::string_view value) {
  Lexer lx(value);
  if (auto st = lx.skip_cfws(); !st) return make_error(st.error());
  std::string_view type = lx.token(false);
  if (type.empty()) return make_error("missing media type");
  if (auto st = lx.skip_cfws(); !st) return make_error(st.error());
  if (lx.at_end() || lx.peek() != '/') return make_error("media type without '/'");
  lx.advance();
  if (auto st = lx.skip_cfws(); !st) return make_error(st.error());
  std::string_view sub = lx.token(false);
  if (sub.empty()) return make_error("missing media subtype");
  auto params = parse_params(lx);
  if (!params) return make_error(params.error());
  ContentType t;
  t.type = to_lower(type);
  t.subtype = to_lower(sub);
  t.params = std::move(*params);
  return t;
}

Result<ContentDisposition> parse_content_disposition(std::string_view value) {
  Lexer lx(value);
  if (auto st = lx.skip_cfws(); !st) return make_error(st.error());
  std::string_view kind = lx.token(false);
  if (kind.empty()) return make_error("missing disposition type");
  auto params = parse_params(lx);
  if (!params) return make_error(params.error());
  ContentDisposition d;
  d.kind = to_lower(kind);
  d.params = std::move(*params);
  return d;
}

Result<MimeTree> parse_mime(std::string_view message, const MimeLimits& limits) {
  MimeParser p(message, limits);
  auto st = p.entity(0, message.size(), 0, text_plain(), std::nullopt);
  if (!st) return make_error(st.error());
  return p.take();
}

}  // namespace nj::mail
