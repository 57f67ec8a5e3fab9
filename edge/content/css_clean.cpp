#include "edge/content/css_clean.h"

#include <cstdint>
#include <optional>
#include <vector>

#include "common/mail/text.h"

namespace nj::edge::content {
namespace {

using mail::hex_value;
using mail::lower;

// @media inside @supports inside @media ...: deeper is not mail, and each level recurses.
constexpr size_t kMaxAtRuleNesting = 4;

enum class Tok {
  ws, comment, ident, function, at_keyword, hash, string, bad_string, url, bad_url, number,
  delim, cdo, cdc, colon, semicolon, comma, open_square, close_square, open_paren, close_paren,
  open_curly, close_curly,
};

struct Token {
  Tok kind = Tok::delim;
  size_t begin = 0, end = 0;  // source bytes
  std::string value;          // ident/function/at-keyword/hash: decoded and lowercased;
                              // url and string: decoded content
  bool unterminated = false;  // string, comment or url ended by the end of the input
};

bool is_newline(char c) { return c == '\n' || c == '\r' || c == '\f'; }
bool is_ws(char c) { return c == ' ' || c == '\t' || is_newline(c); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || u >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c) || c == '-'; }
bool is_non_printable(char c) {
  auto u = static_cast<unsigned char>(c);
  return u <= 0x08 || u == 0x0b || (u >= 0x0e && u <= 0x1f) || u == 0x7f;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(lower(static_cast<char>(cp)));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// CSS Syntax Level 3, section 4, on octets. Newline preprocessing (CRLF, CR, FF) is folded into
// is_newline; names are compared in ASCII so non-ASCII octets are simply name characters.
class Tokenizer {
 public:
  explicit Tokenizer(std::string_view s) : s_(s) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    while (i_ < s_.size()) out.push_back(next());
    return out;
  }

 private:
  char at(size_t k) const { return k < s_.size() ? s_[k] : '\0'; }
  bool has(size_t k) const { return k < s_.size(); }

  bool valid_escape(size_t k) const {
    return at(k) == '\\' && has(k) && (!has(k + 1) || !is_newline(s_[k + 1]));
  }
  bool starts_ident(size_t k) const {
    if (!has(k)) return false;
    char c = s_[k];
    if (c == '-') {
      return (has(k + 1) && (is_name_start(s_[k + 1]) || s_[k + 1] == '-')) ||
             valid_escape(k + 1);
    }
    if (is_name_start(c)) return true;
    return valid_escape(k);
  }
  bool starts_number(size_t k) const {
    char c = at(k);
    if (!has(k)) return false;
    if (is_digit(c)) return true;
    if (c == '.') return has(k + 1) && is_digit(s_[k + 1]);
    if (c == '+' || c == '-') {
      if (has(k + 1) && is_digit(s_[k + 1])) return true;
      return at(k + 1) == '.' && has(k + 2) && is_digit(s_[k + 2]);
    }
    return false;
  }

  // i_ is just past the backslash.
  void escape(std::string& out) {
    if (!has(i_)) {
      append_utf8(out, 0xfffd);
      return;
    }
    if (hex_value(s_[i_]) >= 0) {
      uint32_t cp = 0;
      for (int n = 0; n < 6 && has(i_) && hex_value(s_[i_]) >= 0; ++n) {
        cp = cp * 16 + static_cast<uint32_t>(hex_value(s_[i_++]));
      }
      if (has(i_) && is_ws(s_[i_])) {
        if (s_[i_] == '\r' && at(i_ + 1) == '\n') ++i_;
        ++i_;
      }
      if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) cp = 0xfffd;
      append_utf8(out, cp);
      return;
    }
    out.push_back(lower(s_[i_++]));
  }

  std::string name() {
    std::string out;
    while (has(i_)) {
      if (is_name_char(s_[i_])) {
        out.push_back(lower(s_[i_++]));
      } else if (valid_escape(i_)) {
        ++i_;
        escape(out);
      } else {
        break;
      }
    }
    return out;
  }

  void numeric(Token& t) {
    t.kind = Tok::number;
    if (at(i_) == '+' || at(i_) == '-') ++i_;
    while (is_digit(at(i_)) && has(i_)) ++i_;
    if (at(i_) == '.' && has(i_ + 1) && is_digit(s_[i_ + 1])) {
      ++i_;
      while (is_digit(at(i_)) && has(i_)) ++i_;
    }
    if ((at(i_) == 'e' || at(i_) == 'E')) {
      size_t k = i_ + 1;
      if (at(k) == '+' || at(k) == '-') ++k;
      if (has(k) && is_digit(s_[k])) {
        i_ = k;
        while (is_digit(at(i_)) && has(i_)) ++i_;
      }
    }
    if (starts_ident(i_)) {
      t.value = name();  // the unit of a dimension
    } else if (at(i_) == '%' && has(i_)) {
      ++i_;
    }
  }

  void bad_url_remnants() {
    while (has(i_)) {
      if (s_[i_] == ')') {
        ++i_;
        return;
      }
      if (valid_escape(i_)) {
        ++i_;
        std::string ignored;
        escape(ignored);
      } else {
        ++i_;
      }
    }
  }

  void url(Token& t) {
    t.kind = Tok::url;
    while (has(i_) && is_ws(s_[i_])) ++i_;
    while (true) {
      if (!has(i_)) {
        t.unterminated = true;
        return;
      }
      char c = s_[i_];
      if (c == ')') {
        ++i_;
        return;
      }
      if (is_ws(c)) {
        while (has(i_) && is_ws(s_[i_])) ++i_;
        if (!has(i_)) {
          t.unterminated = true;
          return;
        }
        if (s_[i_] == ')') {
          ++i_;
          return;
        }
        t.kind = Tok::bad_url;
        bad_url_remnants();
        return;
      }
      if (c == '"' || c == '\'' || c == '(' || is_non_printable(c)) {
        t.kind = Tok::bad_url;
        bad_url_remnants();
        return;
      }
      if (c == '\\') {
        if (!valid_escape(i_)) {
          t.kind = Tok::bad_url;
          bad_url_remnants();
          return;
        }
        ++i_;
        escape(t.value);
        continue;
      }
      t.value.push_back(c);
      ++i_;
    }
  }

  void ident_like(Token& t) {
    t.value = name();
    if (t.value == "url" && at(i_) == '(' && has(i_)) {
      ++i_;
      size_t k = i_;
      while (has(k) && is_ws(s_[k])) ++k;
      if (has(k) && (s_[k] == '"' || s_[k] == '\'')) {
        t.kind = Tok::function;  // url("...") is a function token followed by a string
        return;
      }
      t.value.clear();
      url(t);
      return;
    }
    if (at(i_) == '(' && has(i_)) {
      ++i_;
      t.kind = Tok::function;
      return;
    }
    t.kind = Tok::ident;
  }

  void string(Token& t, char quote) {
    t.kind = Tok::string;
    ++i_;
    while (true) {
      if (!has(i_)) {
        t.unterminated = true;
        return;
      }
      char c = s_[i_];
      if (c == quote) {
        ++i_;
        return;
      }
      if (is_newline(c)) {
        t.kind = Tok::bad_string;  // the newline is not part of it
        return;
      }
      if (c == '\\') {
        if (!has(i_ + 1)) {
          ++i_;
          continue;
        }
        if (is_newline(s_[i_ + 1])) {
          i_ += (s_[i_ + 1] == '\r' && at(i_ + 2) == '\n') ? 3 : 2;
          continue;
        }
        ++i_;
        escape(t.value);
        continue;
      }
      t.value.push_back(c);
      ++i_;
    }
  }

  Token next() {
    Token t;
    t.begin = i_;
    char c = s_[i_];
    if (c == '/' && at(i_ + 1) == '*' && has(i_ + 1)) {
      t.kind = Tok::comment;
      size_t e = s_.find("*/", i_ + 2);
      if (e == std::string_view::npos) {
        t.unterminated = true;
        i_ = s_.size();
      } else {
        i_ = e + 2;
      }
    } else if (is_ws(c)) {
      t.kind = Tok::ws;
      while (has(i_) && is_ws(s_[i_])) ++i_;
    } else if (c == '"' || c == '\'') {
      string(t, c);
    } else if (c == '#') {
      if ((has(i_ + 1) && is_name_char(s_[i_ + 1])) || valid_escape(i_ + 1)) {
        ++i_;
        t.kind = Tok::hash;
        t.value = name();
      } else {
        ++i_;
      }
    } else if (c == '(' || c == ')' || c == '[' || c == ']' || c == '{' || c == '}' ||
               c == ',' || c == ':' || c == ';') {
      static constexpr std::string_view kChars = "()[]{},:;";
      static constexpr Tok kKinds[] = {Tok::open_paren,  Tok::close_paren, Tok::open_square,
                                       Tok::close_square, Tok::open_curly,  Tok::close_curly,
                                       Tok::comma,        Tok::colon,       Tok::semicolon};
      t.kind = kKinds[kChars.find(c)];
      ++i_;
    } else if ((c == '+' || c == '.') && starts_number(i_)) {
      numeric(t);
    } else if (c == '-') {
      if (starts_number(i_)) {
        numeric(t);
      } else if (at(i_ + 1) == '-' && at(i_ + 2) == '>' && has(i_ + 2)) {
        t.kind = Tok::cdc;
        i_ += 3;
      } else if (starts_ident(i_)) {
        ident_like(t);
      } else {
        ++i_;
      }
    } else if (c == '<' && s_.substr(i_, 4) == "<!--") {
      t.kind = Tok::cdo;
      i_ += 4;
    } else if (c == '@' && starts_ident(i_ + 1)) {
      ++i_;
      t.kind = Tok::at_keyword;
      t.value = name();
    } else if (c == '\\' && valid_escape(i_)) {
      ident_like(t);
    } else if (is_digit(c)) {
      numeric(t);
    } else if (is_name_start(c)) {
      ident_like(t);
    } else {
      ++i_;  // a delim
    }
    t.end = i_;
    return t;
  }

  std::string_view s_;
  size_t i_ = 0;
};

bool opens_block(Tok k) {
  return k == Tok::function || k == Tok::open_paren || k == Tok::open_square ||
         k == Tok::open_curly;
}

Tok closer_of(Tok k) {
  if (k == Tok::open_square) return Tok::close_square;
  if (k == Tok::open_curly) return Tok::close_curly;
  return Tok::close_paren;  // ( and function
}

bool is_blank(const Token& t) { return t.kind == Tok::ws || t.kind == Tok::comment; }

// A tokenized input with, for every token that opens a block, the index of its closing token
// (toks.size() when the input ends first).
struct Sheet {
  std::string_view src;
  std::vector<Token> toks;
  std::vector<size_t> match;

  // False when blocks nest deeper than kMaxCssNesting.
  bool build(std::string_view s) {
    src = s;
    toks = Tokenizer(s).run();
    match.assign(toks.size(), toks.size());
    std::vector<size_t> open;
    for (size_t k = 0; k < toks.size(); ++k) {
      Tok kind = toks[k].kind;
      if (opens_block(kind)) {
        if (open.size() >= kMaxCssNesting) return false;
        open.push_back(k);
      } else if (!open.empty() && kind == closer_of(toks[open.back()].kind)) {
        match[open.back()] = k;
        open.pop_back();
      }
    }
    return true;
  }

  // Index after the block opened at k (or k + 1 for other tokens).
  size_t skip(size_t k) const {
    if (!opens_block(toks[k].kind)) return k + 1;
    return match[k] < toks.size() ? match[k] + 1 : toks.size();
  }

  // The source text of [b, e) without leading and trailing white space and comments.
  std::string_view trimmed(size_t b, size_t e) const {
    while (b < e && is_blank(toks[b])) ++b;
    while (e > b && is_blank(toks[e - 1])) --e;
    if (b == e) return {};
    return src.substr(toks[b].begin, toks[e - 1].end - toks[b].begin);
  }
};

// Function names whose arguments a renderer fetches (strings included: image-set("a.png")).
bool fetching_function(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "url",          "src",      "image",           "image-set",          "-webkit-image-set",
      "-moz-image-set", "-o-image-set", "cross-fade", "-webkit-cross-fade", "element",
      "-moz-element",  "paint",    "-webkit-canvas",  "-moz-image-rect",
  };
  for (auto n : kNames) {
    if (name == n) return true;
  }
  return false;
}

std::optional<Removed> token_danger(const Token& t) {
  switch (t.kind) {
    case Tok::url:
    case Tok::bad_url:
      return Removed::css_url;
    case Tok::function:
      if (t.value == "expression") return Removed::css_expr;
      if (fetching_function(t.value)) return Removed::css_url;
      return std::nullopt;
    case Tok::bad_string:
      return Removed::css_rule;
    case Tok::at_keyword:
      if (t.value == "import") return Removed::css_import;
      return std::nullopt;
    default:
      // An unterminated string, comment or url runs to the end of its context; the text after
      // it would be read differently once we append anything.
      if (t.unterminated) return Removed::css_rule;
      return std::nullopt;
  }
}

// Decoded, lowercased, comments and white space dropped: what a renderer that strips comments
// before tokenizing (IE 5-7) would see.
std::string normalized(const Sheet& sh, size_t b, size_t e) {
  std::string out;
  for (size_t k = b; k < e; ++k) {
    const Token& t = sh.toks[k];
    switch (t.kind) {
      case Tok::ws:
      case Tok::comment:
        break;
      case Tok::ident:
        out += t.value;
        break;
      case Tok::function:
        out += t.value;
        out += '(';
        break;
      case Tok::at_keyword:
        out += '@';
        out += t.value;
        break;
      case Tok::url:
        out += "url(";
        out += t.value;
        out += ')';
        break;
      default:
        for (size_t i = t.begin; i < t.end; ++i) out.push_back(lower(sh.src[i]));
    }
  }
  return out;
}

std::optional<Removed> normalized_danger(std::string_view n) {
  struct Pattern {
    std::string_view text;
    Removed kind;
  };
  static constexpr Pattern kPatterns[] = {
      {"expression(", Removed::css_expr}, {"behavior", Removed::css_expr},
      {"binding", Removed::css_expr},     {"progid", Removed::css_expr},
      {"javascript:", Removed::css_expr}, {"vbscript:", Removed::css_expr},
      {"@import", Removed::css_import},   {"url(", Removed::css_url},
      {"image-set(", Removed::css_url},   {"image(", Removed::css_url},
      {"src(", Removed::css_url},
  };
  for (const auto& p : kPatterns) {
    if (n.find(p.text) != std::string_view::npos) return p.kind;
  }
  return std::nullopt;
}

std::optional<Removed> range_danger(const Sheet& sh, size_t b, size_t e) {
  for (size_t k = b; k < e; ++k) {
    if (auto d = token_danger(sh.toks[k])) return d;
  }
  return normalized_danger(normalized(sh, b, e));
}

// One declaration [b, e) (no ';'). Returns its text to keep, or nothing.
std::optional<std::string_view> check_declaration(const Sheet& sh, size_t b, size_t e,
                                                  bool font_face, Removals& removed) {
  size_t k = b;
  while (k < e && is_blank(sh.toks[k])) ++k;
  if (k == e) return std::nullopt;  // empty: "a:b;;c:d"
  if (sh.toks[k].kind != Tok::ident) return std::nullopt;  // not a declaration: ignored by CSS
  const std::string& prop = sh.toks[k].value;
  size_t c = k + 1;
  while (c < e && is_blank(sh.toks[c])) ++c;
  if (c == e || sh.toks[c].kind != Tok::colon) return std::nullopt;
  if (font_face && prop == "src") {
    removed.add(Removed::css_font);
    return std::nullopt;
  }
  if (auto d = range_danger(sh, b, e)) {
    removed.add(*d);
    return std::nullopt;
  }
  return sh.trimmed(b, e);
}

// The declarations of the block [b, e), kept ones joined by ';'.
std::string declarations(const Sheet& sh, size_t b, size_t e, bool font_face,
                         Removals& removed) {
  std::string out;
  size_t start = b;
  for (size_t k = b; k <= e;) {
    if (k == e || sh.toks[k].kind == Tok::semicolon) {
      if (auto d = check_declaration(sh, start, k, font_face, removed)) {
        if (!out.empty()) out += ';';
        out += *d;
      }
      start = k + 1;
      ++k;
      continue;
    }
    k = std::min(sh.skip(k), e);
  }
  return out;
}

void rules(const Sheet& sh, size_t b, size_t e, size_t depth, std::string& out,
           Removals& removed);

// An at-rule starting at k; returns the index after it.
size_t at_rule(const Sheet& sh, size_t k, size_t e, size_t depth, std::string& out,
               Removals& removed) {
  const std::string& name = sh.toks[k].value;
  size_t q = k + 1;
  while (q < e && sh.toks[q].kind != Tok::semicolon && sh.toks[q].kind != Tok::open_curly) {
    q = std::min(sh.skip(q), e);
  }
  bool block = q < e && sh.toks[q].kind == Tok::open_curly;
  size_t body_end = block ? std::min(sh.match[q], e) : q;
  size_t next = q < e ? std::min(block ? body_end + 1 : q + 1, e) : e;

  if (name == "import") {
    removed.add(Removed::css_import);
    return next;
  }
  if (name == "charset" || name == "namespace") return next;  // nothing to style with
  if (auto d = range_danger(sh, k + 1, q)) {
    removed.add(*d);
    return next;
  }
  std::string_view prelude = sh.trimmed(k, q);
  bool nested_rules = name == "media" || name == "supports" || name == "container" ||
                      name == "layer" || name == "keyframes" || name == "-webkit-keyframes" ||
                      name == "-moz-keyframes";
  if (block && nested_rules && depth < kMaxAtRuleNesting) {
    std::string inner;
    rules(sh, q + 1, body_end, depth + 1, inner, removed);
    out.append(prelude).append("{\n").append(inner).append("}\n");
    return next;
  }
  if (block && (name == "font-face" || name == "page")) {
    out.append(prelude).append("{");
    out.append(declarations(sh, q + 1, body_end, name == "font-face", removed));
    out.append("}\n");
    return next;
  }
  removed.add(Removed::css_rule);
  return next;
}

void rules(const Sheet& sh, size_t b, size_t e, size_t depth, std::string& out,
           Removals& removed) {
  size_t k = b;
  while (k < e) {
    const Token& t = sh.toks[k];
    if (is_blank(t) || t.kind == Tok::cdo || t.kind == Tok::cdc) {
      ++k;
      continue;
    }
    if (t.kind == Tok::at_keyword) {
      k = at_rule(sh, k, e, depth, out, removed);
      continue;
    }
    size_t q = k;
    while (q < e && sh.toks[q].kind != Tok::open_curly) q = std::min(sh.skip(q), e);
    if (q == e) {
      removed.add(Removed::css_rule);  // a selector without a block: the rest is garbage
      return;
    }
    size_t body_end = std::min(sh.match[q], e);
    size_t next = std::min(body_end + 1, e);
    if (auto d = range_danger(sh, k, q)) {
      removed.add(*d);
    } else {
      out.append(sh.trimmed(k, q)).append("{");
      out.append(declarations(sh, q + 1, body_end, false, removed));
      out.append("}\n");
    }
    k = next;
  }
}

}  // namespace

std::string clean_css_declarations(std::string_view css, Removals& removed) {
  Sheet sh;
  if (!sh.build(css)) {
    removed.add(Removed::css_rule);
    return {};
  }
  return declarations(sh, 0, sh.toks.size(), false, removed);
}

std::string clean_stylesheet(std::string_view css, Removals& removed) {
  Sheet sh;
  if (!sh.build(css)) {
    removed.add(Removed::css_rule);
    return {};
  }
  std::string out;
  rules(sh, 0, sh.toks.size(), 0, out, removed);
  if (out.find('<') != std::string::npos) {
    removed.add(Removed::css_rule);
    return {};
  }
  return out;
}

bool css_value_fetches(std::string_view value) {
  Sheet sh;
  if (!sh.build(value)) return true;
  for (size_t k = 0; k < sh.toks.size(); ++k) {
    const Token& t = sh.toks[k];
    if (t.kind == Tok::url && !t.unterminated && !t.value.empty() && t.value[0] == '#') continue;
    if (t.kind == Tok::function && t.value == "url") {
      size_t s = k + 1;
      while (s < sh.toks.size() && is_blank(sh.toks[s])) ++s;
      if (s < sh.toks.size() && sh.toks[s].kind == Tok::string && !sh.toks[s].unterminated &&
          !sh.toks[s].value.empty() && sh.toks[s].value[0] == '#') {
        continue;
      }
      return true;
    }
    if (token_danger(t)) return true;
  }
  // Every "url(" the normalized text shows must be a fragment reference.
  std::string n = normalized(sh, 0, sh.toks.size());
  for (size_t p = n.find("url("); p != std::string::npos; p = n.find("url(", p + 1)) {
    size_t a = p + 4;
    if (a < n.size() && (n[a] == '"' || n[a] == '\'')) ++a;
    if (a >= n.size() || n[a] != '#') return true;
  }
  for (std::string_view bad : {"expression(", "javascript:", "vbscript:", "image(", "image-set("}) {
    if (n.find(bad) != std::string::npos) return true;
  }
  return false;
}

}  // namespace nj::edge::content
