#include "common/mail/address_list.h"

namespace nj::mail {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

// One mailbox: "Name <a@b>", "a@b (comment)", "\"Quoted, Name\" <a@b>". `seg` has no top-level
// comma. Comments are dropped; the angle address, if any, wins over the rest.
Result<Mailbox> one_mailbox(std::string_view seg, const AddressListLimits& limits) {
  std::string bare;   // the segment without comments (quotes kept)
  std::string angle;  // the content of <...>, if present
  bool in_quote = false, in_angle = false, seen_angle = false;
  size_t depth = 0;
  for (size_t i = 0; i < seg.size(); ++i) {
    char c = seg[i];
    if (c == '\\' && (in_quote || depth > 0)) {
      if (i + 1 >= seg.size()) return make_error("dangling escape");
      if (depth == 0) {
        (in_angle ? angle : bare).push_back(c);
        (in_angle ? angle : bare).push_back(seg[i + 1]);
      }
      ++i;
      continue;
    }
    if (depth > 0) {
      if (c == '(') {
        if (++depth > limits.max_comment_depth) return make_error("comments nested too deep");
      } else if (c == ')') {
        --depth;
      }
      continue;
    }
    if (in_quote) {
      if (c == '"') in_quote = false;
      (in_angle ? angle : bare).push_back(c);
      continue;
    }
    switch (c) {
      case '"':
        in_quote = true;
        (in_angle ? angle : bare).push_back(c);
        break;
      case '(':
        depth = 1;
        break;
      case ')':
        return make_error("unbalanced parenthesis");
      case '<':
        if (in_angle || seen_angle) return make_error("more than one angle address");
        in_angle = seen_angle = true;
        break;
      case '>':
        if (!in_angle) return make_error("unbalanced angle bracket");
        in_angle = false;
        break;
      default:
        if (in_angle) {
          if (!is_wsp(c)) angle.push_back(c);
        } else if (seen_angle && !is_wsp(c)) {
          return make_error("text after the angle address");
        } else {
          bare.push_back(c);
        }
    }
  }
  if (in_quote || depth > 0 || in_angle) return make_error("unterminated quote, comment or <");
  std::string spec = seen_angle ? angle : std::string(trim(bare));
  if (spec.empty()) return make_error("empty mailbox");
  if (spec.front() == '@') return make_error("source routes are refused");
  auto m = parse_forward_path("<" + spec + ">", true);
  if (!m) return make_error("bad address: " + m.error());
  if (m->is_postmaster_only()) return make_error("address needs a domain");
  return m;
}

}  // namespace

Result<std::vector<Mailbox>> parse_mailbox_list(std::string_view v,
                                                const AddressListLimits& limits) {
  if (v.size() > limits.max_value) return make_error("header value too long");
  std::vector<Mailbox> out;
  bool in_quote = false, in_angle = false;
  size_t depth = 0, start = 0;
  auto take = [&](size_t end) -> Status {
    std::string_view seg = trim(v.substr(start, end - start));
    start = end + 1;
    if (seg.empty()) return {};  // RFC 5322 4.4: obsolete empty list elements are ignored
    if (out.size() >= limits.max_mailboxes) return make_error("too many mailboxes");
    auto m = one_mailbox(seg, limits);
    if (!m) return make_error(m.error());
    out.push_back(std::move(*m));
    return {};
  };
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && (in_quote || depth > 0)) {
      ++i;
      continue;
    }
    if (depth > 0) {
      if (c == '(') {
        if (++depth > limits.max_comment_depth) return make_error("comments nested too deep");
      } else if (c == ')') {
        --depth;
      }
      continue;
    }
    if (in_quote) {
      if (c == '"') in_quote = false;
      continue;
    }
    if (c == '"') in_quote = true;
    else if (c == '(') depth = 1;
    else if (c == '<') in_angle = true;
    else if (c == '>') in_angle = false;
    else if ((c == ':' || c == ';') && !in_angle) return make_error("group syntax is refused");
    else if (c == ',' && !in_angle) {
      if (auto s = take(i); !s) return make_error(s.error());
    }
  }
  if (auto s = take(v.size()); !s) return make_error(s.error());
  if (out.empty()) return make_error("no mailbox");
  return out;
}

}  // namespace nj::mail
