// ControlServer: a daemon's control socket, <data_dir>/control.sock (mode 0600), for nightjarctl
// on the same machine. One command line per connection (at most kMaxCommandLine bytes, "\n"
// ended); the daemon answers "ok\n" and a body, or "error: REASON\n", and closes. The daemon
// names its commands and their handlers; a handler answers when it is ready (a reload may wait
// for the store), through the reply function it is given, exactly once.
// Trust: whoever can open the socket is the daemon's user or root (the mode says so); the line
// is still bounded in bytes, time and connections, and only matched against the command names.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "common/uv/loop.h"
#include "common/uv/pipe.h"
#include "common/uv/session_set.h"

namespace nj::control {

// Answers one command: ok(body) or an error (its message becomes "error: MESSAGE"). Calling it
// after the client went away, or a second time, does nothing.
using Reply = std::function<void(Result<std::string>)>;
using Handler = std::function<void(Reply reply)>;

class ControlServer {
 public:
  struct Limits {
    size_t max_connections = 8;     // more are closed at once
    uint64_t line_timeout_ms = 5000;     // to send the command line
    uint64_t answer_timeout_ms = 60000;  // for the handler to answer ("error: timed out")
  };

  // Listens on `path`. A file already there is removed when nothing answers on it (a socket the
  // last run left); when a daemon answers, or it is not a socket, start-up fails.
  static Result<std::unique_ptr<ControlServer>> start(uv::Loop& loop, const std::string& path,
                                                      std::map<std::string, Handler> handlers,
                                                      Limits limits);
  static Result<std::unique_ptr<ControlServer>> start(uv::Loop& loop, const std::string& path,
                                                      std::map<std::string, Handler> handlers) {
    return start(loop, path, std::move(handlers), Limits{});
  }
  // close(), then removes the socket file.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& path() const { return path_; }
  size_t connections() const { return conns_.size(); }
  // Stops listening and ends every connection (a late reply is dropped).
  void close();

  class Conn;

 private:
  ControlServer(uv::Loop& loop, std::string path, std::map<std::string, Handler> handlers,
                Limits limits);
  void accept(std::unique_ptr<uv::Connection> c);

  uv::Loop& loop_;
  std::string path_;
  std::map<std::string, Handler> handlers_;
  Limits limits_;
  std::unique_ptr<uv::PipeListener> listener_;
  uv::SessionSet<Conn> conns_;
  bool remove_file_ = false;
};

}  // namespace nj::control
