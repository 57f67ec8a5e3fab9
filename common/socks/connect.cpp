#include "common/socks/connect.h"

#include <utility>

#include "common/crypto/crypto.h"
#include "common/uv/address.h"

namespace nj::socks {

struct Attempt::Impl {
  Impl(uv::Loop& loop, Client c, ConnectCallback cb)
      : timer(loop), client(std::move(c)), callback(std::move(cb)) {}

  uv::Timer timer;
  Client client;
  ConnectCallback callback;
  std::unique_ptr<uv::Connection> conn;

  // Reports once. The caller must return right after: the user may have destroyed us.
  void finish(Result<Connected> r) {
    timer.stop();
    if (!callback) return;
    auto cb = std::exchange(callback, nullptr);
    cb(std::move(r));
  }

  void fail(std::string why) {
    if (conn) conn->close();
    finish(make_error(std::move(why)));
  }

  // Sends what the engine has queued; true when the connection is still usable.
  bool flush() {
    std::string out = client.take_output();
    if (out.empty()) return true;
    if (auto st = conn->write(std::move(out)); !st.ok()) {
      fail("socks: write to proxy: " + st.error());
      return false;
    }
    return true;
  }

  void on_bytes(std::string_view bytes) {
    client.feed(bytes);
    switch (client.state()) {
      case Client::State::negotiating:
        flush();
        return;
      case Client::State::failed:
        fail(client.error());
        return;
      case Client::State::connected: {
        // Our callbacks capture this Impl; the application installs its own.
        conn->on_read([](std::string_view) {});
        conn->on_close([](const Status&) {});
        conn->pause_reading();
        Connected c{std::move(conn), client.take_remainder()};
        finish(std::move(c));
        return;
      }
    }
  }
};

Attempt::Attempt(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Attempt::~Attempt() {
  if (impl_ && impl_->conn) impl_->conn->close();
}

Result<std::unique_ptr<Attempt>> connect(uv::Loop& loop, std::string_view proxy,
                                         std::string_view target_host, uint16_t target_port,
                                         std::string_view isolation_tag, ConnectCallback callback,
                                         ConnectOptions options) {
  auto hp = uv::parse_host_port(proxy);
  if (!hp) return make_error("socks proxy: " + hp.error());
  if (auto sa = uv::make_sockaddr(hp->host, hp->port); !sa)
    return make_error("socks proxy: must be an IP address and port");
  Request req{std::string(target_host), target_port, std::nullopt};
  if (!isolation_tag.empty())
    req.credentials = Credentials{std::string(isolation_tag), crypto::random_id()};
  auto client = Client::create(std::move(req));
  if (!client) return make_error(client.error());
  auto impl = std::make_unique<Attempt::Impl>(loop, std::move(*client), std::move(callback));
  Attempt::Impl* p = impl.get();
  auto conn = uv::Connection::connect(loop, hp->host, hp->port, [p](const Status& st) {
    if (!st.ok()) {
      // The connection closed itself; the Impl keeps the dead object until it goes away.
      p->finish(make_error("socks: proxy " + st.error()));
      return;
    }
    if (!p->flush()) return;
    p->conn->on_close([p](const Status& why) {
      p->finish(make_error(why.ok() ? std::string("socks: proxy closed the connection")
                                    : "socks: proxy connection: " + why.error()));
    });
    p->conn->on_read([p](std::string_view bytes) { p->on_bytes(bytes); });
  });
  if (!conn) return make_error("socks proxy: " + conn.error());
  p->conn = std::move(*conn);
  p->timer.start(options.timeout_ms, 0, [p] { p->fail("socks: timed out"); });
  return std::unique_ptr<Attempt>(new Attempt(std::move(impl)));
}

}  // namespace nj::socks
