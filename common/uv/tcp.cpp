#include "common/uv/tcp.h"

#include <sys/un.h>

#include <optional>

namespace nj::uv {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kDefaultHighWater = 1024 * 1024;

// libuv reads into this and calls the read callback before the next allocation on the same
// thread, so one buffer per thread serves every connection.
thread_local char g_read_buffer[kReadChunk];

std::string uv_err(const char* what, int rc) {
  return std::string(what) + ": " + uv_strerror(rc);
}

}  // namespace

struct Connection::State final : detail::HandleState {
  explicit State(Loop& loop, Connection* o) : HandleState(loop), owner(o) {}
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&h); }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&h); }

  // A TCP connection, or a unix socket's from a PipeListener: both are libuv streams, and
  // everything below the accept works on the stream.
  union Handle {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h{};
  bool pipe = false;
  uv_connect_t connect_req{};
  uv_shutdown_t shutdown_req{};
  Connection* owner;

  ReadCallback on_read;
  std::function<void()> on_drain;
  CloseCallback on_close;
  DoneCallback on_connected;
  DoneCallback on_tls_ready;

  std::optional<tls::Session> tls;
  std::unique_ptr<Timer> linger;  // only while shutting down
  std::shared_ptr<int> alive = std::make_shared<int>(0);
  Status close_reason;
  size_t queued = 0;
  size_t high_water = kDefaultHighWater;
  bool connected = false;
  bool want_read = false;
  bool backpressured = false;
  bool reading = false;
  bool shutting_down = false;
  bool shutdown_started = false;

  void update_reading() {
    bool should = connected && want_read && !backpressured && !shutting_down && !closing();
    if (should == reading) return;
    if (should) {
      if (uv_read_start(stream(), &State::alloc_cb, &State::read_cb) == 0) reading = true;
    } else {
      uv_read_stop(stream());
      reading = false;
    }
  }

  // Ends the connection; on_close (if still wanted) runs from libuv's close callback.
  void end(Status why) {
    if (closing()) return;
    close_reason = std::move(why);
    alive.reset();
    linger.reset();
    close();
  }

  void on_closed() override {
    if (!detached() && on_close) {
      auto cb = std::move(on_close);
      cb(close_reason);
    }
  }

  static void connect_cb(uv_connect_t* req, int status) {
    auto* st = static_cast<State*>(req->handle->data);
    if (status == UV_ECANCELED || st->closing()) return;
    auto cb = std::move(st->on_connected);
    st->on_connected = nullptr;
    if (status < 0) {
      st->on_close = nullptr;  // never opened: nothing to report
      st->end(make_error(uv_err("connect", status)));
      if (cb && !st->detached()) cb(make_error(uv_err("connect", status)));
      return;
    }
    st->connected = true;
    if (!st->pipe) uv_tcp_nodelay(&st->h.tcp, 1);
    if (st->detached()) return;
    st->owner->fill_addresses();
    st->update_reading();
    if (cb) cb({});
  }

  struct WriteReq {
    uv_write_t req;
    std::string data;
    State* s;
  };

  Status submit(std::string data) {
    if (data.empty()) return {};
    auto* w = new WriteReq{{}, std::move(data), this};
    uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, stream(), &b, 1, &State::write_cb);
    if (rc != 0) {
      delete w;
      end(make_error(uv_err("write", rc)));
      return make_error(uv_err("write", rc));
    }
    queued += w->data.size();
    if (queued > high_water) {
      backpressured = true;
      update_reading();
    }
    return {};
  }

  Status flush_tls() {
    if (!tls) return {};
    return submit(tls->take_ciphertext());
  }

  void start_shutdown() {
    if (shutdown_started || closing()) return;
    shutdown_started = true;
    int rc = uv_shutdown(&shutdown_req, stream(), [](uv_shutdown_t* req, int) {
      auto* st = static_cast<State*>(req->handle->data);
      st->end({});
    });
    if (rc != 0) end({});
  }

  static void write_cb(uv_write_t* req, int status) {
    auto* w = reinterpret_cast<WriteReq*>(req);
    State* st = w->s;
    st->queued -= w->data.size();
    delete w;
    if (status == UV_ECANCELED || st->closing()) return;
    if (status < 0) {
      st->end(make_error(uv_err("write", status)));
      return;
    }
    if (st->backpressured && st->queued <= st->high_water / 2) {
      st->backpressured = false;
      st->update_reading();
    }
    if (st->queued == 0) {
      if (st->shutting_down) {
        st->start_shutdown();
      } else if (st->on_drain && !st->detached()) {
        auto cb = st->on_drain;
        cb();
      }
    }
  }

  static void alloc_cb(uv_handle_t*, size_t, uv_buf_t* buf) {
    *buf = uv_buf_init(g_read_buffer, sizeof g_read_buffer);
  }

  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* st = static_cast<State*>(stream->data);
    if (nread == 0 || st->closing()) return;
    if (nread == UV_EOF) {
      st->end({});
      return;
    }
    if (nread < 0) {
      st->end(make_error(uv_err("read", static_cast<int>(nread))));
      return;
    }
    std::string_view bytes(buf->base, static_cast<size_t>(nread));
    if (!st->tls) {
      st->deliver(bytes);
      return;
    }
    st->on_tls_bytes(bytes);
  }

  void deliver(std::string_view bytes) {
    if (detached() || !on_read || bytes.empty()) return;
    auto cb = on_read;  // the callback may replace itself or destroy the owner
    cb(bytes);
  }

  void on_tls_bytes(std::string_view bytes) {
    bool was_done = tls->handshake_done();
    Status fed = tls->feed(bytes);
    // Send what the engine produced (handshake messages, alerts) even on failure.
    (void)submit(tls->take_ciphertext());
    if (closing()) return;
    if (!fed) {
      if (!was_done) notify_tls(fed);
      end(fed);
      return;
    }
    if (!was_done && tls->handshake_done()) {
      notify_tls({});
      if (closing()) return;
    }
    std::string plain = tls->take_plaintext();
    deliver(plain);
    if (closing()) return;
    if (tls->peer_closed()) end({});
  }

  void notify_tls(const Status& st) {
    if (detached() || !on_tls_ready) return;
    auto cb = std::move(on_tls_ready);
    on_tls_ready = nullptr;
    cb(st);
  }
};

Connection::~Connection() = default;

std::unique_ptr<Connection> Connection::accept_from(Loop& loop, uv_stream_t* server, bool pipe) {
  std::unique_ptr<Connection> c(new Connection());
  auto* cs = new Connection::State(loop, c.get());
  cs->pipe = pipe;
  int rc = pipe ? uv_pipe_init(loop.raw(), &cs->h.pipe, 0) : uv_tcp_init(loop.raw(), &cs->h.tcp);
  if (rc != 0) {
    cs->close();
    return nullptr;
  }
  cs->registered();
  c->s_.adopt(cs);
  if (uv_accept(server, cs->stream()) != 0) return nullptr;  // c closes it
  cs->connected = true;
  if (!pipe) uv_tcp_nodelay(&cs->h.tcp, 1);
  c->fill_addresses();
  return c;
}

void Connection::fill_addresses() {
  State* s = s_.get();
  if (!s || s->pipe) return;  // a unix socket has no IP address: peer_ and local_ stay empty
  int len = sizeof peer_;
  uv_tcp_getpeername(&s->h.tcp, reinterpret_cast<sockaddr*>(&peer_), &len);
  len = sizeof local_;
  uv_tcp_getsockname(&s->h.tcp, reinterpret_cast<sockaddr*>(&local_), &len);
}

Result<std::unique_ptr<Connection>> Connection::connect(Loop& loop, std::string_view ip,
                                                        uint16_t port, DoneCallback on_connected) {
  auto addr = make_sockaddr(ip, port);
  if (!addr) return make_error(addr.error());
  std::unique_ptr<Connection> c(new Connection());
  auto* s = new State(loop, c.get());
  if (int rc = uv_tcp_init(loop.raw(), &s->h.tcp); rc != 0) {
    s->close();
    return make_error(uv_err("tcp init", rc));
  }
  s->registered();
  c->s_.adopt(s);
  s->on_connected = std::move(on_connected);
  int rc = uv_tcp_connect(&s->connect_req, &s->h.tcp, reinterpret_cast<const sockaddr*>(&*addr),
                          &State::connect_cb);
  if (rc != 0) return make_error(uv_err("connect", rc));
  return c;
}

Result<std::unique_ptr<Connection>> Connection::connect_unix(Loop& loop, const std::string& path,
                                                             DoneCallback on_connected) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path))
    return make_error(path + ": a unix socket path must be 1 to " +
                      std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
  std::unique_ptr<Connection> c(new Connection());
  auto* s = new State(loop, c.get());
  s->pipe = true;
  if (int rc = uv_pipe_init(loop.raw(), &s->h.pipe, 0); rc != 0) {
    s->close();
    return make_error(uv_err("pipe init", rc));
  }
  s->registered();
  c->s_.adopt(s);
  s->on_connected = std::move(on_connected);
  // libuv reports every failure, also a missing socket file, through the callback.
  uv_pipe_connect(&s->connect_req, &s->h.pipe, path.c_str(), &State::connect_cb);
  return c;
}

void Connection::on_read(ReadCallback cb) {
  State* s = s_.get();
  if (!s) return;
  s->on_read = std::move(cb);
  s->want_read = true;
  s->update_reading();
}

void Connection::pause_reading() {
  if (State* s = s_.get()) {
    s->want_read = false;
    s->update_reading();
  }
}

void Connection::resume_reading() {
  if (State* s = s_.get()) {
    s->want_read = true;
    s->update_reading();
  }
}

void Connection::on_drain(std::function<void()> cb) {
  if (State* s = s_.get()) s->on_drain = std::move(cb);
}

void Connection::on_close(CloseCallback cb) {
  if (State* s = s_.get()) s->on_close = std::move(cb);
}

Status Connection::write(std::string data) {
  State* s = s_.get();
  if (!s || s->closing() || s->shutting_down) return make_error("connection is closing");
  if (!s->connected) return make_error("connection is not established");
  if (s->tls) {
    if (auto st = s->tls->write(data); !st) {
      s->end(st);
      return st;
    }
    return s->flush_tls();
  }
  return s->submit(std::move(data));
}

size_t Connection::queued_bytes() const {
  State* s = s_.get();
  return s ? s->queued : 0;
}

void Connection::set_high_water(size_t bytes) {
  if (State* s = s_.get()) s->high_water = bytes == 0 ? 1 : bytes;
}

void Connection::close() {
  if (State* s = s_.get()) s->end({});
}

void Connection::shutdown_then_close(uint64_t linger_ms) {
  State* s = s_.get();
  if (!s || s->closing() || s->shutting_down) return;
  if (!s->connected) {
    s->end({});
    return;
  }
  s->shutting_down = true;
  s->update_reading();
  if (s->tls && s->tls->handshake_done()) {
    s->tls->shutdown();
    (void)s->flush_tls();
  }
  if (s->closing()) return;
  if (s->queued == 0) {
    s->start_shutdown();
  }
  if (!s->closing()) {
    // Also bounds uv_shutdown itself, which waits for the kernel to take the last bytes.
    s->linger = std::make_unique<Timer>(s->loop());
    s->linger->start(linger_ms, 0, [s] { s->end(make_error("shutdown timed out")); });
  }
}

bool Connection::is_open() const {
  State* s = s_.get();
  return s && !s->closing();
}

std::weak_ptr<void> Connection::alive() const {
  State* s = s_.get();
  if (!s) return {};
  return s->alive;
}

Status Connection::start_tls_server(const tls::Context& ctx, DoneCallback on_ready) {
  State* s = s_.get();
  if (!s || s->closing()) return make_error("connection is closing");
  if (s->tls) return make_error("TLS is already active");
  auto sess = tls::Session::server(ctx);
  if (!sess) return make_error(sess.error());
  s->tls.emplace(std::move(*sess));
  s->on_tls_ready = std::move(on_ready);
  return {};
}

Status Connection::start_tls_client(const tls::Context& ctx, std::string_view server_name,
                                    DoneCallback on_ready) {
  State* s = s_.get();
  if (!s || s->closing()) return make_error("connection is closing");
  if (!s->connected) return make_error("connection is not established");
  if (s->tls) return make_error("TLS is already active");
  auto sess = tls::Session::client(ctx, server_name);
  if (!sess) return make_error(sess.error());
  s->tls.emplace(std::move(*sess));
  s->on_tls_ready = std::move(on_ready);
  return s->flush_tls();  // the ClientHello
}

const tls::Session* Connection::tls() const {
  State* s = s_.get();
  return s && s->tls ? &*s->tls : nullptr;
}

// ---- TcpListener

struct TcpListener::State final : detail::HandleState {
  using HandleState::HandleState;
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&h); }
  uv_tcp_t h{};
  AcceptCallback on_accept;
};

Result<std::unique_ptr<TcpListener>> TcpListener::bind(Loop& loop, std::string_view host_port,
                                                       AcceptCallback on_accept, int backlog) {
  auto hp = parse_host_port(host_port);
  if (!hp) return make_error("listen address '" + std::string(host_port) + "': " + hp.error());
  auto addr = make_sockaddr(hp->host, hp->port);
  if (!addr) return make_error("listen address '" + std::string(host_port) + "': " + addr.error());
  std::unique_ptr<TcpListener> l(new TcpListener());
  auto* s = new State(loop);
  if (int rc = uv_tcp_init(loop.raw(), &s->h); rc != 0) {
    s->close();
    return make_error(uv_err("tcp init", rc));
  }
  s->registered();
  l->s_.adopt(s);
  s->on_accept = std::move(on_accept);
  unsigned flags = addr->ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
  if (int rc = uv_tcp_bind(&s->h, reinterpret_cast<const sockaddr*>(&*addr), flags); rc != 0)
    return make_error("bind " + std::string(host_port) + ": " + uv_strerror(rc));
  int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s->h), backlog,
                     [](uv_stream_t* server, int status) {
                       auto* st = static_cast<State*>(server->data);
                       // Accept failures (EMFILE and the like) are the host's trouble, not a
                       // reason to stop listening; the next connection may succeed.
                       if (status < 0 || st->detached()) return;
                       auto c = Connection::accept_from(st->loop(), server, false);
                       if (!c) return;
                       auto cb = st->on_accept;
                       if (cb) cb(std::move(c));
                     });
  if (rc != 0) return make_error("listen " + std::string(host_port) + ": " + uv_strerror(rc));
  int len = sizeof l->local_;
  uv_tcp_getsockname(&s->h, reinterpret_cast<sockaddr*>(&l->local_), &len);
  return l;
}

}  // namespace nj::uv
