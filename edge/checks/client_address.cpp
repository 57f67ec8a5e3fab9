#include "edge/checks/client_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace nj::checks {
namespace {

constexpr size_t kMaxAddressText = INET6_ADDRSTRLEN;  // 46, with the terminating NUL

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.empty() || text.size() >= kMaxAddressText) return std::nullopt;
  char buf[kMaxAddressText];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (text.find(':') == std::string_view::npos) {
    // inet_pton(AF_INET) accepts only the strict dotted quad (no octal, no short forms).
    if (inet_pton(AF_INET, buf, a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) != 1) return std::nullopt;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes.data(), kMapped, sizeof kMapped) == 0) {
    IpAddress v4;
    std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
    return v4;
  }
  a.v6 = true;
  return a;
}

std::string format_ip(const IpAddress& a) {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof buf) == nullptr) return {};
  return buf;
}

std::string network_key(const IpAddress& a) {
  std::string k;
  k.push_back(a.v6 ? '6' : '4');
  k.append(reinterpret_cast<const char*>(a.bytes.data()), a.v6 ? 8 : 3);
  return k;
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.v6 != network.v6) return false;
  int full = prefix / 8;
  if (std::memcmp(a.bytes.data(), network.bytes.data(), static_cast<size_t>(full)) != 0) {
    return false;
  }
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[static_cast<size_t>(full)] & mask) == network.bytes[static_cast<size_t>(full)];
}

Result<Cidr> parse_cidr(std::string_view text) {
  Cidr c;
  std::string_view addr = text;
  size_t slash = text.find('/');
  int prefix = -1;
  if (slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return make_error("bad prefix length");
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || end != p.data() + p.size()) return make_error("bad prefix length");
  }
  auto ip = parse_ip(addr);
  if (!ip) return make_error("bad network address");
  int max = ip->v6 ? 128 : 32;
  if (prefix < 0) prefix = max;
  if (prefix > max) return make_error("prefix length too long");
  c.network = *ip;
  c.prefix = prefix;
  // Host bits below the prefix must be zero.
  for (int bit = prefix; bit < max; ++bit) {
    if (c.network.bytes[static_cast<size_t>(bit / 8)] & (0x80 >> (bit % 8))) {
      return make_error("host bits set below the prefix length");
    }
  }
  return c;
}

}  // namespace nj::checks
