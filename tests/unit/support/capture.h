// capture: what a function printed on stdout and stderr, and what it returned (the one helper
// the unit tests of the operator tools' commands, run in process, share).
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace nj::testing {

struct Printed {
  int rc = -1;
  std::string out, err;
};

template <class F>
Printed capture(F run) {
  char tmpl[] = "/tmp/nj-capture-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return {};
  const std::filesystem::path dir = tmpl;
  auto slurp = [&](const char* name) {
    std::ifstream f(dir / name);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  std::fflush(stdout);
  std::fflush(stderr);
  int saved_out = ::dup(1), saved_err = ::dup(2);
  int fo = ::open((dir / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int fe = ::open((dir / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::dup2(fo, 1);
  ::dup2(fe, 2);
  Printed p;
  p.rc = run();
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(saved_out, 1);
  ::dup2(saved_err, 2);
  for (int fd : {fo, fe, saved_out, saved_err}) ::close(fd);
  p.out = slurp("out");
  p.err = slurp("err");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return p;
}

}  // namespace nj::testing
