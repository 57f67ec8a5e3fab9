#include "common/mail/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>

#include "common/mail/text.h"

namespace nj::mail {
namespace {

bool is_atext(unsigned char c) {
  if (is_alnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

bool has_non_ascii(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// A dot-string made of atext (plus UTF-8 when allowed): no empty atoms.
bool is_dot_atom(std::string_view s, bool utf8) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!(is_atext(c) || (utf8 && c >= 0x80))) {
      return false;
    }
    prev = ch;
  }
  return true;
}

struct LocalPart {
  std::string_view raw;  // as sent
  bool quoted = false;
};

// Parses the local part at the start of `s` and leaves `pos` on the first octet after it.
Result<LocalPart> parse_local(std::string_view s, bool smtputf8, size_t& pos) {
  LocalPart lp;
  if (!s.empty() && s[0] == '"') {
    lp.quoted = true;
    size_t i = 1;
    size_t content = 0;
    bool closed = false;
    while (i < s.size()) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c == '"') {
        closed = true;
        ++i;
        break;
      }
      if (c == '\\') {
        if (i + 1 >= s.size()) return make_error("unterminated quoted local part");
        auto q = static_cast<unsigned char>(s[i + 1]);
        if (q < 32 || q > 126) return make_error("invalid quoted-pair in local part");
        c = q;
        i += 2;
      } else {
        if (c >= 0x80 && !smtputf8) return make_error("8-bit local part without SMTPUTF8");
        ++i;
      }
      // A quoted local part that carries address syntax is how "user@other"@ours smuggles a
      // second address past a relay check, and '%'/'!' are routing; nobody needs them quoted.
      switch (c) {
        case '@':
        case '<':
        case '>':
        case ',':
        case ';':
        case ':':
          return make_error("quoted local part contains address syntax");
        case '%':
          return make_error("'%' routing in the local part is refused");
        case '!':
          return make_error("'!' (UUCP) routing in the local part is refused");
        default:
          break;
      }
      ++content;
    }
    if (!closed) return make_error("unterminated quoted local part");
    if (content == 0) return make_error("empty local part");
    lp.raw = s.substr(0, i);
    pos = i;
  } else {
    size_t i = 0;
    while (i < s.size() && s[i] != '@') {
      auto c = static_cast<unsigned char>(s[i]);
      if (c == '%') return make_error("'%' routing in the local part is refused");
      if (c == '!') return make_error("'!' (UUCP) routing in the local part is refused");
      if (c >= 0x80 && !smtputf8) return make_error("8-bit local part without SMTPUTF8");
      if (c == '"') return make_error("misplaced quote in local part");
      ++i;
    }
    lp.raw = s.substr(0, i);
    if (lp.raw.empty()) return make_error("empty local part");
    if (!is_dot_atom(lp.raw, smtputf8)) return make_error("invalid local part syntax");
    pos = i;
  }
  if (lp.raw.size() > kMaxLocalPart) return make_error("local part longer than 64 octets");
  return lp;
}

std::string canonical_literal(std::string_view lit) {
  // lit is a validated literal; keep the tag's standard spelling, fold hex digits.
  if (lit.size() > 6 && iequals(lit.substr(1, 5), "IPv6:")) {
    return "[IPv6:" + to_lower(lit.substr(6));
  }
  return std::string(lit);
}

Result<Mailbox> parse_path(std::string_view arg, bool smtputf8, bool reverse) {
  if (arg.size() > kMaxPath) return make_error("path longer than 256 octets");
  for (char ch : arg) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 32 || c == 127) return make_error("control character in path");
  }
  if (has_non_ascii(arg)) {
    if (!smtputf8) return make_error("8-bit address without SMTPUTF8");
    if (!is_valid_utf8(arg)) return make_error("address is not valid UTF-8");
  }
  if (arg.size() < 2 || arg.front() != '<' || arg.back() != '>') {
    return make_error("path must be enclosed in <>");
  }
  std::string_view in = arg.substr(1, arg.size() - 2);
  Mailbox m;
  if (in.empty()) {
    if (!reverse) return make_error("null path is not a recipient");
    m.null_path = true;
    return m;
  }
  if (in[0] == '@') return make_error("source routes are refused");
  size_t pos = 0;
  auto lp = parse_local(in, smtputf8, pos);
  if (!lp) return make_error(lp.error());
  m.local = std::string(lp->raw);
  m.quoted = lp->quoted;
  if (pos == in.size()) {
    if (!reverse && !m.quoted && iequals(m.local, "postmaster")) return m;
    return make_error("address has no domain");
  }
  if (in[pos] != '@') return make_error("invalid local part syntax");
  std::string_view dom = in.substr(pos + 1);
  if (dom.find('@') != std::string_view::npos) return make_error("more than one '@' in address");
  if (dom.empty()) return make_error("address has no domain");
  if (dom.size() > kMaxDomain) return make_error("domain longer than 255 octets");
  if (dom[0] == '[') {
    if (!is_address_literal(dom)) return make_error("malformed address literal");
    m.domain = canonical_literal(dom);
  } else {
    if (!is_valid_domain(dom, smtputf8)) return make_error("invalid domain syntax");
    m.domain = to_lower(dom);
  }
  return m;
}

bool is_word_char(unsigned char c) {
  return is_alnum(c) || c == '_';
}

// postgrey: $user =~ s/\b\d+\b/#/g (bytes >= 0x80 are not word characters there).
std::string hash_standalone_digits(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (!is_digit(c)) {
      out.push_back(s[i++]);
      continue;
    }
    size_t j = i;
    while (j < s.size() && is_digit(static_cast<unsigned char>(s[j]))) ++j;
    bool left = i == 0 || !is_word_char(static_cast<unsigned char>(s[i - 1]));
    bool right = j == s.size() || !is_word_char(static_cast<unsigned char>(s[j]));
    if (left && right) {
      out.push_back('#');
    } else {
      out.append(s.substr(i, j - i));
    }
    i = j;
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      parts.emplace_back(s.substr(start));
      return parts;
    }
    parts.emplace_back(s.substr(start, p - start));
    start = p + 1;
  }
}

std::string join(const std::vector<std::string>& parts, char sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out.push_back(sep);
    out += parts[i];
  }
  return out;
}

// An SRS hash or timestamp field becomes '#'; an empty one is not a token and stays empty, so
// the key is never longer than the address.
void fold_field(std::string& f) {
  if (!f.empty()) f = "#";
}

bool looks_like_batv_tag(std::string_view s) {
  // postgrey: /^[0-9a-z]{10}/ (a prefix match on the lowercased local part).
  if (s.size() < 10) return false;
  return std::all_of(s.begin(), s.begin() + 10, [](char c) {
    return is_digit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'z');
  });
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

bool is_valid_domain(std::string_view d, bool smtputf8) {
  if (d.empty() || d.size() > kMaxDomainName) return false;
  if (has_non_ascii(d) && (!smtputf8 || !is_valid_utf8(d))) return false;
  size_t start = 0;
  bool last_all_digits = false;
  while (true) {
    size_t dot = d.find('.', start);
    std::string_view label =
        d.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > kMaxLabel) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    last_all_digits = true;
    for (char ch : label) {
      auto c = static_cast<unsigned char>(ch);
      if (!(is_alnum(c) || c == '-' || c >= 0x80)) return false;
      if (!is_digit(c)) last_all_digits = false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !last_all_digits;
}

bool is_address_literal(std::string_view s) {
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  std::string_view in = s.substr(1, s.size() - 2);
  if (in.size() > 64) return false;  // longest IPv6 text plus tag is well under this
  unsigned char buf[16];
  if (in.size() > 5 && iequals(in.substr(0, 5), "IPv6:")) {
    std::string a(in.substr(5));
    return inet_pton(AF_INET6, a.c_str(), buf) == 1;
  }
  std::string a(in);
  return inet_pton(AF_INET, a.c_str(), buf) == 1;
}

Result<HeloName> parse_helo_name(std::string_view arg) {
  if (arg.empty()) return make_error("empty HELO name");
  if (arg.size() > kMaxDomain) return make_error("HELO name longer than 255 octets");
  HeloName h;
  if (arg.front() == '[') {
    if (!is_address_literal(arg)) return make_error("malformed address literal in HELO");
    h.name = canonical_literal(arg);
    h.is_literal = true;
    return h;
  }
  if (!is_valid_domain(arg, false)) return make_error("HELO name is not a domain");
  h.name = to_lower(arg);
  return h;
}

std::string Mailbox::normalized_local() const {
  if (!quoted) return local;
  std::string content;
  for (size_t i = 1; i + 1 < local.size(); ++i) {
    if (local[i] == '\\' && i + 2 < local.size()) ++i;
    content.push_back(local[i]);
  }
  if (is_dot_atom(content, true)) return content;
  std::string out = "\"";
  for (char c : content) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string Mailbox::address() const {
  if (null_path) return "";
  if (domain.empty()) return normalized_local();
  return normalized_local() + "@" + domain;
}

Result<Mailbox> parse_reverse_path(std::string_view arg, bool smtputf8) {
  return parse_path(arg, smtputf8, true);
}

Result<Mailbox> parse_forward_path(std::string_view arg, bool smtputf8) {
  return parse_path(arg, smtputf8, false);
}

Result<std::string> xtext_decode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c == '+') {
      if (i + 2 >= in.size()) return make_error("truncated xtext escape");
      int hi = hex_value(in[i + 1], true), lo = hex_value(in[i + 2], true);
      if (hi < 0 || lo < 0) return make_error("invalid xtext escape");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return make_error("invalid character in xtext");
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

Result<PathAndParams> split_path_and_params(std::string_view arg, bool smtputf8) {
  size_t i = 0;
  while (i < arg.size() && arg[i] == ' ') ++i;
  arg.remove_prefix(i);
  if (arg.empty() || arg[0] != '<') return make_error("path must be enclosed in <>");
  size_t end = std::string_view::npos;
  bool inq = false;
  for (size_t k = 1; k < arg.size() && k <= kMaxPath; ++k) {
    char c = arg[k];
    if (inq) {
      if (c == '\\') {
        ++k;
      } else if (c == '"') {
        inq = false;
      }
    } else if (c == '"') {
      inq = true;
    } else if (c == '>') {
      end = k;
      break;
    }
  }
  if (end == std::string_view::npos) {
    return make_error(arg.size() > kMaxPath ? "path longer than 256 octets" : "unterminated path");
  }
  PathAndParams out;
  out.path = arg.substr(0, end + 1);
  std::string_view rest = arg.substr(end + 1);
  if (!rest.empty() && rest[0] != ' ') return make_error("junk after path");
  while (!rest.empty()) {
    size_t s = 0;
    while (s < rest.size() && rest[s] == ' ') ++s;
    rest.remove_prefix(s);
    if (rest.empty()) break;
    size_t e = rest.find(' ');
    std::string_view tok = rest.substr(0, e);
    rest.remove_prefix(e == std::string_view::npos ? rest.size() : e);
    if (out.params.size() >= kMaxEsmtpParams) return make_error("too many ESMTP parameters");
    size_t eq = tok.find('=');
    std::string_view kw = tok.substr(0, eq);
    if (kw.empty() || kw.size() > kMaxEsmtpKeyword ||
        !is_alnum(static_cast<unsigned char>(kw[0]))) {
      return make_error("invalid ESMTP parameter keyword");
    }
    for (char ch : kw) {
      if (!is_alnum(static_cast<unsigned char>(ch)) && ch != '-') {
        return make_error("invalid ESMTP parameter keyword");
      }
    }
    EsmtpParam p;
    p.keyword = to_upper(kw);
    for (const auto& q : out.params) {
      if (q.keyword == p.keyword) return make_error("duplicate ESMTP parameter");
    }
    if (eq != std::string_view::npos) {
      std::string_view v = tok.substr(eq + 1);
      if (v.empty() || v.size() > kMaxEsmtpValue)
        return make_error("invalid ESMTP parameter value");
      for (char ch : v) {
        auto c = static_cast<unsigned char>(ch);
        bool ok = (c >= 33 && c <= 126 && c != '=') || (smtputf8 && c >= 0x80);
        if (!ok) return make_error("invalid ESMTP parameter value");
      }
      if (has_non_ascii(v) && !is_valid_utf8(v)) return make_error("ESMTP value is not UTF-8");
      if (p.keyword == "AUTH") {
        auto d = xtext_decode(v);
        if (!d) return make_error("AUTH parameter: " + d.error());
        p.value = std::move(*d);
      } else {
        p.value = std::string(v);
      }
    }
    out.params.push_back(std::move(p));
  }
  return out;
}

std::string normalize_for_greylist(const Mailbox& m) {
  if (m.null_path) return "";
  std::string user = to_lower(m.normalized_local());
  if (user.rfind("prvs=", 0) == 0) {
    auto a = split(user, '=');
    if (a.size() == 3) {
      bool t1 = looks_like_batv_tag(a[1]), t2 = looks_like_batv_tag(a[2]);
      user = (t2 && !t1) ? a[1] : a[2];
    }
  } else if (user.rfind("srs0=", 0) == 0) {
    // SRS0=HHH=TT=domain=local
    auto a = split(user, '=');
    if (a.size() >= 5) {
      fold_field(a[1]);
      fold_field(a[2]);
      user = join(a, '=');
    }
  } else if (user.rfind("srs1=", 0) == 0) {
    // SRS1=HHH=forwarder==HHH=TT=domain=local
    auto a = split(user, '=');
    if (a.size() >= 8 && a[3].empty()) {
      fold_field(a[1]);
      fold_field(a[4]);
      fold_field(a[5]);
      user = join(a, '=');
    }
  }
  if (size_t plus = user.find('+'); plus != std::string::npos) user.erase(plus);
  user = hash_standalone_digits(user);
  if (m.domain.empty()) return user;
  return user + "@" + m.domain;
}

}  // namespace nj::mail
