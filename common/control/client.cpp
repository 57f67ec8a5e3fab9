#include "common/control/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace nj::control {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Connects without blocking; errno is left from the failing call.
int connect_unix(const std::string& path) {
  sockaddr_un sa{};
  if (path.size() >= sizeof sa.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// Waits for `events` on fd until `deadline`; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

std::string socket_path(const std::string& data_dir) { return data_dir + "/control.sock"; }

bool answers(const std::string& path) {
  int fd = connect_unix(path);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

Result<std::string> request(const std::string& path, std::string_view command, int timeout_ms) {
  std::string line(command);
  line += '\n';
  if (line.size() > kMaxCommandLine || command.find('\n') != std::string_view::npos)
    return make_error("command too long or not one line");
  auto no_daemon = [&](const std::string& why) {
    return make_error("no daemon answers on " + path + ": " + why);
  };
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Fd fd(connect_unix(path));
  if (fd.get() < 0) return no_daemon(std::strerror(errno));
  size_t sent = 0;
  while (sent < line.size()) {
    if (!wait_for(fd.get(), POLLOUT, deadline)) return no_daemon("timed out");
    ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return no_daemon(std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buf[4096];
  for (;;) {
    if (!wait_for(fd.get(), POLLIN, deadline)) return no_daemon("no answer in time");
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return no_daemon(std::strerror(errno));
    if (n == 0) break;
    answer.append(buf, static_cast<size_t>(n));
    if (answer.size() > kMaxAnswer) return make_error(path + ": answer too long");
  }
  size_t eol = answer.find('\n');
  if (eol == std::string::npos) return no_daemon("it closed without a complete answer");
  std::string first = answer.substr(0, eol);
  if (first == "ok") return answer.substr(eol + 1);
  if (first.rfind("error: ", 0) == 0) return make_error(first.substr(7));
  return make_error(path + ": unexpected answer");
}

}  // namespace nj::control
