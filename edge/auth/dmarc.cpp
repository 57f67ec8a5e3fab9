#include "edge/auth/dmarc.h"

#include <fstream>
#include <sstream>

namespace nj::edge::auth {
namespace {

constexpr size_t kMaxListBytes = 16u << 20;
constexpr size_t kMaxRules = 200000;
constexpr size_t kMaxDmarcRecord = 2048;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<DmarcPolicy> policy(std::string_view v) {
  std::string l = lower(trim(v));
  if (l == "none") return DmarcPolicy::none;
  if (l == "quarantine") return DmarcPolicy::quarantine;
  if (l == "reject") return DmarcPolicy::reject;
  return std::nullopt;
}

DmarcPolicy one_lower(DmarcPolicy p) {
  return p == DmarcPolicy::reject ? DmarcPolicy::quarantine : DmarcPolicy::none;
}

}  // namespace

Result<PublicSuffixList> PublicSuffixList::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(path + ": cannot read the public suffix list");
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (text.size() > kMaxListBytes) return make_error(path + ": too large for a public suffix list");
  auto l = parse(text);
  if (!l) return make_error(path + ": " + l.error());
  return l;
}

Result<PublicSuffixList> PublicSuffixList::parse(std::string_view text) {
  PublicSuffixList l;
  size_t n = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // A rule is the line's first word; comments start with "//".
    size_t sp = line.find_first_of(" \t\r");
    line = line.substr(0, sp);
    if (line.empty() || line.substr(0, 2) == "//") continue;
    if (++n > kMaxRules) return make_error("too many rules");
    std::string rule = lower(line);
    if (rule.substr(0, 1) == "!") {
      l.exceptions_.insert(rule.substr(1));
    } else if (rule.substr(0, 2) == "*.") {
      l.wildcards_.insert(rule.substr(2));
    } else {
      l.rules_.insert(rule);
    }
  }
  if (n == 0) return make_error("no rules");
  return l;
}

std::string PublicSuffixList::organizational_domain(std::string_view domain_in) const {
  std::string domain = lower(domain_in);
  if (!domain.empty() && domain.back() == '.') domain.pop_back();
  // Label start offsets, leftmost first.
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < domain.size(); ++i)
    if (domain[i] == '.') starts.push_back(i + 1);
  size_t labels = starts.size();
  // The number of labels in the public suffix: the longest matching rule, exceptions first.
  size_t suffix = 1;  // the implicit "*" rule
  for (size_t k = 0; k < labels; ++k) {
    std::string tail = domain.substr(starts[k]);
    size_t count = labels - k;
    if (exceptions_.count(tail)) {
      suffix = count - 1;
      break;
    }
    if (rules_.count(tail) && count > suffix) suffix = count;
    if (k + 1 < labels) {
      std::string parent = domain.substr(starts[k + 1]);
      if (wildcards_.count(parent) && count > suffix) suffix = count;
    }
  }
  if (labels <= suffix) return domain;
  return domain.substr(starts[labels - suffix - 1]);
}

std::optional<DmarcRecord> parse_dmarc_record(std::string_view txt) {
  if (txt.size() > kMaxDmarcRecord) return std::nullopt;
  DmarcRecord r;
  bool first = true, have_p = false, have_rua = false;
  while (true) {
    size_t semi = txt.find(';');
    std::string_view part = trim(txt.substr(0, semi));
    txt = semi == std::string_view::npos ? std::string_view() : txt.substr(semi + 1);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) {
        if (first) return std::nullopt;
      } else {
        std::string tag = lower(trim(part.substr(0, eq)));
        std::string_view value = trim(part.substr(eq + 1));
        if (first) {
          if (tag != "v" || value != "DMARC1") return std::nullopt;
        } else if (tag == "p") {
          auto p = policy(value);
          if (p) {
            r.p = *p;
            have_p = true;
          }
        } else if (tag == "sp") {
          r.sp = policy(value);
        } else if (tag == "pct") {
          int v = 0;
          bool ok = !value.empty() && value.size() <= 3;
          for (char c : value) {
            if (c < '0' || c > '9') ok = false;
            v = v * 10 + (c - '0');
          }
          if (ok && v <= 100) r.pct = v;
        } else if (tag == "adkim") {
          r.strict_dkim = lower(value) == "s";
        } else if (tag == "aspf") {
          r.strict_spf = lower(value) == "s";
        } else if (tag == "rua") {
          have_rua = true;
        }
      }
      first = false;
    } else if (first) {
      return std::nullopt;
    }
    if (semi == std::string_view::npos) break;
  }
  if (first) return std::nullopt;
  if (!have_p && !have_rua) return std::nullopt;
  return r;
}

DmarcDiscovery select_dmarc_record(const dns::Answer& a, DmarcRecord& out) {
  if (dns::is_temporary(a.status) || a.status == dns::Status::error)
    return DmarcDiscovery::temperror;
  if (a.status != dns::Status::ok) return DmarcDiscovery::none;
  int found = 0;
  for (const auto& t : a.txt) {
    // RFC 7489 6.6.3: records not starting with "v=DMARC1" are discarded first.
    std::string_view s = trim(t);
    if (s.substr(0, 8) != "v=DMARC1") continue;
    if (s.size() > 8 && s[8] != ';' && s[8] != ' ' && s[8] != '\t') continue;
    ++found;
    auto r = parse_dmarc_record(s);
    if (!r) return DmarcDiscovery::none;
    out = *r;
  }
  // Several records: DMARC is not applied.
  return found == 1 ? DmarcDiscovery::found : DmarcDiscovery::none;
}

DmarcReport dmarc_evaluate(const DmarcInput& in, const PublicSuffixList& psl) {
  DmarcReport out;
  out.from = in.from;
  if (in.from.empty()) {
    out.result = DmarcResult::none;
    return out;
  }
  if (!in.record) {
    out.result = in.temperror ? DmarcResult::temperror : DmarcResult::none;
    return out;
  }
  const DmarcRecord& rec = *in.record;
  std::string from_org = psl.organizational_domain(in.from);
  auto aligned = [&](const std::string& id, bool strict) {
    std::string d = lower(id);
    if (!d.empty() && d.back() == '.') d.pop_back();
    if (d.empty()) return false;
    return strict ? d == in.from : psl.organizational_domain(d) == from_org;
  };

  bool pass = false, maybe = false;
  if (aligned(in.spf_domain, rec.strict_spf)) {
    if (in.spf == SpfResult::pass) pass = true;
    if (in.spf == SpfResult::temperror) maybe = true;
  }
  for (const auto& d : in.dkim) {
    if (!aligned(d.domain, rec.strict_dkim)) continue;
    if (d.result == DkimResult::pass) pass = true;
    if (d.result == DkimResult::temperror) maybe = true;
  }

  DmarcPolicy applies = rec.p;
  if (in.at_org && in.from != from_org && rec.sp) applies = *rec.sp;
  out.policy = applies;
  if (pass) {
    out.result = DmarcResult::pass;
    out.disposition = DmarcPolicy::none;
    return out;
  }
  if (maybe) {
    out.result = DmarcResult::temperror;
    out.disposition = DmarcPolicy::none;
    return out;
  }
  out.result = DmarcResult::fail;
  // pct (RFC 7489 6.6.4): a message outside the sample gets the next policy down.
  out.disposition = static_cast<int>(in.draw) < rec.pct ? applies : one_lower(applies);
  return out;
}

}  // namespace nj::edge::auth
