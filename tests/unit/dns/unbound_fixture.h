// Test helper: a real unbound on a random loopback port serving a small local zone.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace nj::testing {

// A port that was free a moment ago (bound to 0 and released).
inline uint16_t free_port(int type) {
  int fd = socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class Unbound {
 public:
  Unbound() {
    char tmpl[] = "/tmp/nj-unbound-XXXXXX";
    dir_ = mkdtemp(tmpl);
    port_ = free_port(SOCK_STREAM);
    std::string conf = dir_ + "/unbound.conf";
    std::ofstream f(conf);
    f << "server:\n"
      << "  username: \"\"\n  chroot: \"\"\n  directory: \"" << dir_ << "\"\n"
      << "  pidfile: \"\"\n  do-daemonize: no\n  use-syslog: no\n  logfile: \"\"\n"
      << "  verbosity: 0\n  num-threads: 1\n  do-ip6: no\n"
      << "  interface: 127.0.0.1@" << port_ << "\n  port: " << port_ << "\n"
      << "  access-control: 127.0.0.0/8 allow\n"
      << "  module-config: \"iterator\"\n"
      << "  local-zone: \"test.\" static\n"
      << "  local-data: \"test. 300 IN SOA ns1.test. admin.test. 1 3600 600 86400 300\"\n"
      << "  local-data: \"test. 300 IN NS ns1.test.\"\n"
      << "  local-data: \"test. 300 IN NS ns2.test.\"\n"
      << "  local-data: \"test. 300 IN MX 10 mx.test.\"\n"
      << "  local-data: \"test. 300 IN MX 20 mx2.test.\"\n"
      << "  local-data: 'test. 300 IN TXT \"v=spf1 -all\"'\n"
      << "  local-data: 'long.test. 300 IN TXT \"part one \" \"part two\"'\n"
      << "  local-data: \"mx.test. 300 IN A 192.0.2.10\"\n"
      << "  local-data: \"mx.test. 300 IN A 192.0.2.11\"\n"
      << "  local-data: \"mx.test. 300 IN AAAA 2001:db8::10\"\n"
      << "  local-data: \"_onion-mx._tcp.test. 300 IN SRV 0 5 2525 abcdef.onion.\"\n"
      << "  local-data-ptr: \"192.0.2.10 mx.test.\"\n"
      << "  local-zone: \"refused.test.\" refuse\n"
      << "remote-control:\n  control-enable: no\n";
    f.close();
    pid_ = fork();
    if (pid_ == 0) {
      std::string log = dir_ + "/unbound.log";
      FILE* out = std::fopen(log.c_str(), "w");
      if (out) {
        dup2(fileno(out), 1);
        dup2(fileno(out), 2);
      }
      execlp("unbound", "unbound", "-d", "-c", conf.c_str(), static_cast<char*>(nullptr));
      execl("/usr/sbin/unbound", "unbound", "-d", "-c", conf.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Ready when the TCP side accepts (it binds UDP and TCP together).
    for (int i = 0; i < 200 && !ready_; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port_);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ready_ = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      close(fd);
      if (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ~Unbound() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st;
      waitpid(pid_, &st, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  bool ready() const { return ready_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool ready_ = false;
};

}  // namespace nj::testing
