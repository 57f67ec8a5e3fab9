#define BOOST_TEST_MODULE edge_dkim
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "edge/dkim/key.h"
#include "edge/dkim/opendkim.h"
#include "edge/dkim/signer.h"

namespace fs = std::filesystem;
using nj::edge::dkim::Algorithm;
using nj::edge::dkim::Key;
using nj::edge::dkim::Signer;
using nj::edge::dkim::SigningKey;

namespace {

// RFC 8463 Appendix A's key: its secret seed as PKCS#8 (the fixed DER prefix of an Ed25519
// PrivateKeyInfo, RFC 8410 7, then the 32 octets) and the p= the RFC publishes for it.
constexpr const char* kRfc8463Seed = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
constexpr const char* kRfc8463Public = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

std::string rfc8463_pem() {
  unsigned char seed[33];
  BOOST_REQUIRE_EQUAL(EVP_DecodeBlock(seed, reinterpret_cast<const unsigned char*>(kRfc8463Seed),
                                      static_cast<int>(std::strlen(kRfc8463Seed))),
                      33);  // 32 octets and the padding's zero
  const unsigned char prefix[] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                  0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
  unsigned char der[sizeof prefix + 32];
  std::memcpy(der, prefix, sizeof prefix);
  std::memcpy(der + sizeof prefix, seed, 32);
  unsigned char b64[80];
  int n = EVP_EncodeBlock(b64, der, sizeof der);
  return "-----BEGIN PRIVATE KEY-----\n" + std::string(reinterpret_cast<char*>(b64), n) +
         "\n-----END PRIVATE KEY-----\n";
}

Key ed_key() {
  auto k = nj::edge::dkim::parse_key(rfc8463_pem(), Algorithm::ed25519);
  BOOST_REQUIRE_MESSAGE(k.ok(), (k.ok() ? "" : k.error()));
  return std::move(*k);
}

// One RSA key for the whole run (making one takes a while).
const Key& rsa_key() {
  static Key k = [] {
    auto r = nj::edge::dkim::generate_key(Algorithm::rsa, 2048);
    BOOST_REQUIRE(r.ok());
    return std::move(*r);
  }();
  return k;
}

Key copy(const Key& k) {
  std::string pem(k.pem.view().substr(0, k.pem.size() - 1));
  auto r = nj::edge::dkim::parse_key(pem, k.algorithm);
  BOOST_REQUIRE(r.ok());
  return std::move(*r);
}

// What the sanitizer hands over, plus a Received field above it (which is never signed).
const std::string kMessage =
    "Received: from example.org by mx.example.org with ESMTPA id x; Thu, 01 Jan 2026\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: <bob@dest.test>\r\n"
    "Subject: signed at the edge\r\n"
    "Date: Thu, 01 Jan 2026 10:00:00 +0000\r\n"
    "Message-ID: <abc@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "the body.\r\n";
constexpr std::time_t kNow = 1767261600;  // 2026-01-01 10:00:00 UTC, the Date above

// The records the verifier's key lookup answers, by "selector._domainkey.domain".
std::map<std::string, std::string>& records() {
  static std::map<std::string, std::string> r;
  return r;
}

void publish(const std::string& selector, const std::string& domain, const Key& k) {
  records()[selector + "._domainkey." + domain] = nj::edge::dkim::record_text(k);
}

DKIM_CBSTAT lookup(DKIM*, DKIM_SIGINFO* sig, u_char* buf, size_t buflen) {
  std::string name = std::string(reinterpret_cast<char*>(dkim_sig_getselector(sig))) +
                     "._domainkey." + reinterpret_cast<char*>(dkim_sig_getdomain(sig));
  auto it = records().find(name);
  if (it == records().end() || it->second.size() + 1 > buflen) return DKIM_CBSTAT_NOTFOUND;
  std::memcpy(buf, it->second.c_str(), it->second.size() + 1);
  return DKIM_CBSTAT_CONTINUE;
}

struct Verdict {
  std::string alg;  // "ed25519-sha256", "rsa-sha256"
  bool pass = false;
};

// OpenDKIM's verifier over `message`: one verdict per signature, in order.
std::vector<Verdict> verify(const std::string& message) {
  DKIM_LIB* lib = dkim_init(nullptr, nullptr);
  BOOST_REQUIRE(lib != nullptr);
  BOOST_REQUIRE_EQUAL(dkim_set_key_lookup(lib, lookup), DKIM_STAT_OK);
  // The signatures' t= is in 2026; the verifier's clock must not find them from the future.
  std::uint64_t now = static_cast<std::uint64_t>(kNow) + 60;
  BOOST_REQUIRE_EQUAL(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &now, sizeof now),
                      DKIM_STAT_OK);
  DKIM_STAT st;
  DKIM* d = dkim_verify(lib, reinterpret_cast<const u_char*>("test"), nullptr, &st);
  BOOST_REQUIRE(d != nullptr);
  std::string m = message;
  BOOST_REQUIRE_EQUAL(dkim_chunk(d, reinterpret_cast<u_char*>(m.data()), m.size()), DKIM_STAT_OK);
  BOOST_REQUIRE_EQUAL(dkim_chunk(d, nullptr, 0), DKIM_STAT_OK);
  (void)dkim_eom(d, nullptr);
  DKIM_SIGINFO** sigs = nullptr;
  int n = 0;
  std::vector<Verdict> out;
  if (dkim_getsiglist(d, &sigs, &n) == DKIM_STAT_OK) {
    for (int i = 0; i < n; ++i) {
      Verdict v;
      dkim_alg_t alg;
      BOOST_REQUIRE_EQUAL(dkim_sig_getsignalg(sigs[i], &alg), DKIM_STAT_OK);
      v.alg = alg == DKIM_SIGN_ED25519SHA256 ? "ed25519-sha256"
              : alg == DKIM_SIGN_RSASHA256   ? "rsa-sha256"
                                             : "other";
      v.pass = DKIM_SIG_CHECK(sigs[i]);
      out.push_back(v);
    }
  }
  dkim_free(d);
  dkim_close(lib);
  return out;
}

std::unique_ptr<Signer> signer(std::vector<std::pair<std::string, const Key*>> keys) {
  std::vector<SigningKey> v;
  for (auto& [sel, k] : keys) v.push_back({"example.org", sel, copy(*k)});
  auto s = Signer::create(std::move(v));
  BOOST_REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error()));
  return std::move(*s);
}

std::string signed_message(Signer& s, const std::string& message = kMessage) {
  auto sig = s.sign(message, kNow);
  BOOST_REQUIRE_MESSAGE(sig.ok(), (sig.ok() ? "" : sig.error()));
  return *sig + message;
}

// The value of tag `t` of the first DKIM-Signature in `m` (unfolded, white space removed).
std::string tag(const std::string& m, const std::string& t) {
  size_t at = m.find("DKIM-Signature:");
  BOOST_REQUIRE(at != std::string::npos);
  size_t end = m.find("\r\n", at);
  while (end != std::string::npos && end + 2 < m.size() &&
         (m[end + 2] == ' ' || m[end + 2] == '\t'))
    end = m.find("\r\n", end + 2);
  std::string v;
  for (char c : m.substr(at + 15, end - at - 15))
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') v += c;
  std::smatch mt;
  if (!std::regex_search(v, mt, std::regex("(^|;)" + t + "=([^;]*)"))) return "(absent)";
  return mt[2];
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(rfc8463_key_gives_the_published_public_key) {
  Key k = ed_key();
  BOOST_CHECK_EQUAL(k.public_b64, kRfc8463Public);
  BOOST_CHECK_EQUAL(nj::edge::dkim::txt_record("brisbane", "football.example.com", k),
                    std::string("brisbane._domainkey.football.example.com. IN TXT "
                                "\"v=DKIM1; k=ed25519; p=") +
                        kRfc8463Public + "\"");
}

BOOST_AUTO_TEST_CASE(ed25519_signature_verifies_and_an_altered_message_fails) {
  Key k = ed_key();
  publish("ed", "example.org", k);
  auto s = signer({{"ed", &k}});
  std::string m = signed_message(*s);
  auto v = verify(m);
  BOOST_REQUIRE_EQUAL(v.size(), 1u);
  BOOST_CHECK_EQUAL(v[0].alg, "ed25519-sha256");
  BOOST_CHECK(v[0].pass);
  // Relaxed canonicalization: re-folding white space in a signed field still verifies.
  std::string refolded = m;
  refolded.replace(refolded.find("Subject: signed"), 15, "Subject:  signed");
  BOOST_CHECK(verify(refolded)[0].pass);
  // A changed body, a changed signed field: both fail.
  std::string body = m;
  body.replace(body.find("the body."), 9, "the b0dy.");
  BOOST_CHECK(!verify(body)[0].pass);
  std::string subject = m;
  subject.replace(subject.find("signed at the edge"), 6, "SIGNED");
  BOOST_CHECK(!verify(subject)[0].pass);
  // A second From: above the signed one (From is oversigned): fails.
  std::string from = m;
  from.insert(from.find("From: Alice"), "From: <mallory@evil.test>\r\n");
  BOOST_CHECK(!verify(from)[0].pass);
  // A field added in transit (not signed) leaves it valid.
  BOOST_CHECK(verify("Received: from a by b; Thu, 01 Jan 2026\r\n" + m)[0].pass);
}

BOOST_AUTO_TEST_CASE(rsa_signature_verifies_and_an_altered_body_fails) {
  publish("rsa", "example.org", rsa_key());
  auto s = signer({{"rsa", &rsa_key()}});
  std::string m = signed_message(*s);
  auto v = verify(m);
  BOOST_REQUIRE_EQUAL(v.size(), 1u);
  BOOST_CHECK_EQUAL(v[0].alg, "rsa-sha256");
  BOOST_CHECK(v[0].pass);
  std::string body = m;
  body.replace(body.find("Hello Bob"), 9, "Hello Eve");
  BOOST_CHECK(!verify(body)[0].pass);
}

BOOST_AUTO_TEST_CASE(both_keys_give_two_signatures_that_verify_on_their_own) {
  Key k = ed_key();
  publish("ed", "example.org", k);
  publish("rsa", "example.org", rsa_key());
  auto s = signer({{"ed", &k}, {"rsa", &rsa_key()}});
  std::string m = signed_message(*s);
  auto v = verify(m);
  BOOST_REQUIRE_EQUAL(v.size(), 2u);
  BOOST_CHECK_EQUAL(v[0].alg, "ed25519-sha256");
  BOOST_CHECK_EQUAL(v[1].alg, "rsa-sha256");
  BOOST_CHECK(v[0].pass && v[1].pass);
  // A verifier that knows only rsa: the rsa signature stands alone.
  records().erase("ed._domainkey.example.org");
  v = verify(m);
  BOOST_REQUIRE_EQUAL(v.size(), 2u);
  BOOST_CHECK(!v[0].pass && v[1].pass);
  publish("ed", "example.org", k);
}

BOOST_AUTO_TEST_CASE(signature_tags_and_signed_fields) {
  Key k = ed_key();
  auto s = signer({{"ed", &k}});
  std::string m = signed_message(*s);
  BOOST_CHECK_EQUAL(m.rfind("DKIM-Signature: ", 0), 0u);
  BOOST_CHECK_EQUAL(tag(m, "v"), "1");
  BOOST_CHECK_EQUAL(tag(m, "a"), "ed25519-sha256");
  BOOST_CHECK_EQUAL(tag(m, "c"), "relaxed/relaxed");
  BOOST_CHECK_EQUAL(tag(m, "d"), "example.org");
  BOOST_CHECK_EQUAL(tag(m, "s"), "ed");
  BOOST_CHECK_EQUAL(tag(m, "t"), std::to_string(kNow));
  BOOST_CHECK_EQUAL(tag(m, "x"), "(absent)");
  BOOST_CHECK_EQUAL(tag(m, "l"), "(absent)");
  // The fields present, From once more (oversigned); never Received.
  // (h= names the fields as the message spells them; names are case-insensitive)
  BOOST_CHECK_EQUAL(lower(tag(m, "h")),
                    "from:to:subject:date:message-id:mime-version:content-type:from");
  // Every line of the field ends in CRLF and fits a mail line.
  std::string field = m.substr(0, m.find("\r\nReceived:") + 2);
  BOOST_CHECK(field.find('\n') != std::string::npos);
  for (size_t i = 0; i < field.size(); ++i)
    if (field[i] == '\n') BOOST_CHECK(i > 0 && field[i - 1] == '\r');
  // Cc, Reply-To, In-Reply-To, References are signed when present.
  std::string more = kMessage;
  more.insert(more.find("Subject:"),
              "Cc: <c@dest.test>\r\nReply-To: <r@example.org>\r\nIn-Reply-To: <p@dest.test>\r\n"
              "References: <p@dest.test>\r\nContent-Transfer-Encoding: 8bit\r\n");
  std::string h = lower(tag(signed_message(*s, more), "h"));
  for (const char* f : {"cc", "reply-to", "in-reply-to", "references", "content-transfer-encoding"})
    BOOST_CHECK_MESSAGE(h.find(f) != std::string::npos, f << " not in h=" << h);
  // The same bytes at the same second: the same signature (ed25519 and RSA PKCS#1 v1.5 are
  // deterministic), so signing again at a retry changes nothing but what the message changed.
  BOOST_CHECK_EQUAL(signed_message(*s), m);
}

BOOST_AUTO_TEST_CASE(other_from_domains_are_not_signed) {
  Key k = ed_key();
  auto s = signer({{"ed", &k}});
  auto foreign = kMessage;
  foreign.replace(foreign.find("alice@example.org"), 17, "alice@example.net");
  auto r = s->sign(foreign, kNow);
  BOOST_REQUIRE(r.ok());
  BOOST_CHECK_EQUAL(*r, "");
  // A subdomain is another domain.
  auto sub = kMessage;
  sub.replace(sub.find("alice@example.org"), 17, "alice@sub.example.org");
  BOOST_CHECK_EQUAL(*s->sign(sub, kNow), "");
  // Two authors, or no From at all: nobody's to sign.
  auto two = kMessage;
  two.replace(two.find("Alice <alice@example.org>"), 25, "<a@example.org>, <b@example.org>");
  BOOST_CHECK_EQUAL(*s->sign(two, kNow), "");
  auto none = kMessage;
  none.erase(none.find("From:"), none.find("To:") - none.find("From:"));
  BOOST_CHECK_EQUAL(*s->sign(none, kNow), "");
  // The domain's case does not matter.
  auto upper = kMessage;
  upper.replace(upper.find("alice@example.org"), 17, "alice@EXAMPLE.Org");
  BOOST_CHECK(!s->sign(upper, kNow)->empty());
}

BOOST_AUTO_TEST_CASE(key_files_are_checked) {
  using nj::edge::dkim::parse_key;
  BOOST_CHECK(!parse_key("x\n", Algorithm::ed25519).ok());
  auto wrong = parse_key(rfc8463_pem(), Algorithm::rsa);
  BOOST_REQUIRE(!wrong.ok());
  BOOST_CHECK_EQUAL(wrong.error(), "an ed25519 key, not rsa");
  std::string rsa_pem(rsa_key().pem.view().substr(0, rsa_key().pem.size() - 1));
  BOOST_CHECK_EQUAL(parse_key(rsa_pem, Algorithm::ed25519).error(), "an rsa key, not ed25519");
  EVP_PKEY* small = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024));
  BOOST_REQUIRE(small != nullptr);
  BIO* b = BIO_new(BIO_s_mem());
  BOOST_REQUIRE(PEM_write_bio_PrivateKey(b, small, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(b, &data);
  auto r = parse_key(std::string(data, static_cast<size_t>(len)), Algorithm::rsa);
  BIO_free(b);
  EVP_PKEY_free(small);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK_EQUAL(r.error(), "an RSA key of 1024 bits: DKIM keys here have 2048 to 4096");

  // Written 0600, never over an existing file, read back the same; a key others can read is
  // refused.
  char tmpl[] = "/tmp/nj-dkim-XXXXXX";
  BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
  fs::path dir = tmpl;
  std::string path = (dir / "dkim.key").string();
  BOOST_REQUIRE(nj::edge::dkim::write_key(path, rsa_key()).ok());
  struct stat st;
  BOOST_REQUIRE(stat(path.c_str(), &st) == 0);
  BOOST_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  auto again = nj::edge::dkim::write_key(path, rsa_key());
  BOOST_REQUIRE(!again.ok());
  BOOST_CHECK_EQUAL(again.error(), path + ": exists; a key is never overwritten");
  auto back = nj::edge::dkim::load_key(path, Algorithm::rsa);
  BOOST_REQUIRE(back.ok());
  BOOST_CHECK_EQUAL(back->public_b64, rsa_key().public_b64);
  BOOST_CHECK_EQUAL(back->bits, 2048);
  chmod(path.c_str(), 0640);
  BOOST_CHECK(!nj::edge::dkim::load_key(path, Algorithm::rsa).ok());
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(rsa_records_are_split_into_strings_of_255_octets) {
  std::string rec = nj::edge::dkim::txt_record("s1", "example.org", rsa_key());
  BOOST_CHECK_EQUAL(rec.rfind("s1._domainkey.example.org. IN TXT \"v=DKIM1; k=rsa; p=", 0), 0u);
  std::string joined;
  size_t strings = 0;
  for (size_t at = rec.find('"'); at != std::string::npos;) {
    size_t end = rec.find('"', at + 1);
    BOOST_REQUIRE(end != std::string::npos);
    BOOST_CHECK_LE(end - at - 1, 255u);
    joined += rec.substr(at + 1, end - at - 1);
    ++strings;
    at = rec.find('"', end + 1);
  }
  BOOST_CHECK_EQUAL(strings, 2u);
  BOOST_CHECK_EQUAL(joined, nj::edge::dkim::record_text(rsa_key()));
}
