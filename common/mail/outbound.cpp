#include "common/mail/outbound.h"

#include <map>
#include <optional>
#include <set>

#include "common/crypto/crypto.h"
#include "common/mail/address.h"
#include "common/mail/sanitize.h"
#include "common/mail/text.h"

namespace nj::mail {
namespace {

constexpr std::string_view kIdAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";  // crypto::random_id
constexpr size_t kMaxBoundaryAttempts = 8;
constexpr size_t kQuotedChunk = 60;    // octets per quoted RFC 2231 section
constexpr size_t kExtendedChunk = 60;  // characters per %-encoded section
constexpr size_t kBase64Line = 76;     // RFC 2045 6.8

enum class Role {
  top,       // the message itself
  embedded,  // the header section of an attached message/rfc822 or message/global
  part,      // a MIME body part
};

bool is_one_of(const HeaderField& f, std::initializer_list<std::string_view> names) {
  for (auto n : names) {
    if (f.is(n)) return true;
  }
  return false;
}

// The top-level allowlist (Date and Message-ID are replaced, not kept). Beyond the fields every
// message needs:
//  - Sender: RFC 5322 3.6.2 requires it when From names several mailboxes; rewritten like From.
//  - Content-Disposition: a single-part message's body is an entity like any part; its header
//    is cleaned like a part's.
// Dropped on purpose, among others: Autocrypt (its keydata carries user IDs naming the internal
// address, which cannot be rewritten inside the key), Disposition-Notification-To and
// Return-Receipt-To (a read receipt tells the sender when and whether a mail was read, and the
// field names the sender's address), Content-Language and Accept-Language (the user's locale),
// MIME-Version is rewritten to "1.0" (Apple Mail appends its version as a comment);
// Content-ID and Content-Description at top level (nothing refers to the root by cid; the
// description is free text clients fill with file names), Resent-*, List-*, Keywords,
// Comments, Importance/Priority, OpenPGP, and every X-* field.
bool top_kept(const HeaderField& f) {
  return is_one_of(f, {"From", "Sender", "Reply-To", "To", "Cc", "Subject", "In-Reply-To",
                       "References", "Content-Transfer-Encoding"});
}

// Fields whose addresses and msg-ids may name the internal domain.
bool rewrites_domains(const HeaderField& f) {
  return is_one_of(f, {"From", "Sender", "Reply-To", "To", "Cc", "In-Reply-To", "References"});
}

// Content-Type parameters a reader needs. Dropped: Apple Mail's x-unix-mode and x-mac-*,
// Outlook's reply-type, message/external-body's site/directory/name of a local file, and any
// other extension: they describe the sender's machine, not the content.
bool content_type_param_kept(std::string_view n) {
  for (std::string_view k : {"charset", "name", "boundary", "format", "delsp", "protocol", "micalg",
                             "type", "start", "start-info", "report-type", "method", "component",
                             "smime-type", "id", "number", "total"}) {
    if (n == k) return true;
  }
  return false;
}

// RFC 2183 creation-date, modification-date and read-date give the file's history on the
// sender's disk (and with it the time zone); only the name and the size are useful.
bool disposition_param_kept(std::string_view n) {
  return n == "filename" || n == "size";
}

bool is_domain_char(char c) {
  return is_alnum(static_cast<unsigned char>(c)) || c == '-';
}

// Replaces every occurrence of an internal domain that stands as a whole name (not part of a
// longer label; "x.mail.example.i2p" becomes "x.example.org"), keeping all other bytes.
std::string rewrite_domains(std::string_view raw, const std::vector<DomainRewrite>& rw) {
  if (rw.empty()) return std::string(raw);
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    bool done = false;
    if (i == 0 || !is_domain_char(raw[i - 1])) {
      for (const auto& r : rw) {
        const std::string& d = r.internal_domain;
        if (d.empty() || !istarts_with(raw.substr(i), d)) continue;
        size_t j = i + d.size();
        bool right_ok = j == raw.size() || (!is_domain_char(raw[j]) && raw[j] != '.') ||
                        (raw[j] == '.' && (j + 1 == raw.size() || !is_domain_char(raw[j + 1])));
        if (!right_ok) continue;
        out += r.public_domain;
        i = j;
        done = true;
        break;
      }
    }
    if (!done) out.push_back(raw[i++]);
  }
  return out;
}

bool all_in_alphabet(std::string_view s) {
  for (char c : s) {
    if (kIdAlphabet.find(c) == std::string_view::npos) return false;
  }
  return true;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

// "<id>" -> "id"; a value without brackets is taken as it is.
std::string strip_brackets(std::string_view v) {
  std::string t = trim(v);
  if (t.size() >= 2 && t.front() == '<' && t.back() == '>') return t.substr(1, t.size() - 2);
  return t;
}

// ---- RFC 2047 encoded words in file names ----

struct Decoded {
  std::string charset;
  std::string text;
};

std::optional<std::string> decode_q(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      out.push_back(' ');
    } else if (s[i] == '=') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// A value made only of encoded words in one charset (how Outlook and Thunderbird write non-ASCII
// file names into `name`), decoded; nullopt for anything else.
std::optional<Decoded> decode_encoded_words(std::string_view v) {
  Decoded d;
  size_t i = 0;
  bool any = false;
  while (i < v.size()) {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
    if (i == v.size()) break;
    if (v.substr(i, 2) != "=?") return std::nullopt;
    size_t q1 = v.find('?', i + 2);
    if (q1 == std::string_view::npos || q1 + 2 >= v.size() || v[q1 + 2] != '?') return std::nullopt;
    size_t end = v.find("?=", q1 + 3);
    if (end == std::string_view::npos) return std::nullopt;
    std::string cs = to_lower(v.substr(i + 2, q1 - i - 2));
    if (size_t star = cs.find('*'); star != std::string::npos) cs.resize(star);  // RFC 2231 lang
    if (cs.empty() || (any && cs != d.charset)) return std::nullopt;
    d.charset = cs;
    std::string_view text = v.substr(q1 + 3, end - q1 - 3);
    char enc = lower(v[q1 + 1]);
    if (enc == 'b') {
      auto b = crypto::from_base64(text);
      if (!b) return std::nullopt;
      d.text += *b;
    } else if (enc == 'q') {
      auto q = decode_q(text);
      if (!q) return std::nullopt;
      d.text += *q;
    } else {
      return std::nullopt;
    }
    any = true;
    i = end + 2;
  }
  if (!any) return std::nullopt;
  return d;
}

// ---- parameter re-serialization ----

bool is_attribute_char(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return is_alnum(c) || std::string_view("!#$&+-.^_`|~").find(ch) != std::string_view::npos;
}

std::string quote(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string percent_encode(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : v) {
    if (is_attribute_char(c)) {
      out.push_back(c);
    } else {
      auto u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

bool has_controls(std::string_view v) {
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// One parameter per folded line; long values are split into RFC 2231 sections so no line grows
// past the limits. The language tag is never written (it is the user's locale).
Status append_param(std::string& out, const MimeParam& p) {
  if (p.value.size() > kMaxOutboundParamValue) {
    return make_error("MIME parameter value longer than the limit");
  }
  bool extended = !p.charset.empty() || has_controls(p.value);
  std::string charset;
  for (char c : p.charset) {
    if (is_attribute_char(c) && c != '\'') charset.push_back(c);
  }
  if (!extended) {
    if (p.value.size() <= kQuotedChunk) {
      out += ";\r\n\t" + p.name + "=" + quote(p.value);
      return {};
    }
    for (size_t i = 0, n = 0; i < p.value.size(); i += kQuotedChunk, ++n) {
      out += ";\r\n\t" + p.name + "*" + std::to_string(n) + "=" +
             quote(std::string_view(p.value).substr(i, kQuotedChunk));
    }
    return {};
  }
  // Sections of at most kExtendedChunk characters, never splitting a %XX escape.
  std::vector<std::string> sections(1);
  for (char c : p.value) {
    std::string e = percent_encode(std::string_view(&c, 1));
    if (sections.back().size() + e.size() > kExtendedChunk) sections.emplace_back();
    sections.back() += e;
  }
  if (sections.size() == 1) {
    out += ";\r\n\t" + p.name + "*=" + charset + "''" + sections[0];
    return {};
  }
  for (size_t n = 0; n < sections.size(); ++n) {
    out += ";\r\n\t" + p.name + "*" + std::to_string(n) + "*=";
    if (n == 0) out += charset + "''";
    out += sections[n];
  }
  return {};
}

// Cleans a file name parameter in place; true if it changed.
bool clean_file_name(MimeParam& p) {
  if (p.charset.empty()) {
    if (auto d = decode_encoded_words(p.value)) {
      std::string base = strip_directory(d->text);
      if (base == d->text) return false;
      p.value = std::move(base);
      p.charset = d->charset;
      return true;
    }
  }
  std::string base = strip_directory(p.value);
  if (base == p.value) return false;
  p.value = std::move(base);
  return true;
}


// ---- cid: references in text parts ----

// Calls on_ref(begin, end, id) for every "cid:" URL in `text`; [begin, end) covers "cid:" and
// the URL, `id` is the URL with %-escapes decoded (RFC 2392).
template <class F>
void for_each_cid(std::string_view text, F&& on_ref) {
  size_t i = 0;
  while (i + 4 <= text.size()) {
    if (!iequals(text.substr(i, 4), "cid:")) {
      ++i;
      continue;
    }
    size_t b = i, j = i + 4;
    while (j < text.size() &&
           std::string_view("\"'<>()[] \t\r\n").find(text[j]) == std::string_view::npos) {
      ++j;
    }
    std::string id;
    std::string_view url = text.substr(i + 4, j - i - 4);
    for (size_t k = 0; k < url.size(); ++k) {
      int hi = url[k] == '%' && k + 2 < url.size() ? hex_value(url[k + 1]) : -1;
      int lo = hi >= 0 ? hex_value(url[k + 2]) : -1;
      if (lo >= 0) {
        id.push_back(static_cast<char>(hi * 16 + lo));
        k += 2;
      } else {
        id.push_back(url[k]);
      }
    }
    on_ref(b, j, id);
    i = j;
  }
}

std::string lower_cte(const MimePart& p) {
  for (const auto& f : p.headers) {
    if (f.is("Content-Transfer-Encoding")) return to_lower(f.unfolded());
  }
  return "7bit";
}

bool is_identity_cte(std::string_view cte) {
  return cte == "7bit" || cte == "8bit" || cte == "binary";
}

class Sanitizer {
 public:
  Sanitizer(std::string_view buf, const OutboundPolicy& policy, const MimeTree& tree)
      : buf_(buf), policy_(policy), tree_(tree), boundary_(tree.parts.size()) {}

  Result<std::string> run() {
    plan_boundaries();
    plan_content_ids();
    if (auto st = emit_part(0, Role::top); !st) return make_error(st.error());
    return std::move(out_);
  }

 private:
  // Every boundary this sanitizer did not generate is replaced: the shapes of Apple Mail
  // (Apple-Mail=_UUID), Outlook (_000_..namprd..., ----=_NextPart_ with a FILETIME), Claws Mail
  // (Multipart=_<date and zone>), KMail (nextPart<time-derived>), Gmail (000000000000<time>)
  // and JavaMail (----=_Part_<n>.<millis>) carry times or host names, and even the random ones
  // (Thunderbird's 12 dashes, Mutt's 16 letters, K-9's 4 dashes and 30 letters) name the
  // client. Guessing which are harmless would gain nothing: a non-opaque multipart's boundary
  // can always be changed. "=_" cannot occur in base64 or quoted-printable text (RFC 2045 6.7).
  void plan_boundaries() {
    for (size_t i = 0; i < tree_.parts.size(); ++i) {
      const MimePart& p = tree_.parts[i];
      if (!p.type.is_multipart() || p.opaque) continue;
      if (is_generated_boundary(p.boundary)) {
        boundary_[i] = p.boundary;
        continue;
      }
      std::string b;
      for (size_t attempt = 0; attempt < kMaxBoundaryAttempts; ++attempt) {
        b = new_boundary();
        if (buf_.find("--" + b) == std::string_view::npos) break;
      }
      boundary_[i] = b;
    }
  }

  // Content-IDs are regenerated for the same reason: Outlook writes
  // image001.png@01D9A1B2.3C4D5E60 (a FILETIME), Thunderbird part1.X.Y@<sender's domain>,
  // others the machine's host name. References from text/* parts are renamed with them (HTML
  // img src, and Outlook's "[cid:image001.png@01DA...]" placeholder in the plain-text
  // alternative) in 7bit, 8bit, binary, quoted-printable and base64 bodies; an id referenced
  // from a text part in any other encoding is left as it is rather than break the reference.
  void plan_content_ids() {
    std::set<std::string> pinned;
    for (const auto& p : tree_.parts) {
      if (p.opaque || p.type.type != "text") continue;
      std::string cte = lower_cte(p);
      if (is_identity_cte(cte) || cte == "quoted-printable" || cte == "base64") continue;
      for_each_cid(p.body(buf_), [&](size_t, size_t, const std::string& id) { pinned.insert(id); });
    }
    for (size_t i = 1; i < tree_.parts.size(); ++i) {
      const MimePart& p = tree_.parts[i];
      for (const auto& f : p.headers) {
        if (!f.is("Content-ID")) continue;
        std::string id = strip_brackets(f.unfolded());
        if (!is_generated_content_id(id, policy_.public_domain) && !pinned.count(id) &&
            !cid_.count(id)) {
          cid_[id] = crypto::random_id() + "@" + policy_.public_domain;
        }
        break;
      }
    }
  }

  Status emit_part(size_t idx, Role role) {
    const MimePart& p = tree_.parts[idx];
    if (p.opaque && role == Role::part) {
      out_.append(buf_.substr(p.start, p.end - p.start));
      return {};
    }
    if (auto st = emit_headers(p, idx, role); !st) return st;
    size_t headers_end =
        p.headers.empty() ? p.start : p.headers.back().offset + p.headers.back().raw.size();
    if (p.body_offset > headers_end) out_ += "\r\n";
    if (p.opaque) {
      out_.append(p.body(buf_));
    } else if (p.type.is_multipart()) {
      return emit_multipart(p, idx);
    } else if (!p.children.empty()) {  // message/rfc822, message/global
      return emit_part(p.children.front(), Role::embedded);
    } else if (p.type.type == "text" && !cid_.empty()) {
      out_ += rewrite_text(p.body(buf_), lower_cte(p));
    } else {
      out_.append(p.body(buf_));
    }
    return {};
  }

  // The preamble and epilogue are dropped: readers never show them, and their text ("This is a
  // multi-part message in MIME format.") differs from client to client.
  Status emit_multipart(const MimePart& p, size_t idx) {
    const std::string& b = boundary_[idx];
    for (size_t k = 0; k < p.children.size(); ++k) {
      out_ += (k == 0 ? "--" : "\r\n--") + b + "\r\n";
      if (auto st = emit_part(p.children[k], Role::part); !st) return st;
    }
    if (p.closed) {
      out_ += (p.children.empty() ? "--" : "\r\n--") + b + "--";
      // The close delimiter line of a nested multipart may end without CRLF (the parent's
      // delimiter then supplies it); keep that shape.
      if (p.epilogue_start >= 2 && buf_.substr(p.epilogue_start - 2, 2) == "\r\n") out_ += "\r\n";
    }
    return {};
  }

  Status emit_headers(const MimePart& p, size_t idx, Role role) {
    bool date = false, message_id = false, mime_version = false, ct = false, cte = false,
         cd = false, cid = false;
    for (const auto& f : p.headers) {
      if (f.is("Content-Type")) {
        if (ct) continue;
        ct = true;
        if (p.opaque) {
          out_.append(f.raw);  // boundary, protocol and micalg belong to the signature
        } else if (auto st = clean_content_type(f, p, idx); !st) {
          return st;
        }
      } else if (f.is("Content-Disposition")) {
        if (cd || (role == Role::top && p.type.is_multipart())) continue;
        cd = true;
        if (auto st = clean_disposition(f); !st) return st;
      } else if (f.is("Content-Transfer-Encoding") && role != Role::embedded) {
        if (cte) continue;
        cte = true;
        out_.append(f.raw);
      } else if (f.is("Content-ID") && role != Role::top) {
        if (cid) continue;
        cid = true;
        auto it = cid_.find(strip_brackets(f.unfolded()));
        if (it == cid_.end()) {
          out_.append(f.raw);
        } else {
          out_ += "Content-ID: <" + it->second + ">\r\n";
        }
      } else if (role == Role::embedded) {
        // An attached message is content the user chose to send; only the internal domain
        // goes (a mail received by the user names its recipient in that domain).
        out_ += rewrite_domains(f.raw, policy_.rewrites);
      } else if (role == Role::part) {
        continue;  // Content-Description, Content-Location (a local path), X-Attachment-Id...
      } else if (f.is("Date")) {
        if (!date) out_ += date_field();
        date = true;
      } else if (f.is("Message-ID")) {
        if (!message_id) out_ += message_id_field();
        message_id = true;
      } else if (f.is("MIME-Version")) {
        if (!mime_version) out_ += "MIME-Version: 1.0\r\n";
        mime_version = true;
      } else if (top_kept(f)) {
        out_ += rewrites_domains(f) ? rewrite_domains(f.raw, policy_.rewrites) : std::string(f.raw);
      }
    }
    if (role == Role::top) {
      if (!date) out_ += date_field();
      if (!message_id) out_ += message_id_field();
    }
    return {};
  }

  std::string date_field() const { return "Date: " + rfc5322_date(policy_.send_time) + "\r\n"; }
  std::string message_id_field() const {
    return "Message-ID: <" + crypto::random_id() + crypto::random_id() + "@" +
           policy_.public_domain + ">\r\n";
  }

  Status clean_content_type(const HeaderField& f, const MimePart& p, size_t idx) {
    bool changed = false;
    std::vector<MimeParam> params;
    for (const auto& param : p.type.params) {
      if (!content_type_param_kept(param.name)) {
        changed = true;
        continue;
      }
      MimeParam q = param;
      if (!q.language.empty()) {
        q.language.clear();
        changed = true;
      }
      if (q.name == "name") {
        changed |= clean_file_name(q);
      } else if (q.name == "boundary" && !boundary_[idx].empty() && q.value != boundary_[idx]) {
        q.value = boundary_[idx];
        changed = true;
      } else if (q.name == "start") {
        auto it = cid_.find(strip_brackets(q.value));
        if (it != cid_.end()) {
          q.value = "<" + it->second + ">";
          changed = true;
        }
      }
      params.push_back(std::move(q));
    }
    if (!changed) {
      out_.append(f.raw);
      return {};
    }
    std::string field = "Content-Type: " + p.type.type + "/" + p.type.subtype;
    for (const auto& q : params) {
      if (auto st = append_param(field, q); !st) return st;
    }
    out_ += field + "\r\n";
    return {};
  }

  Status clean_disposition(const HeaderField& f) {
    auto d = parse_content_disposition(f.unfolded());
    if (!d) return make_error("Content-Disposition: " + d.error());
    bool changed = false;
    std::vector<MimeParam> params;
    for (const auto& param : d->params) {
      if (!disposition_param_kept(param.name)) {
        changed = true;
        continue;
      }
      MimeParam q = param;
      if (!q.language.empty()) {
        q.language.clear();
        changed = true;
      }
      if (q.name == "filename") changed |= clean_file_name(q);
      params.push_back(std::move(q));
    }
    if (!changed) {
      out_.append(f.raw);
      return {};
    }
    std::string field = "Content-Disposition: " + d->kind;
    for (const auto& q : params) {
      if (auto st = append_param(field, q); !st) return st;
    }
    out_ += field + "\r\n";
    return {};
  }

  // Replaces cid: references in decoded text; `changed` tells whether any was renamed.
  std::string rename_refs(std::string_view text, bool& changed) const {
    std::string out;
    size_t last = 0;
    for_each_cid(text, [&](size_t b, size_t e, const std::string& id) {
      auto it = cid_.find(id);
      if (it == cid_.end()) return;
      out.append(text.substr(last, b - last));
      out += "cid:" + it->second;
      last = e;
      changed = true;
    });
    out.append(text.substr(last));
    return out;
  }

  std::string rewrite_text(std::string_view body, const std::string& cte) const {
    bool changed = false;
    if (is_identity_cte(cte)) return rename_refs(body, changed);
    if (cte == "quoted-printable") return rewrite_qp(body);
    if (cte == "base64") {
      std::string compact;
      for (char c : body) {
        if (c != '\r' && c != '\n' && c != ' ' && c != '\t') compact.push_back(c);
      }
      auto decoded = crypto::from_base64(compact);
      if (!decoded) return std::string(body);  // not ours to repair; the reference stays broken
      std::string html = rename_refs(*decoded, changed);
      if (!changed) return std::string(body);
      std::string b64 = crypto::to_base64(html), out;
      for (size_t i = 0; i < b64.size(); i += kBase64Line) {
        if (i) out += "\r\n";
        out += b64.substr(i, kBase64Line);
      }
      if (body.ends_with("\r\n")) out += "\r\n";
      return out;
    }
    return std::string(body);
  }

  // Quoted-printable is decoded with the raw span of every decoded octet, so a reference is
  // replaced in place (soft line breaks inside it go with it) and every other byte is kept.
  // The new id is letters, digits, '@', '.' and '-': literal in quoted-printable.
  std::string rewrite_qp(std::string_view raw) const {
    std::string dec;
    std::vector<std::pair<size_t, size_t>> span;  // raw [begin, end) of each decoded octet
    size_t i = 0;
    while (i < raw.size()) {
      if (raw[i] == '=') {
        size_t j = i + 1;
        while (j < raw.size() && (raw[j] == ' ' || raw[j] == '\t')) ++j;
        if (raw.substr(j, 2) == "\r\n") {  // soft line break
          i = j + 2;
          continue;
        }
        int hi = i + 2 < raw.size() ? hex_value(raw[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(raw[i + 2]) : -1;
        if (lo >= 0) {
          dec.push_back(static_cast<char>(hi * 16 + lo));
          span.emplace_back(i, i + 3);
          i += 3;
          continue;
        }
      }
      dec.push_back(raw[i]);
      span.emplace_back(i, i + 1);
      ++i;
    }
    std::string out;
    size_t last = 0;
    for_each_cid(dec, [&](size_t b, size_t e, const std::string& id) {
      auto it = cid_.find(id);
      if (it == cid_.end()) return;
      out.append(raw.substr(last, span[b].first - last));
      out += "cid:" + it->second;
      last = span[e - 1].second;
    });
    out.append(raw.substr(last));
    return out;
  }

  std::string_view buf_;
  const OutboundPolicy& policy_;
  const MimeTree& tree_;
  std::vector<std::string> boundary_;       // per part: the boundary written out
  std::map<std::string, std::string> cid_;  // old Content-ID -> new (without brackets)
  std::string out_;
};

}  // namespace

bool is_generated_boundary(std::string_view b) {
  return b.size() == 34 && b.starts_with("=_") && all_in_alphabet(b.substr(2));
}

bool is_generated_content_id(std::string_view id, std::string_view public_domain) {
  return id.size() == 17 + public_domain.size() && id[16] == '@' &&
         all_in_alphabet(id.substr(0, 16)) && iequals(id.substr(17), public_domain);
}

std::string strip_directory(std::string_view name) {
  // '/' (Unix), '\' (Windows), ':' (drive letters, classic Mac OS paths).
  size_t cut = name.find_last_of("/\\:");
  if (cut == std::string_view::npos) return std::string(name);
  std::string_view base = name.substr(cut + 1);
  if (base.empty()) return "attachment";
  return std::string(base);
}

Result<std::string> sanitize_outbound(std::string_view message, const OutboundPolicy& policy) {
  if (!is_valid_domain(policy.public_domain)) return make_error("invalid public domain");
  for (const auto& r : policy.rewrites) {
    if (r.internal_domain.empty() || !is_valid_domain(r.public_domain)) {
      return make_error("invalid domain rewrite");
    }
  }
  auto tree = parse_mime(message, policy.limits);
  if (!tree) return make_error(tree.error());
  Sanitizer s(message, policy, *tree);
  auto out = s.run();
  if (!out) return out;
  // A line lengthened by a rewrite, or a construction this code did not foresee, must not go
  // out as a message the recipient's reader splits differently.
  if (auto again = parse_mime(*out, policy.limits); !again) {
    return make_error("sanitized message does not parse: " + again.error());
  }
  return out;
}

std::string new_boundary() {
  return "=_" + crypto::random_id() + crypto::random_id();
}

}  // namespace nj::mail
