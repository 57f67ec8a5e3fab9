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

  // Points a configuration's paths into the scratch directory and writes it there.
  fs::path write(const std::string& name, std::string text) const {
    replace_all(text, "@DIR@", dir.string());
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
    {"keys.edge_public", "@DIR@/keys/edge.pub"},
};

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
  BOOST_CHECK_EQUAL(c.keys.edge_public, (s.dir / "keys/edge.pub").string());
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
  BOOST_CHECK_EQUAL(c.keys.edge_public, (s.dir / "keys/edge.pub").string());
  BOOST_CHECK_EQUAL(c.mailbox.max_size, 50u << 20);
  BOOST_CHECK_EQUAL(c.auth.max_failures, 5);
  BOOST_CHECK(c.auth.lockout == 15min);
  BOOST_CHECK_EQUAL(c.limits.max_connections, 200);

  // print_effective gives YAML that loads to the same configuration.
  std::string printed = nj::inner::print_effective(c);
  auto again = nj::inner::load_text(printed, "printed.yaml");
  BOOST_REQUIRE_MESSAGE(again.ok(), printed + err(again));
  BOOST_CHECK_EQUAL(nj::inner::print_effective(*again), printed);
  BOOST_CHECK(printed.find("  lockout: 15m\n") != std::string::npos);
  BOOST_CHECK(printed.find("  submission: [\"127.0.0.1:10587\"]\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(example_documents_every_key) {
  // Every key print_effective knows is set (not just mentioned in a comment) in the example
  // file, so the file stays complete when a key is added to the table.
  auto key_of = [](std::string line, bool allow_comment) {
    std::size_t at = line.find_first_not_of(" ");
    if (at == std::string::npos) return std::string();
    line.erase(0, at);
    if (line.rfind("# ", 0) == 0) {
      if (!allow_comment) return std::string();
      line.erase(0, 2);
    }
    std::size_t colon = line.find(':');
    return colon == std::string::npos ? std::string() : line.substr(0, colon);
  };
  std::set<std::string> example_keys;
  std::istringstream example(slurp(fs::path(source_dir()) / "inner/inner.example.yaml"));
  std::string line;
  while (std::getline(example, line)) example_keys.insert(key_of(line, false));

  Scratch s;
  auto r = load(s);
  BOOST_REQUIRE_MESSAGE(r.ok(), err(r));
  std::istringstream printed(nj::inner::print_effective(*r));
  int keys = 0;
  while (std::getline(printed, line)) {
    std::string key = key_of(line, true);
    BOOST_REQUIRE(!key.empty());
    ++keys;
    BOOST_CHECK_MESSAGE(example_keys.count(key), "example lacks " + key);
  }
  BOOST_CHECK_EQUAL(keys, 32);  // 3 top-level values, 9 sections, 20 keys in them
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
      {{{"keys.edge_public", std::nullopt}}, "keys.edge_public", "required key missing"},
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
        {"edge", "{address: \"127.0.0.1:2600\", transport: direct}"}},
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
      {{{"delay.batch_times", "[\"24:00\"]"}}, "delay.batch_times[0]", "\"24:00\" is not HH:MM (UTC)"},
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

BOOST_AUTO_TEST_CASE(the_edge_section_is_optional_and_round_trips) {
  Scratch s;
  auto none = load(s);
  BOOST_REQUIRE_MESSAGE(none.ok(), err(none));
  BOOST_CHECK(none->edge.address.empty());
  BOOST_CHECK(nj::inner::print_effective(*none).find("edge:") == std::string::npos);
  auto tor = load(s, {{"edge", "{address: abcdef.onion:2600, socks: \"127.0.0.1:9050\"}"}});
  BOOST_REQUIRE_MESSAGE(tor.ok(), err(tor));
  BOOST_CHECK(tor->edge.transport == nj::inner::Transport::tor);
  BOOST_CHECK_EQUAL(tor->edge.socks.port, 9050);
  auto [host, port] = nj::inner::split_edge_address(tor->edge.address);
  BOOST_CHECK_EQUAL(host, "abcdef.onion");
  BOOST_CHECK_EQUAL(port, 2600);
  std::string printed = nj::inner::print_effective(*tor);
  auto again = nj::inner::load_text(printed, "printed.yaml");
  BOOST_REQUIRE_MESSAGE(again.ok(), err(again));
  BOOST_CHECK_EQUAL(nj::inner::print_effective(*again), printed);
  auto direct = load(s, {{"edge", "{address: \"127.0.0.1:2600\", transport: direct}"}});
  BOOST_REQUIRE_MESSAGE(direct.ok(), err(direct));
}

BOOST_AUTO_TEST_CASE(max_message_size_must_fit_the_link_when_there_is_an_edge) {
  Scratch s;
  const Keys edge = {{"edge", "{address: \"127.0.0.1:2600\", transport: direct}"}};
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
          r.error().find(":13: limits.max_message_size: " + std::to_string(most + 1) +
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
                    p.string() + ":13: auth.max_failures: 0 is out of range (1 to 100)\n" +
                        p.string() + ":15: log.level: must be one of debug, info, warn, error");
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
