// TCP listeners and connections on the libuv loop, with optional TLS layered inside the
// connection (after start_tls_*, the user reads and writes plaintext; the wire carries TLS).
// A unix socket's connections (common/uv/pipe.h) are Connections too.
// Trust: the peer is hostile. Its bytes are handed over as they arrive, unparsed; writes are
// bounded by backpressure (reading pauses while too much is queued unsent), never by trust.
#pragma once

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/tls/tls.h"
#include "common/uv/address.h"
#include "common/uv/handles.h"
#include "common/uv/loop.h"

namespace nj::uv {

class Connection {
 public:
  using ReadCallback = std::function<void(std::string_view bytes)>;
  // ok(): orderly end (close(), shutdown_then_close(), or the peer closed); otherwise the error.
  using CloseCallback = std::function<void(const Status& why)>;
  using DoneCallback = std::function<void(const Status& result)>;

  // Outgoing TCP to an IP literal (no DNS here). The callback reports the connect result;
  // after a failure the connection is closed and on_close does not fire. Destroying the
  // returned object cancels the attempt silently.
  static Result<std::unique_ptr<Connection>> connect(Loop& loop, std::string_view ip, uint16_t port,
                                                     DoneCallback on_connected);
  // Outgoing unix socket connection to `path` (a local daemon's socket, e.g. clamd's), with
  // the same contract as connect(). Its addresses stay empty, as for a PipeListener's.
  static Result<std::unique_ptr<Connection>> connect_unix(Loop& loop, const std::string& path,
                                                          DoneCallback on_connected);

  // Closes without calling any callback.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sets the read callback and starts reading.
  void on_read(ReadCallback cb);
  void pause_reading();
  void resume_reading();
  // Called when every queued byte has been handed to the kernel.
  void on_drain(std::function<void()> cb);
  // Called once when the connection ends for any reason other than destruction of this
  // object (also after close()).
  void on_close(CloseCallback cb);

  // Queues bytes (plaintext once TLS is on). Error if the connection is closing or an
  // outgoing connect has not completed yet.
  Status write(std::string data);
  size_t queued_bytes() const;
  // Reading pauses while more than this many bytes are queued and resumes below half of it.
  void set_high_water(size_t bytes);

  // Immediate close; queued writes are dropped.
  void close();
  // Stop reading, send what is queued (and TLS close_notify), shut down the write side, then
  // close. If that has not finished after linger_ms (a peer that never reads), the connection
  // is closed anyway and on_close gets an error.
  void shutdown_then_close(uint64_t linger_ms = 30000);
  bool is_open() const;
  // Expires when the connection starts closing; async work (DNS, disk) holds it to know.
  std::weak_ptr<void> alive() const;

  // STARTTLS. Bytes delivered before this call were plaintext; a caller that still holds
  // unconsumed plaintext input must discard it (RFC 3207 command injection). on_ready gets
  // the handshake result; on failure the connection also closes with that error.
  Status start_tls_server(const tls::Context& ctx, DoneCallback on_ready);
  Status start_tls_client(const tls::Context& ctx, std::string_view server_name,
                          DoneCallback on_ready);
  // nullptr without TLS; use for protocol()/cipher() in Received lines.
  const tls::Session* tls() const;

  // For a unix socket's connection (PipeListener) these are empty: "" and 0.
  const sockaddr_storage& peer_sockaddr() const { return peer_; }
  const sockaddr_storage& local_sockaddr() const { return local_; }
  std::string peer_ip() const { return ip_text(peer_); }
  uint16_t peer_port() const { return port_of(peer_); }
  std::string local_ip() const { return ip_text(local_); }
  uint16_t local_port() const { return port_of(local_); }
  // "192.0.2.0/24" or "2001:db8::/64"-style network of the peer.
  std::string peer_prefix() const { return network_prefix(peer_); }

  struct State;

 private:
  friend class TcpListener;
  friend class PipeListener;
  Connection() = default;
  // Accepts the pending connection of a listening TCP (pipe false) or unix socket; nullptr
  // when that fails (the host's trouble, not a reason to stop listening).
  static std::unique_ptr<Connection> accept_from(Loop& loop, uv_stream_t* server, bool pipe);
  void fill_addresses();

  detail::Owned<State> s_;
  sockaddr_storage peer_{};
  sockaddr_storage local_{};
};

class TcpListener {
 public:
  using AcceptCallback = std::function<void(std::unique_ptr<Connection>)>;

  // "127.0.0.1:2525", "[::1]:2525", "0.0.0.0:25", port 0 for any free port. IP literals only.
  // SO_REUSEADDR is set (libuv does it on bind); IPv6 sockets are v6-only so v4 and v6
  // wildcards can be bound side by side.
  static Result<std::unique_ptr<TcpListener>> bind(Loop& loop, std::string_view host_port,
                                                   AcceptCallback on_accept, int backlog = 128);
  ~TcpListener() = default;
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  uint16_t port() const { return port_of(local_); }
  std::string ip() const { return ip_text(local_); }
  void close() { s_.reset(); }

  struct State;

 private:
  TcpListener() = default;
  detail::Owned<State> s_;
  sockaddr_storage local_{};
};

}  // namespace nj::uv
