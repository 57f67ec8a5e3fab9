// metrics::Exporter: serves a Registry over HTTP for Prometheus, on a loopback address only.
// It speaks just enough HTTP/1.x: one request per connection, `GET /metrics` gets the text
// format, anything else well formed gets 404, then the connection closes. The request head is
// read whole (at most max_head bytes, within timeout_ms) and only its request line is looked at.
// Trust: whoever reaches the port is a local process; it is still treated as hostile: bounded
// connections, bytes and time, nothing it sends is echoed or logged, and the scrape holds only
// counts (the Registry's rule: no label carries an address, an account or a user's domain).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/metrics/registry.h"
#include "common/uv/loop.h"
#include "common/uv/session_set.h"
#include "common/uv/tcp.h"

namespace nj::metrics {

// What the exporter makes of the bytes of a request head received so far.
enum class HttpVerdict {
  incomplete,   // no blank line yet, and still under the limit
  metrics,      // GET /metrics (query string ignored), HTTP/1.0 or HTTP/1.1
  not_found,    // a well-formed request for anything else
  bad_request,  // not an HTTP/1.0 or 1.1 request line
  too_large,    // no end of the head within max_head bytes
};
HttpVerdict judge_request(std::string_view head, size_t max_head);

// The whole answer for a verdict other than `incomplete` (`body` is the scrape for `metrics`).
std::string http_answer(HttpVerdict v, std::string_view body);

class Exporter {
 public:
  struct Limits {
    size_t max_connections = 8;  // more are closed at once
    size_t max_head = 4096;
    uint64_t timeout_ms = 5000;  // to send the head, and again to take the answer
  };

  // Binds `host_port` ("127.0.0.1:9100", "[::1]:9100"; port 0 picks one), which must be a
  // loopback address: anything else is refused. `registry` must outlive the exporter.
  static Result<std::unique_ptr<Exporter>> start(uv::Loop& loop, std::string_view host_port,
                                                 Registry& registry, Limits limits);
  static Result<std::unique_ptr<Exporter>> start(uv::Loop& loop, std::string_view host_port,
                                                 Registry& registry) {
    return start(loop, host_port, registry, Limits{});
  }
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  uint16_t port() const { return listener_ ? listener_->port() : 0; }
  size_t connections() const { return conns_.size(); }
  // Stops listening and closes every connection.
  void close();

  class Conn;

 private:
  Exporter(uv::Loop& loop, Registry& registry, Limits limits);
  void accept(std::unique_ptr<uv::Connection> c);

  uv::Loop& loop_;
  Registry& registry_;
  Limits limits_;
  std::unique_ptr<uv::TcpListener> listener_;
  uv::SessionSet<Conn> conns_;
};

}  // namespace nj::metrics
