#include "edge/auth/spf.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>

namespace nj::edge::auth {
namespace {

constexpr size_t kMaxName = 253;
constexpr size_t kMaxExpansion = 1024;  // any one expanded domain-spec, before truncation
constexpr size_t kMaxTerms = 100;       // terms in one record

struct Ip {
  bool v6 = false;
  std::array<uint8_t, 16> b{};
};

std::optional<Ip> parse_ip(std::string_view text) {
  std::string s(text);
  Ip ip;
  if (inet_pton(AF_INET, s.c_str(), ip.b.data()) == 1) return ip;
  if (inet_pton(AF_INET6, s.c_str(), ip.b.data()) != 1) return std::nullopt;
  // IPv4-mapped addresses are checked as IPv4 (RFC 7208 5: "ip4" matches them).
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(ip.b.data(), kMapped, 12) == 0) {
    std::memmove(ip.b.data(), ip.b.data() + 12, 4);
    std::fill(ip.b.begin() + 4, ip.b.end(), 0);
    return ip;
  }
  ip.v6 = true;
  return ip;
}

bool in_prefix(const Ip& a, const Ip& net, int bits) {
  if (a.v6 != net.v6) return false;
  int full = bits / 8, rest = bits % 8;
  if (std::memcmp(a.b.data(), net.b.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.b[static_cast<size_t>(full)] & mask) == (net.b[static_cast<size_t>(full)] & mask);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  return out;
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A name we may ask about: labels of 1..63 visible octets, at most 253 in all.
bool queryable(std::string_view s) {
  if (s.empty() || s.size() > kMaxName) return false;
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f ||
               ++label > 63) {
      return false;
    }
  }
  return label != 0;
}

// RFC 7208 4.3: a domain check_host() accepts: queryable and at least two labels.
bool multi_label(std::string_view s) {
  return queryable(s) && s.find('.') != std::string_view::npos;
}

std::string ip_macro(const Ip& ip) {
  char buf[64];
  if (!ip.v6) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip.b[0], ip.b[1], ip.b[2], ip.b[3]);
    return buf;
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t k = 0; k < 16; ++k) {
    if (k) out += '.';
    out += hex[ip.b[k] >> 4];
    out += '.';
    out += hex[ip.b[k] & 15];
  }
  return out;
}

std::string reverse_name(const Ip& ip) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  if (!ip.v6) {
    for (int k = 3; k >= 0; --k) out += std::to_string(ip.b[static_cast<size_t>(k)]) + ".";
    return out + "in-addr.arpa";
  }
  for (int k = 15; k >= 0; --k) {
    uint8_t v = ip.b[static_cast<size_t>(k)];
    out += hex[v & 15];
    out += '.';
    out += hex[v >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

// RFC 3986 unreserved characters stay; the rest is %XX (RFC 7208 7.3, uppercase macro letters).
std::string url_escape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

// The end of a domain-spec (RFC 7208 7.1 domain-end): a macro, or "." toplabel ["."].
bool good_domain_end(std::string_view spec) {
  if (spec.empty()) return false;
  if (spec.back() == '}') return true;
  if (spec.size() >= 2 && spec[spec.size() - 2] == '%') return false;  // "%_", "%-", "%%"
  if (spec.back() == '.') spec.remove_suffix(1);
  size_t dot = spec.rfind('.');
  if (dot == std::string_view::npos) return false;
  std::string_view top = spec.substr(dot + 1);
  if (top.empty() || top.size() > 63 || top.front() == '-' || top.back() == '-') return false;
  bool alpha = false;
  for (char c : top) {
    if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
    alpha = alpha || is_alpha(c);
  }
  return alpha;
}

enum class R { none, neutral, pass, fail, softfail, temperror, permerror, need };

struct Term {
  enum Kind { all, include, a, mx, ptr, ip4, ip6, exists } kind = all;
  char qualifier = '+';
  std::string spec;  // domain-spec, may be empty for a, mx, ptr
  int cidr4 = 32;
  int cidr6 = 128;
  Ip net;
};

struct Record {
  std::vector<Term> terms;
  std::optional<std::string> redirect;
};

class Eval {
 public:
  Eval(const SpfRequest& req, const DnsCache& cache, Ip ip) : req_(req), cache_(cache), ip_(ip) {}

  R check_host(const std::string& domain) {
    if (!multi_label(domain)) return R::none;
    const dns::Answer* a = lookup(domain, dns::Type::TXT);
    if (!a) return R::need;
    if (dns::is_temporary(a->status) || a->status == dns::Status::error)
      return problem(R::temperror, "temporary DNS error fetching a record");
    if (a->status != dns::Status::ok) return R::none;
    const std::string* rec = nullptr;
    for (const auto& t : a->txt) {
      if (t.size() < 6 || lower(t.substr(0, 6)) != "v=spf1" || (t.size() > 6 && t[6] != ' '))
        continue;
      if (rec) return problem(R::permerror, "more than one SPF record");
      rec = &t;
    }
    if (!rec) return R::none;
    if (rec->size() > kMaxRecord) return problem(R::permerror, "record too long");
    Record r;
    if (!parse(*rec, r)) return problem(R::permerror, "record syntax");

    for (const Term& t : r.terms) {
      R m = match(t, domain);
      if (m == R::pass) return qualified(t.qualifier);
      if (m != R::none) return m;  // need, temperror, permerror
    }
    if (r.redirect) {
      if (!count_term()) return R::permerror;
      auto target = expand(*r.redirect, domain);
      if (!target) return pending_or(R::permerror, "redirect target");
      R res = check_host(*target);
      if (res == R::none) return problem(R::permerror, "redirect to a domain without SPF");
      return res;
    }
    return R::neutral;
  }

  std::vector<DnsKey> missing;
  std::string why;

 private:
  R problem(R r, const char* what) {
    if (why.empty()) why = what;
    return r;
  }
  R pending_or(R r, const char* what) { return need_ ? R::need : problem(r, what); }

  static R qualified(char q) {
    switch (q) {
      case '-':
        return R::fail;
      case '~':
        return R::softfail;
      case '?':
        return R::neutral;
      default:
        return R::pass;
    }
  }

  bool count_term() {
    if (++terms_ > kMaxDnsTerms) {
      problem(R::permerror, "more than 10 DNS-querying terms");
      return false;
    }
    return true;
  }
  // A void lookup (RFC 7208 4.6.4): false once more than two happened.
  bool count_void(const dns::Answer& a) {
    if (a.status != dns::Status::nxdomain && a.status != dns::Status::nodata &&
        !(a.status == dns::Status::ok && a.addresses.empty() && a.mx.empty() && a.names.empty() &&
          a.txt.empty()))
      return true;
    if (++voids_ > kMaxVoidLookups) {
      problem(R::permerror, "more than 2 void lookups");
      return false;
    }
    return true;
  }

  const dns::Answer* lookup(std::string_view name, dns::Type t) {
    DnsKey k{dns_key_name(name), t};
    auto it = cache_.find(k);
    if (it != cache_.end()) return &it->second;
    if (std::find(missing.begin(), missing.end(), k) == missing.end()) missing.push_back(k);
    need_ = true;
    return nullptr;
  }

  // ---- record syntax (RFC 7208 4.6, 12) ----

  static bool parse_cidr(std::string_view& s, int max, int& out) {
    // "/" ("0" / %x31-39 0*1DIGIT) for ip4, up to three digits for ip6; no leading zeros.
    size_t slash = s.rfind('/');
    if (slash == std::string_view::npos) return true;
    std::string_view n = s.substr(slash + 1);
    if (n.empty() || n.size() > 3 || (n.size() > 1 && n[0] == '0')) return false;
    int v = 0;
    for (char c : n) {
      if (!is_digit(c)) return false;
      v = v * 10 + (c - '0');
    }
    if (v > max) return false;
    out = v;
    s = s.substr(0, slash);
    return true;
  }

  bool valid_macro_string(std::string_view s, bool exp) {
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c != '%') {
        if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)
          return false;
        continue;
      }
      if (++i >= s.size()) return false;
      if (s[i] == '%' || s[i] == '_' || s[i] == '-') continue;
      if (s[i] != '{') return false;
      size_t close = s.find('}', i);
      if (close == std::string_view::npos) return false;
      std::string_view body = s.substr(i + 1, close - i - 1);
      if (!valid_macro_body(body, exp)) return false;
      i = close;
    }
    return true;
  }

  static bool valid_macro_body(std::string_view body, bool exp) {
    if (body.empty()) return false;
    char l = static_cast<char>(body[0] | 0x20);
    if (std::strchr("slodiphv", l) == nullptr && !(exp && std::strchr("crt", l) != nullptr))
      return false;
    size_t k = 1;
    size_t digits = 0;
    while (k < body.size() && is_digit(body[k])) {
      ++k;
      if (++digits > 3) return false;
    }
    if (digits && body.substr(1, digits).find_first_not_of('0') == std::string_view::npos)
      return false;  // "the value MUST be nonzero"
    if (k < body.size() && (body[k] | 0x20) == 'r') ++k;
    for (; k < body.size(); ++k)
      if (std::strchr(".-+,/_=", body[k]) == nullptr) return false;
    return true;
  }

  bool valid_domain_spec(std::string_view s) {
    return valid_macro_string(s, false) && good_domain_end(s);
  }

  bool parse(std::string_view rec, Record& r) {
    std::string_view rest = rec.substr(6);
    bool have_exp = false;
    size_t count = 0;
    while (!rest.empty()) {
      if (rest.front() != ' ') return false;
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      if (rest.empty()) break;
      size_t sp = rest.find(' ');
      std::string_view term = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
      if (++count > kMaxTerms) return false;

      // A modifier: name "=" macro-string, name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
      size_t eq = term.find('=');
      size_t name_end = 0;
      while (name_end < term.size() &&
             (is_alpha(term[name_end]) ||
              (name_end > 0 && (is_digit(term[name_end]) || term[name_end] == '-' ||
                                term[name_end] == '_' || term[name_end] == '.'))))
        ++name_end;
      if (eq != std::string_view::npos && name_end == eq && eq > 0) {
        std::string name = lower(term.substr(0, eq));
        std::string_view value = term.substr(eq + 1);
        if (name == "redirect") {
          if (r.redirect || !valid_domain_spec(value)) return false;
          r.redirect = std::string(value);
        } else if (name == "exp") {
          if (have_exp || !valid_domain_spec(value)) return false;
          have_exp = true;
        } else if (!valid_macro_string(value, false)) {
          return false;
        }
        continue;
      }

      Term t;
      if (std::strchr("+-~?", term.front()) != nullptr) {
        t.qualifier = term.front();
        term.remove_prefix(1);
      }
      size_t sep = term.find_first_of(":/");
      std::string name = lower(term.substr(0, sep));
      std::string_view arg = sep == std::string_view::npos ? std::string_view() : term.substr(sep);
      if (name == "all") {
        if (!arg.empty()) return false;
        t.kind = Term::all;
      } else if (name == "include" || name == "exists") {
        t.kind = name == "include" ? Term::include : Term::exists;
        if (arg.size() < 2 || arg[0] != ':' || !valid_domain_spec(arg.substr(1))) return false;
        t.spec = std::string(arg.substr(1));
      } else if (name == "a" || name == "mx") {
        t.kind = name == "a" ? Term::a : Term::mx;
        // dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
        size_t dbl = arg.find("//");
        if (dbl != std::string_view::npos) {
          std::string_view v6 = arg.substr(dbl + 1);
          if (!parse_cidr(v6, 128, t.cidr6) || !v6.empty()) return false;
          arg = arg.substr(0, dbl);
        }
        if (!parse_cidr(arg, 32, t.cidr4)) return false;
        if (!arg.empty()) {
          if (arg.size() < 2 || arg[0] != ':' || !valid_domain_spec(arg.substr(1))) return false;
          t.spec = std::string(arg.substr(1));
        }
      } else if (name == "ptr") {
        t.kind = Term::ptr;
        if (!arg.empty()) {
          if (arg.size() < 2 || arg[0] != ':' || !valid_domain_spec(arg.substr(1))) return false;
          t.spec = std::string(arg.substr(1));
        }
      } else if (name == "ip4" || name == "ip6") {
        bool v6 = name == "ip6";
        t.kind = v6 ? Term::ip6 : Term::ip4;
        if (arg.size() < 2 || arg[0] != ':') return false;
        std::string_view net = arg.substr(1);
        int bits = v6 ? 128 : 32;
        if (!parse_cidr(net, bits, bits)) return false;
        std::string text(net);
        t.net.v6 = v6;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, text.c_str(), t.net.b.data()) != 1) return false;
        (v6 ? t.cidr6 : t.cidr4) = bits;
      } else {
        return false;  // unknown mechanism
      }
      r.terms.push_back(std::move(t));
    }
    return true;
  }

  // ---- macros (RFC 7208 7) ----

  // The expanded domain-spec, truncated from the left to 253 octets (7.3); nullopt when a
  // lookup is needed (need_) or the result is not a name we can ask about.
  std::optional<std::string> expand(std::string_view spec, const std::string& d) {
    std::string out;
    for (size_t i = 0; i < spec.size(); ++i) {
      char c = spec[i];
      if (c != '%') {
        out += c;
      } else {
        char n = spec[++i];
        if (n == '%') {
          out += '%';
        } else if (n == '_') {
          out += ' ';
        } else if (n == '-') {
          out += "%20";
        } else {
          size_t close = spec.find('}', i);
          auto v = macro(spec.substr(i + 1, close - i - 1), d);
          if (!v) return std::nullopt;
          out += *v;
          i = close;
        }
      }
      if (out.size() > kMaxExpansion) return std::nullopt;
    }
    if (!out.empty() && out.back() == '.') out.pop_back();
    while (out.size() > kMaxName) {
      size_t dot = out.find('.');
      if (dot == std::string::npos) return std::nullopt;
      out.erase(0, dot + 1);
    }
    if (!queryable(out)) return std::nullopt;
    return out;
  }

  std::optional<std::string> macro(std::string_view body, const std::string& d) {
    char letter = body[0];
    bool escape = letter >= 'A' && letter <= 'Z';
    std::string value;
    switch (letter | 0x20) {
      case 's':
        value = req_.local + "@" + req_.domain;
        break;
      case 'l':
        value = req_.local;
        break;
      case 'o':
        value = req_.domain;
        break;
      case 'd':
        value = d;
        break;
      case 'i':
        value = ip_macro(ip_);
        break;
      case 'v':
        value = ip_.v6 ? "ip6" : "in-addr";
        break;
      case 'h':
        value = req_.helo;
        break;
      case 'p': {
        auto p = validated_name(d);
        if (!p) return std::nullopt;
        value = *p;
        break;
      }
      default:
        return std::nullopt;  // c, r, t: exp only, refused at parse time
    }
    size_t k = 1;
    size_t keep = 0;
    while (k < body.size() && is_digit(body[k]))
      keep = keep * 10 + static_cast<size_t>(body[k++] - '0');
    bool reverse = k < body.size() && (body[k] | 0x20) == 'r';
    if (reverse) ++k;
    std::string delims(body.substr(k));
    if (delims.empty()) delims = ".";
    std::vector<std::string> parts(1);
    for (char c : value) {
      if (delims.find(c) != std::string::npos) {
        parts.emplace_back();
      } else {
        parts.back() += c;
      }
    }
    if (reverse) std::reverse(parts.begin(), parts.end());
    if (keep > 0 && keep < parts.size())
      parts.erase(parts.begin(), parts.end() - static_cast<long>(keep));
    std::string joined;
    for (size_t j = 0; j < parts.size(); ++j) joined += (j ? "." : "") + parts[j];
    return escape ? url_escape(joined) : joined;
  }

  // The validated names of the client (RFC 7208 5.5): PTR names whose A/AAAA lists the client.
  // nullopt while lookups are needed.
  std::optional<std::vector<std::string>> validated_names() {
    const dns::Answer* p = lookup(reverse_name(ip_), dns::Type::PTR);
    if (!p) return std::nullopt;
    std::vector<std::string> out;
    if (p->status != dns::Status::ok) return out;
    bool pending = false;
    for (size_t k = 0; k < p->names.size() && k < kMaxPtrNames; ++k) {
      std::string name = dns_key_name(p->names[k]);
      if (!queryable(name)) continue;
      const dns::Answer* a = lookup(name, ip_.v6 ? dns::Type::AAAA : dns::Type::A);
      if (!a) {
        pending = true;
        continue;
      }
      if (a->status != dns::Status::ok) continue;
      for (const auto& addr : a->addresses) {
        auto x = parse_ip(addr);
        if (x && in_prefix(*x, ip_, 128 - (ip_.v6 ? 0 : 96))) {
          out.push_back(name);
          break;
        }
      }
    }
    if (pending) return std::nullopt;
    return out;
  }

  std::optional<std::string> validated_name(const std::string& d) {
    auto names = validated_names();
    if (!names) return std::nullopt;
    std::string dl = dns_key_name(d);
    for (const auto& n : *names)
      if (n == dl || (n.size() > dl.size() && n.compare(n.size() - dl.size(), dl.size(), dl) == 0 &&
                      n[n.size() - dl.size() - 1] == '.'))
        return n;
    return names->empty() ? std::string("unknown") : names->front();
  }

  // ---- mechanisms (RFC 7208 5): R::pass for a match, R::none for no match ----

  R address_match(const dns::Answer& a, const Term& t) {
    for (const auto& addr : a.addresses) {
      auto x = parse_ip(addr);
      if (x && in_prefix(ip_, *x, ip_.v6 ? t.cidr6 : t.cidr4)) return R::pass;
    }
    return R::none;
  }

  R match(const Term& t, const std::string& domain) {
    std::string target = domain;
    if (t.kind == Term::include || t.kind == Term::a || t.kind == Term::mx || t.kind == Term::ptr ||
        t.kind == Term::exists) {
      if (!count_term()) return R::permerror;
      if (!t.spec.empty()) {
        auto e = expand(t.spec, domain);
        if (!e) return pending_or(R::permerror, "bad target name");
        target = *e;
      }
    }
    dns::Type addr_type = ip_.v6 ? dns::Type::AAAA : dns::Type::A;
    switch (t.kind) {
      case Term::all:
        return R::pass;
      case Term::ip4:
      case Term::ip6:
        return in_prefix(ip_, t.net, t.kind == Term::ip6 ? t.cidr6 : t.cidr4) ? R::pass : R::none;
      case Term::include: {
        R r = check_host(target);
        switch (r) {
          case R::pass:
            return R::pass;
          case R::fail:
          case R::softfail:
          case R::neutral:
            return R::none;
          case R::none:
            return problem(R::permerror, "include of a domain without SPF");
          default:
            return r;
        }
      }
      case Term::a: {
        const dns::Answer* a = lookup(target, addr_type);
        if (!a) return R::need;
        if (dns::is_temporary(a->status) || a->status == dns::Status::error)
          return problem(R::temperror, "temporary DNS error");
        if (!count_void(*a)) return R::permerror;
        return address_match(*a, t);
      }
      case Term::mx: {
        const dns::Answer* m = lookup(target, dns::Type::MX);
        if (!m) return R::need;
        if (dns::is_temporary(m->status) || m->status == dns::Status::error)
          return problem(R::temperror, "temporary DNS error");
        if (!count_void(*m)) return R::permerror;
        if (m->status != dns::Status::ok) return R::none;
        if (m->mx.size() > kMaxMxNames) return problem(R::permerror, "more than 10 MX names");
        bool pending = false, temp = false;
        for (const auto& rec : m->mx) {
          std::string host = dns_key_name(rec.host);
          if (!queryable(host)) continue;  // "." (null MX) and garbage
          const dns::Answer* a = lookup(host, addr_type);
          if (!a) {
            pending = true;
            continue;
          }
          if (dns::is_temporary(a->status)) temp = true;
          if (a->status == dns::Status::ok && address_match(*a, t) == R::pass) return R::pass;
        }
        if (pending) return R::need;
        if (temp) return problem(R::temperror, "temporary DNS error");
        return R::none;
      }
      case Term::ptr: {
        auto names = validated_names();
        if (!names) return R::need;
        std::string tl = dns_key_name(target);
        for (const auto& n : *names)
          if (n == tl ||
              (n.size() > tl.size() && n.compare(n.size() - tl.size(), tl.size(), tl) == 0 &&
               n[n.size() - tl.size() - 1] == '.'))
            return R::pass;
        return R::none;
      }
      case Term::exists: {
        const dns::Answer* a = lookup(target, dns::Type::A);
        if (!a) return R::need;
        if (dns::is_temporary(a->status) || a->status == dns::Status::error)
          return problem(R::temperror, "temporary DNS error");
        if (!count_void(*a)) return R::permerror;
        return a->status == dns::Status::ok && !a->addresses.empty() ? R::pass : R::none;
      }
    }
    return R::none;
  }

  const SpfRequest& req_;
  const DnsCache& cache_;
  Ip ip_;
  int terms_ = 0;
  int voids_ = 0;
  bool need_ = false;

  friend std::string nj::edge::auth::spf_expand_for_test(std::string_view, const SpfRequest&,
                                                         std::string_view);
};

SpfResult to_result(R r) {
  switch (r) {
    case R::neutral:
      return SpfResult::neutral;
    case R::pass:
      return SpfResult::pass;
    case R::fail:
      return SpfResult::fail;
    case R::softfail:
      return SpfResult::softfail;
    case R::temperror:
      return SpfResult::temperror;
    case R::permerror:
      return SpfResult::permerror;
    default:
      return SpfResult::none;
  }
}

}  // namespace

std::string dns_key_name(std::string_view name) {
  std::string s = lower(name);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

SpfOutcome spf_evaluate(const SpfRequest& request, const DnsCache& cache) {
  SpfOutcome out;
  auto ip = parse_ip(request.ip);
  if (!ip) {
    out.complete = true;
    out.result = SpfResult::none;
    out.problem = "no client address";
    return out;
  }
  std::string domain = dns_key_name(request.domain);
  if (domain.find_first_of("[]:") != std::string::npos) {
    out.complete = true;  // an address literal (HELO of a null sender): nothing to check
    return out;
  }
  Eval e(request, cache, *ip);
  R r = e.check_host(domain);
  if (!e.missing.empty()) {
    // Something was missing somewhere; the answer may depend on it (a later term can only be
    // reached once an earlier one is known), so ask and evaluate again.
    out.missing = std::move(e.missing);
    return out;
  }
  out.complete = true;
  out.result = to_result(r);
  out.problem = e.why;
  return out;
}

std::string spf_expand_for_test(std::string_view spec, const SpfRequest& request,
                                std::string_view d) {
  DnsCache empty;
  auto ip = parse_ip(request.ip);
  Eval e(request, empty, ip ? *ip : Ip{});
  if (!e.valid_domain_spec(spec)) return {};
  auto r = e.expand(spec, std::string(d));
  if (!r) return e.missing.empty() ? std::string() : std::string("unknown");
  return *r;
}

}  // namespace nj::edge::auth
