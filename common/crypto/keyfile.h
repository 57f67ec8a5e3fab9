// Key files: one line each, a type tag with a version, the key type and the key in base64.
//   PREFIX.secret  "nightjar-secret-key-v1 x25519 <base64>\n"  mode 0600
//   PREFIX.pub     "nightjar-public-key-v1 x25519 <base64>\n"  mode 0644
// Both are created with O_EXCL, so an existing key is never overwritten. A secret key file that
// group or others can read is refused (like ssh). Errors read "path: problem".
// Trust: file contents are untrusted input (bounded size, exact format).
#pragma once

#include <string>

#include "common/base/result.h"
#include "common/crypto/crypto.h"

namespace nj::crypto {

constexpr const char* kSecretKeyTag = "nightjar-secret-key-v1";
constexpr const char* kPublicKeyTag = "nightjar-public-key-v1";

// Writes PREFIX.secret then PREFIX.pub; if the second cannot be written, the first is removed.
Status write_keypair(const std::string& prefix, const KeyPair& kp);

Result<KeyPair> load_secret_key(const std::string& path);
Result<PublicKey> load_public_key(const std::string& path);

// The public key file's line (without the newline), as printed by `nightjarctl keygen`.
std::string public_key_line(const PublicKey& pub);
Result<PublicKey> parse_public_key_line(std::string_view line);

}  // namespace nj::crypto
