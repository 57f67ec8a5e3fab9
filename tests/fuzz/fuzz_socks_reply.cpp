// Fuzz the SOCKS5 client with arbitrary proxy bytes, split at a fuzzer-chosen point, with and
// without credentials: it must never crash, never read past its limits, and whatever it calls
// connected must leave exactly the bytes after the reply to the application.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/socks/client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  bool auth = data[0] & 1;
  size_t split = data[1] % (size - 1);
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  nj::socks::Request req{"example2345abcdef.onion", 25, std::nullopt};
  if (auth) req.credentials = nj::socks::Credentials{"iso", "pw"};
  auto c = nj::socks::Client::create(req);
  if (!c.ok()) std::abort();
  (void)c->take_output();
  c->feed(in.substr(0, split));
  (void)c->take_output();
  c->feed(in.substr(split));
  (void)c->take_output();
  if (c->state() == nj::socks::Client::State::connected) {
    std::string rest = c->take_remainder();
    if (rest.size() > in.size()) std::abort();
    if (in.substr(in.size() - rest.size()) != rest) std::abort();
    if (!c->reply_code() || *c->reply_code() != 0) std::abort();
  }
  if (c->state() == nj::socks::Client::State::failed && c->error().empty()) std::abort();
  return 0;
}
