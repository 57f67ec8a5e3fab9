// DKIM private keys at the edge: one PEM file per (domain, selector), read at start-up like the
// edge's other keys (from /etc/nightjar/keys through the unit's credentials), made by
// `nightjarctl dkim keygen`, and the DNS TXT record that publishes the public half.
// Two algorithms: ed25519 (RFC 8463, ed25519-sha256) and rsa (RFC 6376 rsa-sha256, 2048 to 4096
// bits: RFC 8301 forbids less than 1024 and the larger records of more bits do not fit every
// resolver's answer). A key file holds an unencrypted private key in PEM, PKCS#8
// ("BEGIN PRIVATE KEY", what keygen writes) or for RSA also PKCS#1 ("BEGIN RSA PRIVATE KEY",
// what opendkim-genkey writes); it is handed to OpenDKIM re-encoded as PKCS#8 PEM, which its
// library reads for both algorithms.
// Trust: a key file is the operator's but is read with bounds (size, mode, format) like any
// input; the private key stays in locked memory (crypto::SecureBytes) and is never printed.
#pragma once

#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/crypto/crypto.h"

namespace nj::edge::dkim {

enum class Algorithm { ed25519, rsa };

// The k= tag's value and the configuration's name for it: "ed25519" or "rsa".
std::string_view algorithm_name(Algorithm a);

// A 4096-bit RSA key in PEM is about 3.3 KB; nothing a key file may hold comes near this.
inline constexpr size_t kMaxKeyFileBytes = 8192;
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 4096;
inline constexpr int kDefaultRsaBits = 2048;
// One character-string of a TXT record holds at most 255 octets (RFC 1035 3.3).
inline constexpr size_t kMaxTxtString = 255;

struct Key {
  Algorithm algorithm = Algorithm::ed25519;
  int bits = 0;             // RSA: the modulus size; ed25519: 256
  crypto::SecureBytes pem;  // PKCS#8 PEM with a final NUL, as OpenDKIM's dkim_sign() takes it
  std::string public_b64;   // the p= value: ed25519 the raw 32-octet key, RSA SubjectPublicKeyInfo
};

// The key in `pem`, which must be of algorithm `expected`. Errors are the bare problem ("an rsa
// key, not ed25519"), never key material.
Result<Key> parse_key(std::string_view pem, Algorithm expected);

// parse_key of the file at `path` (a regular file, not a symbolic link, at most
// kMaxKeyFileBytes, not readable by group or others). Errors read "path: problem".
Result<Key> load_key(const std::string& path, Algorithm expected);

// A new key; `rsa_bits` (kMinRsaBits to kMaxRsaBits) for RSA only.
Result<Key> generate_key(Algorithm a, int rsa_bits = kDefaultRsaBits);

// Writes the key's PEM (without the NUL) to a new file at `path`, mode 0600, synced; an existing
// file is never overwritten.
Status write_key(const std::string& path, const Key& key);

// The TXT record's text: "v=DKIM1; k=ALG; p=BASE64".
std::string record_text(const Key& key);

// The zone file line publishing `key` for `selector` of `domain`:
//   SELECTOR._domainkey.DOMAIN. IN TXT "v=DKIM1; k=ed25519; p=..."
// with the text split into strings of at most kMaxTxtString octets (an RSA key needs two).
std::string txt_record(std::string_view selector, std::string_view domain, const Key& key);

// True for a selector as RFC 6376 3.1 has it (dot-separated labels of letters, digits and '-',
// no label starting or ending with '-'), already lower case, at most 63 octets in all.
bool valid_selector(std::string_view s);

}  // namespace nj::edge::dkim
