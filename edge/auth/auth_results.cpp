#include "edge/auth/auth_results.h"

#include <cstring>

namespace nj::edge::auth {
namespace {

constexpr std::string_view kFieldName = "Authentication-Results";
constexpr std::string_view kFold = "\r\n\t";

bool is_tspecial(char c) {
  return std::strchr("()<>@,;:\\\"/[]?=", c) != nullptr && c != '\0';
}
bool is_token_char(char c) {
  return c > 0x20 && c < 0x7f && !is_tspecial(c);
}

bool is_domain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label != 0;
}

// Comments hold only text this code chose; anything else is dropped all the same.
std::string comment(std::string_view text) {
  std::string out;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == ' ' || c == '.' || c == '=' || c == '-';
    if (ok && out.size() < 80) out += c;
  }
  return out.empty() ? out : " (" + out + ")";
}

void prop(std::string& out, std::string_view name, std::string_view value) {
  auto v = pvalue(value);
  if (!v) return;
  out += ' ';
  out += name;
  out += '=';
  out += *v;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  return out;
}

}  // namespace

const char* spf_result_name(SpfResult r) {
  switch (r) {
    case SpfResult::none:
      return "none";
    case SpfResult::neutral:
      return "neutral";
    case SpfResult::pass:
      return "pass";
    case SpfResult::fail:
      return "fail";
    case SpfResult::softfail:
      return "softfail";
    case SpfResult::temperror:
      return "temperror";
    case SpfResult::permerror:
      return "permerror";
  }
  return "permerror";
}

const char* dkim_result_name(DkimResult r) {
  switch (r) {
    case DkimResult::none:
      return "none";
    case DkimResult::pass:
      return "pass";
    case DkimResult::fail:
      return "fail";
    case DkimResult::policy:
      return "policy";
    case DkimResult::neutral:
      return "neutral";
    case DkimResult::temperror:
      return "temperror";
    case DkimResult::permerror:
      return "permerror";
  }
  return "permerror";
}

const char* dmarc_result_name(DmarcResult r) {
  switch (r) {
    case DmarcResult::none:
      return "none";
    case DmarcResult::pass:
      return "pass";
    case DmarcResult::fail:
      return "fail";
    case DmarcResult::temperror:
      return "temperror";
    case DmarcResult::permerror:
      return "permerror";
  }
  return "permerror";
}

const char* dmarc_policy_name(DmarcPolicy p) {
  switch (p) {
    case DmarcPolicy::none:
      return "none";
    case DmarcPolicy::quarantine:
      return "quarantine";
    case DmarcPolicy::reject:
      return "reject";
  }
  return "none";
}

std::optional<std::string> pvalue(std::string_view v) {
  if (v.empty() || v.size() > kMaxValue) return std::nullopt;
  bool token = true;
  for (char c : v) {
    if (c < 0x21 || c > 0x7e) return std::nullopt;
    if (!is_token_char(c)) token = false;
  }
  if (token) return std::string(v);
  std::string q = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  q += '"';
  return q;
}

std::string authentication_results(const AuthReport& r) {
  std::string out(kFieldName);
  out += ": ";
  out += is_domain(r.authserv_id) ? r.authserv_id : std::string("invalid");
  out += ';';

  out += kFold;
  out += "spf=";
  out += spf_result_name(r.spf.result);
  if (!r.spf.mailfrom.empty()) {
    prop(out, "smtp.mailfrom", r.spf.mailfrom);
  } else if (is_domain(r.spf.helo)) {
    prop(out, "smtp.helo", r.spf.helo);
  }
  out += ';';

  if (r.dkim.empty()) {
    out += kFold;
    out += "dkim=none;";
  }
  for (const auto& d : r.dkim) {
    out += kFold;
    out += "dkim=";
    out += dkim_result_name(d.result);
    out += comment(d.comment);
    prop(out, "header.d", d.domain);
    prop(out, "header.s", d.selector);
    prop(out, "header.a", d.algorithm);
    prop(out, "header.b", d.b_prefix);
    out += ';';
  }

  out += kFold;
  out += "dmarc=";
  out += dmarc_result_name(r.dmarc.result);
  if (r.dmarc.policy) {
    std::string c = std::string("p=") + dmarc_policy_name(*r.dmarc.policy);
    if (r.dmarc.disposition) c += std::string(" dis=") + dmarc_policy_name(*r.dmarc.disposition);
    out += comment(c);
  }
  prop(out, "header.from", r.dmarc.from);
  out += "\r\n";
  return out;
}

// ---- the reader ----

namespace {

struct Lexer {
  std::string_view s;
  size_t i = 0;
  std::string error;

  bool fail(const char* what) {
    if (error.empty()) error = what;
    return false;
  }

  // Skips white space and (nested) comments.
  bool cfws() {
    while (i < s.size()) {
      char c = s[i];
      if (c == ' ' || c == '\t') {
        ++i;
      } else if (c == '(') {
        int depth = 0;
        while (i < s.size()) {
          char d = s[i++];
          if (d == '\\') {
            if (i >= s.size()) return fail("unterminated comment");
            ++i;
          } else if (d == '(') {
            if (++depth > 20) return fail("comments nested too deep");
          } else if (d == ')') {
            if (--depth == 0) break;
          }
        }
        if (depth != 0) return fail("unterminated comment");
      } else {
        break;
      }
    }
    return true;
  }

  bool at(char c) {
    if (!cfws()) return false;
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }

  bool end() { return cfws() && i == s.size(); }

  // A token, or a quoted-string (unquoted in the result).
  bool value(std::string& out) {
    out.clear();
    if (!cfws()) return false;
    if (i < s.size() && s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\') {
          if (++i >= s.size()) return fail("unterminated quoted-string");
        }
        out += s[i++];
      }
      if (i >= s.size()) return fail("unterminated quoted-string");
      ++i;
      return true;
    }
    size_t start = i;
    while (i < s.size() && is_token_char(s[i])) ++i;
    if (i == start) return fail("expected a value");
    out.assign(s.substr(start, i - start));
    return true;
  }
};

}  // namespace

Result<ParsedAuthResults> parse_authentication_results(std::string_view field) {
  if (field.size() < kFieldName.size() + 3 ||
      lower(field.substr(0, kFieldName.size())) != lower(kFieldName) ||
      field[kFieldName.size()] != ':')
    return make_error("not an Authentication-Results field");
  if (field.substr(field.size() - 2) != "\r\n") return make_error("no final CRLF");
  // Unfold: every CR must be part of CRLF, and every CRLF but the last followed by SP or HTAB.
  std::string text;
  for (size_t k = kFieldName.size() + 1; k < field.size() - 2; ++k) {
    char c = field[k];
    if (c == '\r') {
      if (k + 2 >= field.size() || field[k + 1] != '\n' ||
          (field[k + 2] != ' ' && field[k + 2] != '\t'))
        return make_error("line end inside the field that is not folding");
      ++k;
      continue;
    }
    if (c == '\n') return make_error("bare LF");
    if (static_cast<unsigned char>(c) > 0x7e || (c < 0x20 && c != '\t'))
      return make_error("byte outside printable ASCII");
    text += c;
  }

  ParsedAuthResults out;
  Lexer lx{text, 0, {}};
  if (!lx.value(out.authserv_id)) return make_error(lx.error);
  // An optional authres-version after the authserv-id.
  {
    size_t save = lx.i;
    std::string version;
    if (!(lx.cfws() && lx.i < text.size() && text[lx.i] == ';')) {
      if (!lx.value(version) || version.find_first_not_of("0123456789") != std::string::npos) {
        lx.i = save;
        return make_error("junk after the authserv-id");
      }
    }
  }
  bool any = false;
  while (lx.at(';')) {
    any = true;
    ParsedResult r;
    std::string word;
    if (!lx.value(word)) return make_error(lx.error);
    r.method = lower(word);
    if (lx.at('/')) {
      std::string version;
      if (!lx.value(version)) return make_error(lx.error);
    }
    if (r.method == "none" && out.results.empty()) {
      if (!lx.end()) return make_error("text after none");
      return out;
    }
    if (!lx.at('=')) return make_error("method without a result");
    if (!lx.value(word)) return make_error(lx.error);
    r.result = lower(word);
    // reasonspec and propspecs until ';' or the end.
    while (true) {
      if (!lx.cfws()) return make_error(lx.error);
      if (lx.i == text.size() || text[lx.i] == ';') break;
      std::string name;
      if (!lx.value(name)) return make_error(lx.error);
      if (!lx.at('=')) return make_error("property without '='");
      std::string v;
      if (!lx.value(v)) return make_error(lx.error);
      if (lx.cfws() && lx.i < text.size() && text[lx.i] == '@') {
        // pvalue = [local-part "@"] domain-name
        ++lx.i;
        std::string domain;
        if (!lx.value(domain)) return make_error(lx.error);
        v += "@" + domain;
      }
      std::string lname = lower(name);
      if (lname != "reason" && lname.find('.') == std::string::npos)
        return make_error("property without a type");
      r.props.emplace_back(lname, v);
    }
    out.results.push_back(std::move(r));
  }
  if (!lx.error.empty()) return make_error(lx.error);
  if (!any) return make_error("no results");
  if (!lx.end()) return make_error("junk after the results");
  return out;
}

}  // namespace nj::edge::auth
