#include "common/mail/sanitize.h"

#include <cstdio>

#include "common/mail/address.h"
#include "common/mail/origin.h"
#include "common/mail/text.h"

namespace nj::mail {
namespace {

constexpr size_t kFoldColumn = 78;
constexpr size_t kMaxHeloShown = 64;

// Skips white space and comments; false on an unterminated comment.
bool skip_cfws(std::string_view s, size_t& i) {
  while (i < s.size()) {
    if (s[i] == ' ' || s[i] == '\t') {
      ++i;
    } else if (s[i] == '(') {
      size_t depth = 0;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '\\') {
          ++i;
        } else if (c == '(') {
          if (++depth > 16) return false;
        } else if (c == ')') {
          if (--depth == 0) break;
        }
      }
      if (depth != 0) return false;
    } else {
      break;
    }
  }
  return true;
}

bool is_value_char(char ch) {
  // RFC 2045 token octets plus '.', which authserv-ids (host names) use; also 8-bit for
  // internationalized names.
  auto c = static_cast<unsigned char>(ch);
  if (c >= 0x80) return true;
  return c > 32 && c < 127 &&
         std::string_view("()<>@,;:\\\"/[]?=").find(ch) == std::string_view::npos;
}

bool should_drop(const HeaderField& f, const InboundPolicy& policy) {
  if (f.is("Return-Path") || f.is("Delivered-To") || f.is("X-Original-To")) return true;
  if (f.is(kOriginField)) return true;  // only the inner writes it (origin.h)
  for (const auto& p : policy.drop_prefixes) {
    if (!p.empty() && istarts_with(f.name, p)) return true;
  }
  bool ar = f.is("Authentication-Results");
  bool arc = f.is("ARC-Authentication-Results");
  if (ar || arc) {
    auto id = authserv_id(f.unfolded(), arc);
    if (!id) return true;
    // "mx.ours.example." names the same host; a reader may well treat it as ours.
    std::string_view v = *id;
    if (!v.empty() && v.back() == '.') v.remove_suffix(1);
    return iequals(v, policy.our_hostname);
  }
  return false;
}

}  // namespace

Result<std::string> authserv_id(std::string_view v, bool arc) {
  size_t i = 0;
  if (!skip_cfws(v, i)) return make_error("unterminated comment");
  if (arc) {
    if (i >= v.size() || (v[i] != 'i' && v[i] != 'I')) return make_error("missing instance tag");
    ++i;
    if (!skip_cfws(v, i) || i >= v.size() || v[i] != '=') return make_error("bad instance tag");
    ++i;
    if (!skip_cfws(v, i)) return make_error("unterminated comment");
    size_t d = i;
    while (i < v.size() && is_digit(static_cast<unsigned char>(v[i]))) ++i;
    if (i == d) return make_error("bad instance tag");
    if (!skip_cfws(v, i) || i >= v.size() || v[i] != ';') return make_error("bad instance tag");
    ++i;
    if (!skip_cfws(v, i)) return make_error("unterminated comment");
  }
  if (i >= v.size()) return make_error("missing authserv-id");
  std::string id;
  if (v[i] == '"') {
    ++i;
    bool closed = false;
    while (i < v.size()) {
      char c = v[i++];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\' && i < v.size()) c = v[i++];
      id.push_back(c);
    }
    if (!closed) return make_error("unterminated quoted authserv-id");
  } else {
    while (i < v.size() && is_value_char(v[i])) id.push_back(v[i++]);
  }
  if (id.empty()) return make_error("missing authserv-id");
  return id;
}

Result<std::string> sanitize_inbound(std::string_view message, const InboundPolicy& policy) {
  auto hs = parse_headers(message, policy.limits);
  if (!hs) return make_error(hs.error());
  std::string out;
  out.reserve(message.size());
  for (const auto& f : hs->fields) {
    if (!should_drop(f, policy)) out.append(f.raw);
  }
  // The separator line and the body, exactly as received.
  size_t sep = hs->has_separator ? hs->body_offset - 2 : hs->body_offset;
  out.append(message.substr(sep));
  return out;
}

std::string with_protocol(bool esmtp, bool tls, bool authenticated, bool smtputf8) {
  if (!esmtp) return "SMTP";  // HELO: none of the extensions could have been used
  std::string p = smtputf8 ? "UTF8SMTP" : "ESMTP";
  if (tls) p += "S";
  if (authenticated) p += "A";
  return p;
}

std::string rfc5322_date(std::time_t t) {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string received_line(const ReceivedInfo& info) {
  std::string helo;
  if (auto h = parse_helo_name(info.helo); h) {
    helo = info.helo;  // as given: valid, so it cannot break the syntax
  } else {
    for (char c : info.helo.substr(0, kMaxHeloShown)) {
      bool keep = is_alnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
      helo.push_back(keep ? c : '_');
    }
    if (helo.empty()) helo = "unknown";
  }
  std::string id;
  for (char c : info.id) {
    if (is_alnum(static_cast<unsigned char>(c))) id.push_back(c);
  }
  if (id.empty()) id = "0";

  // Words joined by single spaces, folded before a word that would pass column 78.
  std::vector<std::string> words = {
      "Received:",
      "from",
      helo,
      "by",
      std::string(info.our_hostname),
      "with",
      with_protocol(info.esmtp, info.tls, info.authenticated, info.smtputf8),
      "id",
      id + ";"};
  std::string out;
  size_t col = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i == 0) {
      out = words[0];
      col = out.size();
    } else if (col + 1 + words[i].size() > kFoldColumn) {
      out += "\r\n\t" + words[i];
      col = 8 + words[i].size();
    } else {
      out += " " + words[i];
      col += 1 + words[i].size();
    }
  }
  // The date always goes on its own line: it keeps every line short whatever the names are.
  out += "\r\n\t" + rfc5322_date(info.when) + "\r\n";
  return out;
}

}  // namespace nj::mail
