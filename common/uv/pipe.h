// PipeListener: a listening unix-domain socket on the libuv loop (the daemons' control socket).
// Its connections are ordinary uv::Connection objects without IP addresses.
// Trust: the peer is a local process that could open the socket file; the file's mode (set here,
// before anyone can connect) decides who that is.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "common/uv/loop.h"
#include "common/uv/tcp.h"

namespace nj::uv {

class PipeListener {
 public:
  using AcceptCallback = std::function<void(std::unique_ptr<Connection>)>;

  // Binds `path` (which must not exist), gives it `mode`, then listens. The file stays when the
  // listener closes: its owner removes it.
  static Result<std::unique_ptr<PipeListener>> bind(Loop& loop, const std::string& path,
                                                    mode_t mode, AcceptCallback on_accept,
                                                    int backlog = 16);
  ~PipeListener() = default;
  PipeListener(const PipeListener&) = delete;
  PipeListener& operator=(const PipeListener&) = delete;

  const std::string& path() const { return path_; }
  void close() { s_.reset(); }

  struct State;

 private:
  PipeListener() = default;
  detail::Owned<State> s_;
  std::string path_;
};

}  // namespace nj::uv
