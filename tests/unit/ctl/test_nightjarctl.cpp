// Both operator tools as built: the edge's (nightjarctl-edge, installed on the edge as
// nightjarctl) and the inner's (nightjarctl). Each runs the shared keygen and dispatch the same
// way, lists its own commands, fits its help in 80 columns, and carries none of the other tier's
// code.
#define BOOST_TEST_MODULE ctl
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <map>
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

// The two tools, with the commands each must list.
struct Tool {
  const char* path;
  std::vector<std::string> commands;
};
const Tool kEdgeTool{NIGHTJARCTL_EDGE_PATH,
                     {"keygen", "status", "overlay", "edge-queue", "dkim"}};
const Tool kInnerTool{NIGHTJARCTL_PATH,
                      {"keygen", "account", "quota", "queue", "edge", "status", "overlay"}};
const Tool* const kTools[] = {&kEdgeTool, &kInnerTool};

// Runs `tool` with `args` (already shell-safe: temp paths only), capturing both streams.
Run run(const Tool& tool, const TempDir& t, const std::string& args) {
  const std::string out = t.path + "/stdout", err = t.path + "/stderr";
  std::string cmd = std::string(tool.path) + " " + args + " >" + out + " 2>" + err;
  int rc = std::system(cmd.c_str());
  return Run{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(out), slurp(err)};
}

}  // namespace

BOOST_DATA_TEST_CASE(keygen_writes_pair_and_prints_public_key, kTools, tool_ptr) {
  const Tool& tool = *tool_ptr;
  TempDir t;
  auto r = run(tool, t, "keygen --out " + t.path + "/edge");
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

BOOST_DATA_TEST_CASE(keygen_refuses_to_overwrite, kTools, tool_ptr) {
  const Tool& tool = *tool_ptr;
  TempDir t;
  BOOST_REQUIRE_EQUAL(run(tool, t, "keygen --out " + t.path + "/k").status, 0);
  const std::string before = slurp(t.path + "/k.secret");
  auto r = run(tool, t, "keygen --out=" + t.path + "/k");
  BOOST_CHECK_NE(r.status, 0);
  BOOST_CHECK(r.out.empty());
  BOOST_CHECK(r.err.find("already exists") != std::string::npos);
  BOOST_CHECK_EQUAL(slurp(t.path + "/k.secret"), before);
}

BOOST_DATA_TEST_CASE(usage_errors_and_help, kTools, tool_ptr) {
  const Tool& tool = *tool_ptr;
  TempDir t;
  auto r = run(tool, t, "keygen");
  BOOST_CHECK_EQUAL(r.status, 2);
  BOOST_CHECK(r.err.find("--out PREFIX is required") != std::string::npos);
  r = run(tool, t, "keygen --out");
  BOOST_CHECK_EQUAL(r.status, 2);
  BOOST_CHECK(r.err.find("nightjarctl keygen: --out needs a value\n") == 0);
  r = run(tool, t, "keygen --bogus x");
  BOOST_CHECK_EQUAL(r.status, 2);
  BOOST_CHECK_EQUAL(r.err,
                    "nightjarctl keygen: unknown option '--bogus'\n"
                    "usage: nightjarctl keygen --out PREFIX\n");
  r = run(tool, t, "keygen --out a --out b");
  BOOST_CHECK_EQUAL(r.status, 2);
  BOOST_CHECK(r.err.find("--out is given twice") != std::string::npos);
  r = run(tool, t, "frobnicate");
  BOOST_CHECK_EQUAL(r.status, 2);
  BOOST_CHECK(r.err.find("unknown command") != std::string::npos);
  r = run(tool, t, "");
  BOOST_CHECK_EQUAL(r.status, 2);
  r = run(tool, t, "--help");
  BOOST_CHECK_EQUAL(r.status, 0);
  BOOST_CHECK(r.out.find("keygen") != std::string::npos);
  r = run(tool, t, "keygen --help");
  BOOST_CHECK_EQUAL(r.status, 0);
  BOOST_CHECK(r.out.find("usage: nightjarctl keygen") != std::string::npos);
  r = run(tool, t, "keygen --out " + t.path + "/no/such/dir/k");
  BOOST_CHECK_EQUAL(r.status, 1);
  BOOST_CHECK(r.err.find(t.path + "/no/such/dir/k.secret: cannot create") != std::string::npos);
  // The global --config reaches the command, which says what it makes of it.
  r = run(tool, t, "--config " + t.path + "/none.yaml status");
  BOOST_CHECK_EQUAL(r.status, 1);
  BOOST_CHECK(r.err.find("nightjarctl status: ") == 0);
  BOOST_CHECK(r.err.find(t.path + "/none.yaml") != std::string::npos);
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

// `nightjarctl --help` (and no arguments) fit 80 columns with one line per command, each tool
// listing its own commands and no other; each command's details are its own --help (also `help
// COMMAND`), and those fit too, as do the usage lines a wrong argument prints.
BOOST_DATA_TEST_CASE(help_fits_80_columns, kTools, tool_ptr) {
  const Tool& tool = *tool_ptr;
  TempDir t;
  auto top = run(tool, t, "--help");
  BOOST_REQUIRE_EQUAL(top.status, 0);
  BOOST_CHECK_MESSAGE(too_wide(top.out).empty(), "nightjarctl --help:\n" + too_wide(top.out));
  auto none = run(tool, t, "");
  BOOST_CHECK_EQUAL(none.status, 2);
  BOOST_CHECK_EQUAL(none.err, top.out);

  auto names = listed_commands(top.out);
  BOOST_CHECK_MESSAGE(names == tool.commands, "--help lists other commands:\n" + top.out);

  for (const auto& name : names) {
    BOOST_TEST_CONTEXT("nightjarctl " << name) {
      auto help = run(tool, t, name + " --help");
      BOOST_CHECK_EQUAL(help.status, 0);
      BOOST_CHECK_MESSAGE(help.out.rfind("usage: nightjarctl " + name + " ", 0) == 0,
                          "no usage line first:\n" + help.out);
      // More than the usage: the details live here, not in the overview.
      BOOST_CHECK_GT(std::count(help.out.begin(), help.out.end(), '\n'), 1);
      BOOST_CHECK_MESSAGE(too_wide(help.out).empty(), name + " --help:\n" + too_wide(help.out));
      BOOST_CHECK_EQUAL(run(tool, t, "help " + name).out, help.out);

      auto wrong = run(tool, t, name + " --no-such-option");
      BOOST_CHECK_EQUAL(wrong.status, 2);
      BOOST_CHECK_EQUAL(wrong.err.substr(0, wrong.err.find('\n')),
                        "nightjarctl " + name + ": unknown option '--no-such-option'");
      BOOST_CHECK_MESSAGE(wrong.err.find("\nusage: nightjarctl " + name + " ") != std::string::npos,
                          "no usage after a wrong argument:\n" + wrong.err);
      BOOST_CHECK_MESSAGE(too_wide(wrong.err).empty(),
                          name + " --no-such-option:\n" + too_wide(wrong.err));
    }
  }
  auto unknown = run(tool, t, "help frobnicate");
  BOOST_CHECK_EQUAL(unknown.status, 2);
  BOOST_CHECK(unknown.err.find("unknown command 'frobnicate'") != std::string::npos);
}

// The options that moved to the edge say where they went, on the inner's tool.
BOOST_AUTO_TEST_CASE(the_inner_says_which_edge_command_does_what_moved) {
  TempDir t;
  struct Moved {
    std::string args, says;
  };
  for (const auto& m : std::vector<Moved>{
           {"status --edge-config e.yaml",
            "nightjarctl status: --edge-config: an edge's status is asked on the edge: "
            "nightjarctl status --config EDGE.yaml there\n"},
           {"overlay tor --config i.yaml --edge mx1=e.yaml",
            "nightjarctl overlay: --edge: each edge prints its own part and DNS records on its "
            "own machine: nightjarctl overlay tor|i2p --config EDGE.yaml --name NAME there\n"},
           {"overlay tor --config i.yaml --edge-onion mx1=x", "--onion ONION there"},
           {"overlay tor --config i.yaml --mx-order mx1,mx2", "--mx-preference N there"},
       }) {
    auto r = run(kInnerTool, t, m.args);
    BOOST_TEST(r.status == 2, m.args);
    BOOST_TEST(r.err.find(m.says) != std::string::npos, m.args << ": " << r.err);
    BOOST_TEST(r.out.empty());
  }
  auto r = run(kEdgeTool, t, "status --edge-config e.yaml");
  BOOST_TEST(r.status == 2);
  BOOST_TEST(r.err.find("nightjarctl status: --edge-config: the edge's configuration is now "
                        "--config EDGE.yaml\n") == 0,
             r.err);
  r = run(kInnerTool, t, "edge-queue --help");
  BOOST_TEST(r.status == 2);
  BOOST_TEST(r.err.find("unknown command 'edge-queue'") != std::string::npos);
}

namespace {

// The namespaces of the code a binary holds, as nm names its defined symbols ("nj::edge::",
// "nj::inner::", ...): a count per namespace.
std::map<std::string, int> code_namespaces(const TempDir& t, const char* binary) {
  const std::string out = t.path + "/nm";
  std::string cmd = "nm -C --defined-only '" + std::string(binary) + "' > " + out;
  BOOST_REQUIRE_EQUAL(std::system(cmd.c_str()), 0);
  std::map<std::string, int> seen;
  std::istringstream in(slurp(out));
  for (std::string line; std::getline(in, line);)
    for (const char* ns : {"nj::edge::", "nj::inner::", "nj::ctl::"})
      if (line.find(ns) != std::string::npos) ++seen[ns];
  return seen;
}

}  // namespace

// DESIGN.md: the edge image holds no inner code. The binaries as linked: the edge's tool has none
// of the inner's symbols, the inner's none of the edge's (nj_check_tier and unit.ctl_tiers check
// the libraries and includes that would bring them).
BOOST_AUTO_TEST_CASE(each_tool_holds_only_its_own_tier) {
  TempDir t;
  auto edge = code_namespaces(t, NIGHTJARCTL_EDGE_PATH);
  BOOST_TEST(edge["nj::inner::"] == 0);
  BOOST_TEST(edge["nj::edge::"] > 0);  // the check can see a tier's code
  BOOST_TEST(edge["nj::ctl::"] > 0);
  auto inner = code_namespaces(t, NIGHTJARCTL_PATH);
  BOOST_TEST(inner["nj::edge::"] == 0);
  BOOST_TEST(inner["nj::inner::"] > 0);
}
