#include "common/crypto/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace nj::crypto {

namespace {

constexpr size_t kMaxKeyFileBytes = 512;

std::string errno_text() {
  return std::strerror(errno);
}

Status write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return make_error(errno_text());
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

// Creates `path` exclusively with `mode` and writes `data` durably.
Status create_file(const std::string& path, mode_t mode, const char* data, size_t n) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return make_error(path + ": already exists; refusing to overwrite a key");
    return make_error(path + ": cannot create: " + errno_text());
  }
  // The umask may have narrowed the mode; it must not have widened it, but set it exactly.
  Status st;
  if (::fchmod(fd, mode) != 0) st = make_error(path + ": chmod: " + errno_text());
  if (st) {
    if (auto w = write_all(fd, data, n); !w) st = make_error(path + ": write: " + w.error());
  }
  if (st && ::fsync(fd) != 0) st = make_error(path + ": fsync: " + errno_text());
  if (::close(fd) != 0 && st) st = make_error(path + ": close: " + errno_text());
  if (!st) ::unlink(path.c_str());
  return st;
}

// Reads a small key file into locked memory. `secret` adds the permission check.
Result<SecureBytes> read_key_file(const std::string& path, bool secret) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return make_error(path + ": cannot open: " + errno_text());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return make_error(path + ": stat: " + errno_text());
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(path + ": not a regular file");
  }
  if (secret && (st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(path + ": secret key is accessible by group or others (mode " + mode +
                      "); run chmod 600 on it");
  }
  if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) {
    ::close(fd);
    return make_error(path + ": too large for a key file");
  }
  SecureBytes buf(kMaxKeyFileBytes + 1);
  size_t got = 0;
  for (;;) {
    ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return make_error(path + ": read: " + errno_text());
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
    if (got > kMaxKeyFileBytes) {
      ::close(fd);
      return make_error(path + ": too large for a key file");
    }
  }
  ::close(fd);
  SecureBytes out(got);
  if (got) std::memcpy(out.data(), buf.data(), got);
  return out;
}

// Splits "<tag> x25519 <base64>[\n]" and returns the base64 part, or an error naming the problem.
Result<std::string_view> key_body(std::string_view text, std::string_view tag) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.find('\n') != std::string_view::npos) return make_error("more than one line");
  auto sp = text.find(' ');
  std::string_view got_tag = text.substr(0, sp);
  if (got_tag != tag) {
    return make_error("wrong type tag (expected '" + std::string(tag) + "')");
  }
  if (sp == std::string_view::npos) return make_error("missing key type");
  text.remove_prefix(sp + 1);
  sp = text.find(' ');
  if (sp == std::string_view::npos || text.substr(0, sp) != "x25519") {
    return make_error("unsupported key type (expected 'x25519')");
  }
  return text.substr(sp + 1);
}

}  // namespace

std::string public_key_line(const PublicKey& pub) {
  return std::string(kPublicKeyTag) + " x25519 " + to_base64(pub.view());
}

Result<PublicKey> parse_public_key_line(std::string_view line) {
  auto body = key_body(line, kPublicKeyTag);
  if (!body) return make_error(body.error());
  auto raw = from_base64(*body);
  if (!raw) return make_error("bad base64");
  if (raw->size() != kKeyBytes) return make_error("bad key length");
  return PublicKey::from_bytes(*raw);
}

Status write_keypair(const std::string& prefix, const KeyPair& kp) {
  init();
  const std::string sec_path = prefix + ".secret";
  const std::string pub_path = prefix + ".pub";
  // Build the secret line in locked memory so no copy of the key lands on the ordinary heap.
  const std::string tag = std::string(kSecretKeyTag) + " x25519 ";
  const size_t b64_len = sodium_base64_ENCODED_LEN(kKeyBytes, sodium_base64_VARIANT_ORIGINAL);
  SecureBytes line(tag.size() + b64_len + 1);
  std::memcpy(line.data(), tag.data(), tag.size());
  sodium_bin2base64(reinterpret_cast<char*>(line.data() + tag.size()), b64_len, kp.sec.data(),
                    kKeyBytes, sodium_base64_VARIANT_ORIGINAL);
  size_t n = tag.size() + b64_len - 1;  // drop the NUL
  line.data()[n++] = '\n';
  if (auto st = create_file(sec_path, 0600, reinterpret_cast<const char*>(line.data()), n); !st) {
    return st;
  }
  const std::string pub = public_key_line(kp.pub) + "\n";
  if (auto st = create_file(pub_path, 0644, pub.data(), pub.size()); !st) {
    ::unlink(sec_path.c_str());
    return st;
  }
  return {};
}

Result<KeyPair> load_secret_key(const std::string& path) {
  auto text = read_key_file(path, true);
  if (!text) return make_error(text.error());
  auto body = key_body(text->view(), kSecretKeyTag);
  if (!body) return make_error(path + ": " + body.error());
  auto raw = from_base64_secure(*body);
  if (!raw) return make_error(path + ": bad base64");
  if (raw->size() != kKeyBytes) return make_error(path + ": bad key length");
  auto kp = KeyPair::from_secret(SecretKey(std::move(*raw)));
  if (!kp) return make_error(path + ": " + kp.error());
  return kp;
}

Result<PublicKey> load_public_key(const std::string& path) {
  auto text = read_key_file(path, false);
  if (!text) return make_error(text.error());
  auto pk = parse_public_key_line(text->view());
  if (!pk) return make_error(path + ": " + pk.error());
  return pk;
}

}  // namespace nj::crypto
