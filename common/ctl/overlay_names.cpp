#include "common/ctl/overlay_names.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "common/crypto/crypto.h"

namespace nj::ctl {
namespace {

constexpr std::string_view kBase32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::string_view kOnionSuffix = ".onion";
constexpr std::string_view kB32Suffix = ".b32.i2p";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// `name` in lower case without `suffix`, when it is `length` base32 characters; else the reason.
Result<std::string> base32_label(std::string_view name, std::string_view suffix, size_t length,
                                 const char* what) {
  std::string s(name);
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (ends_with(s, suffix)) s.resize(s.size() - suffix.size());
  const std::string quoted = "'" + std::string(name) + "' is not " + what;
  if (s.size() != length)
    return make_error(quoted + " (" + std::to_string(length) + " base32 characters)");
  if (s.find_first_not_of(kBase32Alphabet) != std::string::npos)
    return make_error(quoted + " (not base32)");
  return s;
}

}  // namespace

std::string base32_lower(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += kBase32Alphabet[(buffer >> bits) & 31];
    }
    buffer &= (1u << bits) - 1;  // only the bits not yet written
  }
  if (bits > 0) out += kBase32Alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

Result<std::string> parse_onion_name(std::string_view name) {
  // A v3 onion name: 56 base32 characters (key, checksum, version 3 — which ends in 'd').
  auto label = base32_label(name, kOnionSuffix, 56, "a v3 onion name");
  if (!label) return label;
  if (label->back() != 'd')
    return make_error("'" + std::string(name) + "' is not a v3 onion name (version is not 3)");
  return *label + std::string(kOnionSuffix);
}

Result<std::string> parse_b32_i2p_name(std::string_view name) {
  // The base32 of a 32-byte hash: 52 characters, the last one carrying 2 bits of padding.
  auto label = base32_label(name, kB32Suffix, 52, "an I2P .b32.i2p name");
  if (!label) return label;
  if (label->back() != 'a' && label->back() != 'q')
    return make_error("'" + std::string(name) + "' is not an I2P .b32.i2p name (not a hash)");
  return *label + std::string(kB32Suffix);
}

std::string_view name_label(std::string_view name) {
  for (auto suffix : {kOnionSuffix, kB32Suffix})
    if (name.size() > suffix.size() && ends_with(name, suffix))
      return name.substr(0, name.size() - suffix.size());
  return name;
}

Result<std::string> i2p_keys_b32(std::string_view keys) {
  // The certificate's type and length follow the 256 + 128 bytes of public keys.
  constexpr size_t kCertAt = 384;
  constexpr unsigned char kCertNull = 0, kCertKey = 5;
  constexpr size_t kKeyCertTypes = 4;  // signing key type, crypto key type (2 bytes each)
  if (keys.empty()) return make_error("empty, not an i2pd keys file");
  if (keys.size() < kI2pDestinationMin)
    return make_error("too short for an i2pd keys file (" + std::to_string(keys.size()) +
                      " bytes; its destination alone is at least " +
                      std::to_string(kI2pDestinationMin) + ")");
  auto type = static_cast<unsigned char>(keys[kCertAt]);
  size_t len = static_cast<size_t>(static_cast<unsigned char>(keys[kCertAt + 1])) << 8 |
               static_cast<unsigned char>(keys[kCertAt + 2]);
  if (type == kCertNull) {
    if (len != 0)
      return make_error("not an i2pd keys file: an empty certificate (type 0) with " +
                        std::to_string(len) + " bytes");
  } else if (type == kCertKey) {
    if (len < kKeyCertTypes || len > kMaxI2pCertPayload)
      return make_error("not an i2pd keys file: a key certificate of " + std::to_string(len) +
                        " bytes (" + std::to_string(kKeyCertTypes) + " to " +
                        std::to_string(kMaxI2pCertPayload) + ")");
  } else {
    return make_error("not an i2pd keys file: certificate type " + std::to_string(type) +
                      " (i2pd writes a key certificate, type 5)");
  }
  size_t destination = kI2pDestinationMin + len;
  if (keys.size() < destination)
    return make_error("ends inside its destination's certificate, not an i2pd keys file");
  if (keys.size() == destination)
    return make_error(
        "ends after its destination: an i2pd keys file goes on with the private keys");
  crypto::init();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(keys.data()), destination);
  return base32_lower(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest)) +
         std::string(kB32Suffix);
}

Result<std::string> read_i2p_keys_b32(const std::string& path) {
  // O_NONBLOCK: a FIFO given by mistake is refused below instead of waiting for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT)
      return make_error(path + ": no such file (i2pd writes it when it starts with the section " +
                        "that names it)");
    return make_error(path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(path + ": not a regular file");
  }
  // Only the start is needed; the private keys that follow stay in locked memory, then wiped.
  crypto::init();
  crypto::SecureBytes buf(kMaxI2pKeysRead);
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::string err = path + ": read: " + std::strerror(errno);
      ::close(fd);
      return make_error(err);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  auto b32 = i2p_keys_b32(buf.view().substr(0, got));
  if (!b32) return make_error(path + ": " + b32.error());
  return b32;
}

}  // namespace nj::ctl
