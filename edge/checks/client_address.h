// Client addresses as the checks need them: parsed to binary, grouped into the client's
// network (IPv4 /24, IPv6 /64, as greylisting and connection limits treat a sender farm as one
// client), and matched against configured CIDR networks.
// Trust: the textual address comes from the listener (accept()), CIDRs from the operator's
// config; both are parsed strictly and never echoed into logs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::checks {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4

  size_t size() const { return v6 ? 16 : 4; }
  bool operator==(const IpAddress& o) const = default;
};

// Strict: dotted quad or RFC 4291 text, no brackets, no zone id, no surrounding space.
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is returned as the IPv4 address, so a dual-stack
// listener's clients are grouped like IPv4 clients.
std::optional<IpAddress> parse_ip(std::string_view text);
std::string format_ip(const IpAddress& a);

// The client's network as a short binary key: family byte + /24 or /64 prefix bytes.
// Memory-only use (connection limits); persistent uses hash it first.
std::string network_key(const IpAddress& a);

struct Cidr {
  IpAddress network;  // host bits cleared
  int prefix = 0;
  bool contains(const IpAddress& a) const;
};

// "192.0.2.0/24", "2001:db8::/32", or a bare address (a host route). Host bits set below the
// prefix are an error, because they usually mean a typo in the config.
Result<Cidr> parse_cidr(std::string_view text);

}  // namespace nj::checks
