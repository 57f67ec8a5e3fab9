#include "common/uv/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <charconv>
#include <cstring>

namespace nj::uv {

namespace {

constexpr size_t kMaxHostPortText = 300;  // a DNS name is at most 253

Result<uint16_t> parse_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return make_error("bad port '" + std::string(p) + "'");
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (ec != std::errc() || ptr != p.data() + p.size() || v > 65535)
    return make_error("bad port '" + std::string(p) + "'");
  return static_cast<uint16_t>(v);
}

bool mapped_v4(const sockaddr_in6* s6, in_addr* out) {
  if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) return false;
  std::memcpy(&out->s_addr, s6->sin6_addr.s6_addr + 12, 4);
  return true;
}

}  // namespace

Result<HostPort> parse_host_port(std::string_view text, std::optional<uint16_t> default_port) {
  if (text.empty()) return make_error("empty address");
  if (text.size() > kMaxHostPortText) return make_error("address too long");
  HostPort hp;
  std::string_view port_text;
  bool have_port = false;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return make_error("missing ']' in address");
    hp.host = std::string(text.substr(1, close - 1));
    hp.bracketed = true;
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return make_error("expected ':' after ']'");
      port_text = rest.substr(1);
      have_port = true;
    }
    in6_addr a6;
    if (inet_pton(AF_INET6, hp.host.c_str(), &a6) != 1)
      return make_error("bad IPv6 address in brackets");
  } else {
    size_t first = text.find(':');
    size_t last = text.rfind(':');
    if (first != last) {
      // Several colons and no brackets: a bare IPv6 address, only valid without a port.
      hp.host = std::string(text);
      in6_addr a6;
      if (inet_pton(AF_INET6, hp.host.c_str(), &a6) != 1)
        return make_error("bad address (IPv6 with a port needs [addr]:port)");
    } else if (first != std::string_view::npos) {
      hp.host = std::string(text.substr(0, first));
      port_text = text.substr(first + 1);
      have_port = true;
    } else {
      hp.host = std::string(text);
    }
  }
  if (hp.host.empty()) return make_error("empty host");
  for (char c : hp.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '_' || c == '%'))
      return make_error("bad character in host");
  }
  if (have_port) {
    auto p = parse_port(port_text);
    if (!p) return make_error(p.error());
    hp.port = *p;
  } else if (default_port) {
    hp.port = *default_port;
  } else {
    return make_error("missing port");
  }
  return hp;
}

Result<sockaddr_storage> make_sockaddr(std::string_view ip, uint16_t port) {
  sockaddr_storage ss{};
  std::string s(ip);
  if (s.size() > 64) return make_error("address too long");
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, s.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    return ss;
  }
  ss = {};
  if (inet_pton(AF_INET6, s.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    return ss;
  }
  return make_error("not an IP address: '" + s + "'");
}

std::string ip_text(const sockaddr_storage& sa) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&sa)->sin_addr, buf, sizeof buf);
  } else if (sa.ss_family == AF_INET6) {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    in_addr v4;
    if (mapped_v4(s6, &v4))
      inet_ntop(AF_INET, &v4, buf, sizeof buf);
    else
      inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

uint16_t port_of(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&sa)->sin_port);
  if (sa.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_port);
  return 0;
}

bool is_ipv4(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET) return true;
  in_addr v4;
  return sa.ss_family == AF_INET6 && mapped_v4(reinterpret_cast<const sockaddr_in6*>(&sa), &v4);
}

bool is_loopback(const sockaddr_storage& sa) {
  in_addr v4{};
  if (sa.ss_family == AF_INET) {
    v4 = reinterpret_cast<const sockaddr_in*>(&sa)->sin_addr;
  } else if (sa.ss_family == AF_INET6) {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    if (!mapped_v4(s6, &v4)) return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
  } else {
    return false;
  }
  return (ntohl(v4.s_addr) >> 24) == 127;
}

std::string network_prefix(const sockaddr_storage& sa, int v4_bits, int v6_bits) {
  v4_bits = v4_bits < 0 ? 0 : (v4_bits > 32 ? 32 : v4_bits);
  v6_bits = v6_bits < 0 ? 0 : (v6_bits > 128 ? 128 : v6_bits);
  char buf[INET6_ADDRSTRLEN] = {0};
  in_addr v4{};
  bool four = false;
  if (sa.ss_family == AF_INET) {
    v4 = reinterpret_cast<const sockaddr_in*>(&sa)->sin_addr;
    four = true;
  } else if (sa.ss_family == AF_INET6) {
    four = mapped_v4(reinterpret_cast<const sockaddr_in6*>(&sa), &v4);
  } else {
    return "";
  }
  if (four) {
    uint32_t h = ntohl(v4.s_addr);
    uint32_t mask = v4_bits == 0 ? 0 : (~uint32_t{0} << (32 - v4_bits));
    v4.s_addr = htonl(h & mask);
    inet_ntop(AF_INET, &v4, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(v4_bits);
  }
  in6_addr a = reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_addr;
  for (int i = 0; i < 16; ++i) {
    int keep = v6_bits - i * 8;
    if (keep >= 8) continue;
    a.s6_addr[i] = keep <= 0 ? 0 : static_cast<uint8_t>(a.s6_addr[i] & (0xFF << (8 - keep)));
  }
  inet_ntop(AF_INET6, &a, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(v6_bits);
}

}  // namespace nj::uv
