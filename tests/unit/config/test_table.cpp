#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <string>

#include "common/config/table.h"

using namespace nj::config;
using namespace std::chrono_literals;

namespace {

enum class Mode { fast, safe };

struct Item {
  std::string name;
  std::int64_t weight = 0;
};

struct Sub {
  Duration wait{};
  std::uint64_t max = 0;
  std::vector<Item> items;
};

struct Toy {
  std::string host;
  bool flag = false;
  int count = 0;
  std::string note;
  Mode mode = Mode::fast;
  std::vector<Endpoint> listen;
  std::vector<Network> nets;
  Sub sub;
};

Table<Item> item_table() {
  return Table<Item>()
      .key("name", &Item::name, domain(), required)
      .key("weight", &Item::weight, integer<std::int64_t>(-10, 10), 1,
           [](const std::int64_t& w) { return w == 0 ? std::string("must not be 0") : ""; });
}

Table<Sub> sub_table() {
  return Table<Sub>()
      .key("wait", &Sub::wait, duration(0ms, 1h), 6s)
      .key("max", &Sub::max, size(1, 1ull << 30), 35ull << 20)
      .list("items", &Sub::items, item_table())
      .check([](const Sub& s, Checker& c) {
        if (s.items.size() > 1 && s.items[0].name == s.items[1].name)
          c.fail("items[1].name", "same as items[0].name");
      });
}

const Table<Toy>& toy_table() {
  static const Table<Toy> t =
      Table<Toy>()
          .key("host", &Toy::host, domain(), required)
          .key("flag", &Toy::flag, boolean(), true)
          .key("count", &Toy::count, integer(1, 100), 10)
          .key("note", &Toy::note, text(), optional)
          .key("mode", &Toy::mode, one_of<Mode>({{"fast", Mode::fast}, {"safe", Mode::safe}}),
               Mode::safe)
          .list("listen", &Toy::listen, endpoint(), Items{.min = 1, .unique = true})
          .list("nets", &Toy::nets, network())
          .section("sub", &Toy::sub, sub_table());
  return t;
}

nj::Result<Toy> load(const std::string& yaml) {
  return load_text(yaml, "t.yaml", toy_table());
}

std::string err(const std::string& yaml) {
  auto r = load(yaml);
  BOOST_TEST_INFO("yaml:\n" << yaml);
  BOOST_REQUIRE(!r.ok());
  return r.error();
}

const std::string kMinimal = "host: mx.example.org\nlisten: [127.0.0.1:25]\n";

}  // namespace

BOOST_AUTO_TEST_CASE(minimal_file_gets_every_default) {
  auto r = load(kMinimal);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  BOOST_CHECK_EQUAL(r->host, "mx.example.org");
  BOOST_CHECK_EQUAL(r->flag, true);
  BOOST_CHECK_EQUAL(r->count, 10);
  BOOST_CHECK_EQUAL(r->note, "");
  BOOST_CHECK(r->mode == Mode::safe);
  BOOST_REQUIRE_EQUAL(r->listen.size(), 1u);
  BOOST_CHECK_EQUAL(r->listen[0].port, 25);
  BOOST_CHECK(r->nets.empty());
  BOOST_CHECK(r->sub.wait == 6s);
  BOOST_CHECK_EQUAL(r->sub.max, 35ull << 20);
  BOOST_CHECK(r->sub.items.empty());
}

BOOST_AUTO_TEST_CASE(full_file_is_read) {
  auto r = load(
      "host: MX.example.org\n"
      "flag: false\n"
      "count: 7\n"
      "note: 'hello: world'\n"
      "mode: fast\n"
      "listen:\n"
      "  - 0.0.0.0:25\n"
      "  - '[::]:25'\n"
      "nets: [10.0.0.0/8, '2001:db8::/32']\n"
      "sub:\n"
      "  wait: 0\n"
      "  max: 1G\n"
      "  items:\n"
      "    - name: a.example\n"
      "      weight: -3\n"
      "    - {name: b.example}\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  BOOST_CHECK_EQUAL(r->host, "mx.example.org");
  BOOST_CHECK_EQUAL(r->flag, false);
  BOOST_CHECK_EQUAL(r->count, 7);
  BOOST_CHECK_EQUAL(r->note, "hello: world");
  BOOST_CHECK(r->mode == Mode::fast);
  BOOST_REQUIRE_EQUAL(r->listen.size(), 2u);
  BOOST_CHECK(r->listen[1].ipv6);
  BOOST_REQUIRE_EQUAL(r->nets.size(), 2u);
  BOOST_CHECK_EQUAL(r->nets[1].prefix, 32);
  BOOST_CHECK(r->sub.wait == 0ms);
  BOOST_CHECK_EQUAL(r->sub.max, 1ull << 30);
  BOOST_REQUIRE_EQUAL(r->sub.items.size(), 2u);
  BOOST_CHECK_EQUAL(r->sub.items[0].weight, -3);
  BOOST_CHECK_EQUAL(r->sub.items[1].name, "b.example");
  BOOST_CHECK_EQUAL(r->sub.items[1].weight, 1);

  // The printed effective configuration loads back to the same values.
  std::string printed = print(*r, toy_table());
  auto again = load(printed);
  BOOST_REQUIRE_MESSAGE(again.ok(), printed + ((again.ok() ? std::string() : again.error())));
  BOOST_CHECK_EQUAL(print(*again, toy_table()), printed);
  BOOST_CHECK(printed.find("note: \"hello: world\"\n") != std::string::npos);
  BOOST_CHECK(printed.find("  items:\n    - name: a.example\n      weight: -3\n") !=
              std::string::npos);
}

BOOST_AUTO_TEST_CASE(print_marks_unset_optional_keys_and_empty_lists) {
  auto r = load(kMinimal);
  BOOST_REQUIRE(r.ok());
  std::string printed = print(*r, toy_table());
  BOOST_CHECK_EQUAL(printed,
                    "host: mx.example.org\n"
                    "flag: true\n"
                    "count: 10\n"
                    "# note: (not set)\n"
                    "mode: safe\n"
                    "listen: [\"127.0.0.1:25\"]\n"
                    "nets: []\n"
                    "sub:\n"
                    "  wait: 6s\n"
                    "  max: 35M\n"
                    "  items: []\n");
  BOOST_CHECK(load(printed).ok());
}

BOOST_AUTO_TEST_CASE(values_errors_carry_file_line_and_dotted_key) {
  BOOST_CHECK_EQUAL(err(kMinimal + "count: 0\n"), "t.yaml:3: count: 0 is out of range (1 to 100)");
  BOOST_CHECK_EQUAL(err(kMinimal + "count: many\n"), "t.yaml:3: count: \"many\" is not an integer");
  BOOST_CHECK_EQUAL(err(kMinimal + "flag: yes\n"), "t.yaml:3: flag: \"yes\" is not true or false");
  BOOST_CHECK_EQUAL(err(kMinimal + "mode: slow\n"), "t.yaml:3: mode: must be one of fast, safe");
  BOOST_CHECK_EQUAL(err(kMinimal + "sub:\n  wait: 5\n"), "t.yaml:4: sub.wait: \"5\" needs a unit");
  BOOST_CHECK_EQUAL(err(kMinimal + "sub:\n  max: 0\n"),
                    "t.yaml:4: sub.max: 0 is out of range (1B to 1G)");
  BOOST_CHECK_EQUAL(err("host: mx.example.org\nlisten:\n  - 127.0.0.1:25\n  - 127.0.0.1\n"),
                    "t.yaml:4: listen[1]: \"127.0.0.1\" has no port");
  BOOST_CHECK_EQUAL(err(kMinimal + "sub:\n  items:\n    - name: a.example\n    - name: b.example\n"
                                   "      weight: 0\n"),
                    "t.yaml:7: sub.items[1].weight: must not be 0");
  BOOST_CHECK_EQUAL(err(kMinimal + "host2: x\n"), "t.yaml:3: host2: unknown key");
  BOOST_CHECK_EQUAL(err(kMinimal + "sub:\n  items:\n    - name: a.example\n      colour: red\n"),
                    "t.yaml:6: sub.items[0].colour: unknown key");
}

BOOST_AUTO_TEST_CASE(wrong_shapes_are_errors) {
  BOOST_CHECK_EQUAL(err(kMinimal + "sub: [1, 2]\n"), "t.yaml:3: sub: expected a map, got a list");
  BOOST_CHECK_EQUAL(err(kMinimal + "sub: 5\n"),
                    "t.yaml:3: sub: expected a map, got a single value");
  BOOST_CHECK_EQUAL(err(kMinimal + "count: [1]\n"),
                    "t.yaml:3: count: expected an integer from 1 to 100, got a list");
  BOOST_CHECK_EQUAL(err(kMinimal + "count:\n  a: 1\n"),
                    "t.yaml:4: count: expected an integer from 1 to 100, got a map");
  BOOST_CHECK_EQUAL(err(kMinimal + "count:\n"),
                    "t.yaml:3: count: no value (expected an integer from 1 to 100)");
  BOOST_CHECK_EQUAL(err("host: mx.example.org\nlisten: 127.0.0.1:25\n"),
                    "t.yaml:2: listen: expected a list, got a single value");
  BOOST_CHECK_EQUAL(err(kMinimal + "sub:\n  items: {name: a.example}\n"),
                    "t.yaml:4: sub.items: expected a list, got a map");
  BOOST_CHECK_EQUAL(err(kMinimal + "sub:\n  items: [a.example]\n"),
                    "t.yaml:4: sub.items[0]: expected a map, got a single value");
  BOOST_CHECK_EQUAL(err("- host\n"), "t.yaml:1: (top): expected a map, got a list");
  BOOST_CHECK_EQUAL(err("just text\n"), "t.yaml:1: (top): expected a map, got a single value");
}

BOOST_AUTO_TEST_CASE(empty_values_mean_empty_list_or_all_defaults) {
  auto r = load(kMinimal + "nets:\nsub:\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  BOOST_CHECK(r->nets.empty());
  BOOST_CHECK(r->sub.wait == 6s);
}

BOOST_AUTO_TEST_CASE(missing_required_keys_blame_the_enclosing_map) {
  BOOST_CHECK_EQUAL(err("listen: [127.0.0.1:25]\n"), "t.yaml:1: host: required key missing");
  BOOST_CHECK_EQUAL(err("\n\nhost: mx.example.org\n"), "t.yaml:3: listen: required key missing");
  BOOST_CHECK_EQUAL(err("host: mx.example.org\nlisten: []\n"),
                    "t.yaml:2: listen: must not be empty");
  BOOST_CHECK_EQUAL(err(kMinimal + "sub:\n  items:\n    - weight: 2\n"),
                    "t.yaml:5: sub.items[0].name: required key missing");
  BOOST_CHECK_EQUAL(err(""),
                    "t.yaml:1: host: required key missing\nt.yaml:1: listen: required key missing");
}

BOOST_AUTO_TEST_CASE(duplicate_keys_are_errors) {
  BOOST_CHECK_EQUAL(err(kMinimal + "count: 5\ncount: 6\n"),
                    "t.yaml:4: count: duplicate key (first at line 3)");
  BOOST_CHECK_EQUAL(err(kMinimal + "sub:\n  wait: 1s\n  wait: 2s\n"),
                    "t.yaml:5: sub.wait: duplicate key (first at line 4)");
  BOOST_CHECK_EQUAL(err(kMinimal + "sub: {wait: 1s, wait: 1s}\n"),
                    "t.yaml:3: sub.wait: duplicate key (first at line 3)");
  BOOST_CHECK_EQUAL(err("host: mx.example.org\nlisten: [127.0.0.1:25, localhost:25]\n"),
                    "t.yaml:2: listen[1]: duplicate of listen[0]");
}

BOOST_AUTO_TEST_CASE(all_errors_are_reported_in_line_order) {
  BOOST_CHECK_EQUAL(err("count: 0\nsub:\n  wait: 1x\nlisten: [1]\nflag: maybe\n"),
                    "t.yaml:1: count: 0 is out of range (1 to 100)\n"
                    "t.yaml:1: host: required key missing\n"
                    "t.yaml:3: sub.wait: \"1x\" has an unknown unit\n"
                    "t.yaml:4: listen[0]: \"1\" has no port\n"
                    "t.yaml:5: flag: \"maybe\" is not true or false");
  std::string many = kMinimal;
  for (int i = 0; i < 30; ++i) many += "k" + std::to_string(i) + ": 1\n";
  std::string e = err(many);
  BOOST_CHECK_EQUAL(std::count(e.begin(), e.end(), '\n'), 20);
  BOOST_CHECK(e.find("t.yaml: 10 more errors not shown") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(cross_key_checks_run_only_on_clean_structs) {
  BOOST_CHECK_EQUAL(
      err(kMinimal + "sub:\n  items:\n    - name: a.example\n    - name: A.example\n"),
      "t.yaml:6: sub.items[1].name: same as items[0].name");
  // With a value error in the struct, the cross-key check does not add noise.
  BOOST_CHECK_EQUAL(err(kMinimal + "sub:\n  wait: x\n  items:\n    - name: a.example\n"
                                   "    - name: a.example\n"),
                    "t.yaml:4: sub.wait: \"x\" is not a duration (units ms, s, m, h, d, w)");
}

BOOST_AUTO_TEST_CASE(yaml_problems_are_reported_not_thrown) {
  BOOST_CHECK_EQUAL(err(kMinimal + "sub: [1, 2\n").substr(0, 19), "t.yaml:4: (syntax):");
  BOOST_CHECK_EQUAL(err("base: &a {x: 1}\nhost: *a\n"),
                    "t.yaml:2: (syntax): aliases (*name) are not supported in configuration files");
  BOOST_CHECK_EQUAL(err(kMinimal + "---\nhost: b.example\n"),
                    "t.yaml:4: (syntax): more than one YAML document");
  BOOST_CHECK_EQUAL(err(kMinimal + "? [a, b]\n: 1\n"),
                    "t.yaml:3: (syntax): map keys must be plain names");
  BOOST_CHECK_EQUAL(err(std::string(40, '[') + std::string(40, ']')),
                    "t.yaml:1: (syntax): nested deeper than 32 levels");
  BOOST_CHECK_EQUAL(err(std::string("host: a\0b\n", 10)),
                    "t.yaml:1: (syntax): file contains a NUL byte");
  std::string deep(100000, '[');
  BOOST_CHECK_EQUAL(err(deep).substr(0, 19), "t.yaml:1: (syntax):");
  BOOST_CHECK_EQUAL(err(std::string(kMaxFileBytes + 1, ' ')),
                    "t.yaml:1: (syntax): file is larger than 1048576 bytes");
}

BOOST_AUTO_TEST_CASE(files_are_read_from_disk) {
  char tmpl[] = "/tmp/nj-config-file-XXXXXX";
  int fd = mkstemp(tmpl);
  BOOST_REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(tmpl) << kMinimal << "count: 500\n";
  auto r = load_file(tmpl, toy_table());
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK_EQUAL(r.error(), std::string(tmpl) + ":3: count: 500 is out of range (1 to 100)");
  unlink(tmpl);
  r = load_file(tmpl, toy_table());
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK_EQUAL(r.error(), std::string(tmpl) + ": cannot read: No such file or directory");
  r = load_file("/tmp", toy_table());
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK_EQUAL(r.error(), "/tmp: cannot read: not a regular file");
}

BOOST_AUTO_TEST_CASE(quoted_text_round_trips_through_yaml) {
  for (std::string s :
       {"plain",   "a: b",  "#hash", "- dash", "x # y",     "\"q\"",       "it's",  "true",
        "null",    "~",     "[a]",   "{a}",    "tab\there", "back\\slash", " lead", "trail ",
        "ünïcode", "*star", "&amp",  "!bang",  "%pct",      "@at",         "`tick", "a,b"}) {
    auto root = parse_yaml("k: " + yaml_quote(s) + "\n", "q");
    BOOST_TEST_INFO("text: " << s << " quoted: " << yaml_quote(s));
    BOOST_REQUIRE(root.ok());
    BOOST_REQUIRE_EQUAL(root->entries.size(), 1u);
    BOOST_CHECK_EQUAL(root->entries[0].value.scalar, s);
  }
}

namespace {

// Keys that name things on a machine, and one that does not.
struct Placed {
  std::string data_dir;
  std::string key_file;
  std::vector<std::string> certs;
  std::string user;
  int port = 0;
};

const Table<Placed>& placed_table() {
  static const Table<Placed> t =
      Table<Placed>()
          .key("data_dir", &Placed::data_dir, path(PathCheck::directory), required)
          .key("key_file", &Placed::key_file, path(PathCheck::readable_file), required)
          .list("certs", &Placed::certs, path(PathCheck::readable_file))
          .key("user", &Placed::user, system_user(), optional)
          .key("port", &Placed::port, integer(1, 65535), 25)
          .check([](const Placed& p, Checker& c) {
            if (p.key_file == p.data_dir) c.fail("key_file", "must differ from data_dir");
          });
  return t;
}

}  // namespace

BOOST_AUTO_TEST_CASE(another_hosts_file_skips_exactly_the_checks_made_here) {
  // A file as it stands on another machine: its paths and its user exist there, not here.
  const std::string there =
      "data_dir: /nj-nowhere/data\n"
      "key_file: /nj-nowhere/key\n"
      "certs: [/nj-nowhere/a.pem, /etc]\n"
      "user: nj-no-such-user\n"
      "port: 2525\n";
  auto here = load_text(there, "o.yaml", placed_table());
  BOOST_REQUIRE(!here.ok());
  BOOST_CHECK_EQUAL(here.error(),
                    "o.yaml:1: data_dir: /nj-nowhere/data: No such file or directory\n"
                    "o.yaml:2: key_file: /nj-nowhere/key: No such file or directory\n"
                    "o.yaml:3: certs[0]: /nj-nowhere/a.pem: No such file or directory\n"
                    "o.yaml:3: certs[1]: /etc: not a regular file\n"
                    "o.yaml:4: user: no such user: nj-no-such-user");
  auto other = load_text(there, "o.yaml", placed_table(), Host::other);
  BOOST_REQUIRE_MESSAGE(other.ok(), (other.ok() ? std::string() : other.error()));
  BOOST_CHECK_EQUAL(other->data_dir, "/nj-nowhere/data");
  BOOST_CHECK_EQUAL(other->key_file, "/nj-nowhere/key");
  BOOST_REQUIRE_EQUAL(other->certs.size(), 2u);
  BOOST_CHECK_EQUAL(other->certs[1], "/etc");
  BOOST_CHECK_EQUAL(other->user, "nj-no-such-user");
  BOOST_CHECK_EQUAL(other->port, 2525);

  // Everything else is checked as for this machine's file, with the same errors: syntax, range,
  // a missing required key, an unknown key, cross-key checks.
  const std::string wrong =
      "data_dir: relative/data\n"
      "key_file: /nj-nowhere/key\n"
      "certs: [/nj-nowhere/a.pem, a.pem]\n"
      "user: root\n"
      "port: 0\n"
      "porT: 1\n";
  auto wrong_other = load_text(wrong, "w.yaml", placed_table(), Host::other);
  BOOST_REQUIRE(!wrong_other.ok());
  BOOST_CHECK_EQUAL(wrong_other.error(),
                    "w.yaml:1: data_dir: \"relative/data\" is not an absolute path\n"
                    "w.yaml:3: certs[1]: \"a.pem\" is not an absolute path\n"
                    "w.yaml:4: user: must not be root (it is the user to drop root to)\n"
                    "w.yaml:5: port: 0 is out of range (1 to 65535)\n"
                    "w.yaml:6: porT: unknown key");
  auto wrong_here = load_text(wrong, "w.yaml", placed_table());
  BOOST_REQUIRE(!wrong_here.ok());
  BOOST_CHECK_EQUAL(wrong_here.error(),
                    "w.yaml:1: data_dir: \"relative/data\" is not an absolute path\n"
                    "w.yaml:2: key_file: /nj-nowhere/key: No such file or directory\n"
                    "w.yaml:3: certs[0]: /nj-nowhere/a.pem: No such file or directory\n"
                    "w.yaml:3: certs[1]: \"a.pem\" is not an absolute path\n"
                    "w.yaml:4: user: must not be root (it is the user to drop root to)\n"
                    "w.yaml:5: port: 0 is out of range (1 to 65535)\n"
                    "w.yaml:6: porT: unknown key");
  auto missing = load_text("key_file: /k\n", "m.yaml", placed_table(), Host::other);
  BOOST_REQUIRE(!missing.ok());
  BOOST_CHECK_EQUAL(missing.error(), "m.yaml:1: data_dir: required key missing");
  auto same = load_text("data_dir: /x\nkey_file: /x\n", "s.yaml", placed_table(), Host::other);
  BOOST_REQUIRE(!same.ok());
  BOOST_CHECK_EQUAL(same.error(), "s.yaml:2: key_file: must differ from data_dir");

  // And this machine's files pass both ways.
  auto real =
      load_text("data_dir: /tmp\nkey_file: /etc/passwd\nuser: nobody\n", "r.yaml", placed_table());
  BOOST_CHECK_MESSAGE(real.ok(), (real.ok() ? std::string() : real.error()));
  char tmpl[] = "/tmp/nj-config-other-XXXXXX";
  int fd = mkstemp(tmpl);
  BOOST_REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(tmpl) << there;
  auto from_disk = load_file(tmpl, placed_table(), Host::other);
  BOOST_CHECK_MESSAGE(from_disk.ok(), (from_disk.ok() ? std::string() : from_disk.error()));
  unlink(tmpl);
}
