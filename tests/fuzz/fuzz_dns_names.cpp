// Fuzzes the text helpers that see untrusted addresses and names: the classifier, reverse and
// DNSBL name builders, and host:port parsing. Checks invariants, not just absence of crashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/dns/address_class.h"
#include "common/uv/address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  size_t cut = in.find('\n');
  std::string ip = in.substr(0, cut);
  std::string zone = cut == std::string::npos ? "bl.example" : in.substr(cut + 1);

  auto cls = nj::dns::classify_address(ip);
  auto rev = nj::dns::reverse_name(ip);
  // Every classifiable string has a reverse name and vice versa.
  if (cls.has_value() != rev.ok()) std::abort();
  if (rev.ok() && rev->size() > 73) std::abort();  // 32 nibbles * 2 + "ip6.arpa"
  if (nj::dns::is_private_or_reserved(ip) == (cls && *cls == nj::dns::AddressClass::global))
    std::abort();
  auto bl = nj::dns::dnsbl_name(ip, zone);
  if (bl.ok() && bl->size() > 64 + 201) std::abort();

  auto hp = nj::uv::parse_host_port(in, 25);
  if (hp.ok()) {
    if (hp->host.empty()) std::abort();
    auto sa = nj::uv::make_sockaddr(hp->host, hp->port);
    if (sa.ok()) {
      // Round trip: the printed address parses and classifies the same way.
      std::string text = nj::uv::ip_text(*sa);
      if (!nj::dns::classify_address(text).has_value()) std::abort();
      (void)nj::uv::network_prefix(*sa);
    }
  }
  return 0;
}
