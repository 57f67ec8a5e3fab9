// The control socket over a real unix socket: ControlServer on a libuv loop, the blocking client
// (control::request) and raw clients on their own threads.
#define BOOST_TEST_MODULE control
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/control/client.h"
#include "common/control/server.h"
#include "common/uv/handles.h"
#include "tests/unit/store/temp_dir.h"
#include "tests/unit/support/run_until.h"

using nj::Result;
using nj::control::ControlServer;
using nj::control::Handler;
using nj::control::Reply;
using nj::store::test::TempDir;
using nj::testing::run_until;

namespace {

// As the daemons do (daemon::run_until_signal): a write to a peer that left is an error, not a
// signal.
struct IgnoreSigpipe {
  IgnoreSigpipe() { ::signal(SIGPIPE, SIG_IGN); }
};
BOOST_TEST_GLOBAL_FIXTURE(IgnoreSigpipe);

// Runs `fn` on its own thread while the loop turns; returns once it has finished (or false when
// it has not within `ms`).
// A ticking timer wakes the loop, which otherwise sleeps until its next event while the thread
// finishes.
bool on_thread(nj::uv::Loop& loop, const std::function<void()>& fn, uint64_t ms = 5000) {
  std::atomic<bool> done{false};
  nj::uv::Timer tick(loop);
  tick.start(5, 5, [] {});
  std::thread t([&] {
    fn();
    done = true;
  });
  bool ok = run_until(loop, [&] { return done.load(); }, ms);
  t.join();
  return ok;
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `bytes` (after `pause_ms`), then reads until the server closes.
std::string raw_exchange(const std::string& path, const std::string& bytes, int pause_ms = 0) {
  int fd = connect_unix(path);
  if (fd < 0) return "<connect failed>";
  if (pause_ms) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  if (!bytes.empty()) (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return got;
}

std::map<std::string, Handler> status_only(const std::string& body) {
  return {{"status", [body](Reply reply) { reply(body); }}};
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_command_is_answered_with_its_body) {
  TempDir t;
  nj::uv::Loop loop;
  const std::string path = nj::control::socket_path(t.path());
  BOOST_TEST(path == t.path() + "/control.sock");
  auto srv = ControlServer::start(loop, path, status_only("link: up\ninbound queue: 2 messages"));
  BOOST_REQUIRE_MESSAGE(srv.ok(), (srv.ok() ? std::string() : srv.error()));
  struct stat st{};
  BOOST_REQUIRE(::lstat(path.c_str(), &st) == 0);
  BOOST_TEST(S_ISSOCK(st.st_mode));
  BOOST_TEST((st.st_mode & 0777) == 0600u);

  Result<std::string> got = nj::make_error("not run");
  BOOST_TEST(on_thread(loop, [&] { got = nj::control::request(path, "status"); }));
  BOOST_REQUIRE_MESSAGE(got.ok(), (got.ok() ? std::string() : got.error()));
  BOOST_TEST(*got == "link: up\ninbound queue: 2 messages\n");  // a final newline is added
  // On the wire: "ok", then the body; a CRLF line is taken as well.
  std::string raw;
  BOOST_TEST(on_thread(loop, [&] { raw = raw_exchange(path, "status\r\n"); }));
  BOOST_TEST(raw == "ok\nlink: up\ninbound queue: 2 messages\n");
  BOOST_TEST(run_until(loop, [&] { return (*srv)->connections() == 0; }));
}

BOOST_AUTO_TEST_CASE(a_handler_may_answer_later_or_with_an_error) {
  TempDir t;
  nj::uv::Loop loop;
  const std::string path = nj::control::socket_path(t.path());
  nj::uv::Timer later(loop);
  std::map<std::string, Handler> h;
  h["slow"] = [&](Reply reply) {
    later.start(100, 0, [reply] {
      reply(std::string("late body\n"));
      reply(std::string("a second answer is ignored\n"));
    });
  };
  h["broken"] = [](Reply reply) { reply(nj::make_error("store\nunavailable")); };
  h["silent"] = [](Reply) {};
  ControlServer::Limits lim;
  lim.answer_timeout_ms = 300;
  auto srv = ControlServer::start(loop, path, h, lim);
  BOOST_REQUIRE(srv.ok());
  std::string slow, broken, silent;
  BOOST_TEST(on_thread(loop, [&] { slow = raw_exchange(path, "slow\n"); }));
  BOOST_TEST(slow == "ok\nlate body\n");
  BOOST_TEST(on_thread(loop, [&] { broken = raw_exchange(path, "broken\n"); }));
  BOOST_TEST(broken == "error: store unavailable\n");  // one line, whatever the handler said
  BOOST_TEST(on_thread(loop, [&] { silent = raw_exchange(path, "silent\n"); }));
  BOOST_TEST(silent == "error: timed out\n");
  Result<std::string> err = std::string();
  BOOST_TEST(on_thread(loop, [&] { err = nj::control::request(path, "broken"); }));
  BOOST_REQUIRE(!err.ok());
  BOOST_TEST(err.error() == "store unavailable");
}

BOOST_AUTO_TEST_CASE(an_unknown_command_is_an_error) {
  TempDir t;
  nj::uv::Loop loop;
  const std::string path = nj::control::socket_path(t.path());
  int ran = 0;
  auto srv = ControlServer::start(loop, path, {{"status", [&](Reply r) {
                                                  ++ran;
                                                  r(std::string("x"));
                                                }}});
  BOOST_REQUIRE(srv.ok());
  Result<std::string> got = std::string();
  BOOST_TEST(on_thread(loop, [&] { got = nj::control::request(path, "stat"); }));
  BOOST_REQUIRE(!got.ok());
  BOOST_TEST(got.error() == "unknown command");
  std::string raw;
  // Only the whole line names a command: neither a prefix, a suffix nor other case.
  for (const char* line : {"status now\n", "STATUS\n", " status\n", "\n"}) {
    BOOST_TEST(on_thread(loop, [&] { raw = raw_exchange(path, line); }));
    BOOST_TEST(raw == "error: unknown command\n", line);
  }
  BOOST_TEST(ran == 0);
}

BOOST_AUTO_TEST_CASE(an_overlong_line_is_refused) {
  TempDir t;
  nj::uv::Loop loop;
  const std::string path = nj::control::socket_path(t.path());
  int ran = 0;
  auto srv = ControlServer::start(loop, path, {{"status", [&](Reply r) {
                                                  ++ran;
                                                  r(std::string("x"));
                                                }}});
  BOOST_REQUIRE(srv.ok());
  const size_t most = nj::control::kMaxCommandLine;
  std::string raw;
  // No newline within the limit: refused as soon as the limit is passed, without waiting for
  // the end of the line.
  BOOST_TEST(on_thread(loop, [&] { raw = raw_exchange(path, std::string(most + 1, 's')); }));
  BOOST_TEST(raw == "error: command line too long\n");
  BOOST_TEST(on_thread(loop, [&] { raw = raw_exchange(path, std::string(10000, 's') + "\n"); }));
  BOOST_TEST(raw == "error: command line too long\n");
  // The longest line allowed is judged as a command.
  BOOST_TEST(on_thread(loop, [&] { raw = raw_exchange(path, std::string(most - 1, 's') + "\n"); }));
  BOOST_TEST(raw == "error: unknown command\n");
  BOOST_TEST(ran == 0);
  // The client does not send what the server would refuse.
  auto r = nj::control::request(path, std::string(most, 's'));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error() == "command too long or not one line");
}

BOOST_AUTO_TEST_CASE(a_stale_socket_file_is_removed_and_other_files_are_kept) {
  TempDir t;
  nj::uv::Loop loop;
  const std::string path = nj::control::socket_path(t.path());
  // A socket nobody listens on any more, as a killed daemon leaves it.
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.data(), path.size());
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    ::close(fd);
  }
  BOOST_REQUIRE(std::filesystem::exists(path));
  BOOST_TEST(!nj::control::answers(path));
  {
    auto srv = ControlServer::start(loop, path, status_only("fresh"));
    BOOST_REQUIRE_MESSAGE(srv.ok(), (srv.ok() ? std::string() : srv.error()));
    Result<std::string> got = nj::make_error("not run");
    BOOST_TEST(on_thread(loop, [&] { got = nj::control::request(path, "status"); }));
    BOOST_REQUIRE(got.ok());
    BOOST_TEST(*got == "fresh\n");
  }
  // The server removes its socket file when it goes.
  BOOST_TEST(!std::filesystem::exists(path));
  Result<std::string> none = std::string();
  BOOST_TEST(on_thread(loop, [&] { none = nj::control::request(path, "status", 500); }));
  BOOST_REQUIRE(!none.ok());
  BOOST_TEST(none.error().find("no daemon answers on " + path) == 0);

  // A file that is not a socket is not ours to remove.
  std::ofstream(path) << "someone's file\n";
  auto srv = ControlServer::start(loop, path, status_only("x"));
  BOOST_REQUIRE(!srv.ok());
  BOOST_TEST(srv.error() == path + ": exists and is not a socket; not removing it");
  BOOST_TEST(std::filesystem::is_regular_file(path));
}

BOOST_AUTO_TEST_CASE(a_live_socket_refuses_a_second_server) {
  TempDir t;
  nj::uv::Loop loop;
  const std::string path = nj::control::socket_path(t.path());
  auto first = ControlServer::start(loop, path, status_only("first"));
  BOOST_REQUIRE(first.ok());
  auto second = ControlServer::start(loop, path, status_only("second"));
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(second.error() == path + ": another daemon answers on it");
  // The refused one left the first's socket alone.
  Result<std::string> got = nj::make_error("not run");
  BOOST_TEST(on_thread(loop, [&] { got = nj::control::request(path, "status"); }));
  BOOST_REQUIRE(got.ok());
  BOOST_TEST(*got == "first\n");
}

BOOST_AUTO_TEST_CASE(connections_are_bounded_in_number_and_time) {
  TempDir t;
  nj::uv::Loop loop;
  const std::string path = nj::control::socket_path(t.path());
  ControlServer::Limits lim;
  lim.max_connections = 2;
  lim.line_timeout_ms = 300;
  auto srv = ControlServer::start(loop, path, status_only("body"), lim);
  BOOST_REQUIRE(srv.ok());
  // Two clients that send nothing hold both slots; a third is closed at once with nothing sent,
  // even though it asks properly; the silent ones are cut off after the line timeout.
  std::vector<std::string> silent(2);
  std::vector<std::thread> holders;
  for (auto& s : silent) holders.emplace_back([&s, &path] { s = raw_exchange(path, ""); });
  BOOST_TEST(run_until(loop, [&] { return (*srv)->connections() == 2; }));
  std::string third = "unset";
  auto started = std::chrono::steady_clock::now();
  BOOST_TEST(on_thread(loop, [&] { third = raw_exchange(path, "status\n"); }));
  BOOST_TEST(third.empty());
  BOOST_TEST(run_until(loop, [&] { return (*srv)->connections() == 0; }, 3000));
  auto waited = std::chrono::steady_clock::now() - started;
  for (auto& h : holders) h.join();
  for (auto& s : silent) BOOST_TEST(s.empty());
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() < 2000);
  // A slot is free again.
  std::string again;
  BOOST_TEST(on_thread(loop, [&] { again = raw_exchange(path, "status\n"); }));
  BOOST_TEST(again == "ok\nbody\n");
  // A client that starts a line and never ends it is cut off as well.
  std::string partial = "unset";
  BOOST_TEST(on_thread(loop, [&] { partial = raw_exchange(path, "stat"); }));
  BOOST_TEST(partial.empty());
}

BOOST_AUTO_TEST_CASE(a_half_closed_client_gets_its_answer_and_a_late_reply_is_dropped) {
  TempDir t;
  nj::uv::Loop loop;
  const std::string path = nj::control::socket_path(t.path());
  std::vector<Reply> held;
  std::map<std::string, Handler> h = status_only("body");
  h["hold"] = [&](Reply r) { held.push_back(r); };
  auto srv = ControlServer::start(loop, path, h);
  BOOST_REQUIRE(srv.ok());
  // `printf 'status\n' | nc -N -U control.sock`: the command, then the end of its input; the
  // answer still comes.
  std::string got = "unset";
  BOOST_TEST(on_thread(loop, [&] {
    int fd = connect_unix(path);
    (void)::send(fd, "status\n", 7, MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    got.clear();
    char buf[256];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, size_t(n));
    ::close(fd);
  }));
  BOOST_TEST(got == "ok\nbody\n");
  // A client that sends the command and goes: its slot is held until the handler answers (into
  // the void), then freed.
  BOOST_TEST(on_thread(loop, [&] {
    int fd = connect_unix(path);
    (void)::send(fd, "hold\n", 5, MSG_NOSIGNAL);
    ::close(fd);
  }));
  BOOST_TEST(run_until(loop, [&] { return held.size() == 1; }));
  held[0](std::string("nobody reads this"));
  BOOST_TEST(run_until(loop, [&] { return (*srv)->connections() == 0; }));
  // A client still waiting when the server closes gets nothing; the late reply goes nowhere.
  got = "unset";
  std::atomic<bool> done{false};
  std::thread t2([&] {
    got = raw_exchange(path, "hold\n");
    done = true;
  });
  BOOST_TEST(run_until(loop, [&] { return held.size() == 2; }));
  (*srv)->close();
  nj::uv::Timer tick(loop);
  tick.start(5, 5, [] {});
  BOOST_TEST(run_until(loop, [&] { return done.load(); }));
  t2.join();
  BOOST_TEST(got.empty());
  held[1](std::string("too late"));
  held[0](std::string("twice"));
  for (int i = 0; i < 5; ++i) loop.run_nowait();
  BOOST_TEST((*srv)->connections() == 0);
}
