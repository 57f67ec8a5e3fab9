#define BOOST_TEST_MODULE inner_config
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/link/message_size.h"
#include "inner/config/config.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string source_dir() {
  const char* d = std::getenv("NJ_SOURCE_DIR");
  BOOST_REQUIRE_MESSAGE(d != nullptr, "NJ_SOURCE_DIR is not set (run through ctest)");
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// A scratch directory holding the files a configuration points to, so the loader's real
// existence checks run against real files.
struct Scratch {
  fs::path dir;
  Scratch() {
    char tmpl[] = "/tmp/nj-inner-config-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    fs::create_directories(dir / "data");
    fs::create_directories(dir / "keys");
    for (const char* f : {"keys/inner.secret", "keys/edge.pub", "keys/other.pub"})
      std::ofstream(dir / f) << "x\n";
  }
  ~Scratch() { fs::remove_all(dir); }

  // Points a configuration's paths into the scratch directory and writes it there. The unit's
  // credentials are the files it copies (LoadCredential=): keys_FILE is /etc/nightjar/keys/FILE.
  fs::path write(const std::string& name, std::string text) const {
    replace_all(text, "@DIR@", dir.string());
    replace_all(text, "/run/credentials/nightjar-inner.service/keys_", dir.string() + "/keys/");
    replace_all(text, "/etc/nightjar/", dir.string() + "/");
    replace_all(text, "/var/lib/nightjar-inner", dir.string() + "/data");
    fs::path p = dir / name;
    std::ofstream(p) << text;
    return p;
  }
};

// A user that exists here and is not root, for the example's `user: nightjar-inner`.
std::string some_user() {
  if (getpwnam("nobody")) return "nobody";
  struct passwd* pw = getpwuid(getuid());
  return pw && getuid() != 0 ? pw->pw_name : "";
}

std::string err(const nj::Result<nj::inner::InnerConfig>& r) {
  return r.ok() ? std::string() : r.error();
}

// The minimal configuration as dotted keys in file order; a case changes or removes some.
using Keys = std::vector<std::pair<std::string, std::optional<std::string>>>;
const Keys kMinimal = {
    {"hostname", "mail.example.i2p"},
    {"data_dir", "@DIR@/data"},
    {"domain.internal", "example.i2p"},
    {"domain.public", "example.org"},
    {"listen.submission", "[\"127.0.0.1:10587\"]"},
    {"listen.pop3", "[\"127.0.0.1:10110\"]"},
    {"keys.inner_secret", "@DIR@/keys/inner.secret"},
};

// One entry of `edges:` in flow style, for render(): {"edges", "[" + entry(...) + "]"}.
std::string entry(const std::string& name, const std::string& address,
                  const std::string& more = "transport: direct",
                  const std::string& key = "@DIR@/keys/edge.pub") {
  return "{name: " + name + ", address: \"" + address + "\", " + more + ", public_key: " + key +
         "}";
}

// Renders kMinimal with `changes` applied (nullopt removes a key; a new key is added at the end
// of its section, or of the file) as
// YAML, one "section:" line before the first key of each section.
std::string render(const Keys& changes = {}) {
  Keys keys = kMinimal;
  for (const auto& change : changes) {
    const std::string& k = change.first;  // not a structured binding: the lambda captures it
    const std::optional<std::string>& v = change.second;
    auto it = std::find_if(keys.begin(), keys.end(), [&](const auto& e) { return e.first == k; });
    if (it != keys.end()) {
      it->second = v;
      continue;
    }
    // A new key goes after the last key of its section, so the section stays one map.
    std::string section = k.substr(0, k.find('.') + 1);
    auto last = keys.end();
    for (auto e = keys.begin(); e != keys.end() && k.find('.') != std::string::npos; ++e)
      if (e->first.rfind(section, 0) == 0) last = e + 1;
    keys.insert(last, {k, v});
  }
  std::string out, section;
  for (const auto& [k, v] : keys) {
    if (!v) continue;
    std::size_t dot = k.find('.');
    if (dot == std::string::npos) {
      section.clear();
      out += k + ": " + *v + "\n";
      continue;
    }
    if (k.substr(0, dot) != section) {
      section = k.substr(0, dot);
      out += section + ":\n";
    }
    out += "  " + k.substr(dot + 1) + ": " + *v + "\n";
  }
  return out;
}

nj::Result<nj::inner::InnerConfig> load(const Scratch& s, const Keys& changes = {}) {
  return nj::inner::load(s.write("case.yaml", render(changes)).string());
}

const std::string kLoopbackOnly =
    " is not a loopback address: the inner listens only on 127.0.0.0/8 or [::1]; the overlay "
    "daemon (Tor or I2P) is what exposes its listeners";

}  // namespace

BOOST_AUTO_TEST_CASE(minimal_config_gets_the_documented_defaults) {
  Scratch s;
  auto r = load(s);
  BOOST_REQUIRE_MESSAGE(r.ok(), err(r));
  const nj::inner::InnerConfig& c = *r;
  BOOST_CHECK_EQUAL(c.hostname, "mail.example.i2p");
  BOOST_CHECK_EQUAL(c.data_dir, (s.dir / "data").string());
  BOOST_CHECK_EQUAL(c.user, "");
  BOOST_CHECK_EQUAL(c.domain.internal_domain, "example.i2p");
  BOOST_CHECK_EQUAL(c.domain.public_domain, "example.org");
  BOOST_REQUIRE_EQUAL(c.listen.submission.size(), 1u);
  BOOST_CHECK_EQUAL(c.listen.submission[0].str(), "127.0.0.1:10587");
  BOOST_REQUIRE_EQUAL(c.listen.pop3.size(), 1u);
  BOOST_CHECK_EQUAL(c.listen.pop3[0].port, 10110);
  BOOST_CHECK_EQUAL(c.keys.inner_secret, (s.dir / "keys/inner.secret").string());
  BOOST_CHECK_EQUAL(c.keys.edge_public, "");
  BOOST_CHECK_EQUAL(c.listen.metrics.port, 0);  // off unless set
  BOOST_CHECK(c.edges.empty());                 // no edge: local mail only
  BOOST_CHECK(c.edge.address.empty());
  BOOST_CHECK_EQUAL(c.mailbox.max_size, 50u << 20);
  BOOST_CHECK_EQUAL(c.auth.max_failures, 5);
  BOOST_CHECK(c.auth.lockout == 15min);
  BOOST_CHECK_EQUAL(c.limits.max_message_size, 35u << 20);
  BOOST_CHECK_EQUAL(c.limits.max_recipients, 100);
  BOOST_CHECK_EQUAL(c.limits.max_connections, 200);
  BOOST_CHECK(c.log.level == nj::log::Level::info);
  BOOST_CHECK(c.log.redact);
  BOOST_CHECK_EQUAL(c.quota.daily, 20u);
  BOOST_REQUIRE_EQUAL(c.quota.prices.size(), 3u);
  BOOST_CHECK(c.quota.prices[2] == (nj::inner::QuotaPrice{24, 80}));
  BOOST_CHECK_EQUAL(c.delay.default_class, "defer");
  BOOST_CHECK(c.delay.defer_min == 2000s);
  BOOST_CHECK(c.delay.defer_max == 4000s);
  BOOST_CHECK(c.delay.batch_times == (std::vector<int>{0, 12 * 3600}));
}

BOOST_AUTO_TEST_CASE(example_file_loads_and_prints_back) {
  Scratch s;
  std::string text = slurp(fs::path(source_dir()) / "inner/inner.example.yaml");
  BOOST_REQUIRE(text.find("user: nightjar-inner\n") != std::string::npos);
  std::string user = some_user();
  replace_all(text, "user: nightjar-inner\n", user.empty() ? "" : "user: " + user + "\n");
  auto r = nj::inner::load(s.write("inner.yaml", text).string());
  BOOST_REQUIRE_MESSAGE(r.ok(), err(r));
  const nj::inner::InnerConfig& c = *r;
  BOOST_CHECK_EQUAL(c.hostname, "mail.example.i2p");
  BOOST_CHECK_EQUAL(c.data_dir, (s.dir / "data").string());
  BOOST_CHECK_EQUAL(c.user, user);
  BOOST_CHECK_EQUAL(c.domain.internal_domain, "example.i2p");
  BOOST_CHECK_EQUAL(c.domain.public_domain, "example.org");
  BOOST_REQUIRE_EQUAL(c.listen.submission.size(), 1u);
  BOOST_CHECK_EQUAL(c.listen.submission[0].str(), "127.0.0.1:10587");
  BOOST_REQUIRE_EQUAL(c.listen.pop3.size(), 1u);
  BOOST_CHECK_EQUAL(c.listen.pop3[0].str(), "127.0.0.1:10110");
  BOOST_CHECK_EQUAL(c.keys.inner_secret, (s.dir / "keys/inner.secret").string());
  BOOST_CHECK_EQUAL(c.keys.edge_public, "");
  BOOST_CHECK_EQUAL(c.listen.metrics.port, 0);  // documented, off
  // The fleet in the list form, one entry; the second one is a comment.
  BOOST_REQUIRE_EQUAL(c.edges.size(), 1u);
  const nj::inner::EdgeLinkConfig& e = c.edges[0];
  BOOST_CHECK_EQUAL(e.name, "mx1");
  BOOST_CHECK_EQUAL(e.address, "replace-with-the-edges-link-service.onion:2600");
  BOOST_CHECK(e.transport == nj::inner::Transport::tor);
  BOOST_CHECK_EQUAL(e.socks.str(), "127.0.0.1:9050");
  BOOST_CHECK_EQUAL(e.public_key, (s.dir / "keys/edge.pub").string());
  BOOST_CHECK(e.failover_after == 10min);
  BOOST_CHECK(c.edge.address.empty());
  BOOST_CHECK(text.find("\n  # - name: mx2\n") != std::string::npos);
  BOOST_CHECK_EQUAL(c.mailbox.max_size, 50u << 20);
  BOOST_CHECK_EQUAL(c.auth.max_failures, 5);
  BOOST_CHECK(c.auth.lockout == 15min);
  BOOST_CHECK_EQUAL(c.limits.max_connections, 200);

  // The commented second entry, uncommented, is a second edge that loads.
  std::string two = text;
  replace_all(two, "  # - name: mx2\n", "  - name: mx2\n");
  for (const char* k : {"address", "transport", "socks", "public_key", "failover_after"})
    replace_all(two, std::string("  #   ") + k + ":", std::string("    ") + k + ":");
  std::ofstream(s.dir / "keys/mx2.pub") << "x\n";
  auto fleet = nj::inner::load(s.write("two.yaml", two).string());
  BOOST_REQUIRE_MESSAGE(fleet.ok(), err(fleet));
  BOOST_REQUIRE_EQUAL(fleet->edges.size(), 2u);
  BOOST_CHECK_EQUAL(fleet->edges[1].name, "mx2");
  BOOST_CHECK_EQUAL(fleet->edges[1].public_key, (s.dir / "keys/mx2.pub").string());

  // print_effective gives YAML that loads to the same configuration.
  std::string printed = nj::inner::print_effective(c);
  auto again = nj::inner::load_text(printed, "printed.yaml");
  BOOST_REQUIRE_MESSAGE(again.ok(), printed + err(again));
  BOOST_CHECK_EQUAL(nj::inner::print_effective(*again), printed);
  BOOST_CHECK(printed.find("  lockout: 15m\n") != std::string::npos);
  BOOST_CHECK(printed.find("  submission: [\"127.0.0.1:10587\"]\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(example_documents_every_key) {
  // Every key print_effective knows is in the example file, so the file stays complete when a key
  // is added to the table: set (not just mentioned in a comment), or, for a key the example
  // leaves unset (printed "# key: (not set)": off by default, or keys.edge_public of the one-edge
  // form, which the list form refuses), as a commented example line "# key: value".
  auto key_of = [](std::string line, bool allow_comment) {
    std::size_t at = line.find_first_not_of(" ");
    if (at == std::string::npos) return std::string();
    line.erase(0, at);
    if (line.rfind("# ", 0) == 0) {
      if (!allow_comment) return std::string();
      line.erase(0, line.find_first_not_of(" ", 1));
    }
    if (line.rfind("- ", 0) == 0) line.erase(0, 2);  // the first key of a list entry
    std::size_t colon = line.find(':');
    return colon == std::string::npos ? std::string() : line.substr(0, colon);
  };
  std::set<std::string> set_keys, commented_keys;
  std::istringstream example(slurp(fs::path(source_dir()) / "inner/inner.example.yaml"));
  std::string line;
  while (std::getline(example, line)) {
    set_keys.insert(key_of(line, false));
    commented_keys.insert(key_of(line, true));
  }

  Scratch s;
  auto r = load(
      s, {{"edges",
           "[" + entry("mx1", "a.onion:2600", "transport: tor, socks: \"127.0.0.1:9050\"") + "]"}});
  BOOST_REQUIRE_MESSAGE(r.ok(), err(r));
  std::istringstream printed(nj::inner::print_effective(*r));
  int keys = 0;
  while (std::getline(printed, line)) {
    std::string key = key_of(line, true);
    BOOST_REQUIRE(!key.empty());
    ++keys;
    if (line.find("(not set)") != std::string::npos)
      BOOST_CHECK_MESSAGE(set_keys.count(key) || commented_keys.count(key),
                          "example lacks " + key + " (not even in a comment)");
    else
      BOOST_CHECK_MESSAGE(set_keys.count(key), "example lacks " + key);
  }
  // 3 top-level values, 10 sections (edges among them), 21 keys in them, 6 in the edge's entry.
  BOOST_CHECK_EQUAL(keys, 40);
}

BOOST_AUTO_TEST_CASE(loopback_addresses_are_accepted) {
  Scratch s;
  auto r = load(s, {{"listen.submission",
                     "[\"127.0.0.1:10587\", \"127.3.2.1:10587\", \"[::1]:10587\", "
                     "\"localhost:1024\"]"},
                    {"listen.pop3", "[\"[0:0:0:0:0:0:0:1]:65535\"]"}});
  BOOST_REQUIRE_MESSAGE(r.ok(), err(r));
  BOOST_REQUIRE_EQUAL(r->listen.submission.size(), 4u);
  BOOST_CHECK_EQUAL(r->listen.submission[1].str(), "127.3.2.1:10587");
  BOOST_CHECK_EQUAL(r->listen.submission[2].str(), "[::1]:10587");
  BOOST_CHECK_EQUAL(r->listen.submission[3].str(), "127.0.0.1:1024");
  // The long IPv6 spelling is stored canonically.
  BOOST_CHECK_EQUAL(r->listen.pop3[0].str(), "[::1]:65535");
  for (const auto& e : r->listen.submission) BOOST_CHECK(nj::inner::is_loopback(e));
}

BOOST_AUTO_TEST_CASE(is_loopback_decides_by_address) {
  using nj::inner::Endpoint;
  auto ep = [](std::string host, bool v6) {
    Endpoint e;
    e.host = std::move(host);
    e.port = 10587;
    e.ipv6 = v6;
    return e;
  };
  BOOST_CHECK(nj::inner::is_loopback(ep("127.0.0.1", false)));
  BOOST_CHECK(nj::inner::is_loopback(ep("127.255.255.254", false)));
  BOOST_CHECK(nj::inner::is_loopback(ep("::1", true)));
  BOOST_CHECK(nj::inner::is_loopback(ep("0::0:1", true)));
  BOOST_CHECK(!nj::inner::is_loopback(ep("128.0.0.1", false)));
  BOOST_CHECK(!nj::inner::is_loopback(ep("0.0.0.0", false)));
  BOOST_CHECK(!nj::inner::is_loopback(ep("10.0.0.1", false)));
  BOOST_CHECK(!nj::inner::is_loopback(ep("::", true)));
  BOOST_CHECK(!nj::inner::is_loopback(ep("::ffff:127.0.0.1", true)));
  BOOST_CHECK(!nj::inner::is_loopback(ep("fe80::1", true)));
  // Names are not addresses: nothing is resolved, so they are not loopback.
  BOOST_CHECK(!nj::inner::is_loopback(ep("localhost", false)));
  BOOST_CHECK(!nj::inner::is_loopback(ep("::1", false)));  // family must match
  BOOST_CHECK(!nj::inner::is_loopback(ep("127.0.0.1", true)));
}

BOOST_AUTO_TEST_CASE(non_loopback_listen_is_refused_with_the_overlay_message) {
  Scratch s;
  // Exactly the message, file and line: line 7 is listen.submission, line 8 listen.pop3.
  fs::path p = s.write("wild.yaml", render({{"listen.submission", "[\"0.0.0.0:10587\"]"},
                                            {"listen.pop3", "[\"[::]:10110\"]"}}));
  auto r = nj::inner::load(p.string());
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK_EQUAL(r.error(), p.string() + ":7: listen.submission[0]: \"0.0.0.0:10587\"" +
                                   kLoopbackOnly + "\n" + p.string() +
                                   ":8: listen.pop3[0]: \"[::]:10110\"" + kLoopbackOnly);

  for (const char* addr :
       {"192.168.1.5:10587", "10.0.0.1:10587", "128.0.0.1:10587", "[2001:db8::1]:10587",
        "[::ffff:127.0.0.1]:10587", "[fe80::1]:10587", "[::2]:10587"}) {
    BOOST_TEST_CONTEXT(addr) {
      auto r2 = load(s, {{"listen.pop3", "[\"127.0.0.1:10110\", \"" + std::string(addr) + "\"]"}});
      BOOST_REQUIRE(!r2.ok());
      BOOST_CHECK_EQUAL(r2.error(), (s.dir / "case.yaml").string() + ":8: listen.pop3[1]: \"" +
                                        addr + "\"" + kLoopbackOnly);
    }
  }
}

// Every key with values it must refuse; each problem is the text after "file:line: key: ".
BOOST_AUTO_TEST_CASE(bad_values_for_every_key) {
  Scratch s;
  std::string dir = s.dir.string();
  struct Case {
    Keys changes;
    std::string key;
    std::string problem;
  };
  const std::string kNotLoopback = kLoopbackOnly;
  std::vector<Case> cases = {
      {{{"hostname", "mail_example.i2p"}},
       "hostname",
       "\"mail_example.i2p\" is not a valid domain name (like mx.example.org)"},
      {{{"hostname", "localhost"}},
       "hostname",
       "\"localhost\" is not a valid domain name (like mx.example.org)"},
      {{{"hostname", "[a.example, b.example]"}}, "hostname", "expected a domain name, got a list"},
      {{{"hostname", std::nullopt}}, "hostname", "required key missing"},
      {{{"data_dir", "data"}}, "data_dir", "\"data\" is not an absolute path"},
      {{{"data_dir", "@DIR@/nope"}}, "data_dir", dir + "/nope: No such file or directory"},
      {{{"data_dir", "@DIR@/keys/edge.pub"}}, "data_dir", dir + "/keys/edge.pub: not a directory"},
      {{{"data_dir", std::nullopt}}, "data_dir", "required key missing"},
      {{{"user", "root"}}, "user", "must not be root (it is the user to drop root to)"},
      {{{"user", "Mail User"}}, "user", "\"Mail User\" is not a valid user name"},
      {{{"user", "nj-no-such-user-x"}}, "user", "no such user: nj-no-such-user-x"},
      {{{"user", "a123456789012345678901234567890123"}}, "user", "longer than 32 bytes"},
      {{{"domain.internal", "example"}},
       "domain.internal",
       "\"example\" is not a valid domain name (like mx.example.org)"},
      {{{"domain.public", "exa mple.org"}},
       "domain.public",
       "\"exa mple.org\" is not a valid domain name (like mx.example.org)"},
      {{{"domain.public", "Example.I2P."}}, "domain.public", "must differ from domain.internal"},
      {{{"domain.internal", std::nullopt}}, "domain.internal", "required key missing"},
      {{{"domain.public", std::nullopt}}, "domain.public", "required key missing"},
      {{{"listen.submission", "[\"0.0.0.0:10587\"]"}},
       "listen.submission[0]",
       "\"0.0.0.0:10587\"" + kNotLoopback},
      {{{"listen.submission", "[\"127.0.0.1:587\"]"}},
       "listen.submission[0]",
       "\"127.0.0.1:587\": port 587 is privileged; the inner binds only ports 1024 and up (let "
       "the overlay map the well-known port to it)"},
      {{{"listen.pop3", "[\"[::1]:110\"]"}},
       "listen.pop3[0]",
       "\"[::1]:110\": port 110 is privileged; the inner binds only ports 1024 and up (let the "
       "overlay map the well-known port to it)"},
      {{{"listen.submission", "[\"127.0.0.1:0\"]"}},
       "listen.submission[0]",
       "\"127.0.0.1:0\": the port must be 1 to 65535"},
      {{{"listen.submission", "[\"mail.example.i2p:10587\"]"}},
       "listen.submission[0]",
       "\"mail.example.i2p:10587\": \"mail.example.i2p\" is not an IPv4 address (the only name "
       "allowed is localhost)"},
      {{{"listen.submission", "[\"::1:10587\"]"}},
       "listen.submission[0]",
       "\"::1:10587\": an IPv6 address needs brackets: [address]:port"},
      {{{"listen.submission", "[]"}}, "listen.submission", "must not be empty"},
      {{{"listen.pop3", std::nullopt}}, "listen.pop3", "required key missing"},
      {{{"listen.pop3", "\"127.0.0.1:10110\""}},
       "listen.pop3",
       "expected a list, got a single value"},
      {{{"listen.pop3", "[\"127.0.0.1:10110\", \"localhost:10110\"]"}},
       "listen.pop3[1]",
       "duplicate of listen.pop3[0]"},
      {{{"listen.pop3", "[\"127.0.0.1:10587\"]"}},
       "listen.pop3[0]",
       "same address as listen.submission[0]"},
      {{{"listen.submission", "[\"[::1]:10587\"]"}, {"listen.pop3", "[\"[0::1]:10587\"]"}},
       "listen.pop3[0]",
       "same address as listen.submission[0]"},
      {{{"listen.imap", "[\"127.0.0.1:10143\"]"}}, "listen.imap", "unknown key"},
      {{{"keys.inner_secret", "@DIR@/keys/missing.secret"}},
       "keys.inner_secret",
       dir + "/keys/missing.secret: No such file or directory"},
      {{{"keys.inner_secret", "@DIR@/keys"}},
       "keys.inner_secret",
       dir + "/keys: not a regular file"},
      {{{"keys.edge_public", "keys/edge.pub"}},
       "keys.edge_public",
       "\"keys/edge.pub\" is not an absolute path"},
      {{{"keys.edge_public", "@DIR@/keys/inner.secret"}},
       "keys.edge_public",
       "must not be the same file as keys.inner_secret"},
      {{{"mailbox.max_size", "50"}}, "mailbox.max_size", "\"50\" needs a unit"},
      {{{"mailbox.max_size", "50MB"}}, "mailbox.max_size", "\"50MB\" has an unknown unit"},
      {{{"mailbox.max_size", "512B"}}, "mailbox.max_size", "512B is out of range (1K to 1024G)"},
      {{{"mailbox.max_size", "1025G"}}, "mailbox.max_size", "1025G is out of range (1K to 1024G)"},
      {{{"mailbox.quota", "1G"}}, "mailbox.quota", "unknown key"},
      {{{"auth.max_failures", "0"}}, "auth.max_failures", "0 is out of range (1 to 100)"},
      {{{"auth.max_failures", "101"}}, "auth.max_failures", "101 is out of range (1 to 100)"},
      {{{"auth.max_failures", "five"}}, "auth.max_failures", "\"five\" is not an integer"},
      {{{"auth.lockout", "15"}}, "auth.lockout", "\"15\" needs a unit"},
      {{{"auth.lockout", "0"}}, "auth.lockout", "0 is out of range (1s to 1w)"},
      {{{"auth.lockout", "999ms"}}, "auth.lockout", "999ms is out of range (1s to 1w)"},
      {{{"auth.lockout", "2w"}}, "auth.lockout", "2w is out of range (1s to 1w)"},
      {{{"auth.lockout", ""}},
       "auth.lockout",
       "no value (expected a duration like 300s (units "
       "ms, s, m, h, d, w))"},
      {{{"limits.max_message_size", "32K"}},
       "limits.max_message_size",
       "32K is out of range (64K to 1G)"},
      {{{"limits.max_message_size", "2G"}},
       "limits.max_message_size",
       "2G is out of range (64K to 1G)"},
      {{{"limits.max_recipients", "0"}}, "limits.max_recipients", "0 is out of range (1 to 1000)"},
      {{{"limits.max_recipients", "-1"}},
       "limits.max_recipients",
       "-1 is out of range (1 to 1000)"},
      {{{"limits.max_recipients", "1001"}},
       "limits.max_recipients",
       "1001 is out of range (1 to 1000)"},
      {{{"limits.max_message_size", "1G"},
        {"limits.max_recipients", "1000"},
        {"edges", "[" + entry("mx1", "127.0.0.1:2600") + "]"}},
       "limits.max_message_size",
       "1G is more than the link between edge and inner carries (at most 65279K with "
       "limits.max_recipients 1000)"},
      {{{"limits.max_connections", "0"}},
       "limits.max_connections",
       "0 is out of range (1 to 100000)"},
      {{{"limits.max_connections", "100001"}},
       "limits.max_connections",
       "100001 is out of range (1 to 100000)"},
      {{{"limits.max_connections_per_client", "20"}},
       "limits.max_connections_per_client",
       "unknown key"},
      {{{"log.level", "verbose"}}, "log.level", "must be one of debug, info, warn, error"},
      {{{"log.redact", "no"}}, "log.redact", "\"no\" is not true or false"},
      {{{"quota", "{per_day: 100}"}}, "quota.per_day", "unknown key"},
      {{{"quota.daily", "-1"}}, "quota.daily", "-1 is out of range (0 to 100000)"},
      {{{"quota.prices", "[\"20\"]"}}, "quota.prices[0]", "\"20\" is not BITS:RECIPIENTS"},
      {{{"quota.prices", "[\"41:20\"]"}}, "quota.prices[0]", "bits: 41 is out of range (8 to 40)"},
      {{{"quota.prices", "[\"20:20\", \"20:40\"]"}}, "quota.prices[1]", "same bits as prices[0]"},
      {{{"quota.prices", "[\"20:40\", \"22:20\"]"}},
       "quota.prices[1]",
       "more bits must not buy fewer recipients than prices[0]"},
      {{{"delay.default", "later"}}, "delay.default", "must be one of none, defer, batch"},
      {{{"delay.defer_min", "10s"}, {"delay.defer_max", "5s"}},
       "delay.defer_max",
       "must not be less than delay.defer_min"},
      {{{"delay.batch_times", "[\"24:00\"]"}},
       "delay.batch_times[0]",
       "\"24:00\" is not HH:MM (UTC)"},
      {{{"delay.batch_times", "[]"}}, "delay.batch_times", "needs at least one time"},
      {{{"edge", "{address: a.onion:2600, socks: \"127.0.0.1:9050\", link: 1}"}},
       "edge.link",
       "unknown key"},
      {{{"edge", "{address: a.onion:99999, socks: \"127.0.0.1:9050\"}"}},
       "edge.address",
       "\"a.onion:99999\": bad port"},
      {{{"edge", "{address: \"a_b.onion:25\", socks: \"127.0.0.1:9050\"}"}},
       "edge.address",
       "\"a_b.onion:25\": the host may hold only letters, digits, dots and dashes"},
      {{{"edge", "{address: a.onion:2600}"}},
       "edge.socks",
       "transport tor needs Tor's SocksPort here"},
      {{{"edge", "{address: a.example.org:2600, socks: \"127.0.0.1:9050\"}"}},
       "edge.address",
       "with transport tor the edge is an onion service (NAME.onion)"},
      {{{"edge", "{address: a.onion:2600, transport: i2p, socks: \"127.0.0.1:4447\"}"}},
       "edge.address",
       "with transport i2p the edge is an I2P destination (NAME.i2p)"},
      {{{"edge", "{address: \"192.0.2.1:2600\", transport: direct}"}},
       "edge.address",
       "transport direct is for tests and demos on this machine: the address must be 127.x.x.x"},
      {{{"edge", "{address: \"127.0.0.1:2600\", transport: direct, socks: \"127.0.0.1:9050\"}"}},
       "edge.socks",
       "transport direct uses no SOCKS proxy"},
      {{{"edge", "{address: a.onion:2600, socks: \"192.0.2.1:9050\"}"}},
       "edge.socks",
       "\"192.0.2.1:9050\"" + kNotLoopback},
      {{{"edge", "{address: a.onion:2600, transport: pigeon, socks: \"127.0.0.1:9050\"}"}},
       "edge.transport",
       "must be one of tor, i2p, direct"},
      {{{"auth", "[5, 15m]"}}, "auth", "expected a map, got a list"},
      // The one-edge form needs its key.
      {{{"edge", "{address: \"127.0.0.1:2600\", transport: direct}"}},
       "edge",
       "needs keys.edge_public, or write it as a list: edges: [{name: mx1, address: ..., "
       "transport: ..., socks: ..., public_key: "
       "/run/credentials/nightjar-inner.service/keys_mx1.pub}]"},
      // listen.metrics: off unless set; loopback and unprivileged like the other listeners.
      {{{"listen.metrics", "\"192.0.2.1:9101\""}},
       "listen.metrics",
       "\"192.0.2.1:9101\"" + kNotLoopback},
      {{{"listen.metrics", "\"127.0.0.1:80\""}},
       "listen.metrics",
       "\"127.0.0.1:80\": port 80 is privileged; the inner binds only ports 1024 and up (let the "
       "overlay map the well-known port to it)"},
      {{{"listen.metrics", "[\"127.0.0.1:9101\"]"}},
       "listen.metrics",
       "expected a loopback address and port like 127.0.0.1:587 or [::1]:587, got a list"},
      // The list form, entry by entry.
      {{{"edges", "[" + entry("MX1", "127.0.0.1:2600") + "]"}},
       "edges[0].name",
       "\"MX1\" is not 1 to 32 of a-z, 0-9 and '-'"},
      {{{"edges", "[" + entry(std::string(33, 'm'), "127.0.0.1:2600") + "]"}},
       "edges[0].name",
       "\"" + std::string(33, 'm') + "\" is not 1 to 32 of a-z, 0-9 and '-'"},
      {{{"edges", "[" + entry("mx_1", "127.0.0.1:2600") + "]"}},
       "edges[0].name",
       "\"mx_1\" is not 1 to 32 of a-z, 0-9 and '-'"},
      {{{"edges",
         "[{address: \"127.0.0.1:2600\", transport: direct, public_key: "
         "@DIR@/keys/edge.pub}]"}},
       "edges[0].name",
       "required key missing"},
      {{{"edges", "[{name: mx1, transport: direct, public_key: @DIR@/keys/edge.pub}]"}},
       "edges[0].address",
       "required key missing"},
      {{{"edges", "[{name: mx1, address: \"127.0.0.1:2600\", transport: direct}]"}},
       "edges[0].public_key",
       "required key missing"},
      {{{"edges",
         "[" + entry("mx1", "127.0.0.1:2600", "transport: direct", "@DIR@/keys/none.pub") + "]"}},
       "edges[0].public_key",
       dir + "/keys/none.pub: No such file or directory"},
      {{{"edges",
         "[" + entry("mx1", "127.0.0.1:2600", "transport: direct", "keys/edge.pub") + "]"}},
       "edges[0].public_key",
       "\"keys/edge.pub\" is not an absolute path"},
      {{{"edges",
         "[" + entry("mx1", "127.0.0.1:2600", "transport: direct", "@DIR@/keys/inner.secret") +
             "]"}},
       "edges[0].public_key",
       "must not be the same file as keys.inner_secret"},
      {{{"edges", "[" + entry("mx1", "a.onion:99999", "socks: \"127.0.0.1:9050\"") + "]"}},
       "edges[0].address",
       "\"a.onion:99999\": bad port"},
      {{{"edges", "[" + entry("mx1", "a.onion:2600", "transport: tor") + "]"}},
       "edges[0].socks",
       "transport tor needs Tor's SocksPort here"},
      {{{"edges",
         "[" + entry("mx1", "a.onion:2600", "transport: i2p, socks: \"127.0.0.1:4447\"") + "]"}},
       "edges[0].address",
       "with transport i2p the edge is an I2P destination (NAME.i2p)"},
      {{{"edges", "[" + entry("mx1", "192.0.2.1:2600") + "]"}},
       "edges[0].address",
       "transport direct is for tests and demos on this machine: the address must be 127.x.x.x"},
      {{{"edges", "[" + entry("mx1", "a.onion:2600", "socks: \"192.0.2.1:9050\"") + "]"}},
       "edges[0].socks",
       "\"192.0.2.1:9050\"" + kNotLoopback},
      {{{"edges", "[" + entry("mx1", "a.onion:2600", "transport: pigeon") + "]"}},
       "edges[0].transport",
       "must be one of tor, i2p, direct"},
      {{{"edges", "[" + entry("mx1", "127.0.0.1:2600", "transport: direct, link: 1") + "]"}},
       "edges[0].link",
       "unknown key"},
      {{{"edges", "{name: mx1}"}}, "edges", "expected a list, got a map"},
      // failover_after: 1s to 30d.
      {{{"edges",
         "[" + entry("mx1", "127.0.0.1:2600", "transport: direct, failover_after: 0") + "]"}},
       "edges[0].failover_after",
       "0 is out of range (1s to 30d)"},
      {{{"edges",
         "[" + entry("mx1", "127.0.0.1:2600", "transport: direct, failover_after: 999ms") + "]"}},
       "edges[0].failover_after",
       "999ms is out of range (1s to 30d)"},
      {{{"edges",
         "[" + entry("mx1", "127.0.0.1:2600", "transport: direct, failover_after: 31d") + "]"}},
       "edges[0].failover_after",
       "31d is out of range (1s to 30d)"},
      {{{"edges",
         "[" + entry("mx1", "127.0.0.1:2600", "transport: direct, failover_after: 10") + "]"}},
       "edges[0].failover_after",
       "\"10\" needs a unit"},
      // The whole list: no edge twice, at most 16, one form.
      {{{"edges", "[" + entry("mx1", "127.0.0.1:2600") + ", " +
                      entry("mx1", "127.0.0.1:2700", "transport: direct", "@DIR@/keys/other.pub") +
                      "]"}},
       "edges[1].name",
       "same name as edges[0]"},
      {{{"edges", "[" + entry("mx1", "127.0.0.1:2600") + ", " +
                      entry("mx2", "127.0.0.1:2600", "transport: direct", "@DIR@/keys/other.pub") +
                      "]"}},
       "edges[1].address",
       "same address as edges[0]"},
      {{{"edges",
         "[" + entry("mx1", "127.0.0.1:2600") + ", " + entry("mx2", "127.0.0.1:2700") + "]"}},
       "edges[1].public_key",
       "same key file as edges[0]"},
      {{{"keys.edge_public", "@DIR@/keys/other.pub"},
        {"edges", "[" + entry("mx1", "127.0.0.1:2600") + "]"}},
       "keys.edge_public",
       "belongs to the one-edge form (an `edge:` section); with `edges:` each entry names its key "
       "as public_key"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.key << " with " << render(c.changes)) {
      auto r = load(s, c.changes);
      BOOST_REQUIRE(!r.ok());
      std::string prefix = (s.dir / "case.yaml").string() + ":";
      BOOST_CHECK_EQUAL(r.error().rfind(prefix, 0), 0u);
      BOOST_CHECK(r.error().find('\n') == std::string::npos);  // exactly one problem
      std::string suffix = ": " + c.key + ": " + c.problem;
      BOOST_CHECK_MESSAGE(
          r.error().size() >= suffix.size() &&
              r.error().compare(r.error().size() - suffix.size(), suffix.size(), suffix) == 0,
          r.error() + "\ndoes not end in\n" + suffix);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_one_edge_form_loads_as_a_list_of_one) {
  Scratch s;
  auto none = load(s);
  BOOST_REQUIRE_MESSAGE(none.ok(), err(none));
  BOOST_CHECK(none->edges.empty());
  BOOST_CHECK(nj::inner::print_effective(*none).find("\nedge:") == std::string::npos);
  // An `edge:` section and keys.edge_public: edges[0], named "edge"; the section and the key are
  // cleared, so nothing after load() sees two forms.
  auto tor = load(s, {{"keys.edge_public", "@DIR@/keys/edge.pub"},
                      {"edge", "{address: abcdef.onion:2600, socks: \"127.0.0.1:9050\"}"}});
  BOOST_REQUIRE_MESSAGE(tor.ok(), err(tor));
  BOOST_REQUIRE_EQUAL(tor->edges.size(), 1u);
  const nj::inner::EdgeLinkConfig& e = tor->edges[0];
  BOOST_CHECK_EQUAL(e.name, "edge");
  BOOST_CHECK(e.transport == nj::inner::Transport::tor);
  BOOST_CHECK_EQUAL(e.socks.port, 9050);
  BOOST_CHECK_EQUAL(e.public_key, (s.dir / "keys/edge.pub").string());
  BOOST_CHECK(e.failover_after == 10min);
  auto [host, port] = nj::inner::split_edge_address(e.address);
  BOOST_CHECK_EQUAL(host, "abcdef.onion");
  BOOST_CHECK_EQUAL(port, 2600);
  BOOST_CHECK(tor->edge.address.empty());
  BOOST_CHECK(tor->keys.edge_public.empty());
  // Printed, it is the list form, and loads back to the same configuration.
  std::string printed = nj::inner::print_effective(*tor);
  BOOST_CHECK(printed.find("\nedges:\n  - name: edge\n    address: \"abcdef.onion:2600\"\n") !=
              std::string::npos);
  BOOST_CHECK(printed.find("\nedge:") == std::string::npos);
  auto again = nj::inner::load_text(printed, "printed.yaml");
  BOOST_REQUIRE_MESSAGE(again.ok(), printed + err(again));
  BOOST_CHECK_EQUAL(nj::inner::print_effective(*again), printed);
  auto direct = load(s, {{"keys.edge_public", "@DIR@/keys/edge.pub"},
                         {"edge", "{address: \"127.0.0.1:2600\", transport: direct}"}});
  BOOST_REQUIRE_MESSAGE(direct.ok(), err(direct));
  BOOST_CHECK(direct->edges.at(0).transport == nj::inner::Transport::direct);
  // An old file's keys.edge_public without any edge is harmless: mail stays local.
  auto stale = load(s, {{"keys.edge_public", "@DIR@/keys/edge.pub"}});
  BOOST_REQUIRE_MESSAGE(stale.ok(), err(stale));
  BOOST_CHECK(stale->edges.empty());
}

BOOST_AUTO_TEST_CASE(the_list_form_loads_and_round_trips) {
  Scratch s;
  std::ofstream(s.dir / "keys/m3.pub") << "x\n";
  auto r = load(
      s,
      {{"edges",
        "[" +
            entry("mx1", "a.onion:2600",
                  "transport: tor, socks: \"127.0.0.1:9050\", "
                  "failover_after: 1s") +
            ", " +
            entry("mx-2", "b.i2p:2600",
                  "transport: i2p, socks: \"127.0.0.1:4447\", "
                  "failover_after: 30d",
                  "@DIR@/keys/other.pub") +
            ", " + entry("m3", "127.0.0.1:2600", "transport: direct", "@DIR@/keys/m3.pub") + "]"}});
  BOOST_REQUIRE_MESSAGE(r.ok(), err(r));
  BOOST_REQUIRE_EQUAL(r->edges.size(), 3u);
  BOOST_CHECK_EQUAL(r->edges[0].name, "mx1");
  BOOST_CHECK(r->edges[0].failover_after == 1s);  // the bounds are allowed
  BOOST_CHECK_EQUAL(r->edges[1].name, "mx-2");
  BOOST_CHECK(r->edges[1].transport == nj::inner::Transport::i2p);
  BOOST_CHECK(r->edges[1].failover_after == 30 * 24h);
  BOOST_CHECK_EQUAL(r->edges[1].public_key, (s.dir / "keys/other.pub").string());
  BOOST_CHECK(r->edges[2].transport == nj::inner::Transport::direct);
  BOOST_CHECK_EQUAL(r->edges[2].socks.port, 0);
  BOOST_CHECK(r->edges[2].failover_after == 10min);  // the default
  std::string printed = nj::inner::print_effective(*r);
  BOOST_CHECK(printed.find("    failover_after: 30d\n") != std::string::npos);
  auto again = nj::inner::load_text(printed, "printed.yaml");
  BOOST_REQUIRE_MESSAGE(again.ok(), printed + err(again));
  BOOST_CHECK_EQUAL(nj::inner::print_effective(*again), printed);
  // Sixteen is the most.
  std::string sixteen;
  for (int i = 0; i < 16; ++i) {
    std::string key = "@DIR@/keys/e" + std::to_string(i) + ".pub";
    std::ofstream(s.dir / "keys" / ("e" + std::to_string(i) + ".pub")) << "x\n";
    sixteen +=
        (i ? ", " : "") + entry("e" + std::to_string(i), "127.0.0.1:" + std::to_string(2600 + i),
                                "transport: direct", key);
  }
  auto full = load(s, {{"edges", "[" + sixteen + "]"}});
  BOOST_REQUIRE_MESSAGE(full.ok(), err(full));
  BOOST_CHECK_EQUAL(full->edges.size(), nj::inner::kMaxEdges);
  std::ofstream(s.dir / "keys/e16.pub") << "x\n";
  auto over = load(
      s, {{"edges", "[" + sixteen + ", " +
                        entry("e16", "127.0.0.1:2616", "transport: direct", "@DIR@/keys/e16.pub") +
                        "]"}});
  BOOST_REQUIRE(!over.ok());
  BOOST_CHECK_EQUAL(over.error(),
                    (s.dir / "case.yaml").string() + ":11: edges: more than 16 items");
}

// The fleet written as block YAML, so each problem has a line of its own.
BOOST_AUTO_TEST_CASE(fleet_problems_name_their_file_line_and_key) {
  Scratch s;
  const std::string head = render();  // 10 lines
  auto block = [](const std::string& name, const std::string& address, const std::string& key) {
    return "  - name: " + name + "\n    address: \"" + address +
           "\"\n    transport: direct\n    public_key: " + key + "\n";
  };
  // Lines 11 (edges:), 12-15 the first entry, 16-19 the second, 20-23 the third.
  fs::path p = s.write("dup.yaml", head + "edges:\n" +
                                       block("mx1", "127.0.0.1:2600", "@DIR@/keys/edge.pub") +
                                       block("mx1", "127.0.0.1:2700", "@DIR@/keys/other.pub") +
                                       block("mx3", "127.0.0.1:2600", "@DIR@/keys/edge.pub"));
  auto r = nj::inner::load(p.string());
  BOOST_REQUIRE(!r.ok());
  std::string f = p.string();
  BOOST_CHECK_EQUAL(r.error(), f + ":16: edges[1].name: same name as edges[0]\n" + f +
                                   ":21: edges[2].address: same address as edges[0]\n" + f +
                                   ":23: edges[2].public_key: same key file as edges[0]");

  // Both forms at once: refused, saying how the one-edge form is written as the list form.
  std::ofstream(s.dir / "keys/mx1.pub") << "x\n";
  fs::path both =
      s.write("both.yaml", render({{"keys.edge_public", "@DIR@/keys/edge.pub"}}) + "edges:\n" +
                               block("mx1", "127.0.0.1:2600", "@DIR@/keys/mx1.pub") +
                               "edge:\n  address: \"127.0.0.1:2700\"\n  transport: direct\n");
  auto r2 = nj::inner::load(both.string());
  BOOST_REQUIRE(!r2.ok());
  f = both.string();
  BOOST_CHECK_EQUAL(
      r2.error(),
      f +
          ":11: keys.edge_public: belongs to the one-edge form (an `edge:` section); with "
          "`edges:` each entry names its key as public_key\n" +
          f +
          ":17: edge: give the fleet as `edges:` only (this one-edge form is the same as an "
          "entry `- {name: edge, address: ..., transport: ..., public_key: ...}`)");
}

BOOST_AUTO_TEST_CASE(the_metrics_listener_is_off_unless_set) {
  Scratch s;
  auto r = load(s, {{"listen.metrics", "\"127.0.0.1:9101\""}});
  BOOST_REQUIRE_MESSAGE(r.ok(), err(r));
  BOOST_CHECK_EQUAL(r->listen.metrics.str(), "127.0.0.1:9101");
  BOOST_CHECK(nj::inner::print_effective(*r).find("\n  metrics: \"127.0.0.1:9101\"\n") !=
              std::string::npos);
  auto v6 = load(s, {{"listen.metrics", "\"[::1]:9101\""}});
  BOOST_REQUIRE_MESSAGE(v6.ok(), err(v6));
  // One socket serves one protocol: not the address of a mail listener.
  auto shared = load(s, {{"listen.metrics", "\"127.0.0.1:10587\""}});
  BOOST_REQUIRE(!shared.ok());
  BOOST_CHECK_MESSAGE(
      shared.error().rfind((s.dir / "case.yaml").string() + ":", 0) == 0 &&
          shared.error().find(": listen.metrics: same address") != std::string::npos &&
          shared.error().find(": same address as listen.submission[0]") != std::string::npos &&
          shared.error().find('\n') == std::string::npos,
      shared.error());
}

BOOST_AUTO_TEST_CASE(max_message_size_must_fit_the_link_when_there_is_an_edge) {
  Scratch s;
  const Keys edge = {{"edges", "[" + entry("mx1", "127.0.0.1:2600") + "]"}};
  auto with = [&](Keys changes, bool to_edge) {
    if (to_edge) changes.insert(changes.end(), edge.begin(), edge.end());
    return load(s, changes);
  };
  // The largest message that fits, in bytes, is accepted; one byte more is not.
  for (int n : {1, 100, 1000}) {
    uint64_t most = nj::link::max_message_size(static_cast<std::size_t>(n));
    Keys at = {{"limits.max_message_size", std::to_string(most) + "B"},
               {"limits.max_recipients", std::to_string(n)}};
    Keys over = {{"limits.max_message_size", std::to_string(most + 1) + "B"},
                 {"limits.max_recipients", std::to_string(n)}};
    BOOST_TEST_CONTEXT("max_recipients " << n) {
      auto fits = with(at, true);
      BOOST_CHECK_MESSAGE(fits.ok(), err(fits));
      auto r = with(over, true);
      BOOST_REQUIRE(!r.ok());
      BOOST_CHECK_MESSAGE(
          r.error().find(":12: limits.max_message_size: " + std::to_string(most + 1) +
                         "B is more than the link between edge and inner "
                         "carries (at most ") != std::string::npos,
          r.error());
      // Without an edge nothing crosses the link: the size range alone applies.
      auto local = with(over, false);
      BOOST_CHECK_MESSAGE(local.ok(), err(local));
    }
  }
  // The default size fits with the most recipients allowed.
  auto dflt = with({{"limits.max_recipients", "1000"}}, true);
  BOOST_CHECK_MESSAGE(dflt.ok(), err(dflt));
}

BOOST_AUTO_TEST_CASE(several_problems_are_all_reported) {
  Scratch s;
  fs::path p = s.write("two.yaml", render({{"auth.max_failures", "0"}, {"log.level", "loud"}}));
  auto r = nj::inner::load(p.string());
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK_EQUAL(r.error(),
                    p.string() + ":12: auth.max_failures: 0 is out of range (1 to 100)\n" +
                        p.string() + ":14: log.level: must be one of debug, info, warn, error");
}

// Each file in bad/ starts with one "# expect: :LINE: key: problem" line per expected error
// (the file's own path comes first in the real message; @DIR@ is the scratch directory).
BOOST_AUTO_TEST_CASE(bad_configs) {
  Scratch s;
  std::vector<fs::path> files;
  for (const auto& e :
       fs::directory_iterator(fs::path(source_dir()) / "tests/unit/inner_config/bad"))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  BOOST_REQUIRE_GE(files.size(), 20u);
  for (const fs::path& f : files) {
    BOOST_TEST_CONTEXT("bad config " << f.filename().string()) {
      std::string text = slurp(f);
      fs::path copy = s.write(f.filename().string(), text);
      std::string expected;
      std::istringstream lines(text);
      std::string line;
      while (std::getline(lines, line) && line.rfind("# expect: ", 0) == 0) {
        std::string e = line.substr(10);
        replace_all(e, "@DIR@", s.dir.string());
        expected += (expected.empty() ? "" : "\n") + copy.string() + e;
      }
      BOOST_REQUIRE(!expected.empty());
      auto r = nj::inner::load(copy.string());
      BOOST_REQUIRE(!r.ok());
      BOOST_CHECK_EQUAL(r.error(), expected);
    }
  }
}
