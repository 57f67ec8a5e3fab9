#include "common/dns/address_class.h"

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>

namespace nj::dns {

namespace {

constexpr size_t kMaxIpText = 64;

struct Parsed {
  bool v4 = false;
  uint8_t b[16] = {0};
};

std::optional<Parsed> parse_ip(std::string_view ip) {
  if (ip.empty() || ip.size() > kMaxIpText) return std::nullopt;
  std::string s(ip);
  Parsed p;
  if (inet_pton(AF_INET, s.c_str(), p.b) == 1) {
    p.v4 = true;
    return p;
  }
  if (inet_pton(AF_INET6, s.c_str(), p.b) == 1) return p;
  return std::nullopt;
}

bool in4(uint32_t a, uint32_t net, int bits) {
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (a & mask) == (net & mask);
}

constexpr uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

AddressClass classify4(uint32_t a) {
  if (a == 0xFFFFFFFFu) return AddressClass::broadcast;
  if (in4(a, ip4(0, 0, 0, 0), 8)) return AddressClass::unspecified;
  if (in4(a, ip4(127, 0, 0, 0), 8)) return AddressClass::loopback;
  if (in4(a, ip4(10, 0, 0, 0), 8) || in4(a, ip4(172, 16, 0, 0), 12) ||
      in4(a, ip4(192, 168, 0, 0), 16))
    return AddressClass::private_use;
  if (in4(a, ip4(100, 64, 0, 0), 10)) return AddressClass::shared;
  if (in4(a, ip4(169, 254, 0, 0), 16)) return AddressClass::link_local;
  if (in4(a, ip4(192, 0, 2, 0), 24) || in4(a, ip4(198, 51, 100, 0), 24) ||
      in4(a, ip4(203, 0, 113, 0), 24))
    return AddressClass::documentation;
  if (in4(a, ip4(224, 0, 0, 0), 4)) return AddressClass::multicast;
  if (in4(a, ip4(240, 0, 0, 0), 4) || in4(a, ip4(192, 0, 0, 0), 24) ||
      in4(a, ip4(198, 18, 0, 0), 15))
    return AddressClass::reserved;
  return AddressClass::global;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

bool prefix6(const uint8_t* a, std::initializer_list<uint8_t> pre, int bits) {
  int i = 0;
  for (uint8_t byte : pre) {
    int keep = bits - i * 8;
    if (keep <= 0) break;
    uint8_t mask = keep >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - keep));
    if ((a[i] & mask) != (byte & mask)) return false;
    ++i;
  }
  return true;
}

AddressClass classify6(const uint8_t* a) {
  static const uint8_t zero[16] = {0};
  if (std::memcmp(a, zero, 16) == 0) return AddressClass::unspecified;
  if (std::memcmp(a, zero, 15) == 0 && a[15] == 1) return AddressClass::loopback;
  // ::ffff:0:0/96 mapped
  if (std::memcmp(a, zero, 10) == 0 && a[10] == 0xFF && a[11] == 0xFF)
    return classify4(be32(a + 12));
  // ::/96 IPv4-compatible (deprecated)
  if (std::memcmp(a, zero, 12) == 0) return AddressClass::reserved;
  // 64:ff9b::/96 well-known NAT64 prefix
  if (prefix6(a, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0}, 96))
    return classify4(be32(a + 12));
  if (prefix6(a, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48)) return AddressClass::private_use;
  if (prefix6(a, {0x20, 0x02}, 16)) return classify4(be32(a + 2));  // 6to4
  if (prefix6(a, {0x20, 0x01, 0x0d, 0xb8}, 32)) return AddressClass::documentation;
  if (prefix6(a, {0xfc}, 7)) return AddressClass::private_use;
  if (prefix6(a, {0xfe, 0x80}, 10)) return AddressClass::link_local;
  if (prefix6(a, {0xfe, 0xc0}, 10)) return AddressClass::private_use;
  if (prefix6(a, {0xff}, 8)) return AddressClass::multicast;
  if (prefix6(a, {0x01, 0x00, 0, 0, 0, 0, 0, 0}, 64)) return AddressClass::reserved;  // discard
  if (prefix6(a, {0x20, 0x01, 0x00, 0x10}, 28)) return AddressClass::reserved;        // ORCHID
  if (prefix6(a, {0x20, 0x01, 0x00, 0x20}, 28)) return AddressClass::reserved;        // ORCHIDv2
  // Only 2000::/3 is allocated for global unicast.
  if (!prefix6(a, {0x20}, 3)) return AddressClass::reserved;
  return AddressClass::global;
}

std::string reversed_labels(const Parsed& p) {
  std::string out;
  if (p.v4) {
    for (int i = 3; i >= 0; --i) {
      out += std::to_string(p.b[i]);
      out += '.';
    }
    return out;
  }
  static const char hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out += hex[p.b[i] & 0xF];
    out += '.';
    out += hex[p.b[i] >> 4];
    out += '.';
  }
  return out;
}

bool plausible_zone(std::string_view z) {
  if (z.empty() || z.size() > 200) return false;
  if (z.back() == '.') z.remove_suffix(1);
  size_t label = 0;
  for (char c : z) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

}  // namespace

const char* address_class_name(AddressClass c) {
  switch (c) {
    case AddressClass::global:
      return "global";
    case AddressClass::unspecified:
      return "unspecified";
    case AddressClass::loopback:
      return "loopback";
    case AddressClass::private_use:
      return "private";
    case AddressClass::shared:
      return "shared";
    case AddressClass::link_local:
      return "link-local";
    case AddressClass::multicast:
      return "multicast";
    case AddressClass::broadcast:
      return "broadcast";
    case AddressClass::documentation:
      return "documentation";
    case AddressClass::reserved:
      return "reserved";
  }
  return "?";
}

std::optional<AddressClass> classify_address(std::string_view ip) {
  auto p = parse_ip(ip);
  if (!p) return std::nullopt;
  return p->v4 ? classify4(be32(p->b)) : classify6(p->b);
}

bool is_private_or_reserved(std::string_view ip) {
  auto c = classify_address(ip);
  return !c || *c != AddressClass::global;
}

Result<std::string> reverse_name(std::string_view ip) {
  auto p = parse_ip(ip);
  if (!p) return make_error("not an IP address");
  return reversed_labels(*p) + (p->v4 ? "in-addr.arpa" : "ip6.arpa");
}

Result<std::string> dnsbl_name(std::string_view ip, std::string_view zone) {
  auto p = parse_ip(ip);
  if (!p) return make_error("not an IP address");
  if (!plausible_zone(zone)) return make_error("bad DNSBL zone");
  if (zone.back() == '.') zone.remove_suffix(1);
  return reversed_labels(*p) + std::string(zone);
}

}  // namespace nj::dns
