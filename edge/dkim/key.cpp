#include "edge/dkim/key.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

namespace nj::edge::dkim {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

constexpr size_t kEd25519PublicBytes = 32;

std::string errno_text() {
  return std::strerror(errno);
}

// OpenSSL's default would ask for a passphrase on the terminal: an encrypted key is refused.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

std::string base64(const unsigned char* p, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int w = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(w > 0 ? static_cast<size_t>(w) : 0);
  return out;
}

// The Key of an OpenSSL key already checked for its type: the PKCS#8 PEM and the p= value.
Result<Key> make_key(EVP_PKEY* pkey, Algorithm a) {
  Key k;
  k.algorithm = a;
  k.bits = EVP_PKEY_get_bits(pkey);
  if (a == Algorithm::ed25519) {
    unsigned char pub[kEd25519PublicBytes];
    size_t n = sizeof pub;
    if (EVP_PKEY_get_raw_public_key(pkey, pub, &n) != 1 || n != sizeof pub)
      return make_error("cannot take the ed25519 public key");
    k.public_b64 = base64(pub, n);
  } else {
    int n = i2d_PUBKEY(pkey, nullptr);
    if (n <= 0) return make_error("cannot encode the RSA public key");
    std::string der(static_cast<size_t>(n), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_PUBKEY(pkey, &p) != n) return make_error("cannot encode the RSA public key");
    k.public_b64 = base64(reinterpret_cast<const unsigned char*>(der.data()), der.size());
  }
  // Secure memory: the BIO's buffer is cleansed when it is freed.
  BioPtr out(BIO_new(BIO_s_secmem()));
  if (!out ||
      PEM_write_bio_PKCS8PrivateKey(out.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return make_error("cannot encode the private key");
  char* data = nullptr;
  long len = BIO_get_mem_data(out.get(), &data);
  if (len <= 0 || data == nullptr) return make_error("cannot encode the private key");
  k.pem = crypto::SecureBytes(static_cast<size_t>(len) + 1);
  std::memcpy(k.pem.data(), data, static_cast<size_t>(len));
  return k;
}

}  // namespace

std::string_view algorithm_name(Algorithm a) {
  return a == Algorithm::ed25519 ? "ed25519" : "rsa";
}

Result<Key> parse_key(std::string_view pem, Algorithm expected) {
  if (pem.size() > kMaxKeyFileBytes) return make_error("too large for a DKIM key");
  if (pem.find("-----BEGIN ") == std::string_view::npos)
    return make_error("not a PEM private key (nightjarctl dkim keygen writes one)");
  if (pem.find("ENCRYPTED") != std::string_view::npos)
    return make_error("an encrypted key: the edge reads keys without a passphrase (mode 0600)");
  BioPtr in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!in) return make_error("out of memory");
  PkeyPtr pkey(PEM_read_bio_PrivateKey(in.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) return make_error("not a PEM private key (nightjarctl dkim keygen writes one)");
  int id = EVP_PKEY_get_base_id(pkey.get());
  std::string_view want = algorithm_name(expected);
  if (id == EVP_PKEY_ED25519) {
    if (expected != Algorithm::ed25519)
      return make_error("an ed25519 key, not " + std::string(want));
  } else if (id == EVP_PKEY_RSA) {
    if (expected != Algorithm::rsa) return make_error("an rsa key, not " + std::string(want));
    int bits = EVP_PKEY_get_bits(pkey.get());
    if (bits < kMinRsaBits || bits > kMaxRsaBits)
      return make_error("an RSA key of " + std::to_string(bits) + " bits: DKIM keys here have " +
                        std::to_string(kMinRsaBits) + " to " + std::to_string(kMaxRsaBits));
  } else {
    return make_error("neither an ed25519 nor an rsa key");
  }
  return make_key(pkey.get(), expected);
}

Result<Key> load_key(const std::string& path, Algorithm expected) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return make_error(path + ": cannot open: " + errno_text());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string e = errno_text();
    ::close(fd);
    return make_error(path + ": stat: " + e);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(path + ": not a regular file");
  }
  // A secret key, like the edge's own (common/crypto/keyfile.h).
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(path + ": secret key is accessible by group or others (mode " + mode +
                      "); run chmod 600 on it");
  }
  crypto::SecureBytes buf(kMaxKeyFileBytes + 1);
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::string e = errno_text();
      ::close(fd);
      return make_error(path + ": read: " + e);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  if (got > kMaxKeyFileBytes) return make_error(path + ": too large for a DKIM key");
  auto k = parse_key(buf.view().substr(0, got), expected);
  if (!k) return make_error(path + ": " + k.error());
  return k;
}

Result<Key> generate_key(Algorithm a, int rsa_bits) {
  EVP_PKEY* raw = nullptr;
  if (a == Algorithm::ed25519) {
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  } else {
    if (rsa_bits < kMinRsaBits || rsa_bits > kMaxRsaBits)
      return make_error("RSA keys have " + std::to_string(kMinRsaBits) + " to " +
                        std::to_string(kMaxRsaBits) + " bits");
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(rsa_bits));
  }
  PkeyPtr pkey(raw);
  if (!pkey) return make_error("key generation failed");
  return make_key(pkey.get(), a);
}

Status write_key(const std::string& path, const Key& key) {
  constexpr mode_t kMode = 0600;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kMode);
  if (fd < 0) {
    if (errno == EEXIST) return make_error(path + ": exists; a key is never overwritten");
    return make_error(path + ": cannot create: " + errno_text());
  }
  Status st;
  // The umask may have narrowed the mode; it must not have widened it, but set it exactly.
  if (::fchmod(fd, kMode) != 0) st = make_error(path + ": chmod: " + errno_text());
  const unsigned char* p = key.pem.data();
  size_t n = key.pem.empty() ? 0 : key.pem.size() - 1;  // without the NUL
  while (st && n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      st = make_error(path + ": write: " + errno_text());
      break;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  if (st && ::fsync(fd) != 0) st = make_error(path + ": fsync: " + errno_text());
  if (::close(fd) != 0 && st) st = make_error(path + ": close: " + errno_text());
  if (!st) ::unlink(path.c_str());
  return st;
}

std::string record_text(const Key& key) {
  return "v=DKIM1; k=" + std::string(algorithm_name(key.algorithm)) + "; p=" + key.public_b64;
}

std::string txt_record(std::string_view selector, std::string_view domain, const Key& key) {
  std::string text = record_text(key);
  std::string out = std::string(selector) + "._domainkey." + std::string(domain) + ". IN TXT";
  // Base64 and the tags hold no '"' or '\\': the strings need no escaping.
  for (size_t i = 0; i < text.size(); i += kMaxTxtString)
    out += " \"" + text.substr(i, kMaxTxtString) + "\"";
  return out;
}

bool valid_selector(std::string_view s) {
  constexpr size_t kMaxSelector = 63;
  if (s.empty() || s.size() > kMaxSelector) return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) dot = s.size();
    std::string_view label = s.substr(start, dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    start = dot + 1;
  }
  return true;
}

}  // namespace nj::edge::dkim
