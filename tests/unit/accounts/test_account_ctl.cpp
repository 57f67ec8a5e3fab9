#define BOOST_TEST_MODULE account_ctl
#include <stdlib.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nj-acctl-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Run {
  int status;
  std::string out, err;
};

const std::string kAddr = "alice@users.nightjar.test";

// Runs the account command with `stdin_text` on a pipe-like file (not a terminal).
Run run(const TempDir& t, const std::string& args, const std::string& stdin_text = "") {
  const std::string in = t.path + "/stdin", out = t.path + "/stdout", err = t.path + "/stderr";
  std::ofstream(in, std::ios::binary) << stdin_text;
  std::string cmd = std::string(NIGHTJARCTL_ACCOUNT) + " account --data-dir " + t.path +
                    "/data --domain users.nightjar.test " + args + " <" + in + " >" + out + " 2>" +
                    err;
  int rc = std::system(cmd.c_str());
  return Run{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(out), slurp(err)};
}

bool has(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(account_lifecycle) {
  TempDir t;
  auto r = run(t, "add " + kAddr, "first-pw-8812\n");
  BOOST_REQUIRE_MESSAGE(r.status == 0, r.err);
  BOOST_CHECK(has(r.out, kAddr + ": account created"));
  r = run(t, "add Alice@users.nightjar.test", "x\n");
  BOOST_CHECK_EQUAL(r.status, 1);
  BOOST_CHECK(has(r.err, "account exists"));
  BOOST_CHECK(!has(slurp(t.path + "/data/store/data.mdb"), "first-pw-8812"));

  r = run(t, "show " + kAddr);
  BOOST_REQUIRE_EQUAL(r.status, 0);
  BOOST_CHECK(has(r.out, "address: " + kAddr));
  BOOST_CHECK(has(r.out, "key generation: 1"));
  BOOST_CHECK(has(r.out, "key: nightjar-public-key-v1 x25519 "));
  BOOST_CHECK(has(r.out, "messages: 0"));

  r = run(t, "list");
  BOOST_REQUIRE_EQUAL(r.status, 0);
  BOOST_CHECK(has(r.out, kAddr + " created="));

  // passwd reads the old, then the new password, one line each.
  r = run(t, "passwd " + kAddr, "wrong\nsecond\n");
  BOOST_CHECK_EQUAL(r.status, 1);
  BOOST_CHECK(has(r.err, "wrong password"));
  r = run(t, "passwd " + kAddr, "first-pw-8812\nsecond\n");
  BOOST_REQUIRE_MESSAGE(r.status == 0, r.err);
  BOOST_CHECK(has(r.out, "stored mail stays readable"));

  r = run(t, "set " + kAddr + " delay=defer");
  BOOST_REQUIRE_EQUAL(r.status, 0);
  BOOST_CHECK(has(run(t, "show " + kAddr).out, "setting: delay=defer"));
  BOOST_CHECK_EQUAL(run(t, "set " + kAddr + " 'bad key=x'").status, 1);

  // reset warns, and without --yes wants a typed "yes".
  r = run(t, "reset " + kAddr, "no\nthird\n");
  BOOST_CHECK_EQUAL(r.status, 1);
  BOOST_CHECK(has(r.err, "unreadable"));
  BOOST_CHECK(has(r.err, "not confirmed"));
  BOOST_CHECK(has(run(t, "show " + kAddr).out, "key generation: 1"));
  r = run(t, "reset " + kAddr, "yes\nthird\n");
  BOOST_REQUIRE_MESSAGE(r.status == 0, r.err);
  BOOST_CHECK(has(r.out, "new key pair"));
  BOOST_CHECK(has(r.out, "unreadable"));
  r = run(t, "reset --yes " + kAddr, "fourth\n");
  BOOST_REQUIRE_MESSAGE(r.status == 0, r.err);
  BOOST_CHECK(has(run(t, "show " + kAddr).out, "key generation: 3"));

  r = run(t, "del " + kAddr);
  BOOST_REQUIRE_MESSAGE(r.status == 0, r.err);
  BOOST_CHECK(has(r.out, "account removed"));
  r = run(t, "show " + kAddr);
  BOOST_CHECK_EQUAL(r.status, 1);
  BOOST_CHECK(has(r.err, "no such account"));
  BOOST_CHECK(!has(slurp(t.path + "/data/store/data.mdb"), "alice"));
}

BOOST_AUTO_TEST_CASE(usage_errors) {
  TempDir t;
  BOOST_CHECK_EQUAL(run(t, "").status, 2);
  BOOST_CHECK_EQUAL(run(t, "frobnicate " + kAddr).status, 2);
  BOOST_CHECK_EQUAL(run(t, "add").status, 2);
  BOOST_CHECK_EQUAL(run(t, "add " + kAddr + " extra").status, 2);
  // No password on stdin: nothing is created.
  auto r = run(t, "add " + kAddr, "");
  BOOST_CHECK_EQUAL(r.status, 1);
  BOOST_CHECK_EQUAL(run(t, "list").out, "");
  r = run(t, "add bob@example.org", "pw\n");
  BOOST_CHECK_EQUAL(r.status, 1);
  BOOST_CHECK(has(r.err, "internal domain"));
  // Nothing to show before a store exists.
  TempDir empty;
  BOOST_CHECK_EQUAL(run(empty, "show " + kAddr).status, 1);
}
