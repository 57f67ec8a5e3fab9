// socks::connect: a TCP connection through a SOCKS5 proxy (Tor's or I2P's SocksPort) to a host
// name, handed over ready for application bytes. The name is sent to the proxy unresolved.
// Trust: the proxy's replies go through socks::Client (bounded, strict); the target is whatever
// the proxy connects us to, so the application must authenticate it (the link does).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/socks/client.h"
#include "common/uv/handles.h"
#include "common/uv/loop.h"
#include "common/uv/tcp.h"

namespace nj::socks {

struct Connected {
  std::unique_ptr<uv::Connection> conn;  // reading paused; the application's on_read starts it
  // Application bytes that came in the same read as the proxy's CONNECT reply: process them
  // before anything the connection delivers later.
  std::string early_bytes;
};

using ConnectCallback = std::function<void(Result<Connected>)>;

struct ConnectOptions {
  // Covers the TCP connect to the proxy and the whole negotiation (an onion service's circuit
  // can take tens of seconds to build).
  uint64_t timeout_ms = 120000;
};

// One attempt in flight. The callback runs exactly once, never from inside connect(), unless
// the Attempt is destroyed first (that cancels silently). The Attempt may be destroyed from
// inside the callback.
class Attempt {
 public:
  ~Attempt();
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;

  struct Impl;

 private:
  friend Result<std::unique_ptr<Attempt>> connect(uv::Loop&, std::string_view, std::string_view,
                                                  uint16_t, std::string_view, ConnectCallback,
                                                  ConnectOptions);
  explicit Attempt(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// proxy: "127.0.0.1:9050" (an IP literal; nothing is resolved here). isolation_tag: when not
// empty, the proxy gets username = isolation_tag and a fresh random password, so with Tor's
// default IsolateSOCKSAuth every connection gets its own circuit; empty: no authentication.
// Errors returned here are about the arguments; the rest arrive through the callback.
Result<std::unique_ptr<Attempt>> connect(uv::Loop& loop, std::string_view proxy,
                                         std::string_view target_host, uint16_t target_port,
                                         std::string_view isolation_tag, ConnectCallback callback,
                                         ConnectOptions options = {});

}  // namespace nj::socks
