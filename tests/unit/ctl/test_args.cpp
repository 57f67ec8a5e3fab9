// The one argument parser (common/ctl/args.h) and the dispatch (common/ctl/tool.h) both operator
// tools use: what each spelling of an option means, which problems are refused and how they are
// reported, and how `nightjarctl [--config FILE] COMMAND` reaches a command.
#define BOOST_TEST_MODULE ctl_args
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "common/ctl/args.h"
#include "common/ctl/tool.h"
#include "tests/unit/support/capture.h"

using nj::ctl::Args;
using nj::ctl::Option;
using nj::testing::capture;
using nj::testing::Printed;

namespace {

constexpr Option kOptions[] = {
    {"--out"},
    {"--yes", Option::flag, "-y"},
    {"--edge", Option::repeated},
    {"--config", Option::value, "--inner-config"},
    {"--old", Option::gone, {}, "it is --new now"},
};

constexpr nj::ctl::CommandText kText{"frob", "usage: nightjarctl frob --out PREFIX [--yes]\n",
                                     "Frobs PREFIX.\n"};

nj::Result<nj::ctl::Parsed> parse(const Args& args) {
  return nj::ctl::parse_args(args, kOptions);
}

std::string problem(const Args& args) {
  auto r = parse(args);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "parsed");
  return r.error();
}

}  // namespace

BOOST_AUTO_TEST_CASE(values_flags_repeats_and_positionals_in_any_order) {
  auto r = parse({"list", "--out", "a", "-y", "--edge=mx1=x.yaml", "two", "--edge", "mx2",
                  "--inner-config=i.yaml", "-"});
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
  BOOST_TEST(r->value("--out") == "a");
  BOOST_TEST(r->has("--yes"));
  BOOST_TEST(!r->help());
  // --x=VALUE splits at the first '=': a value may hold more.
  BOOST_TEST(r->values("--edge") == (std::vector<std::string>{"mx1=x.yaml", "mx2"}));
  // Another spelling is the same option, found by its name.
  BOOST_TEST(r->value("--config") == "i.yaml");
  BOOST_TEST(!r->has("--inner-config"));
  // "-" alone is an argument (standard input, by convention), not an option.
  BOOST_TEST(r->positionals() == (std::vector<std::string>{"list", "two", "-"}));
  // What was not given: absent, empty.
  auto none = parse({});
  BOOST_REQUIRE(none.ok());
  BOOST_TEST(!none->has("--out"));
  BOOST_TEST(none->value("--out") == "");
  BOOST_TEST(none->values("--edge").empty());
  BOOST_TEST(none->positionals().empty());
  // A value is taken as it stands, even one that looks like an option.
  auto dashed = parse({"--out", "--yes"});
  BOOST_REQUIRE(dashed.ok());
  BOOST_TEST(dashed->value("--out") == "--yes");
  BOOST_TEST(!dashed->has("--yes"));
}

BOOST_AUTO_TEST_CASE(problems_are_one_line_each) {
  BOOST_TEST(problem({"--bogus"}) == "unknown option '--bogus'");
  BOOST_TEST(problem({"--bogus=1"}) == "unknown option '--bogus'");
  BOOST_TEST(problem({"-x"}) == "unknown option '-x'");
  BOOST_TEST(problem({"--out"}) == "--out needs a value");
  BOOST_TEST(problem({"--out="}) == "--out needs a value");
  BOOST_TEST(problem({"--out", "a", "--out=b"}) == "--out is given twice");
  BOOST_TEST(problem({"--config", "a", "--inner-config", "b"}) == "--config is given twice");
  BOOST_TEST(problem({"-y", "--yes"}) == "--yes is given twice");
  BOOST_TEST(problem({"--yes=1"}) == "--yes takes no value");
  BOOST_TEST(problem({"--old", "x"}) == "--old: it is --new now");
  BOOST_TEST(problem({"--old=x"}) == "--old: it is --new now");
}

BOOST_AUTO_TEST_CASE(help_anywhere_wins) {
  for (const Args& args :
       {Args{"--help"}, Args{"-h"}, Args{"--bogus", "--help"}, Args{"--out", "a", "list", "-h"}}) {
    auto r = parse(args);
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->help());
  }
}

BOOST_AUTO_TEST_CASE(parse_prints_help_and_problems) {
  // --help: the usage and the details on stdout, exit 0.
  auto p = capture([] {
    auto r = nj::ctl::parse(kText, {"--help"}, kOptions);
    return r.exit.value_or(-1);
  });
  BOOST_TEST(p.rc == 0);
  BOOST_TEST(p.out == "usage: nightjarctl frob --out PREFIX [--yes]\nFrobs PREFIX.\n");
  BOOST_TEST(p.err == "");
  // A problem: one line naming the command, then the usage, on stderr; exit 2.
  p = capture([] {
    auto r = nj::ctl::parse(kText, {"--out"}, kOptions);
    return r.exit.value_or(-1);
  });
  BOOST_TEST(p.rc == nj::ctl::kExitUsage);
  BOOST_TEST(p.out == "");
  BOOST_TEST(p.err ==
             "nightjarctl frob: --out needs a value\n"
             "usage: nightjarctl frob --out PREFIX [--yes]\n");
  // Nothing wrong: nothing printed, no exit.
  p = capture([] {
    auto r = nj::ctl::parse(kText, {"--out", "x"}, kOptions);
    return r.exit ? 100 + *r.exit : static_cast<int>(r.args.value("--out").size());
  });
  BOOST_TEST(p.rc == 1);
  BOOST_TEST(p.out + p.err == "");
  // A command's own failure: one line, exit 1.
  p = capture([] { return nj::ctl::fail(kText, "x: no such file"); });
  BOOST_TEST(p.rc == nj::ctl::kExitFailure);
  BOOST_TEST(p.err == "nightjarctl frob: x: no such file\n");
  p = capture([] { return nj::ctl::usage_error(kText, nj::ctl::unexpected("extra")); });
  BOOST_TEST(p.rc == nj::ctl::kExitUsage);
  BOOST_TEST(p.err ==
             "nightjarctl frob: unexpected argument 'extra'\n"
             "usage: nightjarctl frob --out PREFIX [--yes]\n");
}

namespace {

// The arguments the last command ran with.
std::vector<std::string> g_ran;

int record(const Args& args) {
  g_ran.assign(args.begin(), args.end());
  return 7;
}

constexpr nj::ctl::Command kCommands[] = {
    {"frob", "frob things", record},
    {"edge-queue", "a longer name", record},
};
constexpr nj::ctl::Tool kTool{kCommands, "--config FILE, the test's, is passed on."};

Printed run_tool(std::vector<std::string> argv) {
  argv.insert(argv.begin(), "nightjarctl");
  std::vector<char*> c;
  for (auto& a : argv) c.push_back(a.data());
  g_ran = {"(not run)"};
  return capture([&] { return nj::ctl::run_tool(kTool, static_cast<int>(c.size()), c.data()); });
}

}  // namespace

BOOST_AUTO_TEST_CASE(dispatch) {
  const std::string help = nj::ctl::help_text(kTool);
  BOOST_TEST(help ==
             "usage: nightjarctl [--config FILE] COMMAND [ARGS]\n"
             "       nightjarctl COMMAND --help    (or: nightjarctl help COMMAND)\n"
             "\n"
             "commands:\n"
             "  frob        frob things\n"
             "  edge-queue  a longer name\n"
             "\n"
             "--config FILE, the test's, is passed on.\n");
  auto r = run_tool({"frob", "a", "--b"});
  BOOST_TEST(r.rc == 7);
  BOOST_TEST(g_ran == (std::vector<std::string>{"a", "--b"}));
  // The global --config goes to the command, after its own arguments.
  r = run_tool({"--config", "x.yaml", "frob", "a"});
  BOOST_TEST(g_ran == (std::vector<std::string>{"a", "--config", "x.yaml"}));
  // `help COMMAND` is `COMMAND --help`.
  r = run_tool({"help", "edge-queue"});
  BOOST_TEST(g_ran == (std::vector<std::string>{"--help"}));
  for (const char* h : {"--help", "-h", "help"}) {
    r = run_tool({h});
    BOOST_TEST(r.rc == 0);
    BOOST_TEST(r.out == help);
    BOOST_TEST(g_ran == (std::vector<std::string>{"(not run)"}));
  }
  // Nothing to do: the help on stderr, exit 2.
  r = run_tool({});
  BOOST_TEST(r.rc == nj::ctl::kExitUsage);
  BOOST_TEST(r.err == help);
  BOOST_TEST(r.out == "");
  r = run_tool({"--config", "x.yaml"});
  BOOST_TEST(r.rc == nj::ctl::kExitUsage);
  for (auto argv : {std::vector<std::string>{"frobnicate"},
                    {"help", "frobnicate"},
                    {"--config", "x.yaml", "frobnicate"}}) {
    r = run_tool(argv);
    BOOST_TEST(r.rc == nj::ctl::kExitUsage);
    BOOST_TEST(r.err == "nightjarctl: unknown command 'frobnicate' (try nightjarctl --help)\n");
    BOOST_TEST(g_ran == (std::vector<std::string>{"(not run)"}));
  }
}
