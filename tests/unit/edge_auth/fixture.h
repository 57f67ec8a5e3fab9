// The signed fixture made by data/make_fixture.py (dkimpy): signed.eml, signed by signed.test
// with an rsa-sha256 (selector rs) and an ed25519-sha256 (selector ed) signature.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace nj::edge::auth::test {

inline std::string data_file(const std::string& name) {
  const char* src = std::getenv("NJ_SOURCE_DIR");
  std::string path = std::string(src ? src : ".") + "/tests/unit/edge_auth/data/" + name;
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::string key_record(const std::string& selector) {
  std::string s = data_file(selector + "._domainkey.signed.test.txt");
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace nj::edge::auth::test
