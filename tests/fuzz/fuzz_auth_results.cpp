// Fuzzes the Authentication-Results writer with hostile values in every property a peer or a DNS
// record can choose. The input is split at NUL bytes into: authserv-id, SPF mailfrom, HELO, DMARC
// From, then (domain, selector, algorithm, b prefix) per DKIM signature. Properties checked: the
// field parses back (strictly) as one field: exactly one line end not followed by white space
// (the last), the expected methods in order (spf, one dkim per signature or one dkim=none,
// dmarc), and every property the writer wrote reads back as exactly the value it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "edge/auth/auth_results.h"

using namespace nj::edge::auth;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// The value of property `name` in r, or nullptr.
const std::string* prop(const ParsedResult& r, std::string_view name) {
  for (const auto& [k, v] : r.props)
    if (k == name) return &v;
  return nullptr;
}

// Written exactly when pvalue() accepts it, and then read back unchanged.
void same(const ParsedResult& r, std::string_view name, const std::string& given) {
  const std::string* got = prop(r, name);
  if (pvalue(given)) {
    check(got && *got == given);
  } else {
    check(!got);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= in.size(); ++i) {
    if (i == in.size() || in[i] == '\0') {
      parts.emplace_back(in.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.resize(std::max<size_t>(parts.size(), 4));
  AuthReport r;
  r.authserv_id = parts[0];
  r.spf.result = static_cast<SpfResult>(size % 7);
  r.spf.mailfrom = parts[1];
  r.spf.helo = parts[2];
  r.dmarc.from = parts[3];
  r.dmarc.result = static_cast<DmarcResult>(size % 5);
  if (size % 3 == 0) {
    r.dmarc.policy = static_cast<DmarcPolicy>(size % 3);
    r.dmarc.disposition = DmarcPolicy::quarantine;
  }
  for (size_t i = 4; i + 3 < parts.size() + 3 && r.dkim.size() < 5; i += 4) {
    DkimReport d;
    d.result = static_cast<DkimResult>((size + i) % 7);
    d.domain = i < parts.size() ? parts[i] : "";
    d.selector = i + 1 < parts.size() ? parts[i + 1] : "";
    d.algorithm = i + 2 < parts.size() ? parts[i + 2] : "";
    d.b_prefix = i + 3 < parts.size() ? parts[i + 3] : "";
    d.comment = d.selector;  // comments are filtered too
    r.dkim.push_back(std::move(d));
  }

  std::string field = authentication_results(r);
  check(field.size() < kMaxAuthResultsBytes);
  // One field: every CRLF but the last is followed by a tab.
  for (size_t i = 0; i + 2 < field.size(); ++i) {
    if (field[i] == '\n') check(i > 0 && field[i - 1] == '\r' && field[i + 1] == '\t');
    if (field[i] == '\r') check(field[i + 1] == '\n');
  }
  auto p = parse_authentication_results(field);
  check(p.ok());
  size_t dkims = r.dkim.empty() ? 1 : r.dkim.size();
  check(p->results.size() == 2 + dkims);
  check(p->results[0].method == "spf");
  check(p->results[0].result == spf_result_name(r.spf.result));
  for (size_t i = 0; i < dkims; ++i) check(p->results[1 + i].method == "dkim");
  check(p->results.back().method == "dmarc");
  check(p->results.back().result == dmarc_result_name(r.dmarc.result));
  same(p->results[0], "smtp.mailfrom", r.spf.mailfrom);
  for (size_t i = 0; i < r.dkim.size(); ++i) {
    const auto& res = p->results[1 + i];
    check(res.result == dkim_result_name(r.dkim[i].result));
    same(res, "header.d", r.dkim[i].domain);
    same(res, "header.s", r.dkim[i].selector);
    same(res, "header.a", r.dkim[i].algorithm);
    same(res, "header.b", r.dkim[i].b_prefix);
  }
  same(p->results.back(), "header.from", r.dmarc.from);
  return 0;
}
