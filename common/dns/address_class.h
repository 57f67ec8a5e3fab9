// Address classification and DNS name helpers for IP literals: reverse (PTR) names, DNSBL
// query names, and whether an address is globally routable. The edge refuses senders whose
// MX/NS point into non-global ranges; the categories stay distinct so a test setup can allow
// loopback without allowing RFC 1918. Trust: the text is untrusted; anything that does not
// parse as an IP literal is an error, never a guess.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::dns {

enum class AddressClass {
  global,         // routable on the Internet
  unspecified,    // 0.0.0.0/8 ("this network"), ::
  loopback,       // 127/8, ::1
  private_use,    // 10/8, 172.16/12, 192.168/16, fc00::/7 (ULA), fec0::/10 (old site-local)
  shared,         // 100.64/10 carrier-grade NAT
  link_local,     // 169.254/16, fe80::/10
  multicast,      // 224/4, ff00::/8
  broadcast,      // 255.255.255.255
  documentation,  // 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32
  reserved,       // 240/4, 192.0.0/24, 198.18/15 benchmarking, 100::/64, 2001:10::/28, ::/96
};

const char* address_class_name(AddressClass c);

// IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are
// classified by the IPv4 address they carry; 64:ff9b:1::/48 (local NAT64) is private_use.
std::optional<AddressClass> classify_address(std::string_view ip);

// True for everything except global, and for text that is not an IP address.
bool is_private_or_reserved(std::string_view ip);

// "192.0.2.1" -> "1.2.0.192.in-addr.arpa"; IPv6 -> 32 nibbles + ".ip6.arpa".
Result<std::string> reverse_name(std::string_view ip);
// "192.0.2.1", "zen.example" -> "1.2.0.192.zen.example"; IPv6 in nibble form. The zone must be
// a plausible DNS name (no trailing dot needed).
Result<std::string> dnsbl_name(std::string_view ip, std::string_view zone);

}  // namespace nj::dns
