#include "edge/dkim/signer.h"

#include <cstdint>
#include <cstring>
#include <iterator>

#include "common/mail/address_list.h"
#include "common/mail/headers.h"
#include "edge/dkim/opendkim.h"

namespace nj::edge::dkim {

namespace {

// "DKIM-Signature: ": the width of the field's first line before the value OpenDKIM folds.
constexpr std::string_view kFieldName = "DKIM-Signature: ";

// What each key signs once at start-up (create): a message like those the sanitizer writes.
constexpr std::string_view kProbe =
    "From: <probe@probe.invalid>\r\nTo: <probe@probe.invalid>\r\nSubject: probe\r\n"
    "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <probe@probe.invalid>\r\n\r\nprobe\r\n";

// NULL-terminated lists as OpenDKIM's options take them; it copies what it keeps.
const char* const kSignedList[] = {
    kSignedFields[0],  kSignedFields[1],  kSignedFields[2], kSignedFields[3], kSignedFields[4],
    kSignedFields[5],  kSignedFields[6],  kSignedFields[7], kSignedFields[8], kSignedFields[9],
    kSignedFields[10], kSignedFields[11], nullptr};
static_assert(std::size(kSignedList) == std::size(kSignedFields) + 1);
const char* const kOversignList[] = {"from", nullptr};

std::string problem(std::string_view what, DKIM_STAT st) {
  const char* s = dkim_getresultstr(st);
  return std::string(what) + ": " + (s ? s : "unknown OpenDKIM error");
}

struct DkimFree {
  void operator()(DKIM* d) const { dkim_free(d); }
};

// OpenDKIM folds its header with bare LFs (a milter's convention); the message is CRLF.
std::string crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') continue;
    if (s[i] == '\n') {
      out += "\r\n";
      continue;
    }
    out += s[i];
  }
  return out;
}

}  // namespace

std::string from_domain(std::string_view message) {
  auto h = mail::parse_headers(message);
  if (!h || h->count("From") != 1) return {};
  auto list = mail::parse_mailbox_list(h->find("From")->unfolded());
  if (!list || list->size() != 1) return {};
  const std::string& d = list->front().domain;
  // An address literal is nobody's signing domain.
  if (d.empty() || d.front() == '[') return {};
  return d;  // parse_mailbox_list lowercases it
}

Result<std::unique_ptr<Signer>> Signer::create(std::vector<SigningKey> keys) {
  std::unique_ptr<Signer> s(new Signer(std::move(keys)));
  s->lib_ = dkim_init(nullptr, nullptr);
  if (s->lib_ == nullptr) return make_error("dkim: OpenDKIM's library did not start");
  unsigned int flags = DKIM_LIBFLAGS_FIXCRLF;
  DKIM_STAT st = dkim_options(s->lib_, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
  if (st == DKIM_STAT_OK)
    st = dkim_options(s->lib_, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, const_cast<char**>(kSignedList),
                      sizeof(char**));
  if (st == DKIM_STAT_OK)
    st = dkim_options(s->lib_, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
                      const_cast<char**>(kOversignList), sizeof(char**));
  if (st != DKIM_STAT_OK) return make_error(problem("dkim: setting up OpenDKIM", st));
  for (const auto& k : s->keys_) {
    if (k.key.algorithm == Algorithm::ed25519 && !dkim_libfeature(s->lib_, DKIM_FEATURE_ED25519))
      return make_error("dkim: this OpenDKIM library cannot sign with ed25519");
    auto probe = s->sign_with(k, kProbe, 0);
    if (!probe)
      return make_error("dkim: the key of selector " + k.selector + " of " + k.domain +
                        " does not sign: " + probe.error());
  }
  return s;
}

Signer::~Signer() {
  if (lib_ != nullptr) dkim_close(lib_);
}

bool Signer::signs(std::string_view domain) const {
  for (const auto& k : keys_)
    if (k.domain == domain) return true;
  return false;
}

Result<std::string> Signer::sign(std::string_view message, std::time_t now) {
  std::string domain = from_domain(message);
  if (domain.empty() || !signs(domain)) return std::string();
  std::string out;
  for (const auto& k : keys_) {
    if (k.domain != domain) continue;
    auto one = sign_with(k, message, now);
    if (!one) return make_error(one.error());
    out += *one;
  }
  return out;
}

Result<std::string> Signer::sign_with(const SigningKey& k, std::string_view message,
                                      std::time_t now) {
  // t= is the caller's clock (the second of the message's Date), not OpenDKIM's time().
  std::uint64_t fixed = static_cast<std::uint64_t>(now);
  DKIM_STAT st = dkim_options(lib_, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &fixed, sizeof fixed);
  if (st != DKIM_STAT_OK) return make_error(problem("setting t=", st));
  dkim_alg_t alg =
      k.key.algorithm == Algorithm::ed25519 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256;
  // The id only names the message in OpenDKIM's own messages, which are not logged.
  std::unique_ptr<DKIM, DkimFree> d(
      dkim_sign(lib_, reinterpret_cast<const unsigned char*>("nightjar"), nullptr,
                const_cast<unsigned char*>(k.key.pem.data()),
                reinterpret_cast<const unsigned char*>(k.selector.c_str()),
                reinterpret_cast<const unsigned char*>(k.domain.c_str()), DKIM_CANON_RELAXED,
                DKIM_CANON_RELAXED, alg, -1, &st));
  if (!d) return make_error(problem("starting a signature", st));
  auto* data = reinterpret_cast<unsigned char*>(const_cast<char*>(message.data()));
  st = dkim_chunk(d.get(), data, message.size());
  if (st == DKIM_STAT_OK) st = dkim_chunk(d.get(), nullptr, 0);
  if (st == DKIM_STAT_OK) st = dkim_eom(d.get(), nullptr);
  if (st != DKIM_STAT_OK) return make_error(problem("signing", st));
  unsigned char* value = nullptr;
  size_t len = 0;
  st = dkim_getsighdr_d(d.get(), kFieldName.size(), &value, &len);
  if (st != DKIM_STAT_OK || value == nullptr) return make_error(problem("signature field", st));
  return std::string(kFieldName) +
         crlf(std::string_view(reinterpret_cast<const char*>(value), len)) + "\r\n";
}

}  // namespace nj::edge::dkim
