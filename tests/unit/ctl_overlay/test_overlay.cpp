// nightjarctl overlay, both halves: the inner's (inner/ctl/overlay.h: its onion service or
// server tunnels, its SOCKS settings, its client keys for the edges' link services, its link
// destination for the I2P edges) and each edge's (common/ctl/overlay_text.h from the facts
// edge/ctl/overlay.h takes from its configuration and options: its services and its DNS
// records), and the names they read (common/ctl/overlay_names.h). The commands are run in
// process with their output captured; the text is checked by the real `tor --verify-config`,
// the printed shell commands are run as printed, and a real i2pd makes the keys files whose
// .b32.i2p names are computed.
#define BOOST_TEST_MODULE ctl_overlay
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/ctl/overlay_names.h"
#include "common/ctl/overlay_text.h"
#include "edge/ctl/overlay.h"
#include "edge/dkim/key.h"
#include "inner/ctl/overlay.h"
#include "tests/unit/support/capture.h"

namespace fs = std::filesystem;
using nj::ctl::EdgeFacts;

namespace {

constexpr const char* kLinkOnion = "p53lf57qovyuvwsc6xnrppyply3vtqm7l6pcobkmyqsiofyeznfu5uqd";
constexpr const char* kMxOnion = "2wgaaq36xkv54atswgwf7jgn62uxtzkbypgf6py5w3duecbwvtrd5mid";
// A second edge's link and OnionMX onions (v3 form: 56 base32 characters ending in the version).
constexpr const char* kLinkOnion2 = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwd";
constexpr const char* kMxOnion2 = "zyxwvutsrqponmlkjihgfedcba765432zyxwvutsrqponmlkjihgfedd";
// A .b32.i2p label for the generator's tests (the b32 computation is tested against i2pd below).
constexpr const char* kInnerLinkB32 = "qu6px335xpivrapoempbj6pq2iydulmul3a7f4omg5jayj5uznqa";

void write(const fs::path& p, const std::string& text) {
  std::ofstream f(p);
  f << text;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// An i2pd keys file's start: 384 bytes of keys, a certificate of `type` claiming `len` bytes
// with `payload` bytes present, then `after` bytes of private keys.
std::string with_cert(unsigned char type, size_t len, size_t payload, size_t after) {
  std::string k(384, 'k');
  k += static_cast<char>(type);
  k += static_cast<char>(len >> 8);
  k += static_cast<char>(len & 0xff);
  k += std::string(payload, '\0');
  k += std::string(after, 'p');
  return k;
}

// The comments as prose: comment lines joined, so that a phrase is found wherever a line broke.
std::string flat(std::string text) {
  for (size_t at = text.find("\n# "); at != std::string::npos; at = text.find("\n# ", at))
    text.replace(at, 3, " ");
  return text;
}

// Only the lines a daemon reads: the comments around them are for the operator.
std::string config_lines(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out += line + "\n";
  return out;
}

// A fleet entry of the inner's `edges:` ("@DIR@" is the test's directory).
std::string tor_entry(const std::string& name, const std::string& onion_label, int port = 2600,
                      const std::string& socks = "127.0.0.1:9050") {
  return "  - name: " + name + "\n    address: \"" + onion_label +
         ".onion:" + std::to_string(port) + "\"\n    transport: tor\n    socks: " + socks +
         "\n    public_key: @DIR@/" + name + ".pub\n";
}

std::string i2p_entry(const std::string& name, const std::string& host, int port = 2600,
                      const std::string& socks = "127.0.0.1:4447") {
  return "  - name: " + name + "\n    address: \"" + host + ":" + std::to_string(port) +
         "\"\n    transport: i2p\n    socks: " + socks + "\n    public_key: @DIR@/" + name +
         ".pub\n";
}

// The one-edge form: an `edge:` section (keys.edge_public is added by World).
std::string one_edge_form(const std::string& address, const std::string& transport,
                          const std::string& socks) {
  return "edge:\n  address: \"" + address + "\"\n  transport: " + transport +
         "\n  socks: " + socks + "\n";
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// The inner's configuration with `fleet` (an `edges:` list, an `edge:` section, or nothing) and
// edge mx1's in edge.yaml; more edges' files with edge_file().
struct World {
  fs::path dir;
  fs::path inner_yaml, edge_yaml;
  explicit World(const std::string& fleet = "edges:\n" + tor_entry("mx1", kLinkOnion)) {
    char tmpl[] = "/tmp/nj-ctl-overlay-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    fs::create_directories(dir / "data");
    fs::create_directories(dir / "edata");
    fs::create_directories(dir / "tor");
    for (auto f : {"inner.secret", "edge.pub", "edge.secret", "inner.pub"}) write(dir / f, "x\n");
    for (auto f : {"mx1.pub", "mx2.pub", "mx3.pub"}) write(dir / f, "x\n");
    inner_yaml = dir / "inner.yaml";
    const bool one_edge = fleet.rfind("edge:", 0) == 0;
    std::string text =
        "hostname: mail.nightjar.test\n"
        "data_dir: " +
        (dir / "data").string() +
        "\n"
        "domain:\n  internal: example.i2p\n  public: example.test\n"
        "listen:\n  submission: [127.0.0.1:5870, 127.0.0.2:5870]\n"
        "  pop3: [127.0.0.1:1100]\n"
        "keys:\n  inner_secret: " +
        (dir / "inner.secret").string() + "\n" +
        (one_edge ? "  edge_public: " + (dir / "edge.pub").string() + "\n" : std::string()) + fleet;
    replace_all(text, "@DIR@", dir.string());
    write(inner_yaml, text);
    edge_yaml = edge_file("edge", "mx.nightjar.test", 2601, 2526);
  }
  ~World() { fs::remove_all(dir); }
  // An edge's configuration in `<file>.yaml`: link and OnionMX listeners on these ports, the
  // domains of the inner (and example.org), `extra` appended.
  fs::path edge_file(const std::string& file, const std::string& hostname, int link_port,
                     int onion_mx_port, const std::string& extra = "") {
    fs::path p = dir / (file + ".yaml");
    write(p, "hostname: " + hostname +
                 "\n"
                 "data_dir: " +
                 (dir / "edata").string() +
                 "\n"
                 "domains:\n  - public: example.test\n    internal: example.i2p\n"
                 "  - public: example.org\n    internal: org.i2p\n"
                 "listen:\n  mx: [127.0.0.1:2525]\n  onion_mx: [127.0.0.1:" +
                 std::to_string(onion_mx_port) +
                 "]\n  link: [127.0.0.1:" + std::to_string(link_port) +
                 "]\n"
                 "keys:\n  edge_secret: " +
                 (dir / "edge.secret").string() +
                 "\n"
                 "  inner_public: " +
                 (dir / "inner.pub").string() + "\n" + extra);
    return p;
  }
  nj::inner::InnerConfig inner() {
    auto c = nj::inner::load(inner_yaml.string());
    BOOST_REQUIRE_MESSAGE(c.ok(), (c.ok() ? std::string() : c.error()));
    return *c;
  }
  nj::edge::EdgeConfig edge(const fs::path& file) {
    auto c = nj::edge::load(file.string());
    BOOST_REQUIRE_MESSAGE(c.ok(), (c.ok() ? std::string() : c.error()));
    return *c;
  }
  // The port the inner dials edge `name` at: its entry's address.
  int link_port(const std::string& name) {
    auto in = inner();
    auto it = std::find_if(in.edges.begin(), in.edges.end(),
                           [&](const nj::inner::EdgeLinkConfig& e) { return e.name == name; });
    BOOST_REQUIRE_MESSAGE(it != in.edges.end(), "no edge " << name);
    return nj::inner::split_edge_address(it->address).second;
  }
  // Edge `name`'s facts from `file`, as its tool makes them with --name NAME, --link-port (the
  // port of its entry in the inner's edges:) and --tor-dir.
  EdgeFacts facts(const std::string& name, const fs::path& file, const std::string& onion = "") {
    EdgeFacts f = nj::ctl::edge_facts(edge(file));
    f.name = name;
    f.link_port = link_port(name);
    f.onion_mx_name = onion;
    f.tor_dir = opts().tor_dir;
    return f;
  }
  EdgeFacts facts(const std::string& name = "mx1") { return facts(name, edge_yaml); }
  struct Opts {
    std::string tor_dir;
  };
  Opts opts() { return Opts{(dir / "tor").string()}; }
  // The edge tool's arguments for edge `name` with its configuration in `file`.
  std::vector<std::string> edge_args(const std::string& overlay, const std::string& name,
                                     const fs::path& file) {
    return {overlay,
            "--config",
            file.string(),
            "--name",
            name,
            "--link-port",
            std::to_string(link_port(name)),
            "--tor-dir",
            opts().tor_dir};
  }
};

// Runs one tool's overlay command with stdout and stderr captured; returns the exit status.
int run_cmd(int (*cmd)(const nj::ctl::Args&), const std::vector<std::string>& argv,
            std::string& out, std::string& err) {
  std::vector<std::string_view> args(argv.begin(), argv.end());
  auto p = nj::testing::capture([&] { return cmd(args); });
  out = p.out;
  err = p.err;
  return p.rc;
}

// The inner's `nightjarctl overlay` and the edge's.
int run_inner(const std::vector<std::string>& argv, std::string& out, std::string& err) {
  return run_cmd(nj::ctl::cmd_inner_overlay, argv, out, err);
}
int run_edge(const std::vector<std::string>& argv, std::string& out, std::string& err) {
  return run_cmd(nj::ctl::cmd_edge_overlay, argv, out, err);
}

// `v` with `more` after it.
std::vector<std::string> plus(std::vector<std::string> v, const std::vector<std::string>& more) {
  v.insert(v.end(), more.begin(), more.end());
  return v;
}

// The part of a command's output under `header`, up to the next part.
std::string part(const std::string& text, const std::string& header) {
  auto at = text.find(header + "\n");
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no " << header << " in:\n" << text);
  std::string rest = text.substr(at + header.size() + 1);
  return rest.substr(0, rest.find("\n# ---- "));
}

// Every comment line fits 80 columns but the indented ones (commands, names), which cannot be
// broken, as the lines a daemon reads cannot.
void fits_80_columns(const std::string& text) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("#", 0) == 0 && line.rfind("#   ", 0) != 0) BOOST_TEST(line.size() <= 80u, line);
}

// tor --verify-config on `lines` inside a minimal torrc; returns tor's exit status, output in out.
int tor_verify(const fs::path& dir, const std::string& name, const std::string& lines,
               std::string& out) {
  fs::path data = dir / (name + "-data");
  fs::create_directories(data);
  fs::permissions(data, fs::perms::owner_all, fs::perm_options::replace);
  fs::path torrc = dir / (name + ".torrc");
  write(torrc, "DataDirectory " + data.string() + "\nLog notice stdout\n" + lines);
  std::string cmd = "tor --defaults-torrc /dev/null --verify-config -f '" + torrc.string() +
                    "' > '" + (dir / (name + ".out")).string() + "' 2>&1";
  int st = std::system(cmd.c_str());
  out = slurp(dir / (name + ".out"));
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(onion_names) {
  std::string want = std::string(kLinkOnion) + ".onion";
  BOOST_TEST(*nj::ctl::parse_onion_name(want) == want);
  BOOST_TEST(*nj::ctl::parse_onion_name(kLinkOnion) == want);
  std::string upper = want;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  BOOST_TEST(*nj::ctl::parse_onion_name(upper) == want);
  BOOST_TEST(!nj::ctl::parse_onion_name("").ok());
  BOOST_TEST(!nj::ctl::parse_onion_name("abc.onion").ok());
  BOOST_TEST(!nj::ctl::parse_onion_name(want + ".onion").ok());
  std::string bad = kLinkOnion;
  bad[3] = '1';  // not base32
  BOOST_TEST(!nj::ctl::parse_onion_name(bad).ok());
  bad = kLinkOnion;
  bad.back() = 'c';  // version 2 would not be 'd'
  BOOST_TEST(!nj::ctl::parse_onion_name(bad).ok());
}

BOOST_AUTO_TEST_CASE(tor_inner_lines) {
  World w;
  auto o = w.opts();
  std::string t = nj::ctl::tor_inner(w.inner(), o.tor_dir);
  BOOST_TEST(config_lines(t) ==
             "VanguardsLiteEnabled 1\n"
             "HiddenServiceDir " +
                 o.tor_dir +
                 "/nightjar-inner\n"
                 "HiddenServicePort 587 127.0.0.1:5870\n"
                 "HiddenServicePort 587 127.0.0.2:5870\n"
                 "HiddenServicePort 110 127.0.0.1:1100\n"
                 "SocksPort 127.0.0.1:9050 ExtendedErrors\n"
                 "ClientOnionAuthDir " +
                 o.tor_dir + "/nightjar-onion-auth\n");
  // The client key commands name the link onion from the edge's address and the file after the
  // edge, so they run as printed.
  BOOST_TEST(t.find("#   $ install -d -m 0700 " + o.tor_dir + "/nightjar-onion-auth\n") !=
             std::string::npos);
  BOOST_TEST(t.find("#   $ echo \"" + std::string(kLinkOnion) +
                    ":descriptor:x25519:$(openssl pkey -in link-client-mx1.pem -outform DER | "
                    "tail -c 32 | base32 | tr -d =)\" > " +
                    o.tor_dir + "/nightjar-onion-auth/mx1.auth_private\n") != std::string::npos,
             t);
  BOOST_TEST(t.find("#   $ openssl genpkey -algorithm x25519 -out link-client-mx1.pem\n") !=
             std::string::npos);
  BOOST_TEST(t.find("> link-client-mx1.pub\n") != std::string::npos);
  BOOST_TEST(nj::ctl::link_onion_label(w.inner().edges.at(0)) == kLinkOnion);
  // Every comment line fits 80 columns, the command lines aside.
  std::istringstream lines(t);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("#   $ ", 0) != 0) BOOST_TEST(line.size() <= 80u, line);
}

BOOST_AUTO_TEST_CASE(tor_inner_before_the_link_onion_is_known) {
  // The example configuration's placeholder: no key commands (the .auth_private file must name
  // the onion), but the lines tor reads are the same.
  World w("edges:\n" + tor_entry("mx1", "replace-with-the-edges-link-service"));
  auto o = w.opts();
  BOOST_TEST(nj::ctl::link_onion_label(w.inner().edges.at(0)).empty());
  std::string t = nj::ctl::tor_inner(w.inner(), o.tor_dir);
  BOOST_TEST(t.find("#   $ ") == std::string::npos);
  BOOST_TEST(
      flat(t).find("edge mx1's link service: its address does not name the link onion yet") !=
          std::string::npos,
      t);
  BOOST_TEST(t.find("\nClientOnionAuthDir " + o.tor_dir + "/nightjar-onion-auth\n") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(tor_inner_without_edge_dials_nothing) {
  World w("");
  auto o = w.opts();
  std::string t = nj::ctl::tor_inner(w.inner(), o.tor_dir);
  BOOST_TEST(config_lines(t) ==
             "VanguardsLiteEnabled 1\n"
             "HiddenServiceDir " +
                 o.tor_dir +
                 "/nightjar-inner\n"
                 "HiddenServicePort 587 127.0.0.1:5870\n"
                 "HiddenServicePort 587 127.0.0.2:5870\n"
                 "HiddenServicePort 110 127.0.0.1:1100\n");
  BOOST_TEST(t.find("the inner dials nothing") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_metrics_listener_is_never_exposed) {
  World w;
  {
    std::string text = slurp(w.inner_yaml);
    auto at = text.find("  pop3: [127.0.0.1:1100]\n");
    BOOST_REQUIRE(at != std::string::npos);
    text.insert(at, "  metrics: 127.0.0.1:9101\n");
    write(w.inner_yaml, text);
  }
  auto in = w.inner();
  BOOST_REQUIRE(in.listen.metrics.port == 9101);
  std::string t = nj::ctl::tor_inner(in, w.opts().tor_dir);
  BOOST_TEST(config_lines(t).find("9101") == std::string::npos, t);
  BOOST_TEST(flat(t).find("listen.metrics (127.0.0.1:9101) is for this machine only") !=
             std::string::npos);
  auto i = nj::ctl::i2p_inner(in);
  BOOST_REQUIRE(i.ok());
  BOOST_TEST(config_lines(*i).find("9101") == std::string::npos, *i);
}

BOOST_AUTO_TEST_CASE(tor_edge_lines_and_client_auth_instructions) {
  World w;
  auto o = w.opts();
  std::string t = nj::ctl::tor_edge(w.facts());
  // The link's virtual port is the one the inner dials (2600), not the edge's listener port.
  BOOST_TEST(config_lines(t) ==
             "SocksPort 0\n"
             "HiddenServiceDir " +
                 o.tor_dir +
                 "/nightjar-edge-link\n"
                 "HiddenServicePort 2600 127.0.0.1:2601\n"
                 "HiddenServiceDir " +
                 o.tor_dir +
                 "/nightjar-edge-mx\n"
                 "HiddenServicePort 25 127.0.0.1:2526\n");
  std::string link_dir = o.tor_dir + "/nightjar-edge-link";
  BOOST_TEST(t.find("#   $ install -d -m 0700 " + link_dir + " " + link_dir +
                    "/authorized_clients\n") != std::string::npos);
  BOOST_TEST(t.find("#   $ echo \"descriptor:x25519:$(cat link-client-mx1.pub)\" > " + link_dir +
                    "/authorized_clients/inner.auth\n") != std::string::npos);
  BOOST_TEST(flat(t).find("set the address of mx1 in the inner's edges: to <that name>:2600") !=
                 std::string::npos,
             t);
  fits_80_columns(t);
  // Without --link-port the virtual port is the link listener's.
  auto f = nj::ctl::edge_facts(w.edge(w.edge_yaml));
  BOOST_TEST(f.link_port == 2601);
  BOOST_TEST(f.name == "edge");
  BOOST_TEST(f.public_domains == (std::vector<std::string>{"example.test", "example.org"}));
  BOOST_TEST(nj::ctl::tor_edge(f).find("\nHiddenServicePort 2601 127.0.0.1:2601\n") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(tor_edge_socks_port_for_onion_delivery) {
  // The edge delivers to OnionMX domains through outbound.socks: its tor must listen there.
  World w;
  w.edge_file("edge", "mx.nightjar.test", 2601, 2526, "outbound:\n  socks: 127.0.0.1:9150\n");
  std::string t = nj::ctl::tor_edge(w.facts());
  BOOST_TEST(
      config_lines(t).rfind("SocksPort 127.0.0.1:9150 ExtendedErrors\nHiddenServiceDir ", 0) == 0);
  BOOST_TEST(config_lines(t).find("SocksPort 0") == std::string::npos);
}

namespace {

// Runs the `#   $ ` command lines of `text` with /bin/sh in `cwd`; returns the exit status.
int run_printed_commands(const std::string& text, const fs::path& cwd) {
  std::string script = "set -e\ncd '" + cwd.string() + "'\n";
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("#   $ ", 0) == 0) script += line.substr(6) + "\n";
  write(cwd / "commands.sh", script);
  int st = std::system(("/bin/sh '" + (cwd / "commands.sh").string() + "'").c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool is_b32_key(const std::string& s) {
  return s.size() == 52 && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == s.npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(client_auth_commands_make_tor_files) {
  // The printed commands, run as printed, leave files in tor's formats: the inner's
  // "<onion>:descriptor:x25519:<52 base32>" and the edge's "descriptor:x25519:<52 base32>".
  // (That tor accepts the pair is shown end to end by tests/e2e/t_68_overlay_tor.py.)
  World w;
  auto o = w.opts();
  auto in = w.inner();
  fs::create_directories(w.dir / "work");
  BOOST_REQUIRE(run_printed_commands(nj::ctl::tor_inner(in, o.tor_dir), w.dir / "work") == 0);
  BOOST_REQUIRE(run_printed_commands(nj::ctl::tor_edge(w.facts()), w.dir / "work") == 0);
  std::string priv = slurp(w.dir / "tor" / "nightjar-onion-auth" / "mx1.auth_private");
  std::string prefix = std::string(kLinkOnion) + ":descriptor:x25519:";
  BOOST_TEST(priv.rfind(prefix, 0) == 0, priv);
  BOOST_TEST(priv.size() == prefix.size() + 53);
  BOOST_TEST(is_b32_key(priv.substr(prefix.size(), 52)), priv);
  std::string pub = slurp(w.dir / "work" / "link-client-mx1.pub");
  BOOST_TEST(is_b32_key(pub.substr(0, 52)), pub);
  std::string auth =
      slurp(w.dir / "tor" / "nightjar-edge-link" / "authorized_clients" / "inner.auth");
  BOOST_TEST(auth == "descriptor:x25519:" + pub, auth);
  // The public and private halves are one key pair: different text, and the private half's file
  // is gone.
  BOOST_TEST(priv.substr(prefix.size(), 52) != pub.substr(0, 52));
  BOOST_TEST(!fs::exists(w.dir / "work" / "link-client-mx1.pem"));
  for (const fs::path& d :
       {w.dir / "tor" / "nightjar-onion-auth", w.dir / "tor" / "nightjar-edge-link",
        w.dir / "tor" / "nightjar-edge-link" / "authorized_clients"})
    BOOST_TEST(static_cast<unsigned>(fs::status(d).permissions() & fs::perms::all) == 0700u,
               d.string());
}

BOOST_AUTO_TEST_CASE(srv_and_mx_records) {
  World w;
  std::string onion = std::string(kMxOnion) + ".onion";
  auto f = w.facts("mx1", w.edge_yaml, onion);
  std::string t = nj::ctl::dns_records(f, true);
  BOOST_TEST(config_lines(t) ==
                 "example.test. IN MX 10 mx.nightjar.test.\n"
                 "example.org. IN MX 10 mx.nightjar.test.\n"
                 "_onion-mx._tcp.example.test. IN SRV 0 0 25 " +
                     onion +
                     ".\n"
                     "_onion-mx._tcp.example.org. IN SRV 0 0 25 " +
                     onion + ".\n",
             t);
  fits_80_columns(t);
  // I2P has no OnionMX SRV records: the MX records only.
  BOOST_TEST(config_lines(nj::ctl::dns_records(f, false)) ==
             "example.test. IN MX 10 mx.nightjar.test.\n"
             "example.org. IN MX 10 mx.nightjar.test.\n");
  // A higher preference makes the edge a fallback, in both kinds of record.
  f.mx_preference = 20;
  BOOST_TEST(config_lines(nj::ctl::dns_records(f, true)) ==
                 "example.test. IN MX 20 mx.nightjar.test.\n"
                 "example.org. IN MX 20 mx.nightjar.test.\n"
                 "_onion-mx._tcp.example.test. IN SRV 10 0 25 " +
                     onion +
                     ".\n"
                     "_onion-mx._tcp.example.org. IN SRV 10 0 25 " +
                     onion + ".\n",
             t);
  // An edge without an OnionMX listener has no SRV record, whatever its onion.
  f.onion_mx.clear();
  t = nj::ctl::dns_records(f, true);
  BOOST_TEST(t.find("IN SRV") == std::string::npos, t);
  BOOST_TEST(flat(t).find("Edge mx1 has no OnionMX listener") != std::string::npos, t);
}

BOOST_AUTO_TEST_CASE(no_srv_record_before_the_onion_mx_name_is_known) {
  // Nothing to paste into a zone that names a stand-in: the part says what to pass, and where the
  // name is, instead.
  World w;
  auto o = w.opts();
  std::string t = nj::ctl::dns_records(w.facts(), true);
  BOOST_TEST(config_lines(t) ==
                 "example.test. IN MX 10 mx.nightjar.test.\n"
                 "example.org. IN MX 10 mx.nightjar.test.\n",
             t);
  BOOST_TEST(t.find("IN SRV") == std::string::npos, t);
  BOOST_TEST(t.find("_onion-mx._tcp.") == std::string::npos, t);
  BOOST_TEST(flat(t).find("No SRV record for edge mx1") != std::string::npos, t);
  BOOST_TEST(flat(t).find("the name is in " + o.tor_dir +
                          "/nightjar-edge-mx/hostname: run this "
                          "again (as a user that can read it), or pass --onion ONION.") !=
                 std::string::npos,
             t);
  // The command prints the rest (the edge's torrc is what makes the name) and exits 0.
  std::string out, err;
  const auto args = w.edge_args("tor", "mx1", w.edge_yaml);
  BOOST_TEST(run_edge(args, out, err) == 0);
  BOOST_TEST(err == "");
  BOOST_TEST(out.find("# ---- torrc on edge mx1's machine ----\n" + nj::ctl::tor_edge(w.facts())) !=
                 std::string::npos,
             out);
  BOOST_TEST(out.find("# ---- DNS: publish in each public domain's zone ----\n" + t) !=
             std::string::npos);
  BOOST_TEST(out.find("IN SRV") == std::string::npos, out);
  // Once tor has written the OnionMX onion's hostname file, the command reads it.
  fs::create_directories(w.dir / "tor" / "nightjar-edge-mx");
  write(w.dir / "tor" / "nightjar-edge-mx" / "hostname", std::string(kMxOnion) + ".onion\n");
  BOOST_TEST(run_edge(args, out, err) == 0, err);
  BOOST_TEST(out.find("_onion-mx._tcp.example.test. IN SRV 0 0 25 " + std::string(kMxOnion) +
                      ".onion.\n") != std::string::npos,
             out);
  // --onion wins over the file.
  BOOST_TEST(run_edge(plus(args, {"--onion", kMxOnion2}), out, err) == 0, err);
  BOOST_TEST(out.find(kMxOnion) == std::string::npos, out);
  BOOST_TEST(out.find("_onion-mx._tcp.example.org. IN SRV 0 0 25 " + std::string(kMxOnion2) +
                      ".onion.\n") != std::string::npos,
             out);
  // A hostname file that holds no onion name is an error, not a record.
  write(w.dir / "tor" / "nightjar-edge-mx" / "hostname", "not-an-onion\n");
  BOOST_TEST(run_edge(args, out, err) == 1);
  BOOST_TEST(out.empty(), out);
  BOOST_TEST(err == "nightjarctl overlay: " + o.tor_dir +
                        "/nightjar-edge-mx/hostname: 'not-an-onion' is not a v3 onion name (56 "
                        "base32 characters)\n",
             err);
}

BOOST_AUTO_TEST_CASE(fleet_of_two_tor_edges) {
  World w("edges:\n" + tor_entry("mx1", kLinkOnion) + tor_entry("mx2", kLinkOnion2, 2700));
  fs::path mx2 = w.edge_file("mx2", "mx2.nightjar.test", 2701, 2527);
  auto o = w.opts();
  auto in = w.inner();
  // The inner's part: one SocksPort (they share it), one ClientOnionAuthDir, each edge's own
  // key pair and .auth_private file, named after it.
  std::string t = nj::ctl::tor_inner(in, o.tor_dir);
  BOOST_TEST(config_lines(t) ==
                 "VanguardsLiteEnabled 1\n"
                 "HiddenServiceDir " +
                     o.tor_dir +
                     "/nightjar-inner\n"
                     "HiddenServicePort 587 127.0.0.1:5870\n"
                     "HiddenServicePort 587 127.0.0.2:5870\n"
                     "HiddenServicePort 110 127.0.0.1:1100\n"
                     "SocksPort 127.0.0.1:9050 ExtendedErrors\n"
                     "ClientOnionAuthDir " +
                     o.tor_dir + "/nightjar-onion-auth\n",
             t);
  fs::create_directories(w.dir / "work");
  BOOST_REQUIRE(run_printed_commands(t, w.dir / "work") == 0);
  std::map<std::string, std::string> keys;
  for (auto [name, onion] : {std::pair{"mx1", kLinkOnion}, std::pair{"mx2", kLinkOnion2}}) {
    std::string priv =
        slurp(w.dir / "tor" / "nightjar-onion-auth" / (std::string(name) + ".auth_private"));
    std::string prefix = std::string(onion) + ":descriptor:x25519:";
    BOOST_TEST(priv.rfind(prefix, 0) == 0, name << ": " << priv);
    BOOST_TEST(is_b32_key(priv.substr(prefix.size(), 52)), priv);
    keys[name] = slurp(w.dir / "work" / ("link-client-" + std::string(name) + ".pub"));
    BOOST_TEST(is_b32_key(keys[name].substr(0, 52)), keys[name]);
  }
  BOOST_TEST(keys["mx1"] != keys["mx2"]);  // one key pair per edge

  // The inner's command: its part, and what to run on each edge's machine, with the name and the
  // port it dials that edge at.
  std::string out, err;
  BOOST_TEST(
      run_inner({"tor", "--config", w.inner_yaml.string(), "--tor-dir", o.tor_dir}, out, err) == 0,
      err);
  BOOST_TEST(err == "");
  BOOST_TEST(part(out, "# ---- torrc on the inner's machine ----") == t, out);
  std::string each = part(out, "# ---- on each edge's machine ----");
  BOOST_TEST(each.find("#   mx1: nightjarctl overlay tor --config EDGE.yaml --name mx1 "
                       "--link-port 2600\n#   mx2: nightjarctl overlay tor --config EDGE.yaml "
                       "--name mx2 --link-port 2700\n") != std::string::npos,
             each);
  BOOST_TEST(out.find("# ---- DNS") == std::string::npos, out);
  fits_80_columns(out);

  // Each edge's command: its part, installing its own key at the port the inner dials it at, and
  // its own records. Equal preferences by default; --mx-preference makes one a fallback.
  BOOST_TEST(run_edge(plus(w.edge_args("tor", "mx2", mx2), {"--onion", kMxOnion2}), out, err) == 0,
             err);
  std::string e2 = part(out, "# ---- torrc on edge mx2's machine ----");
  BOOST_TEST(e2.find("\nHiddenServicePort 2700 127.0.0.1:2701\n") != std::string::npos, e2);
  BOOST_TEST(e2.find("$(cat link-client-mx2.pub)") != std::string::npos, e2);
  BOOST_TEST(e2.find("link-client-mx1") == std::string::npos, e2);
  std::string m1 = std::string(kMxOnion) + ".onion.", m2 = std::string(kMxOnion2) + ".onion.";
  BOOST_TEST(config_lines(part(out, "# ---- DNS: publish in each public domain's zone ----")) ==
                 "example.test. IN MX 10 mx2.nightjar.test.\n"
                 "example.org. IN MX 10 mx2.nightjar.test.\n"
                 "_onion-mx._tcp.example.test. IN SRV 0 0 25 " +
                     m2 + "\n_onion-mx._tcp.example.org. IN SRV 0 0 25 " + m2 + "\n",
             out);
  BOOST_TEST(run_edge(plus(w.edge_args("tor", "mx1", w.edge_yaml),
                           {"--onion", kMxOnion, "--mx-preference", "20"}),
                      out, err) == 0,
             err);
  BOOST_TEST(config_lines(part(out, "# ---- DNS: publish in each public domain's zone ----")) ==
                 "example.test. IN MX 20 mx.nightjar.test.\n"
                 "example.org. IN MX 20 mx.nightjar.test.\n"
                 "_onion-mx._tcp.example.test. IN SRV 10 0 25 " +
                     m1 + "\n_onion-mx._tcp.example.org. IN SRV 10 0 25 " + m1 + "\n",
             out);
  BOOST_TEST(
      part(out, "# ---- torrc on edge mx1's machine ----") == nj::ctl::tor_edge(w.facts("mx1")),
      out);
}

BOOST_AUTO_TEST_CASE(tor_edges_on_different_socks_ports_get_each_one) {
  World w("edges:\n" + tor_entry("mx1", kLinkOnion) +
          tor_entry("mx2", kLinkOnion2, 2600, "127.0.0.1:9052") +
          tor_entry("mx3", "replace-with-mx3s-link-service", 2600, "127.0.0.1:9050"));
  auto o = w.opts();
  std::string t = nj::ctl::tor_inner(w.inner(), o.tor_dir);
  std::string lines = config_lines(t);
  BOOST_TEST(lines.find("SocksPort 127.0.0.1:9050 ExtendedErrors\n"
                        "SocksPort 127.0.0.1:9052 ExtendedErrors\n"
                        "ClientOnionAuthDir ") != std::string::npos,
             lines);
  BOOST_TEST(flat(t).find("Tor edges mx1, mx3 through this SocksPort") != std::string::npos, t);
  // Keys for the two edges whose onion is known; a note for the third.
  BOOST_TEST(t.find("/nightjar-onion-auth/mx1.auth_private\n") != std::string::npos);
  BOOST_TEST(t.find("/nightjar-onion-auth/mx2.auth_private\n") != std::string::npos);
  BOOST_TEST(t.find("mx3.auth_private") == std::string::npos);
  BOOST_TEST(
      flat(t).find("edge mx3's link service: its address does not name the link onion yet") !=
      std::string::npos);
  // tor takes them as printed.
  fs::create_directories(w.dir / "tor" / "nightjar-onion-auth");
  fs::permissions(w.dir / "tor" / "nightjar-onion-auth", fs::perms::owner_all,
                  fs::perm_options::replace);
  std::string out;
  BOOST_TEST(tor_verify(w.dir, "fleet", t, out) == 0, "tor --verify-config: " << out);
}

BOOST_AUTO_TEST_CASE(fleet_of_a_tor_and_an_i2p_edge) {
  World w("edges:\n" + tor_entry("mx1", kLinkOnion) + i2p_entry("mx2", "edgelink.i2p", 2700));
  fs::path mx2 = w.edge_file("mx2", "mx2.nightjar.test", 2701, 2527);
  auto o = w.opts();
  auto in = w.inner();
  std::string t = nj::ctl::tor_inner(in, o.tor_dir);
  // Tor: the SocksPort and client key of the Tor edge only; the I2P edge is named.
  BOOST_TEST(config_lines(t).find("SocksPort 127.0.0.1:9050 ExtendedErrors\n") !=
             std::string::npos);
  BOOST_TEST(config_lines(t).find("4447") == std::string::npos, t);
  BOOST_TEST(t.find("mx2.auth_private") == std::string::npos, t);
  BOOST_TEST(
      flat(t).find("Edge mx2 is dialled over I2P: its part is printed by 'nightjarctl overlay "
                   "i2p'.") != std::string::npos,
      t);
  // I2P: the SOCKS proxy at the I2P edge's socks; the Tor edge is named.
  auto i = nj::ctl::i2p_inner(in);
  BOOST_REQUIRE_MESSAGE(i.ok(), (i.ok() ? std::string() : i.error()));
  BOOST_TEST(
      config_lines(*i).find("[socksproxy]\nenabled = true\naddress = 127.0.0.1\n"
                            "port = 4447\nkeys = nightjar-inner-link.dat\n") != std::string::npos,
      *i);
  BOOST_TEST(
      flat(*i).find("Edge mx1 is dialled over Tor: its part is printed by 'nightjarctl overlay "
                    "tor'.") != std::string::npos,
      *i);

  // Each overlay's command names the edges it dials on their machines: mx1 for tor, mx2 for i2p.
  std::string out, err;
  BOOST_TEST(run_inner({"tor", "--config", w.inner_yaml.string()}, out, err) == 0, err);
  std::string each = part(out, "# ---- on each edge's machine ----");
  BOOST_TEST(each.find("#   mx1: nightjarctl overlay tor ") != std::string::npos, each);
  BOOST_TEST(each.find("mx2") == std::string::npos, each);
  write(w.dir / "link.dat", with_cert(5, 4, 4, 64));
  std::string b32 = *nj::ctl::i2p_keys_b32(with_cert(5, 4, 4, 64));
  BOOST_TEST(run_inner({"i2p", "--config", w.inner_yaml.string(), "--inner-link-keys",
                        (w.dir / "link.dat").string()},
                       out, err) == 0,
             err);
  each = part(out, "# ---- on each edge's machine ----");
  BOOST_TEST(each.find("#   mx2: nightjarctl overlay i2p --config EDGE.yaml --name mx2 "
                       "--link-port 2700 --inner-link-b32 " +
                       b32 + "\n") != std::string::npos,
             each);
  BOOST_TEST(each.find("mx1") == std::string::npos, each);

  // The I2P edge's own command, given that destination: its tunnels admit it alone.
  BOOST_TEST(
      run_edge(plus(w.edge_args("i2p", "mx2", mx2), {"--inner-link-b32", b32}), out, err) == 0,
      err);
  BOOST_TEST(out.find("\ninport = 2700\nkeys = nightjar-edge-link.dat\naccesslist = " +
                      b32.substr(0, 52) + "\n") != std::string::npos,
             out);
  BOOST_TEST(config_lines(part(out, "# ---- DNS: publish in each public domain's zone ----")) ==
                 "example.test. IN MX 10 mx2.nightjar.test.\n"
                 "example.org. IN MX 10 mx2.nightjar.test.\n",
             out);
}

BOOST_AUTO_TEST_CASE(i2p_edges_must_share_the_socks_proxy) {
  World w("edges:\n" + i2p_entry("mx1", "one.i2p") +
          i2p_entry("mx2", "two.i2p", 2600, "127.0.0.1:4448"));
  auto i = nj::ctl::i2p_inner(w.inner());
  BOOST_REQUIRE(!i.ok());
  BOOST_TEST(i.error().find("the I2P edges name different socks: 127.0.0.1:4447 (mx1); "
                            "127.0.0.1:4448 (mx2)") != std::string::npos,
             i.error());
  std::string out, err;
  BOOST_TEST(run_inner({"i2p", "--config", w.inner_yaml.string()}, out, err) == 1);
  BOOST_TEST(out.empty(), out);
  BOOST_TEST(
      err.find(w.inner_yaml.string() + ": the I2P edges name different socks") != std::string::npos,
      err);
}

BOOST_AUTO_TEST_CASE(the_one_edge_form_still_works) {
  // `edge:` + keys.edge_public loads as a list of one named "edge", the edge tool's default name.
  World w(one_edge_form(std::string(kLinkOnion) + ".onion:2600", "tor", "127.0.0.1:9050"));
  auto in = w.inner();
  BOOST_REQUIRE_EQUAL(in.edges.size(), 1u);
  BOOST_TEST(in.edges[0].name == "edge");
  auto o = w.opts();
  std::string out, err;
  BOOST_TEST(run_inner({"tor", "--inner-config", w.inner_yaml.string(), "--tor-dir", o.tor_dir},
                       out, err) == 0,
             err);
  BOOST_TEST(out.find("SocksPort 127.0.0.1:9050 ExtendedErrors\n") != std::string::npos);
  BOOST_TEST(out.find(o.tor_dir + "/nightjar-onion-auth/edge.auth_private\n") != std::string::npos);
  BOOST_TEST(out.find("#   edge: nightjarctl overlay tor --config EDGE.yaml --name edge "
                      "--link-port 2600\n") != std::string::npos,
             out);
  BOOST_TEST(run_edge({"tor", "--config", w.edge_yaml.string(), "--link-port", "2600", "--tor-dir",
                       o.tor_dir, "--onion", kMxOnion},
                      out, err) == 0,
             err);
  BOOST_TEST(out.find("# ---- torrc on edge edge's machine ----\n") != std::string::npos);
  BOOST_TEST(out.find("\nHiddenServicePort 2600 127.0.0.1:2601\n") != std::string::npos);
  BOOST_TEST(out.find("$(cat link-client-edge.pub)") != std::string::npos);
  BOOST_TEST(out.find("example.test. IN MX 10 mx.nightjar.test.\n") != std::string::npos);
  BOOST_TEST(out.find("_onion-mx._tcp.example.test. IN SRV 0 0 25 " + std::string(kMxOnion) +
                      ".onion.\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_files_need_not_be_readable_here) {
  // Each tool reads only names, ports and addresses of its configuration: the keys, certificate,
  // onion map, data directory and user it names are not asked for (an operator without the
  // rights to read them, or a copy on another machine such as a provisioning host, prints the
  // same part). nightjar-edge --check-config and nightjar-inner --check-config ask.
  World w;
  const std::string gone = (w.dir / "other-machine").string();
  write(w.edge_yaml,
        "hostname: mx.nightjar.test\n"
        "data_dir: " +
            gone +
            "/var/lib/nightjar-edge\n"
            "user: nj-overlay-no-such-user\n"
            "domains:\n  - public: example.test\n    internal: example.i2p\n"
            "listen:\n  mx: [127.0.0.1:2525]\n  onion_mx: [127.0.0.1:2526]\n"
            "  link: [127.0.0.1:2601]\n"
            "tls:\n  cert: " +
            gone + "/tls/cert.pem\n  key: " + gone +
            "/tls/key.pem\n"
            "keys:\n  edge_secret: " +
            gone +
            "/keys/edge.secret\n"
            "  inner_public: " +
            gone +
            "/keys/inner.pub\n"
            "outbound:\n  onion_map: " +
            gone +
            "/onion_map.yaml\n"
            "  socks: 127.0.0.1:9150\n");
  write(w.inner_yaml,
        "hostname: mail.nightjar.test\n"
        "data_dir: " +
            gone +
            "/var/lib/nightjar-inner\n"
            "user: nj-overlay-no-such-user\n"
            "domain:\n  internal: example.i2p\n  public: example.test\n"
            "listen:\n  submission: [127.0.0.1:5870]\n  pop3: [127.0.0.1:1100]\n"
            "keys:\n  inner_secret: " +
            gone +
            "/keys/inner.secret\n"
            "edges:\n  - name: mx1\n    address: \"" +
            kLinkOnion +
            ".onion:2600\"\n    transport: tor\n"
            "    socks: 127.0.0.1:9050\n    public_key: " +
            gone + "/keys/mx1.pub\n");
  // The premise: the daemons' own loads refuse both files here.
  auto edge_here = nj::edge::load(w.edge_yaml.string());
  BOOST_REQUIRE(!edge_here.ok());
  for (auto key : {"data_dir", "user", "tls.cert", "tls.key", "keys.edge_secret",
                   "keys.inner_public", "outbound.onion_map"})
    BOOST_TEST(edge_here.error().find(std::string(": ") + key + ": ") != std::string::npos,
               key << " in " << edge_here.error());
  auto inner_here = nj::inner::load(w.inner_yaml.string());
  BOOST_REQUIRE(!inner_here.ok());
  for (auto key : {"data_dir", "user", "keys.inner_secret", "edges[0].public_key"})
    BOOST_TEST(inner_here.error().find(std::string(": ") + key + ": ") != std::string::npos,
               key << " in " << inner_here.error());

  auto o = w.opts();
  std::string out, err;
  BOOST_TEST(
      run_inner({"tor", "--config", w.inner_yaml.string(), "--tor-dir", o.tor_dir}, out, err) == 0,
      err);
  BOOST_TEST(err == "");
  BOOST_TEST(out.find("HiddenServicePort 587 127.0.0.1:5870\n") != std::string::npos, out);
  BOOST_TEST(out.find(gone) == std::string::npos, out);
  BOOST_TEST(run_edge({"tor", "--config", w.edge_yaml.string(), "--name", "mx1", "--link-port",
                       "2600", "--onion", kMxOnion, "--tor-dir", o.tor_dir},
                      out, err) == 0,
             err);
  BOOST_TEST(err == "");
  BOOST_TEST(out.find("SocksPort 127.0.0.1:9150 ExtendedErrors\n") != std::string::npos, out);
  BOOST_TEST(out.find("HiddenServicePort 2600 127.0.0.1:2601\n") != std::string::npos, out);
  BOOST_TEST(out.find("_onion-mx._tcp.example.test. IN SRV 0 0 25 " + std::string(kMxOnion) +
                      ".onion.\n") != std::string::npos,
             out);
  BOOST_TEST(out.find(gone) == std::string::npos, out);
  BOOST_TEST(run_inner({"i2p", "--config", w.inner_yaml.string()}, out, err) == 1);
  BOOST_TEST(err.find("the inner dials its edges (mx1) over Tor: run 'nightjarctl overlay tor'") !=
                 std::string::npos,
             err);

  // Every other check still runs, with the loaders' file:line: key: problem.
  std::string text = slurp(w.edge_yaml);
  auto at = text.find("data_dir: /");
  BOOST_REQUIRE(at != std::string::npos);
  text.replace(at, std::string("data_dir: /").size(), "data_dir: relative/");
  text += "limits:\n  max_recipients: 0\n";
  write(w.edge_yaml, text);
  BOOST_TEST(run_edge({"tor", "--config", w.edge_yaml.string()}, out, err) == 1);
  BOOST_TEST(err.find(w.edge_yaml.string() + ":2: data_dir: \"relative/") != std::string::npos,
             err);
  BOOST_TEST(err.find(": limits.max_recipients: 0 is out of range") != std::string::npos, err);
  BOOST_TEST(err.find("keys.edge_secret") == std::string::npos, err);
  BOOST_TEST(out.empty(), out);
}

BOOST_AUTO_TEST_CASE(i2p_sections) {
  World w("edges:\n" + i2p_entry("mx1", "edgelink.i2p"));
  auto in = w.inner();
  auto inner_part = nj::ctl::i2p_inner(in);
  BOOST_REQUIRE(inner_part.ok());
  BOOST_TEST(config_lines(*inner_part) ==
             "[nightjar-inner-submission]\ntype = server\nhost = 127.0.0.1\nport = 5870\n"
             "inport = 587\nkeys = nightjar-inner.dat\n"
             "[nightjar-inner-pop3]\ntype = server\nhost = 127.0.0.1\nport = 1100\n"
             "inport = 110\nkeys = nightjar-inner.dat\n"
             "[socksproxy]\nenabled = true\naddress = 127.0.0.1\nport = 4447\n"
             "keys = nightjar-inner-link.dat\n");
  BOOST_TEST(inner_part->find("# not exposed over I2P (one target per tunnel): "
                              "127.0.0.2:5870\n") != std::string::npos);
  fits_80_columns(*inner_part);
  auto f = w.facts();
  f.inner_link_b32 = std::string(kInnerLinkB32) + ".b32.i2p";
  auto e = nj::ctl::i2p_edge(f);
  BOOST_REQUIRE_MESSAGE(e.ok(), (e.ok() ? std::string() : e.error()));
  // The link tunnel admits the inner's link destination only, named as i2pd documents it
  // (without .b32.i2p); the MX tunnel is public.
  BOOST_TEST(config_lines(*e) ==
             "[nightjar-edge-link]\ntype = server\nhost = 127.0.0.1\nport = 2601\n"
             "inport = 2600\nkeys = nightjar-edge-link.dat\n"
             "accesslist = " +
                 std::string(kInnerLinkB32) +
                 "\n"
                 "[nightjar-edge-mx]\ntype = server\nhost = 127.0.0.1\nport = 2526\n"
                 "inport = 25\nkeys = nightjar-edge-mx.dat\n");
  BOOST_TEST(e->find(f.inner_link_b32) != std::string::npos);
  BOOST_TEST(flat(*e).find("Set the address of mx1 in the inner's edges: to this tunnel's") !=
                 std::string::npos,
             *e);
  fits_80_columns(*e);
}

BOOST_AUTO_TEST_CASE(i2p_edge_link_tunnel_refused_without_the_inner_link_destination) {
  World w("edges:\n" + i2p_entry("mx1", "edgelink.i2p"));
  auto e = nj::ctl::i2p_edge(w.facts());
  BOOST_REQUIRE(!e.ok());
  BOOST_TEST(e.error().find("the link tunnel of edge mx1 admits only the inner's link "
                            "destination") != std::string::npos,
             e.error());
  BOOST_TEST(e.error().find("pass --inner-link-b32 NAME.b32.i2p, the name the inner's "
                            "'nightjarctl overlay i2p --inner-link-keys "
                            "/var/lib/i2pd/nightjar-inner-link.dat' prints") != std::string::npos,
             e.error());
  // The command: nothing printed, exit 1.
  std::string out, err;
  BOOST_TEST(run_edge(w.edge_args("i2p", "mx1", w.edge_yaml), out, err) == 1);
  BOOST_TEST(out.empty(), out);
  BOOST_TEST(err == "nightjarctl overlay: " + e.error() + "\n", err);
  // Without a link listener there is nothing to admit anyone to: the MX tunnel alone is printed.
  {
    std::string yaml = slurp(w.edge_yaml);
    auto at = yaml.find("  link: [127.0.0.1:2601]\n");
    BOOST_REQUIRE(at != std::string::npos);
    yaml.replace(at, std::string("  link: [127.0.0.1:2601]\n").size(), "  link: []\n");
    write(w.edge_yaml, yaml);
  }
  auto mx_only = nj::ctl::i2p_edge(w.facts());
  BOOST_REQUIRE_MESSAGE(mx_only.ok(), (mx_only.ok() ? std::string() : mx_only.error()));
  BOOST_TEST(config_lines(*mx_only) ==
             "[nightjar-edge-mx]\ntype = server\nhost = 127.0.0.1\nport = 2526\n"
             "inport = 25\nkeys = nightjar-edge-mx.dat\n");
}

BOOST_AUTO_TEST_CASE(tor_accepts_the_generated_lines) {
  World w;
  auto o = w.opts();
  auto in = w.inner();
  std::string out;
  // As the generated commands do: the ClientOnionAuthDir must exist.
  BOOST_TEST(nj::ctl::tor_inner(in, o.tor_dir)
                 .find("$ install -d -m 0700 " + o.tor_dir + "/nightjar-onion-auth\n") !=
             std::string::npos);
  fs::create_directories(w.dir / "tor" / "nightjar-onion-auth");
  fs::permissions(w.dir / "tor" / "nightjar-onion-auth", fs::perms::owner_all,
                  fs::perm_options::replace);
  int rc = tor_verify(w.dir, "inner", nj::ctl::tor_inner(in, o.tor_dir), out);
  BOOST_TEST(rc == 0, "tor --verify-config (inner): " << out);
  rc = tor_verify(w.dir, "edge", nj::ctl::tor_edge(w.facts()), out);
  BOOST_TEST(rc == 0, "tor --verify-config (edge): " << out);
  // And the check can fail: a mangled line is refused.
  rc = tor_verify(w.dir, "broken", "SocksPort 0\nHiddenServicePort 587 127.0.0.1:5870\n", out);
  BOOST_TEST(rc != 0, "tor accepted a HiddenServicePort without a HiddenServiceDir");
}

BOOST_AUTO_TEST_CASE(command_output_and_errors) {
  World w("edges:\n" + tor_entry("mx1", kLinkOnion) + tor_entry("mx2", kLinkOnion2));
  std::string out, err;
  auto o = w.opts();
  auto in = w.inner();
  const std::vector<std::string> inner_args = {"tor", "--config", w.inner_yaml.string(),
                                               "--tor-dir", o.tor_dir};
  BOOST_TEST(run_inner(inner_args, out, err) == 0, err);
  BOOST_TEST(flat(out).find("# Generated by nightjarctl overlay tor from " + w.inner_yaml.string() +
                            ".\n") == 0,
             out);
  BOOST_TEST(part(out, "# ---- torrc on the inner's machine ----") ==
             nj::ctl::tor_inner(in, o.tor_dir));
  // `nightjarctl --config FILE overlay tor` passes the global option after the command's own;
  // --inner-config is another spelling.
  std::string via_global;
  BOOST_TEST(run_inner({"tor", "--tor-dir", o.tor_dir, "--config", w.inner_yaml.string()},
                       via_global, err) == 0);
  BOOST_TEST(via_global == out);
  BOOST_TEST(run_inner({"tor", "--tor-dir", o.tor_dir, "--inner-config", w.inner_yaml.string()},
                       via_global, err) == 0);
  BOOST_TEST(via_global == out);
  const std::vector<std::string> edge_args = w.edge_args("tor", "mx1", w.edge_yaml);
  BOOST_TEST(run_edge(plus(edge_args, {"--onion", kMxOnion}), out, err) == 0, err);
  BOOST_TEST(flat(out).find("# Generated by nightjarctl overlay tor from " + w.edge_yaml.string() +
                            " for edge mx1.\n") == 0,
             out);
  BOOST_TEST(part(out, "# ---- torrc on edge mx1's machine ----") == nj::ctl::tor_edge(w.facts()));
  BOOST_TEST(
      part(out, "# ---- DNS: publish in each public domain's zone ----") ==
      nj::ctl::dns_records(w.facts("mx1", w.edge_yaml, std::string(kMxOnion) + ".onion"), true));

  // --help: every line fits 80 columns and names the options.
  BOOST_TEST(run_inner({"tor", "--help"}, out, err) == 0);
  for (auto opt : {"--config INNER.yaml", "--tor-dir DIR", "--inner-link-keys FILE"})
    BOOST_TEST(out.find(opt) != std::string::npos, opt);
  fits_80_columns(out);
  BOOST_TEST(run_edge({"--help"}, out, err) == 0);
  for (auto opt : {"--config EDGE.yaml", "--name NAME", "--link-port N", "--onion ONION",
                   "--mx-preference N", "--tor-dir DIR", "--inner-link-b32 NAME.b32.i2p"})
    BOOST_TEST(out.find(opt) != std::string::npos, opt);
  fits_80_columns(out);

  // Usage problems: exit 2 with a message saying which, and the usage.
  auto usage = [&](auto run, const std::vector<std::string>& argv, const std::string& why) {
    BOOST_TEST(run(argv, out, err) == 2, why);
    BOOST_TEST(err.find("nightjarctl overlay: " + why) == 0, why << " in " << err);
    BOOST_TEST(err.find("\nusage: nightjarctl overlay tor --config ") != std::string::npos, err);
    BOOST_TEST(out.empty(), out);
  };
  usage(run_inner, {}, "which overlay: tor or i2p");
  usage(run_inner, {"gnunet", "--config", w.inner_yaml.string()}, "unknown overlay 'gnunet'");
  usage(run_inner, {"tor", "i2p", "--config", w.inner_yaml.string()}, "unexpected argument 'i2p'");
  usage(run_inner, {"tor"}, "--config INNER.yaml is required");
  usage(run_inner, {"tor", "--config"}, "--config needs a value");
  usage(run_inner, plus(inner_args, {"--tor-dir", "/x"}), "--tor-dir is given twice");
  usage(run_inner, {"tor", "--config", w.inner_yaml.string(), "--tor-dir", "relative"},
        "--tor-dir must be absolute");
  usage(run_inner, plus(inner_args, {"--inner-link-keys", "x.dat"}),
        "--inner-link-keys is for i2p");
  usage(run_inner, plus(inner_args, {"--frobnicate", "1"}), "unknown option '--frobnicate'");
  // What moved to the edge says where it went.
  usage(run_inner, plus(inner_args, {"--edge", "mx1=" + w.edge_yaml.string()}),
        "--edge: each edge prints its own part and DNS records on its own machine: nightjarctl "
        "overlay tor|i2p --config EDGE.yaml --name NAME there");
  usage(run_inner, plus(inner_args, {"--edge-config", w.edge_yaml.string()}),
        "--edge-config: each edge prints its own part");
  usage(run_inner, plus(inner_args, {"--edge-onion", std::string("mx1=") + kMxOnion}),
        "--edge-onion: an edge's OnionMX onion is given on the edge: nightjarctl overlay tor "
        "--config EDGE.yaml --onion ONION there");
  usage(run_inner, plus(inner_args, {"--mx-order", "mx2,mx1"}),
        "--mx-order: an edge's MX preference is given on the edge");

  usage(run_edge, {"tor"}, "--config EDGE.yaml is required");
  usage(run_edge, {"tor", "--config", w.edge_yaml.string(), "--name", "MX1"},
        "--name: \"MX1\" is not 1 to 32 of a-z, 0-9 and '-'");
  usage(run_edge, {"tor", "--config", w.edge_yaml.string(), "--name", "a;rm -rf"},
        "--name: \"a;rm -rf\" is not");
  usage(run_edge, plus(edge_args, {"--onion", "nope.onion"}),
        "--onion: 'nope.onion' is not a v3 onion name");
  usage(run_edge, plus(edge_args, {"--inner-link-b32", std::string(kInnerLinkB32)}),
        "--inner-link-b32 is for i2p");
  usage(run_edge, plus(edge_args, {"--link-port", "0"}), "--link-port is given twice");
  usage(run_edge, {"tor", "--config", w.edge_yaml.string(), "--link-port", "0"}, "--link-port: ");
  usage(run_edge, {"tor", "--config", w.edge_yaml.string(), "--link-port", "x"}, "--link-port: ");
  usage(run_edge, plus(edge_args, {"--mx-preference", "5"}), "--mx-preference: ");
  usage(run_edge, plus(edge_args, {"--mx-preference", "65536"}), "--mx-preference: ");
  usage(run_edge, {"tor", "--config", w.edge_yaml.string(), "--tor-dir", "tor"},
        "--tor-dir must be absolute");
  usage(run_edge, plus(edge_args, {"--edge-onion", "x"}), "unknown option '--edge-onion'");
  // The usage the edge prints is the edge's.
  BOOST_TEST(run_edge({"tor"}, out, err) == 2);
  BOOST_TEST(err.find("usage: nightjarctl overlay tor --config EDGE.yaml") != std::string::npos);
  BOOST_TEST(run_edge({"i2p", "--config", w.edge_yaml.string(), "--onion", kMxOnion}, out, err) ==
             2);
  BOOST_TEST(err.find("--onion is for tor") != std::string::npos, err);

  // Configuration problems: exit 1, nothing printed.
  BOOST_TEST(run_inner({"tor", "--config", (w.dir / "missing.yaml").string()}, out, err) == 1);
  BOOST_TEST(err.find("missing.yaml") != std::string::npos);
  BOOST_TEST(out.empty());
  BOOST_TEST(run_inner({"i2p", "--config", w.inner_yaml.string()}, out, err) == 1);
  BOOST_TEST(err.find("the inner dials its edges (mx1, mx2) over Tor: run 'nightjarctl overlay "
                      "tor'") != std::string::npos,
             err);
  BOOST_TEST(run_edge({"tor", "--config", (w.dir / "missing.yaml").string()}, out, err) == 1);
  BOOST_TEST(err.find("missing.yaml") != std::string::npos);
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(the_inner_link_destination_for_the_edges) {
  // On the inner, --inner-link-keys prints the destination of its i2pd SOCKS proxy; on each I2P
  // edge, that name is --inner-link-b32, its link tunnel's one client.
  World w("edges:\n" + i2p_entry("mx1", "edgelink.i2p") + i2p_entry("mx2", "edgelink2.i2p", 2700));
  fs::path mx2 = w.edge_file("mx2", "mx2.nightjar.test", 2701, 2527);
  std::string out, err;
  const std::vector<std::string> base = {"i2p", "--config", w.inner_yaml.string()};
  // The inner's part alone needs nothing more: it is what makes i2pd write the link keys.
  BOOST_TEST(run_inner(base, out, err) == 0, err);
  BOOST_TEST(out.find("keys = nightjar-inner-link.dat\n") != std::string::npos);
  BOOST_TEST(
      flat(out).find("run this again with --inner-link-keys KEYS, KEYS being "
                     "nightjar-inner-link.dat in i2pd's data directory") != std::string::npos,
      out);
  BOOST_TEST(out.find("# ---- the inner's link destination ----") == std::string::npos, out);
  std::string each = part(out, "# ---- on each edge's machine ----");
  BOOST_TEST(each.find("--name mx1 --link-port 2600 --inner-link-b32 B32\n") != std::string::npos,
             each);
  BOOST_TEST(flat(each).find("B32: the inner's link destination, which this prints with "
                             "--inner-link-keys.") != std::string::npos,
             each);

  write(w.dir / "nightjar-inner-link.dat", with_cert(5, 4, 4, 64));
  const std::string keys = (w.dir / "nightjar-inner-link.dat").string();
  const std::string b32 = *nj::ctl::i2p_keys_b32(with_cert(5, 4, 4, 64));
  BOOST_TEST(run_inner(plus(base, {"--inner-link-keys", keys}), out, err) == 0, err);
  std::string dest = part(out, "# ---- the inner's link destination ----");
  BOOST_TEST(dest.substr(dest.rfind("\n#   ")) == "\n#   " + b32 + "\n", dest);
  BOOST_TEST(flat(dest).find("each edge is given it as --inner-link-b32") != std::string::npos,
             dest);
  each = part(out, "# ---- on each edge's machine ----");
  BOOST_TEST(each.find("#   mx2: nightjarctl overlay i2p --config EDGE.yaml --name mx2 "
                       "--link-port 2700 --inner-link-b32 " +
                       b32 + "\n") != std::string::npos,
             each);
  fits_80_columns(out);

  // Each edge, given that name (with or without .b32.i2p, any case): its accesslist.
  for (const auto& given : {b32, b32.substr(0, 52)}) {
    std::string upper = given;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const auto& spelled : {given, upper}) {
      BOOST_TEST(run_edge(plus(w.edge_args("i2p", "mx2", mx2), {"--inner-link-b32", spelled}), out,
                          err) == 0,
                 err);
      BOOST_TEST(out.find("\naccesslist = " + b32.substr(0, 52) + "\n") != std::string::npos, out);
      BOOST_TEST(out.find("# ---- i2pd on edge mx2's machine ----\n") != std::string::npos, out);
      BOOST_TEST(out.find("\nport = 2701\ninport = 2700\nkeys = nightjar-edge-link.dat\n") !=
                 std::string::npos);
    }
  }
  // The DNS part: the MX records, and no SRV record (OnionMX is Tor's).
  BOOST_TEST(config_lines(part(out, "# ---- DNS: publish in each public domain's zone ----")) ==
                 "example.test. IN MX 10 mx2.nightjar.test.\n"
                 "example.org. IN MX 10 mx2.nightjar.test.\n",
             out);
  BOOST_TEST(run_edge(plus(w.edge_args("i2p", "mx2", mx2), {"--inner-link-b32", "x.b32.i2p"}), out,
                      err) == 2);
  BOOST_TEST(err.find("nightjarctl overlay: --inner-link-b32: 'x.b32.i2p' is not an I2P .b32.i2p "
                      "name") == 0,
             err);

  // Usage and file problems on the inner.
  auto wrong = plus(base, {"--inner-link-keys", (w.dir / "nightjar-inner.dat").string()});
  BOOST_TEST(run_inner(wrong, out, err) == 1);
  BOOST_TEST(err.find("is the inner's mail destination") != std::string::npos, err);
  BOOST_TEST(
      run_inner(plus(base, {"--inner-link-keys", (w.dir / "nope.dat").string()}), out, err) == 1);
  BOOST_TEST(err.find("--inner-link-keys: " + (w.dir / "nope.dat").string() + ": no such file") !=
                 std::string::npos,
             err);
  BOOST_TEST(out.empty());
  World none("");
  BOOST_TEST(run_inner({"i2p", "--config", none.inner_yaml.string(), "--inner-link-keys", keys},
                       out, err) == 2);
  BOOST_TEST(err.find("--inner-link-keys is for the I2P edges' link tunnels: " +
                      none.inner_yaml.string() + " dials no edge over I2P") != std::string::npos,
             err);
}

BOOST_AUTO_TEST_CASE(base32_is_rfc4648_lower_case_unpadded) {
  // RFC 4648 section 10, lower case and without the '=' padding.
  BOOST_TEST(nj::ctl::base32_lower("") == "");
  BOOST_TEST(nj::ctl::base32_lower("f") == "my");
  BOOST_TEST(nj::ctl::base32_lower("fo") == "mzxq");
  BOOST_TEST(nj::ctl::base32_lower("foo") == "mzxw6");
  BOOST_TEST(nj::ctl::base32_lower("foob") == "mzxw6yq");
  BOOST_TEST(nj::ctl::base32_lower("fooba") == "mzxw6ytb");
  BOOST_TEST(nj::ctl::base32_lower("foobar") == "mzxw6ytboi");
  BOOST_TEST(nj::ctl::base32_lower(std::string(32, '\xff')) == std::string(51, '7') + "q");
}

BOOST_AUTO_TEST_CASE(b32_i2p_names) {
  std::string want = std::string(kInnerLinkB32) + ".b32.i2p";
  BOOST_TEST(*nj::ctl::parse_b32_i2p_name(want) == want);
  BOOST_TEST(*nj::ctl::parse_b32_i2p_name(kInnerLinkB32) == want);
  std::string upper = want;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  BOOST_TEST(*nj::ctl::parse_b32_i2p_name(upper) == want);
  BOOST_TEST(nj::ctl::name_label(want) == kInnerLinkB32);
  BOOST_TEST(nj::ctl::name_label(std::string(kLinkOnion) + ".onion") == kLinkOnion);
  BOOST_TEST(nj::ctl::name_label("plain") == "plain");
  auto refused = [](const std::string& name, const std::string& why) {
    auto r = nj::ctl::parse_b32_i2p_name(name);
    BOOST_TEST(!r.ok(), name);
    if (!r.ok()) BOOST_TEST(r.error().find(why) != std::string::npos, r.error());
  };
  refused("", "(52 base32 characters)");
  refused("edgelink.i2p", "(52 base32 characters)");
  refused(want + ".b32.i2p", "(52 base32 characters)");
  std::string bad = kInnerLinkB32;
  bad[3] = '1';
  refused(bad, "(not base32)");
  bad = kInnerLinkB32;
  bad.back() = 'b';  // 256 bits: the last character has 4 bits of padding, all zero
  refused(bad, "(not a hash)");
  // Every name the keys reader makes is one the parser takes back.
  auto made = nj::ctl::i2p_keys_b32(with_cert(5, 4, 4, 1));
  BOOST_REQUIRE(made.ok());
  BOOST_TEST(*nj::ctl::parse_b32_i2p_name(*made) == *made);
}

namespace {

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

// Starts a private i2pd (own data directory, 127.0.0.1 only, no reseed, no peers) with a SOCKS
// proxy whose keys file is nightjar-inner-link.dat, as the inner's printed [socksproxy], and
// server tunnels of other key types; stops it once it has made its destinations. Returns
// {keys file path: the .b32.i2p name i2pd logged for it}.
std::map<std::string, std::string> i2pd_made_keys(const fs::path& dir) {
  fs::path data = dir / "i2pd-data";
  fs::create_directories(data);
  fs::create_directories(dir / "i2pd-tunnels.d");
  fs::path log = dir / "i2pd.log";
  std::string conf =
      "log = file\nloglevel = info\nhost = 127.0.0.1\naddress4 = 127.0.0.1\nport = " +
      std::to_string(free_port()) +
      "\nnat = false\nipv4 = true\nipv6 = false\ndaemon = false\nservice = false\n"
      "[ntcp2]\nenabled = true\npublished = false\n[ssu2]\nenabled = false\n"
      "[reseed]\nurls =\nyggurls =\nthreshold = 0\n[addressbook]\nenabled = false\n"
      "[http]\nenabled = false\n[httpproxy]\nenabled = false\n[sam]\nenabled = false\n"
      "[bob]\nenabled = false\n[i2cp]\nenabled = false\n[i2pcontrol]\nenabled = false\n"
      "[upnp]\nenabled = false\n[nettime]\nenabled = false\n"
      "[socksproxy]\nenabled = true\naddress = 127.0.0.1\nport = " +
      std::to_string(free_port()) + "\nkeys = nightjar-inner-link.dat\n";
  write(dir / "i2pd.conf", conf);
  // ECDSA-P521 signing keys carry 4 bytes in the key certificate (8 in all); X25519 crypto keys
  // change the private part's length.
  write(dir / "tunnels.conf",
        "[p521]\ntype = server\nhost = 127.0.0.1\nport = 1\nkeys = p521.dat\nsignaturetype = 3\n"
        "[x25519]\ntype = server\nhost = 127.0.0.1\nport = 2\nkeys = x25519.dat\n"
        "cryptotype = 4\n");
  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execlp("i2pd", "i2pd", ("--datadir=" + data.string()).c_str(),
           ("--conf=" + (dir / "i2pd.conf").string()).c_str(),
           ("--tunconf=" + (dir / "tunnels.conf").string()).c_str(),
           ("--tunnelsdir=" + (dir / "i2pd-tunnels.d").string()).c_str(),
           ("--pidfile=" + (dir / "i2pd.pid").string()).c_str(),
           ("--logfile=" + log.string()).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string text;
  bool exited = false;
  while (std::chrono::steady_clock::now() < deadline) {
    text = slurp(log);
    if (text.find("I2P server tunnels created") != std::string::npos) break;
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  BOOST_REQUIRE_MESSAGE(text.find("I2P server tunnels created") != std::string::npos,
                        "i2pd made no tunnels (is Debian's i2pd installed?):\n"
                            << text);
  std::map<std::string, std::string> made;
  std::regex line("New private keys file (\\S+) for ([a-z2-7]{52}\\.b32\\.i2p) created");
  for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it)
    made[(*it)[1]] = (*it)[2];
  return made;
}

}  // namespace

BOOST_AUTO_TEST_CASE(i2p_b32_is_the_name_i2pd_logs_for_its_keys_file) {
  World w;
  auto made = i2pd_made_keys(w.dir);
  fs::path data = w.dir / "i2pd-data";
  for (auto f : {"nightjar-inner-link.dat", "p521.dat", "x25519.dat"})
    BOOST_TEST(made.count((data / f).string()) == 1u, f);
  // The P521 file has the longer certificate; the X25519 one a shorter private part.
  BOOST_TEST(slurp(data / "p521.dat").substr(384, 3) == std::string("\x05\x00\x08", 3));
  BOOST_TEST(fs::file_size(data / "x25519.dat") != fs::file_size(data / "nightjar-inner-link.dat"));
  for (const auto& [path, logged] : made) {
    auto b32 = nj::ctl::read_i2p_keys_b32(path);
    BOOST_REQUIRE_MESSAGE(b32.ok(), (b32.ok() ? std::string() : b32.error()));
    BOOST_TEST(*b32 == logged, path);
  }
  // And the check can fail: one flipped byte of the destination is another name.
  std::string keys = slurp(data / "nightjar-inner-link.dat");
  keys[10] = static_cast<char>(keys[10] ^ 1);
  auto other = nj::ctl::i2p_keys_b32(keys);
  BOOST_REQUIRE(other.ok());
  BOOST_TEST(*other != made[(data / "nightjar-inner-link.dat").string()]);
  // Only the destination counts: a changed private part is the same name.
  keys = slurp(data / "nightjar-inner-link.dat");
  keys.back() = static_cast<char>(keys.back() ^ 1);
  BOOST_TEST(*nj::ctl::i2p_keys_b32(keys) == made[(data / "nightjar-inner-link.dat").string()]);
}

BOOST_AUTO_TEST_CASE(i2p_keys_reader_refuses_what_is_not_a_keys_file) {
  auto refused = [](const std::string& keys, const std::string& why) {
    auto r = nj::ctl::i2p_keys_b32(keys);
    BOOST_TEST(!r.ok(), why);
    if (!r.ok()) BOOST_TEST(r.error().find(why) != std::string::npos, r.error());
  };
  refused("", "empty");
  refused(std::string(386, 'k'), "too short");
  refused(with_cert(3, 4, 4, 64), "certificate type 3");
  refused(with_cert(0, 4, 4, 64), "an empty certificate (type 0) with 4 bytes");
  refused(with_cert(5, 2, 2, 64), "a key certificate of 2 bytes");
  refused(with_cert(5, 4097, 4097, 64), "a key certificate of 4097 bytes");
  refused(with_cert(5, 8, 4, 0), "ends inside");
  refused(with_cert(5, 4, 4, 0), "ends after its destination");
  BOOST_TEST(nj::ctl::i2p_keys_b32(with_cert(5, 4, 4, 1)).ok());
  BOOST_TEST(nj::ctl::i2p_keys_b32(with_cert(0, 0, 0, 1)).ok());
  BOOST_TEST(nj::ctl::i2p_keys_b32(with_cert(5, 4096, 4096, 1)).ok());

  World w;
  auto missing = nj::ctl::read_i2p_keys_b32((w.dir / "nightjar-inner-link.dat").string());
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(
      missing.error().find("no such file (i2pd writes it when it starts") != std::string::npos,
      missing.error());
  auto dir = nj::ctl::read_i2p_keys_b32(w.dir.string());
  BOOST_REQUIRE(!dir.ok());
  BOOST_TEST(dir.error() == w.dir.string() + ": not a regular file");
  // A long file is read only as far as needed.
  write(w.dir / "long.dat", with_cert(5, 4, 4, 1 << 20));
  auto long_file = nj::ctl::read_i2p_keys_b32((w.dir / "long.dat").string());
  BOOST_REQUIRE(long_file.ok());
  BOOST_TEST(*long_file == *nj::ctl::i2p_keys_b32(with_cert(5, 4, 4, 1)));
}

BOOST_AUTO_TEST_CASE(spf_dmarc_and_dkim_records_beside_the_mx_records) {
  World w;
  const std::string kAuthPart = "# ---- DNS: SPF, DMARC and DKIM, in each public domain's zone ----";
  // Without dkim: SPF and DMARC for each public domain, once, and a word on the missing keys.
  std::string out, err;
  BOOST_TEST(run_edge(w.edge_args("tor", "mx1", w.edge_yaml), out, err) == 0, err);
  std::string auth = part(out, kAuthPart);
  BOOST_TEST(config_lines(auth) ==
                 "example.test. IN TXT \"v=spf1 mx -all\"\n"
                 "_dmarc.example.test. IN TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\"\n"
                 "example.org. IN TXT \"v=spf1 mx -all\"\n"
                 "_dmarc.example.org. IN TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\"\n",
             auth);
  BOOST_TEST(config_lines(auth).find("rua=") == std::string::npos);
  BOOST_TEST(config_lines(auth).find("ruf=") == std::string::npos);
  BOOST_TEST(flat(auth).find("Edge mx1 signs nothing") != std::string::npos, auth);
  // The MX part is as it was: the new records are a part of their own.
  BOOST_TEST(config_lines(part(out, "# ---- DNS: publish in each public domain's zone ----")) ==
             config_lines(nj::ctl::dns_records(w.facts(), true)));

  // With keys: this edge's DKIM records, made from the key files' public halves.
  auto ed = nj::edge::dkim::generate_key(nj::edge::dkim::Algorithm::ed25519);
  auto rsa = nj::edge::dkim::generate_key(nj::edge::dkim::Algorithm::rsa);
  BOOST_REQUIRE(ed.ok() && rsa.ok());
  BOOST_REQUIRE(nj::edge::dkim::write_key((w.dir / "ed.key").string(), *ed).ok());
  BOOST_REQUIRE(nj::edge::dkim::write_key((w.dir / "rsa.key").string(), *rsa).ok());
  fs::path signing = w.edge_file(
      "signing", "mx.nightjar.test", 2601, 2526,
      "dkim:\n"
      "  - {domain: example.org, selector: mx1-ed, algorithm: ed25519, key: " +
          (w.dir / "ed.key").string() +
          "}\n"
          "  - {domain: example.org, selector: mx1-rsa, algorithm: rsa, key: " +
          (w.dir / "rsa.key").string() + "}\n");
  BOOST_TEST(run_edge(w.edge_args("tor", "mx1", signing), out, err) == 0, err);
  auth = part(out, kAuthPart);
  std::string lines = config_lines(auth);
  BOOST_TEST(lines.find("mx1-ed._domainkey.example.org. IN TXT \"v=DKIM1; k=ed25519; p=" +
                        ed->public_b64 + "\"\n") != std::string::npos,
             auth);
  BOOST_TEST(lines.find(nj::edge::dkim::txt_record("mx1-rsa", "example.org", *rsa) + "\n") !=
                 std::string::npos,
             auth);
  BOOST_TEST(auth.find("PRIVATE") == std::string::npos);
  BOOST_TEST(flat(auth).find("signs nothing") == std::string::npos, auth);

  // A key this user cannot read (here: gone) is named with the command that prints its record.
  fs::remove(w.dir / "rsa.key");
  BOOST_TEST(run_edge(w.edge_args("tor", "mx1", signing), out, err) == 0, err);
  auth = part(out, kAuthPart);
  BOOST_TEST(config_lines(auth).find("mx1-rsa._domainkey") == std::string::npos, auth);
  BOOST_TEST(flat(auth).find("No record for selector mx1-rsa of example.org: ") !=
                 std::string::npos,
             auth);
  BOOST_TEST(flat(auth).find("nightjarctl dkim record --domain example.org --selector mx1-rsa "
                             "--algorithm rsa --key FILE") != std::string::npos,
             auth);
}
