// EdgeDialer: opens one connection to an edge: through the overlay's SOCKS5 proxy by name (Tor
// or I2P; each connection with its own SOCKS credentials, so Tor builds it its own circuit), or
// plain loopback TCP for the `direct` transport of tests and the demo. When to dial is the
// DialPolicy's business, what runs over the connection the link Session's.
// Trust: the proxy and the far end are not trusted; the link's handshake authenticates the edge.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "common/socks/connect.h"
#include "common/uv/loop.h"
#include "common/uv/tcp.h"
#include "inner/config/config.h"

namespace nj::inner {

const char* transport_name(Transport t);

class EdgeDialer {
 public:
  // The connection, and bytes the proxy passed on with its reply (the edge's first bytes).
  using Done = std::function<void(Result<socks::Connected>)>;

  EdgeDialer(uv::Loop& loop, const EdgeLinkConfig& edge) : loop_(loop), edge_(edge) {}

  // Starts a dial; `done` runs once (from inside dial() on an immediate error). A dial in
  // progress is cancelled.
  void dial(Done done);
  // Cancels a dial in progress; its callback does not run.
  void cancel();

 private:
  uv::Loop& loop_;
  const EdgeLinkConfig& edge_;
  std::unique_ptr<socks::Attempt> attempt_;
  std::unique_ptr<uv::Connection> conn_;  // a direct connect in progress
  std::shared_ptr<bool> epoch_;           // replaced per dial: a cancelled one's callback stops
};

}  // namespace nj::inner
