#include "common/uv/pipe.h"

#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace nj::uv {

struct PipeListener::State final : detail::HandleState {
  using HandleState::HandleState;
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&h); }
  uv_pipe_t h{};
  AcceptCallback on_accept;
};

Result<std::unique_ptr<PipeListener>> PipeListener::bind(Loop& loop, const std::string& path,
                                                         mode_t mode, AcceptCallback on_accept,
                                                         int backlog) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path))
    return make_error(path + ": a unix socket path must be 1 to " +
                      std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
  std::unique_ptr<PipeListener> l(new PipeListener());
  l->path_ = path;
  auto* s = new State(loop);
  if (int rc = uv_pipe_init(loop.raw(), &s->h, 0); rc != 0) {
    s->close();
    return make_error(path + ": pipe init: " + uv_strerror(rc));
  }
  s->registered();
  l->s_.adopt(s);
  s->on_accept = std::move(on_accept);
  if (int rc = uv_pipe_bind(&s->h, path.c_str()); rc != 0)
    return make_error("bind " + path + ": " + uv_strerror(rc));
  // Before listen(): until then a connect is refused, so nobody gets in under the umask's mode.
  if (::chmod(path.c_str(), mode) != 0)
    return make_error("chmod " + path + ": " + std::strerror(errno));
  int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s->h), backlog,
                     [](uv_stream_t* server, int status) {
                       auto* st = static_cast<State*>(server->data);
                       if (status < 0 || st->detached()) return;
                       auto c = Connection::accept_from(st->loop(), server, true);
                       if (!c) return;
                       auto cb = st->on_accept;
                       if (cb) cb(std::move(c));
                     });
  if (rc != 0) return make_error("listen " + path + ": " + uv_strerror(rc));
  return l;
}

}  // namespace nj::uv
