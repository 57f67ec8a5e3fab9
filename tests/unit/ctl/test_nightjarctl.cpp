#define BOOST_TEST_MODULE ctl
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto/keyfile.h"

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nj-ctl-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Run {
  int status;
  std::string out, err;
};

// Runs nightjarctl with `args` (already shell-safe: temp paths only), capturing both streams.
Run run(const TempDir& t, const std::string& args) {
  const std::string out = t.path + "/stdout", err = t.path + "/stderr";
  std::string cmd = std::string(NIGHTJARCTL_PATH) + " " + args + " >" + out + " 2>" + err;
  int rc = std::system(cmd.c_str());
  return Run{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(out), slurp(err)};
}

}  // namespace

BOOST_AUTO_TEST_CASE(keygen_writes_pair_and_prints_public_key) {
  TempDir t;
  auto r = run(t, "keygen --out " + t.path + "/edge");
  BOOST_REQUIRE_EQUAL(r.status, 0);
  BOOST_CHECK_EQUAL(r.out, slurp(t.path + "/edge.pub"));
  BOOST_CHECK(r.out.rfind("nightjar-public-key-v1 x25519 ", 0) == 0);
  struct stat st;
  BOOST_REQUIRE_EQUAL(::stat((t.path + "/edge.secret").c_str(), &st), 0);
  BOOST_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  auto kp = nj::crypto::load_secret_key(t.path + "/edge.secret");
  BOOST_REQUIRE(kp.ok());
  auto pub = nj::crypto::parse_public_key_line(r.out.substr(0, r.out.size() - 1));
  BOOST_REQUIRE(pub.ok());
  BOOST_CHECK(kp->pub == *pub);
}

BOOST_AUTO_TEST_CASE(keygen_refuses_to_overwrite) {
  TempDir t;
  BOOST_REQUIRE_EQUAL(run(t, "keygen --out " + t.path + "/k").status, 0);
  const std::string before = slurp(t.path + "/k.secret");
  auto r = run(t, "keygen --out=" + t.path + "/k");
  BOOST_CHECK_NE(r.status, 0);
  BOOST_CHECK(r.out.empty());
  BOOST_CHECK(r.err.find("already exists") != std::string::npos);
  BOOST_CHECK_EQUAL(slurp(t.path + "/k.secret"), before);
}

BOOST_AUTO_TEST_CASE(usage_errors_and_help) {
  TempDir t;
  auto r = run(t, "keygen");
  BOOST_CHECK_EQUAL(r.status, 2);
  BOOST_CHECK(r.err.find("--out PREFIX is required") != std::string::npos);
  r = run(t, "keygen --out");
  BOOST_CHECK_EQUAL(r.status, 2);
  r = run(t, "keygen --bogus x");
  BOOST_CHECK_EQUAL(r.status, 2);
  BOOST_CHECK(r.err.find("unknown argument '--bogus'") != std::string::npos);
  r = run(t, "frobnicate");
  BOOST_CHECK_EQUAL(r.status, 2);
  BOOST_CHECK(r.err.find("unknown command") != std::string::npos);
  r = run(t, "");
  BOOST_CHECK_EQUAL(r.status, 2);
  r = run(t, "--help");
  BOOST_CHECK_EQUAL(r.status, 0);
  BOOST_CHECK(r.out.find("keygen") != std::string::npos);
  r = run(t, "keygen --help");
  BOOST_CHECK_EQUAL(r.status, 0);
  BOOST_CHECK(r.out.find("usage: nightjarctl keygen") != std::string::npos);
  r = run(t, "keygen --out " + t.path + "/no/such/dir/k");
  BOOST_CHECK_EQUAL(r.status, 1);
  BOOST_CHECK(r.err.find(t.path + "/no/such/dir/k.secret: cannot create") != std::string::npos);
}

namespace {

constexpr size_t kHelpColumns = 80;

// The lines of `text` wider than the help may be, for the failure message.
std::string too_wide(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.size() > kHelpColumns) out += "[" + std::to_string(line.size()) + "] " + line + "\n";
  return out;
}

// The command names in `nightjarctl --help`: the lines under "commands:", each "  NAME  what".
std::vector<std::string> listed_commands(const std::string& help) {
  std::vector<std::string> names;
  std::istringstream in(help);
  bool in_list = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "commands:") {
      in_list = true;
    } else if (in_list && line.empty()) {
      break;
    } else if (in_list) {
      // One line per command: a continuation line (more indent) would not name a command.
      BOOST_CHECK_MESSAGE(line.rfind("  ", 0) == 0 && line.size() > 2 && line[2] != ' ',
                          "not a command line: '" + line + "'");
      std::istringstream words(line);
      std::string name;
      words >> name;
      names.push_back(name);
    }
  }
  return names;
}

}  // namespace

// `nightjarctl --help` (and no arguments) fit 80 columns with one line per command; each
// command's details are its own --help (also `help COMMAND`), and those fit too, as do the usage
// lines a wrong argument prints.
BOOST_AUTO_TEST_CASE(help_fits_80_columns) {
  TempDir t;
  auto top = run(t, "--help");
  BOOST_REQUIRE_EQUAL(top.status, 0);
  BOOST_CHECK_MESSAGE(too_wide(top.out).empty(), "nightjarctl --help:\n" + too_wide(top.out));
  auto none = run(t, "");
  BOOST_CHECK_EQUAL(none.status, 2);
  BOOST_CHECK_EQUAL(none.err, top.out);

  auto names = listed_commands(top.out);
  for (const char* expected : {"keygen", "account", "quota", "queue", "overlay", "edge-queue"})
    BOOST_CHECK_MESSAGE(std::find(names.begin(), names.end(), expected) != names.end(),
                        std::string("--help does not list ") + expected + ":\n" + top.out);

  for (const auto& name : names) {
    BOOST_TEST_CONTEXT("nightjarctl " << name) {
      auto help = run(t, name + " --help");
      BOOST_CHECK_EQUAL(help.status, 0);
      BOOST_CHECK_MESSAGE(help.out.rfind("usage: nightjarctl " + name + " ", 0) == 0,
                          "no usage line first:\n" + help.out);
      // More than the usage: the details live here, not in the overview.
      BOOST_CHECK_GT(std::count(help.out.begin(), help.out.end(), '\n'), 1);
      BOOST_CHECK_MESSAGE(too_wide(help.out).empty(), name + " --help:\n" + too_wide(help.out));
      BOOST_CHECK_EQUAL(run(t, "help " + name).out, help.out);

      auto wrong = run(t, name + " --no-such-option");
      BOOST_CHECK_EQUAL(wrong.status, 2);
      BOOST_CHECK_MESSAGE(wrong.err.find("\nusage: nightjarctl " + name + " ") != std::string::npos,
                          "no usage after a wrong argument:\n" + wrong.err);
      BOOST_CHECK_MESSAGE(too_wide(wrong.err).empty(),
                          name + " --no-such-option:\n" + too_wide(wrong.err));
    }
  }
  auto unknown = run(t, "help frobnicate");
  BOOST_CHECK_EQUAL(unknown.status, 2);
  BOOST_CHECK(unknown.err.find("unknown command 'frobnicate'") != std::string::npos);
}
