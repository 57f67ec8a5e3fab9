// Fuzzes the SPF evaluator (edge/auth/spf.h): the input is the TXT record of "fuzz.test" (up to
// the first NUL; what follows is the record of every other name asked for), the client is
// 192.0.2.1 or 2001:db8::1 by the input's parity. Every name the evaluator asks for is answered
// (A/AAAA with an address, MX with one host, PTR with one name, TXT with the second record), as
// a resolver would, until the evaluation completes. Properties: it completes within a bounded
// number of rounds and lookups (RFC 7208's limits), never asks for a name it already has, and
// never asks for a name a DNS server could not carry. Macro expansion of the record as a
// domain-spec is exercised too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edge/auth/spf.h"

using namespace nj::edge::auth;
using nj::dns::Answer;
using nj::dns::Status;
using nj::dns::Type;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string first(in.substr(0, nul));
  std::string rest = nul == std::string_view::npos ? std::string() : std::string(in.substr(nul + 1));
  bool v6 = size % 2 == 1;
  SpfRequest rq{v6 ? "2001:db8::1" : "192.0.2.1", "user.name+tag", "fuzz.test", "helo.fuzz.test"};

  (void)spf_expand_for_test(first, rq, "fuzz.test");

  DnsCache cache;
  size_t lookups = 0;
  for (int round = 0; round < 100; ++round) {
    auto o = spf_evaluate(rq, cache);
    if (o.complete) return 0;
    check(!o.missing.empty());
    for (const auto& k : o.missing) {
      check(!cache.count(k));
      check(!k.first.empty() && k.first.size() <= 253);
      check(++lookups <= 400);
      Answer a;
      a.status = Status::ok;
      switch (k.second) {
        case Type::TXT:
          a.txt.push_back(k.first == "fuzz.test" ? first : rest);
          break;
        case Type::A:
          a.addresses.push_back("192.0.2.1");
          break;
        case Type::AAAA:
          a.addresses.push_back("2001:db8::1");
          break;
        case Type::MX:
          a.mx.push_back({10, "mx." + k.first.substr(0, 200)});
          break;
        case Type::PTR:
          a.names.push_back("host.fuzz.test");
          break;
        default:
          a.status = Status::nxdomain;
      }
      cache[k] = a;
    }
  }
  check(false);  // did not complete
  return 0;
}
