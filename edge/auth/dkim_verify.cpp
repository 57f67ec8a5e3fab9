#include "edge/auth/dkim_verify.h"

// dkim.h is a C header that spells bool as C99's _Bool, which C++ lacks; the two have the same
// representation in the ABI.
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

#include <algorithm>
#include <cstring>

#include "common/base/log.h"
#include "common/mail/headers.h"

namespace nj::edge::auth {
namespace {

constexpr size_t kBPrefix = 8;  // RFC 6008 3: at least 8 characters of b=

bool valid_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (!valid_label_char(c) || ++label > 63) {
      return false;
    }
  }
  return label != 0;
}

std::string cstr(const unsigned char* p) {
  return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  return s;
}

DKIM_CBSTAT prescreen(DKIM* d, DKIM_SIGINFO** sigs, int n) {
  auto* self = static_cast<DkimMessage*>(dkim_get_user_context(d));
  if (!self) return DKIM_CBSTAT_ERROR;
  return self->prescreen(sigs, n);
}

DKIM_CBSTAT key_lookup(DKIM* d, DKIM_SIGINFO* sig, u_char* buf, size_t buflen) {
  auto* self = static_cast<DkimMessage*>(dkim_get_user_context(d));
  if (!self) return DKIM_CBSTAT_ERROR;
  return self->lookup_key(cstr(dkim_sig_getselector(sig)), cstr(dkim_sig_getdomain(sig)), buf,
                          buflen);
}

const char* algorithm_name(DKIM_SIGINFO* sig) {
  dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
  if (dkim_sig_getsignalg(sig, &alg) != DKIM_STAT_OK) return "";
  switch (alg) {
    case DKIM_SIGN_RSASHA1:
      return "rsa-sha1";
    case DKIM_SIGN_RSASHA256:
      return "rsa-sha256";
    case DKIM_SIGN_ED25519SHA256:
      return "ed25519-sha256";
    default:
      return "";
  }
}

// RFC 8601 2.7.1 results for what libopendkim reports about a signature that did not pass.
DkimReport judge(int error, int bh, DkimReport r) {
  switch (error) {
    case DKIM_SIGERROR_OK:
      if (bh == DKIM_SIGBH_MISMATCH) {
        r.result = DkimResult::fail;
        r.comment = "body hash mismatch";
      } else {
        r.result = DkimResult::fail;
        r.comment = "bad signature";
      }
      return r;
    case DKIM_SIGERROR_BADSIG:
      r.result = DkimResult::fail;
      r.comment = bh == DKIM_SIGBH_MISMATCH ? "body hash mismatch" : "bad signature";
      return r;
    case DKIM_SIGERROR_EXPIRED:
      r.result = DkimResult::fail;
      r.comment = "signature expired";
      return r;
    case DKIM_SIGERROR_FUTURE:
    case DKIM_SIGERROR_TIMESTAMPS:
      r.result = DkimResult::fail;
      r.comment = "bad timestamps";
      return r;
    case DKIM_SIGERROR_KEYFAIL:
      r.result = DkimResult::temperror;
      r.comment = "key lookup failed";
      return r;
    case DKIM_SIGERROR_NOKEY:
      r.result = DkimResult::permerror;
      r.comment = "no key";
      return r;
    case DKIM_SIGERROR_KEYREVOKED:
      r.result = DkimResult::permerror;
      r.comment = "key revoked";
      return r;
    case DKIM_SIGERROR_KEYTOOSMALL:
      r.result = DkimResult::permerror;
      r.comment = "key too small";
      return r;
    case DKIM_SIGERROR_DNSSYNTAX:
    case DKIM_SIGERROR_MULTIREPLY:
    case DKIM_SIGERROR_KEYVERSION:
    case DKIM_SIGERROR_KEYUNKNOWNHASH:
    case DKIM_SIGERROR_KEYHASHMISMATCH:
    case DKIM_SIGERROR_NOTEMAILKEY:
    case DKIM_SIGERROR_KEYTYPEMISSING:
    case DKIM_SIGERROR_KEYTYPEUNKNOWN:
    case DKIM_SIGERROR_KEYDECODE:
      r.result = DkimResult::permerror;
      r.comment = "bad key";
      return r;
    default:
      // Syntax: a missing or malformed tag, an unsupported version or algorithm.
      r.result = DkimResult::neutral;
      r.comment = "bad signature syntax";
      return r;
  }
}

}  // namespace

std::string dkim_key_name(std::string_view selector, std::string_view domain) {
  if (!valid_name(selector) || !valid_name(domain)) return {};
  std::string name = lower(std::string(selector)) + "._domainkey." + lower(std::string(domain));
  return valid_name(name) ? name : std::string();
}

Result<std::shared_ptr<const DkimLibrary>> DkimLibrary::create() {
  std::shared_ptr<DkimLibrary> l(new DkimLibrary());
  l->lib_ = dkim_init(nullptr, nullptr);
  if (!l->lib_) return make_error("libopendkim: dkim_init failed");
  // Signatures with syntax errors still get a handle, so that they are reported.
  unsigned int flags = DKIM_LIBFLAGS_BADSIGHANDLES;
  if (dkim_options(l->lib_, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK)
    return make_error("libopendkim: cannot set options");
  if (dkim_set_key_lookup(l->lib_, key_lookup) != DKIM_STAT_OK ||
      dkim_set_prescreen(l->lib_, prescreen) != DKIM_STAT_OK)
    return make_error("libopendkim: cannot set the key lookup");
  return std::shared_ptr<const DkimLibrary>(std::move(l));
}

DkimLibrary::~DkimLibrary() {
  if (lib_) dkim_close(lib_);
}

DkimMessage::~DkimMessage() = default;

// Feeds the header section to a new verifying handle and ends it; nullptr when libopendkim
// refuses the section.
DKIM* DkimMessage::open(const DkimLibrary& lib, std::string_view message, std::string_view log_id,
                        size_t* body_offset) {
  auto hs = mail::parse_headers(message);
  if (!hs) return nullptr;
  *body_offset = hs->body_offset;
  std::string id(log_id);
  DKIM_STAT st = DKIM_STAT_OK;
  DKIM* d = dkim_verify(lib.handle(), reinterpret_cast<const u_char*>(id.c_str()), nullptr, &st);
  if (!d) return nullptr;
  dkim_set_user_context(d, this);
  for (const auto& f : hs->fields) {
    std::string_view raw = f.raw;
    if (raw.size() >= 2) raw.remove_suffix(2);  // the final CRLF; inner folding stays
    std::string copy(raw);
    if (dkim_header(d, reinterpret_cast<u_char*>(copy.data()), copy.size()) != DKIM_STAT_OK) {
      dkim_free(d);
      return nullptr;
    }
  }
  eoh_status_ = dkim_eoh(d);
  return d;
}

std::unique_ptr<DkimMessage> DkimMessage::start(std::shared_ptr<const DkimLibrary> lib,
                                                std::string_view message, std::string_view log_id) {
  std::unique_ptr<DkimMessage> m(new DkimMessage());
  m->lib_ = std::move(lib);
  m->log_id_ = std::string(log_id);
  // A first pass over the header section only lists the signatures: the prescreen hook ignores
  // them all, so libopendkim looks up no key yet (it would at the end of the header section).
  m->discovering_ = true;
  size_t body_offset = 0;
  DKIM* d = m->open(*m->lib_, message, log_id, &body_offset);
  m->discovering_ = false;
  if (!d) {
    m->header_failed_ = true;
    return m;
  }
  DKIM_SIGINFO** list = nullptr;
  int n = 0;
  // eoh says NOSIG here (every signature is ignored), but the list is there.
  if (dkim_getsiglist(d, &list, &n) != DKIM_STAT_OK || n <= 0) {
    dkim_free(d);
    return m;
  }
  for (int i = 0; i < n && static_cast<size_t>(i) < kMaxSignatures; ++i) {
    DKIM_SIGINFO* sig = list[i];
    Sig s;
    s.report.domain = cstr(dkim_sig_getdomain(sig));
    s.report.selector = cstr(dkim_sig_getselector(sig));
    s.report.algorithm = algorithm_name(sig);
    std::string b =
        cstr(dkim_sig_gettagvalue(sig, false, reinterpret_cast<u_char*>(const_cast<char*>("b"))));
    for (char c : b) {
      if (s.report.b_prefix.size() >= kBPrefix) break;
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') s.report.b_prefix += c;
    }
    int err = dkim_sig_geterror(sig);
    if (err != DKIM_SIGERROR_OK && err != DKIM_SIGERROR_UNKNOWN) {
      // libopendkim refused the signature while reading it: no key is needed to judge it.
      s.report = judge(err, dkim_sig_getbh(sig), s.report);
      s.final = true;
    } else {
      s.key_name = dkim_key_name(s.report.selector, s.report.domain);
      if (s.key_name.empty()) {
        s.report.result = DkimResult::neutral;
        s.report.comment = "bad signature syntax";
        s.final = true;
      } else if (std::find(m->key_names_.begin(), m->key_names_.end(), s.key_name) ==
                 m->key_names_.end()) {
        m->key_names_.push_back(s.key_name);
      }
    }
    m->sigs_.push_back(std::move(s));
  }
  dkim_free(d);
  return m;
}

int DkimMessage::prescreen(void* sigs, int n) {
  auto** list = static_cast<DKIM_SIGINFO**>(sigs);
  for (int i = 0; i < n; ++i)
    if (discovering_ || static_cast<size_t>(i) >= kMaxSignatures) dkim_sig_ignore(list[i]);
  return DKIM_CBSTAT_CONTINUE;
}

void DkimMessage::set_key(const std::string& name, const dns::Answer& answer) {
  keys_[name] = answer;
}

int DkimMessage::lookup_key(std::string_view selector, std::string_view domain, unsigned char* buf,
                            size_t buflen) {
  std::string name = dkim_key_name(selector, domain);
  auto it = keys_.find(name);
  if (name.empty() || it == keys_.end()) return DKIM_CBSTAT_NOTFOUND;
  // Anything but a usable record is "not found" to libopendkim: its other answers (try again,
  // error) abandon every signature of the message, not just this one. finish() tells the
  // signature's real story from keys_.
  const dns::Answer& a = it->second;
  if (a.status != dns::Status::ok || a.txt.empty()) return DKIM_CBSTAT_NOTFOUND;
  // RFC 6376 6.1.2: with several records a verifier may choose one; the first is taken.
  const std::string& rec = a.txt.front();
  size_t cap = std::min(buflen, kMaxKeyRecord + 1);
  if (rec.size() + 1 > cap) return DKIM_CBSTAT_NOTFOUND;
  std::memcpy(buf, rec.data(), rec.size());
  buf[rec.size()] = '\0';
  return DKIM_CBSTAT_CONTINUE;
}

std::vector<DkimReport> DkimMessage::finish(std::string_view message) {
  std::vector<DkimReport> out;
  if (header_failed_) {
    DkimReport r;
    r.result = DkimResult::permerror;
    r.comment = "header section not processed";
    out.push_back(std::move(r));
    return out;
  }
  if (sigs_.empty()) return out;
  // The second pass: the same header section, the keys now at hand, then the body.
  size_t body_offset = 0;
  DKIM* d = nullptr;
  bool live = std::any_of(sigs_.begin(), sigs_.end(), [](const Sig& s) { return !s.final; });
  if (live) d = open(*lib_, message, log_id_, &body_offset);
  DKIM_SIGINFO** list = nullptr;
  int n = 0;
  if (d && dkim_getsiglist(d, &list, &n) == DKIM_STAT_OK) {
    std::string_view body = message.substr(std::min(body_offset, message.size()));
    // libopendkim reads the body in place without keeping or changing it, but its interface
    // takes a non-const pointer, so it gets a private copy in bounded chunks.
    std::string chunk;
    constexpr size_t kChunk = 64 * 1024;
    DKIM_STAT st = DKIM_STAT_OK;
    for (size_t off = 0; off < body.size() && st == DKIM_STAT_OK; off += kChunk) {
      chunk.assign(body.substr(off, kChunk));
      st = dkim_body(d, reinterpret_cast<u_char*>(chunk.data()), chunk.size());
    }
    // Every evaluated signature's verdict is read from its DKIM_SIGINFO below; eom's status
    // only says how the "best" one did.
    if (st == DKIM_STAT_OK) (void)dkim_eom(d, nullptr);
  }
  for (size_t i = 0; i < sigs_.size(); ++i) {
    Sig& s = sigs_[i];
    if (s.final) {
      out.push_back(s.report);
      continue;
    }
    auto key = keys_.find(s.key_name);
    if (static_cast<int>(i) >= n || !list) {
      s.report.result = DkimResult::permerror;
      s.report.comment = "not processed";
      out.push_back(s.report);
      continue;
    }
    DKIM_SIGINFO* sig = list[i];
    unsigned flags = dkim_sig_getflags(sig);
    int bh = dkim_sig_getbh(sig);
    if ((flags & DKIM_SIGFLAG_PASSED) && bh == DKIM_SIGBH_MATCH) {
      s.report.result = DkimResult::pass;
    } else if (key == keys_.end() || dns::is_temporary(key->second.status) ||
               key->second.status == dns::Status::error) {
      s.report.result = DkimResult::temperror;
      s.report.comment = "key lookup failed";
    } else if (key->second.status == dns::Status::ok && !key->second.txt.empty() &&
               key->second.txt.front().size() > kMaxKeyRecord) {
      s.report.result = DkimResult::permerror;
      s.report.comment = "key record too large";
    } else if (!(flags & DKIM_SIGFLAG_PROCESSED) && dkim_sig_geterror(sig) == DKIM_SIGERROR_OK) {
      s.report.result = DkimResult::permerror;
      s.report.comment = "not processed";
    } else {
      s.report = judge(dkim_sig_geterror(sig), bh, s.report);
    }
    out.push_back(s.report);
  }
  if (d) dkim_free(d);
  return out;
}

}  // namespace nj::edge::auth
