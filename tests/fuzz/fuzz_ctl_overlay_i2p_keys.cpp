// Fuzzes the i2pd keys file reader of the inner's `nightjarctl overlay i2p --inner-link-keys`
// (common/ctl/overlay_names.h): any bytes give a .b32.i2p name or an error, never a crash or a
// read past the input. An accepted file's name is 52 lower-case base32 characters and
// ".b32.i2p", depends only on the destination (the same with bytes appended, and with the file
// cut right after the destination's first following byte), its base32 agrees with a bit-by-bit
// encoding of the same digest, and the edge's --inner-link-b32 takes it as it is.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/ctl/overlay_names.h"

namespace {

// RFC 4648 base32 one bit at a time: the slow oracle for base32_lower.
std::string base32_by_bits(std::string_view bytes) {
  constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  size_t nbits = bytes.size() * 8;
  for (size_t at = 0; at < nbits; at += 5) {
    unsigned v = 0;
    for (size_t i = at; i < at + 5; ++i) {
      unsigned bit = 0;
      if (i < nbits) bit = (static_cast<unsigned char>(bytes[i / 8]) >> (7 - i % 8)) & 1;
      v = v << 1 | bit;
    }
    out += kAlphabet[v];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (nj::ctl::base32_lower(in.substr(0, 64)) != base32_by_bits(in.substr(0, 64))) std::abort();
  auto r = nj::ctl::i2p_keys_b32(in);
  if (!r.ok()) {
    if (r.error().empty()) std::abort();
    return 0;
  }
  const std::string& name = *r;
  if (size <= nj::ctl::kI2pDestinationMin) std::abort();
  if (name.size() != 52 + 8 || name.compare(52, 8, ".b32.i2p") != 0) std::abort();
  if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567") != 52) std::abort();
  // The destination's length is in its certificate; the name is its SHA-256.
  size_t dest = nj::ctl::kI2pDestinationMin + (static_cast<size_t>(data[385]) << 8 | data[386]);
  if (dest >= size) std::abort();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, data, dest);
  if (base32_by_bits(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest)) +
          ".b32.i2p" !=
      name)
    std::abort();
  auto cut = nj::ctl::i2p_keys_b32(in.substr(0, dest + 1));
  if (!cut.ok() || *cut != name) std::abort();
  auto longer = nj::ctl::i2p_keys_b32(std::string(in) + "more");
  if (!longer.ok() || *longer != name) std::abort();
  auto given = nj::ctl::parse_b32_i2p_name(name);
  if (!given.ok() || *given != name) std::abort();
  return 0;
}
