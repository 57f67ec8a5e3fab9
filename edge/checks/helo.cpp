#include "edge/checks/helo.h"

#include <optional>

#include "common/mail/address.h"
#include "edge/checks/client_address.h"
#include "edge/checks/domain_util.h"

namespace nj::checks {
namespace {

// "[192.0.2.1]" / "[IPv6:2001:db8::1]" -> address. parse_helo_name has validated the literal.
std::optional<IpAddress> literal_address(std::string_view lit) {
  if (lit.size() < 3 || lit.front() != '[' || lit.back() != ']') return std::nullopt;
  std::string_view inner = lit.substr(1, lit.size() - 2);
  if (inner.size() > 5 && iequals(inner.substr(0, 5), "IPv6:")) inner.remove_prefix(5);
  return parse_ip(inner);
}

}  // namespace

Decision check_helo(std::string_view name, std::string_view client_ip, const OurNames& our) {
  auto helo = mail::parse_helo_name(name);
  if (!helo.ok()) {
    return Decision::reply(501, "5.5.2", "Invalid HELO name", "helo: invalid syntax");
  }
  if (helo->is_literal) {
    auto addr = literal_address(helo->name);
    if (!addr) return Decision::reply(501, "5.5.2", "Invalid HELO name", "helo: bad literal");
    auto client = parse_ip(client_ip);
    if (client && *client == *addr) return Decision::pass("helo: literal of client");
    for (const auto& ours : our.listen_addresses) {
      auto a = parse_ip(ours);
      if (a && *a == *addr) {
        return Decision::reply(550, "5.7.1", "HELO name is ours", "helo: our address literal");
      }
    }
    return Decision::pass("helo: address literal");
  }
  std::string_view n = helo->name;
  if (n.find('.') == std::string_view::npos) {
    return Decision::reply(504, "5.5.2", "HELO name must be fully qualified",
                           "helo: not fully qualified");
  }
  if (!our.hostname.empty() && same_domain(n, our.hostname)) {
    return Decision::reply(550, "5.7.1", "HELO name is ours", "helo: our hostname");
  }
  for (const auto& d : our.domains) {
    if (same_domain(n, d)) {
      return Decision::reply(550, "5.7.1", "HELO name is ours", "helo: our domain");
    }
  }
  return Decision::pass();
}

}  // namespace nj::checks
