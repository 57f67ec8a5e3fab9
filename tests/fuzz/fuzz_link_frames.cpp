// Fuzz the link channel. Two modes, chosen by the first byte:
// - arbitrary bytes into a fresh responder (what anyone who reaches the edge's port can send):
//   it must never crash and never open;
// - a real handshake between fixed keys, then arbitrary bytes as the initiator's "ciphertext":
//   the responder must refuse them cleanly and never hand out a frame (forging one would need
//   the stream key).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/link/channel.h"

using namespace nj;

namespace {
struct Keys {
  crypto::KeyPair inner = crypto::KeyPair::generate();
  crypto::KeyPair edge = crypto::KeyPair::generate();
};
const Keys& keys() {
  static Keys k;
  return k;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const Keys& k = keys();
  link::Options opt{4096};
  link::Channel res(link::Role::responder, k.edge, k.inner.pub, opt);
  if (data[0] & 1) {
    link::Channel ini(link::Role::initiator, k.inner, k.edge.pub, opt);
    res.feed(ini.take_output());
    ini.feed(res.take_output());
    res.feed(ini.take_output());
    if (!res.is_open() || !ini.is_open()) std::abort();
  }
  bool was_open = res.is_open();
  // Split the input at a point taken from the first byte, to reach the partial-read paths.
  size_t split = in.empty() ? 0 : (data[0] >> 1) % (in.size() + 1);
  res.feed(in.substr(0, split));
  res.feed(in.substr(split));
  if (!was_open && res.is_open()) std::abort();  // opened without the initiator's key
  if (res.next_frame()) std::abort();            // a frame forged without the stream key
  if (res.state() == link::Channel::State::failed && res.reason().empty()) std::abort();
  return 0;
}
