// The overlays' names as nightjarctl overlay reads them: RFC 4648 base32, v3 onion names, I2P
// .b32.i2p names, and the .b32.i2p name of the destination at the start of an i2pd keys file.
// Used by both tiers' overlay commands (the inner reads its link destination from its i2pd's
// keys file; the edge is given it) and by the fuzz targets tests/fuzz/fuzz_ctl_overlay*.cpp.
// Trust: every input is untrusted bytes: an onion name from the command line or tor's hostname
// file, an i2pd keys file parsed with limits (a wrong file gives an error, never a crash); of a
// keys file only the public destination is used, and what is read of it is held in locked memory
// and wiped (the private keys follow the destination).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::ctl {

// RFC 4648 base32 in lower case without padding: the alphabet of onion and .b32.i2p names.
std::string base32_lower(std::string_view bytes);

// The onion name normalised to "<56 lower-case base32>.onion" (the ".onion" suffix optional on
// input), or an error saying what is wrong with it.
Result<std::string> parse_onion_name(std::string_view name);

// The I2P name normalised to "<52 lower-case base32>.b32.i2p" (the ".b32.i2p" suffix optional
// on input), or an error saying what is wrong with it.
Result<std::string> parse_b32_i2p_name(std::string_view name);

// A ".onion" or ".b32.i2p" name without its suffix (as tor's .auth_private files and i2pd's
// accesslist want it); other text as it is.
std::string_view name_label(std::string_view name);

// Limits of the i2pd keys file reader. A destination is 256 bytes of encryption public key, 128
// of signing public key and a certificate (type, 2-byte length, payload); a key certificate's
// payload is the signing and crypto key types plus the signing key's excess over the fixed
// fields (4 bytes for ECDSA-P521, 928 for ML-DSA-44), well under kMaxI2pCertPayload.
constexpr size_t kI2pDestinationMin = 387;
constexpr size_t kMaxI2pCertPayload = 4096;
constexpr size_t kMaxI2pKeysRead = kI2pDestinationMin + kMaxI2pCertPayload + 1;

// The "<52 base32>.b32.i2p" name of the destination at the start of an i2pd keys file: base32 of
// the SHA-256 of the public destination (i2pd's IdentHash). `keys` is the file, or its first
// bytes as long as they hold the destination and one byte of the private keys after it. An
// error says what is wrong: too short, a certificate that is neither none (type 0, empty) nor a
// key certificate (type 5, 4..kMaxI2pCertPayload bytes), a file that ends inside or right after
// the destination (a keys file goes on with the private keys).
Result<std::string> i2p_keys_b32(std::string_view keys);

// i2p_keys_b32 of the file at `path`, reading at most kMaxI2pKeysRead bytes into locked memory;
// errors read "path: problem" (a missing file says that i2pd writes it when it starts).
Result<std::string> read_i2p_keys_b32(const std::string& path);

}  // namespace nj::ctl
