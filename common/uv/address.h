// Socket address helpers: "host:port" parsing, sockaddr conversion, and the network prefixes
// the edge keys its per-client limits on. Trust: the text comes from configuration or from
// the kernel; parsing has explicit limits and never throws.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::uv {

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
  bool bracketed = false;  // written as [v6]:port
};

// "1.2.3.4:25", "[2001:db8::1]:25", "name:25". Without a port, default_port is used when
// given, otherwise it is an error. A bare IPv6 address must be bracketed when a port follows;
// a bare IPv6 address without a port is accepted when default_port is given.
Result<HostPort> parse_host_port(std::string_view text,
                                 std::optional<uint16_t> default_port = std::nullopt);

// An IP literal (no name resolution) and a port into a sockaddr.
Result<sockaddr_storage> make_sockaddr(std::string_view ip, uint16_t port);

// IP as text (IPv4-mapped IPv6 shown as IPv4) and port of a sockaddr; "" / 0 if not IP.
std::string ip_text(const sockaddr_storage& sa);
uint16_t port_of(const sockaddr_storage& sa);
bool is_ipv4(const sockaddr_storage& sa);  // also true for IPv4-mapped IPv6
// 127.0.0.0/8 or ::1 (IPv4-mapped loopback too): where the daemons' local-only services bind.
bool is_loopback(const sockaddr_storage& sa);

// The network a client belongs to for rate limits and greylisting: "192.0.2.0/24" or
// "2001:db8:1:2::/64" by default. IPv4-mapped IPv6 is treated as IPv4.
std::string network_prefix(const sockaddr_storage& sa, int v4_bits = 24, int v6_bits = 64);

}  // namespace nj::uv
