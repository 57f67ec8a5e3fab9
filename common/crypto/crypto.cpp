#include "common/crypto/crypto.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace nj::crypto {

static_assert(kSealOverhead == crypto_box_SEALBYTES);
static_assert(kKeyBytes == crypto_box_PUBLICKEYBYTES && kKeyBytes == crypto_box_SECRETKEYBYTES);
static_assert(kAeadOverhead == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                                   crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kSaltBytes == crypto_pwhash_SALTBYTES);
static_assert(kKdfContextBytes == crypto_kdf_CONTEXTBYTES);
static_assert(kKeyBytes == crypto_kdf_KEYBYTES);

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) {
      std::fputs("nightjar: libsodium failed to initialise\n", stderr);
      std::abort();
    }
  });
}

// ---- SecureBytes ----

SecureBytes::SecureBytes(size_t n) : n_(n) {
  init();
  // sodium_malloc(0) may return null; keep a live allocation so data() is always valid.
  p_ = static_cast<unsigned char*>(sodium_malloc(n == 0 ? 1 : n));
  if (!p_) {
    std::fputs("nightjar: sodium_malloc failed\n", stderr);
    std::abort();
  }
  sodium_memzero(p_, n == 0 ? 1 : n);
}

SecureBytes SecureBytes::copy_of(std::string_view s) {
  SecureBytes b(s.size());
  if (!s.empty()) std::memcpy(b.p_, s.data(), s.size());
  return b;
}

SecureBytes::SecureBytes(SecureBytes&& o) noexcept : p_(o.p_), n_(o.n_) {
  o.p_ = nullptr;
  o.n_ = 0;
}

SecureBytes& SecureBytes::operator=(SecureBytes&& o) noexcept {
  if (this != &o) {
    if (p_) sodium_free(p_);
    p_ = o.p_;
    n_ = o.n_;
    o.p_ = nullptr;
    o.n_ = 0;
  }
  return *this;
}

SecureBytes::~SecureBytes() {
  if (p_) sodium_free(p_);  // zeroes before unmapping
}

// ---- key pairs, sealed boxes ----

Result<PublicKey> PublicKey::from_bytes(std::string_view raw) {
  if (raw.size() != kKeyBytes) return make_error("public key must be 32 bytes");
  PublicKey pk;
  std::memcpy(pk.bytes.data(), raw.data(), kKeyBytes);
  return pk;
}

KeyPair KeyPair::generate() {
  init();
  KeyPair kp;
  crypto_box_keypair(kp.pub.bytes.data(), kp.sec.data());
  return kp;
}

Result<KeyPair> KeyPair::from_secret(SecretKey sec) {
  init();
  if (sec.size() != kKeyBytes) return make_error("secret key must be 32 bytes");
  KeyPair kp;
  if (crypto_scalarmult_base(kp.pub.bytes.data(), sec.data()) != 0) {
    return make_error("secret key is not usable");
  }
  kp.sec = std::move(sec);
  return kp;
}

std::string seal(const PublicKey& to, std::string_view plaintext) {
  init();
  std::string out(plaintext.size() + crypto_box_SEALBYTES, '\0');
  crypto_box_seal(reinterpret_cast<unsigned char*>(out.data()),
                  reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                  to.bytes.data());
  return out;
}

Result<std::string> open_sealed(const KeyPair& kp, std::string_view sealed) {
  init();
  if (sealed.size() < crypto_box_SEALBYTES) return make_error("sealed box too short");
  std::string out(sealed.size() - crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal_open(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                           kp.pub.bytes.data(), kp.sec.data()) != 0) {
    return make_error("sealed box does not open with this key (wrong key or altered)");
  }
  return out;
}

// ---- AEAD ----

AeadKey AeadKey::generate() {
  init();
  AeadKey k;
  crypto_aead_xchacha20poly1305_ietf_keygen(k.b_.data());
  return k;
}

Result<AeadKey> AeadKey::from_bytes(std::string_view raw) {
  if (raw.size() != kKeyBytes) return make_error("AEAD key must be 32 bytes");
  AeadKey k;
  std::memcpy(k.b_.data(), raw.data(), kKeyBytes);
  return k;
}

Result<AeadKey> derive_aead_key(const SecretKey& from, std::string_view context,
                                uint64_t subkey_id) {
  init();
  if (context.size() != crypto_kdf_CONTEXTBYTES) return make_error("KDF context must be 8 bytes");
  if (from.size() != crypto_kdf_KEYBYTES) return make_error("KDF key must be 32 bytes");
  AeadKey k;
  if (crypto_kdf_derive_from_key(k.b_.data(), kKeyBytes, subkey_id, context.data(), from.data()) !=
      0) {
    return make_error("KDF: cannot derive a key");
  }
  return k;
}

std::string aead_encrypt(const AeadKey& key, std::string_view plaintext, std::string_view ad) {
  init();
  constexpr size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  std::string out(nb + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  // 192-bit random nonces: collisions are negligible without any counter state to lose.
  randombytes_buf(o, nb);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      o + nb, &clen, reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, o, key.data());
  out.resize(nb + clen);
  return out;
}

Result<std::string> aead_decrypt(const AeadKey& key, std::string_view boxed, std::string_view ad) {
  init();
  constexpr size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  if (boxed.size() < kAeadOverhead) return make_error("encrypted record too short");
  const auto* in = reinterpret_cast<const unsigned char*>(boxed.data());
  std::string out(boxed.size() - kAeadOverhead, '\0');
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &mlen, nullptr, in + nb, boxed.size() - nb,
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), in, key.data()) != 0) {
    return make_error("encrypted record does not authenticate (wrong key or altered)");
  }
  out.resize(mlen);
  return out;
}

// ---- keyed hash ----

HashKey HashKey::generate() {
  init();
  HashKey k;
  crypto_generichash_keygen(k.b_.data());
  return k;
}

Result<HashKey> HashKey::from_bytes(std::string_view raw) {
  if (raw.size() != kKeyBytes) return make_error("hash key must be 32 bytes");
  HashKey k;
  std::memcpy(k.b_.data(), raw.data(), kKeyBytes);
  return k;
}

Digest keyed_hash(const HashKey& key, std::string_view data) {
  init();
  Digest d;
  crypto_generichash(d.data(), d.size(), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size(), key.data(), kKeyBytes);
  return d;
}

Digest keyed_hash(const HashKey& key, std::initializer_list<std::string_view> parts) {
  init();
  crypto_generichash_state st;
  crypto_generichash_init(&st, key.data(), kKeyBytes, 32);
  for (auto p : parts) {
    unsigned char len[8];
    uint64_t n = p.size();
    for (int i = 7; i >= 0; --i, n >>= 8) len[i] = static_cast<unsigned char>(n & 0xff);
    crypto_generichash_update(&st, len, sizeof len);
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(p.data()), p.size());
  }
  Digest d;
  crypto_generichash_final(&st, d.data(), d.size());
  return d;
}

// ---- randomness, ids, encodings ----

std::string random_bytes(size_t n) {
  init();
  std::string s(n, '\0');
  randombytes_buf(s.data(), n);
  return s;
}

uint32_t random_uniform(uint32_t upper_bound) {
  init();
  return randombytes_uniform(upper_bound);
}

std::string random_id() {
  init();
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  static_assert(sizeof kAlphabet == 33);
  unsigned char raw[16];
  randombytes_buf(raw, sizeof raw);
  std::string id(16, '0');
  for (size_t i = 0; i < 16; ++i) id[i] = kAlphabet[raw[i] & 31];  // 32 divides 256: unbiased
  sodium_memzero(raw, sizeof raw);
  return id;
}

bool equal_ct(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_hex(std::string_view bin) {
  std::string out(bin.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                 bin.size());
  out.pop_back();
  return out;
}

Result<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return make_error("hex: odd length");
  std::string out(hex.size() / 2, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(),
                     hex.size(), nullptr, &len, &end) != 0 ||
      end != hex.data() + hex.size()) {
    return make_error("hex: invalid character");
  }
  out.resize(len);
  return out;
}

std::string to_base64(std::string_view bin) {
  constexpr int v = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), v), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), v);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

namespace {
bool decode_base64(std::string_view b64, unsigned char* out, size_t cap, size_t* len) {
  const char* end = nullptr;
  return sodium_base642bin(out, cap, b64.data(), b64.size(), nullptr, len, &end,
                           sodium_base64_VARIANT_ORIGINAL) == 0 &&
         end == b64.data() + b64.size();
}
}  // namespace

Result<std::string> from_base64(std::string_view b64) {
  std::string out(b64.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  if (!decode_base64(b64, reinterpret_cast<unsigned char*>(out.data()), out.size(), &len)) {
    return make_error("base64: invalid encoding");
  }
  out.resize(len);
  return out;
}

Result<SecureBytes> from_base64_secure(std::string_view b64) {
  SecureBytes tmp(b64.size() / 4 * 3 + 3);
  size_t len = 0;
  if (!decode_base64(b64, tmp.data(), tmp.size(), &len)) {
    return make_error("base64: invalid encoding");
  }
  SecureBytes out(len);
  if (len) std::memcpy(out.data(), tmp.data(), len);
  return out;
}

// ---- Argon2id ----

PwhashLimits PwhashLimits::interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
PwhashLimits PwhashLimits::moderate() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}
PwhashLimits PwhashLimits::minimum() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

Result<SecureBytes> derive_key(std::string_view password, std::string_view salt,
                               const PwhashLimits& limits, size_t key_bytes) {
  init();
  if (salt.size() != crypto_pwhash_SALTBYTES) return make_error("argon2id: salt must be 16 bytes");
  if (password.size() > kMaxPasswordBytes) return make_error("argon2id: password too long");
  if (key_bytes < crypto_pwhash_BYTES_MIN || key_bytes > 1024) {
    return make_error("argon2id: bad key length");
  }
  SecureBytes key(key_bytes);
  if (crypto_pwhash(key.data(), key.size(), password.data(), password.size(),
                    reinterpret_cast<const unsigned char*>(salt.data()), limits.ops, limits.mem,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return make_error("argon2id: out of memory or limits rejected");
  }
  return key;
}

Result<std::string> hash_password(std::string_view password, const PwhashLimits& limits) {
  init();
  if (password.size() > kMaxPasswordBytes) return make_error("argon2id: password too long");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), limits.ops, limits.mem,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return make_error("argon2id: out of memory or limits rejected");
  }
  return std::string(out);
}

bool verify_password(std::string_view stored, std::string_view password) {
  init();
  if (stored.size() >= crypto_pwhash_STRBYTES || password.size() > kMaxPasswordBytes) return false;
  char buf[crypto_pwhash_STRBYTES] = {};
  std::memcpy(buf, stored.data(), stored.size());
  return crypto_pwhash_str_verify(buf, password.data(), password.size()) == 0;
}

bool password_needs_rehash(std::string_view stored, const PwhashLimits& limits) {
  init();
  if (stored.size() >= crypto_pwhash_STRBYTES) return true;
  char buf[crypto_pwhash_STRBYTES] = {};
  std::memcpy(buf, stored.data(), stored.size());
  return crypto_pwhash_str_needs_rehash(buf, limits.ops, limits.mem) != 0;
}

}  // namespace nj::crypto
