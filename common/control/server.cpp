#include "common/control/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/control/client.h"
#include "common/uv/handles.h"

namespace nj::control {

// One command: read the line, run its handler, write the answer, close.
class ControlServer::Conn {
 public:
  Conn(ControlServer& srv, std::unique_ptr<uv::Connection> c)
      : srv_(srv), conn_(std::move(c)), timer_(srv.loop_) {}
  ~Conn() {
    timer_.close();
    *alive_ = false;
  }

  void start() {
    conn_->on_close([this](const Status&) { done(); });
    conn_->on_read([this](std::string_view b) { on_bytes(b); });
    timer_.start(srv_.limits_.line_timeout_ms, 0, [this] { close(); });
  }
  void close() {
    conn_->close();
    done();
  }

 private:
  void on_bytes(std::string_view b) {
    if (have_line_) return;
    size_t eol = b.find('\n');
    line_.append(b.substr(0, eol == std::string_view::npos ? b.size() : eol + 1));
    if (line_.size() > kMaxCommandLine) {
      answer(make_error("command line too long"));
      return;
    }
    if (line_.empty() || line_.back() != '\n') return;
    have_line_ = true;
    conn_->pause_reading();
    line_.pop_back();
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    auto it = srv_.handlers_.find(line_);
    if (it == srv_.handlers_.end()) {
      answer(make_error("unknown command"));
      return;
    }
    timer_.start(srv_.limits_.answer_timeout_ms, 0, [this] { answer(make_error("timed out")); });
    std::weak_ptr<bool> alive = alive_;
    auto handler = it->second;  // a copy: the handler may outlive a reload of the table
    handler([this, alive](Result<std::string> r) {
      if (alive.expired() || !*alive.lock()) return;
      answer(std::move(r));
    });
  }

  void answer(Result<std::string> r) {
    if (answered_ || finished_) return;
    answered_ = true;
    have_line_ = true;
    std::string text;
    if (r) {
      text = "ok\n" + *r;
      if (!r->empty() && r->back() != '\n') text += '\n';
    } else {
      std::string why = r.error();
      for (char& c : why)
        if (c == '\n' || c == '\r') c = ' ';
      text = "error: " + why + "\n";
    }
    if (!conn_->write(std::move(text))) {
      close();
      return;
    }
    timer_.start(srv_.limits_.line_timeout_ms, 0, [this] { close(); });
    conn_->shutdown_then_close(srv_.limits_.line_timeout_ms);
  }

  void done() {
    if (finished_) return;
    finished_ = true;
    timer_.stop();
    srv_.conns_.finished(this);
  }

  ControlServer& srv_;
  std::unique_ptr<uv::Connection> conn_;
  uv::Timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::string line_;
  bool have_line_ = false;
  bool answered_ = false;
  bool finished_ = false;
};

ControlServer::ControlServer(uv::Loop& loop, std::string path,
                             std::map<std::string, Handler> handlers, Limits limits)
    : loop_(loop),
      path_(std::move(path)),
      handlers_(std::move(handlers)),
      limits_(limits),
      conns_(loop) {}

ControlServer::~ControlServer() {
  close();
  if (remove_file_) ::unlink(path_.c_str());
}

Result<std::unique_ptr<ControlServer>> ControlServer::start(uv::Loop& loop,
                                                            const std::string& path,
                                                            std::map<std::string, Handler> handlers,
                                                            Limits limits) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return make_error(path + ": exists and is not a socket; not removing it");
    if (answers(path)) return make_error(path + ": another daemon answers on it");
    if (::unlink(path.c_str()) != 0)
      return make_error(path + ": cannot remove the stale socket: " + std::strerror(errno));
  } else if (errno != ENOENT) {
    return make_error(path + ": " + std::strerror(errno));
  }
  std::unique_ptr<ControlServer> srv(
      new ControlServer(loop, path, std::move(handlers), limits));
  auto* raw = srv.get();
  auto l = uv::PipeListener::bind(
      loop, path, 0600, [raw](std::unique_ptr<uv::Connection> c) { raw->accept(std::move(c)); });
  if (!l) {
    ::unlink(path.c_str());  // a bind that got as far as the file leaves it behind
    return make_error("control socket: " + l.error());
  }
  srv->listener_ = std::move(*l);
  srv->remove_file_ = true;
  return srv;
}

void ControlServer::accept(std::unique_ptr<uv::Connection> c) {
  if (conns_.size() >= limits_.max_connections) {
    c->close();
    return;
  }
  conns_.add(std::make_unique<Conn>(*this, std::move(c)))->start();
}

void ControlServer::close() {
  if (listener_) listener_->close();
  listener_.reset();
  for (auto* c : conns_.snapshot()) c->close();
}

}  // namespace nj::control
