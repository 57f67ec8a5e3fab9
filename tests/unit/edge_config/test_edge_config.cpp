#define BOOST_TEST_MODULE edge_config
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/link/message_size.h"
#include "edge/config/config.h"
#include "edge/dkim/key.h"

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
    char tmpl[] = "/tmp/nj-edge-config-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    fs::create_directories(dir / "data");
    fs::create_directories(dir / "keys");
    fs::create_directories(dir / "tls");
    for (const char* f : {"keys/edge.secret", "keys/inner.public", "keys/inner.pub", "tls/cert.pem",
                          "tls/key.pem", "onion_map.yaml"})
      std::ofstream(dir / f) << "x\n";
    // DKIM keys are parsed at load: real ones of each algorithm, and one that is not a key.
    BOOST_REQUIRE(nj::edge::dkim::write_key((dir / "keys/dkim-ed.key").string(), dkim_key(false)));
    BOOST_REQUIRE(nj::edge::dkim::write_key((dir / "keys/dkim-rsa.key").string(), dkim_key(true)));
    std::ofstream(dir / "keys/dkim-garbage.key") << "x\n";
    fs::permissions(dir / "keys/dkim-garbage.key", fs::perms::owner_read | fs::perms::owner_write);
  }

  // One key of each algorithm for the whole run (an RSA key takes a while to make).
  static const nj::edge::dkim::Key& dkim_key(bool rsa) {
    auto make = [](nj::edge::dkim::Algorithm a) {
      auto k = nj::edge::dkim::generate_key(a);
      BOOST_REQUIRE(k.ok());
      return std::move(*k);
    };
    static const nj::edge::dkim::Key ed = make(nj::edge::dkim::Algorithm::ed25519);
    static const nj::edge::dkim::Key r = make(nj::edge::dkim::Algorithm::rsa);
    return rsa ? r : ed;
  }
  ~Scratch() { fs::remove_all(dir); }

  // Points a configuration's paths into the scratch directory and writes it there. The unit's
  // credentials are the files it copies (LoadCredential=): keys_FILE and tls_FILE are
  // /etc/nightjar/keys/FILE and /etc/nightjar/tls/FILE.
  fs::path write(const std::string& name, std::string text) const {
    replace_all(text, "@DIR@", dir.string());
    replace_all(text, "/run/credentials/nightjar-edge.service/keys_", dir.string() + "/keys/");
    replace_all(text, "/run/credentials/nightjar-edge.service/tls_", dir.string() + "/tls/");
    replace_all(text, "/etc/nightjar/", dir.string() + "/");
    replace_all(text, "/var/lib/nightjar-edge", dir.string() + "/data");
    fs::path p = dir / name;
    std::ofstream(p) << text;
    return p;
  }
};

// A user that exists here and is not root, for the example's `user: nightjar-edge`.
std::string some_user() {
  if (getpwnam("nobody")) return "nobody";
  struct passwd* pw = getpwuid(getuid());
  return pw && getuid() != 0 ? pw->pw_name : "";
}

const std::string kMinimal =
    "hostname: mx.example.org\n"
    "data_dir: @DIR@/data\n"
    "domains:\n"
    "  - {public: example.org, internal: example.i2p}\n"
    "listen:\n"
    "  mx: [\"127.0.0.1:2525\"]\n"
    "keys:\n"
    "  edge_secret: @DIR@/keys/edge.secret\n"
    "  inner_public: @DIR@/keys/inner.public\n";

}  // namespace

BOOST_AUTO_TEST_CASE(minimal_config_gets_the_documented_defaults) {
  Scratch s;
  auto r = nj::edge::load(s.write("min.yaml", kMinimal).string());
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  const nj::edge::EdgeConfig& c = *r;
  BOOST_CHECK_EQUAL(c.hostname, "mx.example.org");
  BOOST_CHECK_EQUAL(c.data_dir, (s.dir / "data").string());
  BOOST_CHECK_EQUAL(c.user, "");
  BOOST_REQUIRE_EQUAL(c.domains.size(), 1u);
  BOOST_CHECK_EQUAL(c.domains[0].internal_domain, "example.i2p");
  BOOST_CHECK(c.listen.onion_mx.empty() && c.listen.link.empty());
  BOOST_CHECK(c.dns.servers.empty());
  BOOST_CHECK(c.dns.timeout == 5s);
  BOOST_CHECK_EQUAL(c.dns.tries, 3);
  BOOST_CHECK(c.tls.cert.empty() && c.tls.key.empty());
  BOOST_CHECK(c.checks.greet_wait == 6s);
  BOOST_CHECK(c.checks.helo.require_fqdn);
  BOOST_CHECK(c.checks.helo.reject_our_names);
  BOOST_CHECK(c.checks.sender.require_resolvable);
  BOOST_CHECK(c.checks.sender.reject_private_mx_ns);
  BOOST_CHECK(!c.checks.sender.allow_loopback_dns);
  BOOST_CHECK(c.checks.dnsbl.zones.empty());
  BOOST_CHECK_EQUAL(c.checks.dnsbl.threshold, 1);
  BOOST_CHECK(c.checks.greylist.enabled);
  BOOST_CHECK(c.checks.greylist.delay == 300s);
  BOOST_CHECK(c.checks.greylist.retry_window == 48h);
  BOOST_CHECK(c.checks.greylist.max_age == 35 * 24h);
  BOOST_CHECK_EQUAL(c.checks.greylist.auto_allow_after, 5);
  BOOST_CHECK(c.checks.auth.enabled);
  BOOST_CHECK(c.checks.auth.dmarc_reject);
  BOOST_CHECK_EQUAL(c.checks.auth.public_suffix_list,
                    "/usr/share/publicsuffix/public_suffix_list.dat");
  BOOST_CHECK_EQUAL(c.limits.max_message_size, 35u << 20);
  BOOST_CHECK_EQUAL(c.limits.max_recipients, 100);
  BOOST_CHECK_EQUAL(c.limits.max_connections, 1000);
  BOOST_CHECK_EQUAL(c.limits.max_connections_per_client, 20);
  BOOST_CHECK_EQUAL(c.limits.max_errors, 10);
  BOOST_CHECK(c.limits.command_timeout == 300s);
  BOOST_CHECK(c.log.level == nj::log::Level::info);
  BOOST_CHECK(c.log.redact);
}

BOOST_AUTO_TEST_CASE(example_file_loads_and_prints_back) {
  Scratch s;
  std::string text = slurp(fs::path(source_dir()) / "edge/edge.example.yaml");
  BOOST_REQUIRE(text.find("user: nightjar-edge\n") != std::string::npos);
  std::string user = some_user();
  if (user.empty()) {
    replace_all(text, "user: nightjar-edge\n", "");
  } else {
    replace_all(text, "user: nightjar-edge\n", "user: " + user + "\n");
  }
  auto r = nj::edge::load(s.write("edge.yaml", text).string());
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  const nj::edge::EdgeConfig& c = *r;
  BOOST_CHECK_EQUAL(c.hostname, "mx1.example.org");
  BOOST_CHECK_EQUAL(c.listen.mx.size(), 2u);
  BOOST_CHECK_EQUAL(c.tls.key, (s.dir / "tls/key.pem").string());
  BOOST_REQUIRE_EQUAL(c.checks.sender.allowlists.size(), 2u);
  BOOST_REQUIRE_EQUAL(c.checks.sender.allowlists[1].clients.size(), 2u);
  BOOST_REQUIRE(c.checks.sender.allowlists[1].clients[1].network);
  BOOST_CHECK_EQUAL(c.checks.sender.allowlists[1].clients[1].network->prefix, 21);
  BOOST_REQUIRE_EQUAL(c.checks.dnsbl.zones.size(), 2u);
  BOOST_REQUIRE_EQUAL(c.checks.dnsbl.zones[0].match.size(), 1u);
  BOOST_CHECK(c.checks.dnsbl.zones[0].match[0].contains(0x7f00000b));
  BOOST_CHECK(!c.checks.dnsbl.zones[0].match[0].contains(0x7f00000c));
  BOOST_CHECK(c.checks.dnsbl.zones[1].match.empty());

  // print_effective gives YAML that loads to the same configuration.
  std::string printed = nj::edge::print_effective(c);
  auto again = nj::edge::load_text(printed, "printed.yaml");
  BOOST_REQUIRE_MESSAGE(again.ok(), printed + (again.ok() ? std::string() : again.error()));
  BOOST_CHECK_EQUAL(nj::edge::print_effective(*again), printed);
  BOOST_CHECK(printed.find("    delay: 5m\n") != std::string::npos);
  BOOST_CHECK(printed.find("        match: [127.0.0.2-127.0.0.11]\n") != std::string::npos);
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
    if (line.rfind("- ", 0) == 0) line.erase(0, 2);
    std::size_t colon = line.find(':');
    return colon == std::string::npos ? std::string() : line.substr(0, colon);
  };
  // A key that is off by default (print_effective: "# key: (not set)") may instead be shown
  // commented out with an example value ("# key: value"), so that the example leaves it off.
  std::set<std::string> example_keys, commented_keys;
  std::istringstream example(slurp(fs::path(source_dir()) / "edge/edge.example.yaml"));
  std::string line;
  while (std::getline(example, line)) {
    example_keys.insert(key_of(line, false));
    std::string k = key_of(line, true);
    if (!k.empty() && line.find("# " + k + ": ") != std::string::npos) commented_keys.insert(k);
  }

  Scratch s;
  auto r = nj::edge::load(s.write("min.yaml", kMinimal).string());
  BOOST_REQUIRE(r.ok());
  std::istringstream printed(nj::edge::print_effective(*r));
  int keys = 0;
  while (std::getline(printed, line)) {
    std::string key = key_of(line, true);
    BOOST_REQUIRE(!key.empty());
    ++keys;
    bool off_by_default = line.find("# " + key + ": (not set)") != std::string::npos;
    BOOST_CHECK_MESSAGE(example_keys.count(key) || (off_by_default && commented_keys.count(key)),
                        "example lacks " + key);
  }
  BOOST_CHECK_GT(keys, 40);
}

BOOST_AUTO_TEST_CASE(several_problems_are_all_reported) {
  Scratch s;
  fs::path p = s.write("two.yaml", kMinimal + "limits:\n  max_errors: 0\nlog:\n  level: loud\n");
  auto r = nj::edge::load(p.string());
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK_EQUAL(r.error(),
                    p.string() + ":11: limits.max_errors: 0 is out of range (1 to 1000)\n" +
                        p.string() + ":13: log.level: must be one of debug, info, warn, error");
}

BOOST_AUTO_TEST_CASE(max_message_size_must_fit_the_link) {
  Scratch s;
  auto load = [&](const std::string& limits) {
    return nj::edge::load(s.write("limits.yaml", kMinimal + "limits:\n" + limits).string());
  };
  // The largest message that fits, in bytes, is accepted; one byte more is not.
  for (int n : {1, 100, 1000}) {
    uint64_t most = nj::link::max_message_size(static_cast<std::size_t>(n));
    std::string recipients = "  max_recipients: " + std::to_string(n) + "\n";
    BOOST_TEST_CONTEXT("max_recipients " << n) {
      auto fits = load("  max_message_size: " + std::to_string(most) + "B\n" + recipients);
      BOOST_CHECK_MESSAGE(fits.ok(), (fits.ok() ? std::string() : fits.error()));
      auto r = load("  max_message_size: " + std::to_string(most + 1) + "B\n" + recipients);
      BOOST_REQUIRE(!r.ok());
      BOOST_CHECK_EQUAL(r.error(), (s.dir / "limits.yaml").string() +
                                       ":11: limits.max_message_size: " + std::to_string(most + 1) +
                                       "B is more than the link between edge and inner carries "
                                       "(at most " +
                                       std::to_string(most / 1024) +
                                       "K with limits.max_recipients " + std::to_string(n) + ")");
    }
  }
  // The default size fits with the most recipients allowed; more are refused by range.
  auto dflt = load("  max_recipients: 1000\n");
  BOOST_CHECK_MESSAGE(dflt.ok(), (dflt.ok() ? std::string() : dflt.error()));
  auto many = load("  max_recipients: 1001\n");
  BOOST_REQUIRE(!many.ok());
  BOOST_CHECK(many.error().find("limits.max_recipients: 1001 is out of range (1 to 1000)") !=
              std::string::npos);
}

BOOST_AUTO_TEST_CASE(inbound_retries_and_lifetime) {
  Scratch s;
  auto d = nj::edge::load(s.write("min.yaml", kMinimal).string());
  BOOST_REQUIRE(d.ok());
  BOOST_CHECK(d->inbound.max_queue_lifetime == 5 * 24h);
  BOOST_CHECK(d->inbound.retry_initial == 1min);
  BOOST_CHECK(d->inbound.retry_max == 1h);
  const std::string text = kMinimal +
                           "inbound:\n  max_queue_lifetime: 30d\n  retry_initial: 30s\n"
                           "  retry_max: 30s\n";
  auto r = nj::edge::load(s.write("inbound.yaml", text).string());
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  BOOST_CHECK(r->inbound.max_queue_lifetime == 30 * 24h);
  BOOST_CHECK(r->inbound.retry_initial == 30s);
  BOOST_CHECK(r->inbound.retry_max == 30s);
}

BOOST_AUTO_TEST_CASE(our_domains_on_either_side_in_any_case) {
  const std::vector<nj::edge::DomainMap> d = {{"example.org", "example.i2p"},
                                              {"other.net", "other.onion.i2p"}};
  BOOST_CHECK(nj::edge::is_our_domain(d, "example.org"));
  BOOST_CHECK(nj::edge::is_our_domain(d, "EXAMPLE.Org"));
  BOOST_CHECK(nj::edge::is_our_domain(d, "other.onion.i2p"));
  BOOST_CHECK(!nj::edge::is_our_domain(d, "mx.example.org"));  // below ours is not ours
  BOOST_CHECK(!nj::edge::is_our_domain(d, "example.org.evil.test"));
  BOOST_CHECK(!nj::edge::is_our_domain(d, "i2p"));
  BOOST_CHECK(!nj::edge::is_our_domain(d, ""));
}

BOOST_AUTO_TEST_CASE(metrics_listener_is_off_by_default_and_loopback_only) {
  Scratch s;
  auto dflt = nj::edge::load(s.write("min.yaml", kMinimal).string());
  BOOST_REQUIRE(dflt.ok());
  BOOST_CHECK_EQUAL(dflt->listen.metrics.port, 0);
  BOOST_CHECK(nj::edge::print_effective(*dflt).find("  # metrics: (not set)\n") !=
              std::string::npos);

  auto with = [&](const std::string& value) {
    std::string text = kMinimal;
    replace_all(text, "  mx: [\"127.0.0.1:2525\"]\n",
                "  mx: [\"127.0.0.1:2525\"]\n  metrics: " + value + "\n");
    return nj::edge::load(s.write("metrics.yaml", text).string());
  };
  auto v4 = with("127.0.0.1:9101");
  BOOST_REQUIRE_MESSAGE(v4.ok(), (v4.ok() ? std::string() : v4.error()));
  BOOST_CHECK_EQUAL(v4->listen.metrics.str(), "127.0.0.1:9101");
  auto printed = nj::edge::print_effective(*v4);
  BOOST_CHECK(printed.find("  metrics: \"127.0.0.1:9101\"\n") != std::string::npos);
  auto again = nj::edge::load_text(printed, "printed.yaml");
  BOOST_REQUIRE_MESSAGE(again.ok(), (again.ok() ? std::string() : again.error()));
  BOOST_CHECK_EQUAL(again->listen.metrics.str(), "127.0.0.1:9101");
  auto other127 = with("127.0.0.9:9101");
  BOOST_CHECK(other127.ok());
  auto v6 = with("\"[0:0::1]:9101\"");
  BOOST_REQUIRE_MESSAGE(v6.ok(), (v6.ok() ? std::string() : v6.error()));
  BOOST_CHECK_EQUAL(v6->listen.metrics.str(), "[::1]:9101");

  const std::string at = (s.dir / "metrics.yaml").string() + ":7: listen.metrics: ";
  for (const char* bad : {"0.0.0.0:9101", "192.0.2.1:9101", "\"[::]:9101\"",
                          "\"[2001:db8::1]:9101\"", "\"[::ffff:127.0.0.1]:9101\""}) {
    BOOST_TEST_CONTEXT(bad) {
      auto r = with(bad);
      BOOST_REQUIRE(!r.ok());
      std::string shown = bad;
      if (shown.front() == '"') shown = shown.substr(1, shown.size() - 2);
      BOOST_CHECK_EQUAL(r.error(), at + "\"" + shown +
                                       "\" is not a loopback address: metrics are served on "
                                       "127.0.0.0/8 or [::1] only");
    }
  }
  auto shared = with("127.0.0.1:2525");
  BOOST_REQUIRE(!shared.ok());
  BOOST_CHECK_EQUAL(shared.error(), at + "same address as listen.mx[0]");

  // The example shows the key commented out; its value, taken in, is a good one.
  std::string text = slurp(fs::path(source_dir()) / "edge/edge.example.yaml");
  BOOST_REQUIRE(text.find("\n  # metrics: 127.0.0.1:9101\n") != std::string::npos);
  replace_all(text, "\n  # metrics: 127.0.0.1:9101\n", "\n  metrics: 127.0.0.1:9101\n");
  replace_all(text, "user: nightjar-edge\n", "");
  auto ex = nj::edge::load(s.write("edge.yaml", text).string());
  BOOST_REQUIRE_MESSAGE(ex.ok(), (ex.ok() ? std::string() : ex.error()));
  BOOST_CHECK_EQUAL(ex->listen.metrics.str(), "127.0.0.1:9101");
}

BOOST_AUTO_TEST_CASE(clamd_is_off_by_default_and_local_only) {
  Scratch s;
  auto dflt = nj::edge::load(s.write("min.yaml", kMinimal).string());
  BOOST_REQUIRE(dflt.ok());
  BOOST_CHECK(dflt->checks.clamd.socket.empty());
  BOOST_CHECK(nj::edge::print_effective(*dflt).find("clamd") == std::string::npos);

  auto with = [&](const std::string& section) {
    return nj::edge::load(s.write("clamd.yaml", kMinimal + "checks:\n  clamd:\n" + section).string());
  };
  auto unix_socket = with("    socket: /run/clamav/clamd.ctl\n");
  BOOST_REQUIRE_MESSAGE(unix_socket.ok(), (unix_socket.ok() ? std::string() : unix_socket.error()));
  const auto& c = unix_socket->checks.clamd;
  BOOST_CHECK_EQUAL(c.socket, "/run/clamav/clamd.ctl");
  BOOST_CHECK(c.on_error == nj::edge::ClamdOnError::tempfail);
  BOOST_CHECK(c.timeout == 30s);
  BOOST_CHECK_EQUAL(c.max_size, 35u << 20);
  std::string printed = nj::edge::print_effective(*unix_socket);
  BOOST_CHECK(printed.find("  clamd:\n    socket: /run/clamav/clamd.ctl\n    on_error: tempfail\n"
                           "    timeout: 30s\n    max_size: 35M\n") != std::string::npos);
  auto again = nj::edge::load_text(printed, "printed.yaml");
  BOOST_REQUIRE_MESSAGE(again.ok(), (again.ok() ? std::string() : again.error()));
  BOOST_CHECK_EQUAL(nj::edge::print_effective(*again), printed);

  auto tcp = with("    socket: localhost:3310\n    on_error: accept\n    timeout: 5s\n"
                  "    max_size: 40M\n");
  BOOST_REQUIRE_MESSAGE(tcp.ok(), (tcp.ok() ? std::string() : tcp.error()));
  BOOST_CHECK_EQUAL(tcp->checks.clamd.socket, "127.0.0.1:3310");
  BOOST_CHECK(tcp->checks.clamd.on_error == nj::edge::ClamdOnError::accept);
  BOOST_CHECK(tcp->checks.clamd.timeout == 5s);
  BOOST_CHECK_EQUAL(tcp->checks.clamd.max_size, 40u << 20);
  auto v6 = with("    socket: \"[::1]:3310\"\n");
  BOOST_REQUIRE(v6.ok());
  BOOST_CHECK_EQUAL(v6->checks.clamd.socket, "[::1]:3310");
  for (const char* bad : {"0.0.0.0:3310", "\"[::]:3310\"", "10.0.0.5:3310"}) {
    BOOST_TEST_CONTEXT(bad) {
      auto r = with(std::string("    socket: ") + bad + "\n");
      BOOST_REQUIRE(!r.ok());
      BOOST_CHECK(r.error().find(":12: checks.clamd.socket: ") != std::string::npos);
      BOOST_CHECK(r.error().find("is not a loopback address") != std::string::npos);
    }
  }

  // The example shows the section commented out; taken in, it is a good one.
  std::string text = slurp(fs::path(source_dir()) / "edge/edge.example.yaml");
  BOOST_REQUIRE(text.find("\n  # clamd:\n") != std::string::npos);
  replace_all(text, "\n  # clamd:\n", "\n  clamd:\n");
  replace_all(text, "\n  #   ", "\n    ");
  replace_all(text, "user: nightjar-edge\n", "");
  auto ex = nj::edge::load(s.write("edge.yaml", text).string());
  BOOST_REQUIRE_MESSAGE(ex.ok(), (ex.ok() ? std::string() : ex.error()));
  BOOST_CHECK_EQUAL(ex->checks.clamd.socket, "/run/clamav/clamd.ctl");
  BOOST_CHECK(ex->checks.clamd.timeout == 30s);
  BOOST_CHECK_EQUAL(ex->checks.clamd.max_size, 35u << 20);
}

BOOST_AUTO_TEST_CASE(tls_with_both_files_is_accepted) {
  Scratch s;
  auto r = nj::edge::load(
      s.write("tls.yaml", kMinimal + "tls:\n  cert: @DIR@/tls/cert.pem\n  key: @DIR@/tls/key.pem\n")
          .string());
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  BOOST_CHECK_EQUAL(r->tls.cert, (s.dir / "tls/cert.pem").string());
}

BOOST_AUTO_TEST_CASE(dkim_keys_of_both_algorithms_load_and_print_back) {
  Scratch s;
  auto r = nj::edge::load(s.write("min.yaml", kMinimal).string());
  BOOST_REQUIRE(r.ok());
  BOOST_CHECK(r->dkim.empty());  // default: nothing signed

  std::string text = kMinimal +
                     "dkim:\n"
                     "  - domain: Example.org\n"
                     "    selector: MX1-2026.ed\n"
                     "    key: /etc/nightjar/keys/dkim-ed.key\n"
                     "    algorithm: ed25519\n"
                     "  - {domain: example.org, selector: mx1-2026-rsa, algorithm: rsa,\n"
                     "     key: /run/credentials/nightjar-edge.service/keys_dkim-rsa.key}\n";
  r = nj::edge::load(s.write("dkim.yaml", text).string());
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  BOOST_REQUIRE_EQUAL(r->dkim.size(), 2u);
  BOOST_CHECK_EQUAL(r->dkim[0].domain, "example.org");
  BOOST_CHECK_EQUAL(r->dkim[0].selector, "mx1-2026.ed");
  BOOST_CHECK_EQUAL(r->dkim[0].key, (s.dir / "keys/dkim-ed.key").string());
  BOOST_CHECK(r->dkim[0].algorithm == nj::edge::dkim::Algorithm::ed25519);
  BOOST_CHECK(r->dkim[1].algorithm == nj::edge::dkim::Algorithm::rsa);
  std::string printed = nj::edge::print_effective(*r);
  auto again = nj::edge::load_text(printed, "printed.yaml");
  BOOST_REQUIRE_MESSAGE(again.ok(), printed + (again.ok() ? std::string() : again.error()));
  BOOST_CHECK_EQUAL(nj::edge::print_effective(*again), printed);
  BOOST_CHECK(printed.find("algorithm: rsa") != std::string::npos);

  // Another machine's copy (nightjarctl overlay) is not checked against this one's files: a
  // key that does not exist or does not parse here is no problem there.
  std::string elsewhere = text;
  replace_all(elsewhere, "keys/dkim-ed.key", "keys/dkim-garbage.key");
  replace_all(elsewhere, "keys_dkim-rsa.key", "keys_dkim-missing.key");
  BOOST_CHECK(!nj::edge::load(s.write("other.yaml", elsewhere).string()).ok());
  auto other = nj::edge::load(s.write("other.yaml", elsewhere).string(), nj::config::Host::other);
  BOOST_CHECK_MESSAGE(other.ok(), (other.ok() ? std::string() : other.error()));
}

// Each file in bad/ starts with one "# expect: :LINE: key: problem" line per expected error
// (the file's own path comes first in the real message; @DIR@ is the scratch directory).
BOOST_AUTO_TEST_CASE(bad_configs) {
  Scratch s;
  std::vector<fs::path> files;
  for (const auto& e :
       fs::directory_iterator(fs::path(source_dir()) / "tests/unit/edge_config/bad"))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  BOOST_REQUIRE_GE(files.size(), 30u);
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
      auto r = nj::edge::load(copy.string());
      BOOST_REQUIRE(!r.ok());
      BOOST_CHECK_EQUAL(r.error(), expected);
    }
  }
}
