// crypto: the libsodium primitives nightjar uses, wrapped so secrets live only in guarded,
// locked memory (SecureBytes) and every failure caused by input is a value, never an exception.
// - sealed boxes (X25519): the edge seals inbound mail to the inner's public key and then can no
//   longer read it;
// - XChaCha20-Poly1305 with a key held only in memory: the edge's outbound queue; with a key
//   derived from the inner's secret key (derive_aead_key): the inner's outbound queue;
// - keyed BLAKE2b: greylist triplets and caches are stored as keyed hashes, never in the clear;
// - Argon2id: keys and password hashes for the inner's accounts.
// Trust: ciphertexts, encodings and password strings are untrusted input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::crypto {

// sodium_init once; aborts the process if libsodium cannot initialise (no safe way on).
void init();

// Memory from sodium_malloc: guard pages, mlocked, zeroed when freed. Move-only.
class SecureBytes {
 public:
  SecureBytes() = default;
  explicit SecureBytes(size_t n);  // zero-filled; aborts when the allocation fails
  static SecureBytes copy_of(std::string_view s);
  SecureBytes(SecureBytes&& o) noexcept;
  SecureBytes& operator=(SecureBytes&& o) noexcept;
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;
  ~SecureBytes();

  unsigned char* data() { return p_; }
  const unsigned char* data() const { return p_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  std::string_view view() const { return std::string_view(reinterpret_cast<const char*>(p_), n_); }

 private:
  unsigned char* p_ = nullptr;
  size_t n_ = 0;
};

// ---- X25519 key pairs and sealed boxes ----

constexpr size_t kKeyBytes = 32;

struct PublicKey {
  std::array<unsigned char, kKeyBytes> bytes{};
  std::string_view view() const {
    return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  static Result<PublicKey> from_bytes(std::string_view raw);  // exactly 32 bytes
  bool operator==(const PublicKey&) const = default;
};

class SecretKey {
 public:
  SecretKey() : b_(kKeyBytes) {}
  explicit SecretKey(SecureBytes b) : b_(std::move(b)) {}
  const unsigned char* data() const { return b_.data(); }
  unsigned char* data() { return b_.data(); }
  size_t size() const { return b_.size(); }

 private:
  SecureBytes b_;
};

struct KeyPair {
  PublicKey pub;
  SecretKey sec;
  static KeyPair generate();
  // The public key is derived from the secret one (X25519 base point multiplication).
  static Result<KeyPair> from_secret(SecretKey sec);
};

constexpr size_t kSealOverhead = 48;  // crypto_box_SEALBYTES

// Anyone with the public key can seal; only the key pair's owner can open.
std::string seal(const PublicKey& to, std::string_view plaintext);
Result<std::string> open_sealed(const KeyPair& kp, std::string_view sealed);

// ---- secret-key AEAD (XChaCha20-Poly1305), random nonces ----

class AeadKey {
 public:
  static AeadKey generate();
  static Result<AeadKey> from_bytes(std::string_view raw);  // exactly 32 bytes
  const unsigned char* data() const { return b_.data(); }

 private:
  friend Result<AeadKey> derive_aead_key(const SecretKey&, std::string_view, uint64_t);
  AeadKey() : b_(kKeyBytes) {}
  SecureBytes b_;
};

constexpr size_t kKdfContextBytes = 8;  // crypto_kdf_CONTEXTBYTES

// An AEAD key derived from a secret key with keyed BLAKE2b (libsodium's crypto_kdf): `context`
// is exactly 8 bytes naming the use (e.g. "njoutq01"), `subkey_id` numbers keys within it. The
// same inputs always give the same key; keys for different contexts or ids are unrelated, and
// none reveals the secret key. Errors only for a context or secret key of the wrong length.
Result<AeadKey> derive_aead_key(const SecretKey& from, std::string_view context,
                                uint64_t subkey_id = 1);

constexpr size_t kAeadOverhead = 24 + 16;  // nonce + tag

// Output: nonce || ciphertext || tag. `ad` is authenticated, not encrypted (bind a message id,
// so a record cannot be swapped for another under the same key).
std::string aead_encrypt(const AeadKey& key, std::string_view plaintext, std::string_view ad = {});
Result<std::string> aead_decrypt(const AeadKey& key, std::string_view boxed,
                                 std::string_view ad = {});

// ---- keyed hash (BLAKE2b-256) ----

using Digest = std::array<unsigned char, 32>;

class HashKey {
 public:
  static HashKey generate();
  static Result<HashKey> from_bytes(std::string_view raw);  // exactly 32 bytes
  const unsigned char* data() const { return b_.data(); }

 private:
  HashKey() : b_(kKeyBytes) {}
  SecureBytes b_;
};

Digest keyed_hash(const HashKey& key, std::string_view data);
// Several fields, each length-prefixed so ("ab","c") and ("a","bc") hash differently.
Digest keyed_hash(const HashKey& key, std::initializer_list<std::string_view> parts);
inline std::string_view digest_view(const Digest& d) {
  return std::string_view(reinterpret_cast<const char*>(d.data()), d.size());
}

// ---- randomness, ids, comparison, encodings ----

std::string random_bytes(size_t n);
uint32_t random_uniform(uint32_t upper_bound);
// 16 characters from a 32-letter alphabet without look-alikes (no i, l, o, u): 80 random bits.
std::string random_id();
// Constant time in the contents; the lengths are not secret.
bool equal_ct(std::string_view a, std::string_view b);

std::string to_hex(std::string_view bin);
Result<std::string> from_hex(std::string_view hex);
std::string to_base64(std::string_view bin);  // standard alphabet, padded
Result<std::string> from_base64(std::string_view b64);
// Decodes straight into locked memory, for secrets read from files.
Result<SecureBytes> from_base64_secure(std::string_view b64);

// ---- Argon2id ----

struct PwhashLimits {
  uint64_t ops;
  size_t mem;
  static PwhashLimits interactive();
  static PwhashLimits moderate();
  static PwhashLimits minimum();  // tests only: fast and weak
};

constexpr size_t kSaltBytes = 16;
constexpr size_t kMaxPasswordBytes = 4096;

Result<SecureBytes> derive_key(std::string_view password, std::string_view salt,
                               const PwhashLimits& limits, size_t key_bytes = kKeyBytes);
// "$argon2id$v=19$m=...,t=...,p=...$salt$hash"
Result<std::string> hash_password(std::string_view password, const PwhashLimits& limits);
bool verify_password(std::string_view stored, std::string_view password);
// True when `stored` was made with other limits (rehash after the next successful login).
bool password_needs_rehash(std::string_view stored, const PwhashLimits& limits);

}  // namespace nj::crypto
