#define BOOST_TEST_MODULE ctl_overlay
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "inner/ctl/overlay.h"

namespace fs = std::filesystem;
using nj::ctl::OverlayOptions;

namespace {

constexpr const char* kLinkOnion = "p53lf57qovyuvwsc6xnrppyply3vtqm7l6pcobkmyqsiofyeznfu5uqd";
constexpr const char* kMxOnion = "2wgaaq36xkv54atswgwf7jgn62uxtzkbypgf6py5w3duecbwvtrd5mid";

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

// Only the lines a daemon reads: the comments around them are for the operator.
std::string config_lines(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out += line + "\n";
  return out;
}

struct World {
  fs::path dir;
  fs::path inner_yaml, edge_yaml;
  World(const std::string& inner_edge_section = std::string("edge:\n  address: \"") + kLinkOnion +
                                                ".onion:2600\"\n  transport: tor\n"
                                                "  socks: 127.0.0.1:9050\n") {
    char tmpl[] = "/tmp/nj-ctl-overlay-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    fs::create_directories(dir / "data");
    fs::create_directories(dir / "edata");
    fs::create_directories(dir / "tor");
    for (auto f : {"inner.secret", "edge.pub", "edge.secret", "inner.pub"}) write(dir / f, "x\n");
    inner_yaml = dir / "inner.yaml";
    edge_yaml = dir / "edge.yaml";
    write(inner_yaml,
          "hostname: mail.nightjar.test\n"
          "data_dir: " +
              (dir / "data").string() +
              "\n"
              "domain:\n  internal: example.i2p\n  public: example.test\n"
              "listen:\n  submission: [127.0.0.1:5870, 127.0.0.2:5870]\n"
              "  pop3: [127.0.0.1:1100]\n"
              "keys:\n  inner_secret: " +
              (dir / "inner.secret").string() +
              "\n"
              "  edge_public: " +
              (dir / "edge.pub").string() + "\n" + inner_edge_section);
    write(edge_yaml,
          "hostname: mx.nightjar.test\n"
          "data_dir: " +
              (dir / "edata").string() +
              "\n"
              "domains:\n  - public: example.test\n    internal: example.i2p\n"
              "  - public: example.org\n    internal: org.i2p\n"
              "listen:\n  mx: [127.0.0.1:2525]\n  onion_mx: [127.0.0.1:2526]\n"
              "  link: [127.0.0.1:2601]\n"
              "keys:\n  edge_secret: " +
              (dir / "edge.secret").string() +
              "\n"
              "  inner_public: " +
              (dir / "inner.pub").string() + "\n");
  }
  ~World() { fs::remove_all(dir); }
  nj::inner::InnerConfig inner() {
    auto c = nj::inner::load(inner_yaml.string());
    BOOST_REQUIRE_MESSAGE(c.ok(), (c.ok() ? std::string() : c.error()));
    return *c;
  }
  nj::edge::EdgeConfig edge() {
    auto c = nj::edge::load(edge_yaml.string());
    BOOST_REQUIRE_MESSAGE(c.ok(), (c.ok() ? std::string() : c.error()));
    return *c;
  }
  OverlayOptions opts() {
    OverlayOptions o;
    o.tor_dir = (dir / "tor").string();
    return o;
  }
};

// Runs cmd_overlay with stdout and stderr captured; returns the exit status.
int run_overlay(const std::vector<std::string>& argv, std::string& out, std::string& err,
                const fs::path& dir) {
  std::vector<std::string_view> args(argv.begin(), argv.end());
  std::fflush(stdout);
  std::fflush(stderr);
  int saved_out = dup(1), saved_err = dup(2);
  int fo = open((dir / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int fe = open((dir / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fo, 1);
  dup2(fe, 2);
  int rc = nj::ctl::cmd_overlay(args);
  std::fflush(stdout);
  std::fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  for (int fd : {fo, fe, saved_out, saved_err}) close(fd);
  out = slurp(dir / "stdout");
  err = slurp(dir / "stderr");
  return rc;
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
  std::string t = nj::ctl::tor_inner(w.inner(), o);
  BOOST_TEST(config_lines(t) == "HiddenServiceDir " + o.tor_dir +
                                    "/nightjar-inner\n"
                                    "HiddenServicePort 587 127.0.0.1:5870\n"
                                    "HiddenServicePort 587 127.0.0.2:5870\n"
                                    "HiddenServicePort 110 127.0.0.1:1100\n"
                                    "SocksPort 127.0.0.1:9050 ExtendedErrors\n"
                                    "ClientOnionAuthDir " +
                                    o.tor_dir + "/nightjar-onion-auth\n");
  // The client key commands name the link onion from edge.address, so they run as printed.
  BOOST_TEST(t.find("#   $ install -d -m 0700 " + o.tor_dir + "/nightjar-onion-auth\n") !=
             std::string::npos);
  BOOST_TEST(t.find("#   $ echo \"" + std::string(kLinkOnion) +
                    ":descriptor:x25519:$(openssl pkey -in link-client.pem -outform DER | tail -c "
                    "32 | base32 | tr -d =)\" > " +
                    o.tor_dir + "/nightjar-onion-auth/edge-link.auth_private\n") !=
             std::string::npos);
  BOOST_TEST(t.find("#   $ openssl genpkey -algorithm x25519 -out link-client.pem\n") !=
             std::string::npos);
  BOOST_TEST(nj::ctl::link_onion_label(w.inner()) == kLinkOnion);
}

BOOST_AUTO_TEST_CASE(tor_inner_before_the_link_onion_is_known) {
  // The example configuration's placeholder: no key commands (the .auth_private file must name
  // the onion), but the lines tor reads are the same.
  World w(
      "edge:\n  address: \"replace-with-the-edges-link-service.onion:2600\"\n"
      "  transport: tor\n  socks: 127.0.0.1:9050\n");
  auto o = w.opts();
  BOOST_TEST(nj::ctl::link_onion_label(w.inner()).empty());
  std::string t = nj::ctl::tor_inner(w.inner(), o);
  BOOST_TEST(t.find("#   $ ") == std::string::npos);
  BOOST_TEST(t.find("edge.address does not name the link\n# onion yet") != std::string::npos);
  BOOST_TEST(t.find("\nClientOnionAuthDir " + o.tor_dir + "/nightjar-onion-auth\n") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(tor_inner_without_edge_dials_nothing) {
  World w("");
  auto o = w.opts();
  std::string t = nj::ctl::tor_inner(w.inner(), o);
  BOOST_TEST(config_lines(t) == "HiddenServiceDir " + o.tor_dir +
                                    "/nightjar-inner\n"
                                    "HiddenServicePort 587 127.0.0.1:5870\n"
                                    "HiddenServicePort 587 127.0.0.2:5870\n"
                                    "HiddenServicePort 110 127.0.0.1:1100\n");
  BOOST_TEST(t.find("the inner dials nothing") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tor_edge_lines_and_client_auth_instructions) {
  World w;
  auto o = w.opts();
  auto in = w.inner();
  std::string t = nj::ctl::tor_edge(w.edge(), &in, o);
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
  BOOST_TEST(t.find("#   $ echo \"descriptor:x25519:$(cat link-client.pub)\" > " + link_dir +
                    "/authorized_clients/inner.auth\n") != std::string::npos);
  BOOST_TEST(t.find("edge.address to <that name>:2600") != std::string::npos);
  // Without the inner, the edge's own listener port is the virtual port.
  std::string alone = nj::ctl::tor_edge(w.edge(), nullptr, o);
  BOOST_TEST(alone.find("\nHiddenServicePort 2601 127.0.0.1:2601\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tor_edge_socks_port_for_onion_delivery) {
  // The edge delivers to OnionMX domains through outbound.socks: its tor must listen there.
  World w;
  {
    std::ofstream f(w.edge_yaml, std::ios::app);
    f << "outbound:\n  socks: 127.0.0.1:9150\n";
  }
  auto o = w.opts();
  auto in = w.inner();
  std::string t = nj::ctl::tor_edge(w.edge(), &in, o);
  BOOST_TEST(config_lines(t).rfind("SocksPort 127.0.0.1:9150 ExtendedErrors\nHiddenServiceDir ", 0) == 0);
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

}  // namespace

BOOST_AUTO_TEST_CASE(client_auth_commands_make_tor_files) {
  // The printed commands, run as printed, leave files in tor's formats: the inner's
  // "<onion>:descriptor:x25519:<52 base32>" and the edge's "descriptor:x25519:<52 base32>".
  // (That tor accepts the pair is shown end to end by tests/e2e/t_68_overlay_tor.py.)
  World w;
  auto o = w.opts();
  auto in = w.inner();
  fs::create_directories(w.dir / "work");
  BOOST_REQUIRE(run_printed_commands(nj::ctl::tor_inner(in, o), w.dir / "work") == 0);
  BOOST_REQUIRE(run_printed_commands(nj::ctl::tor_edge(w.edge(), &in, o), w.dir / "work") == 0);
  auto b32 = [](const std::string& s) {
    return s.size() == 52 && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == s.npos;
  };
  std::string priv = slurp(w.dir / "tor" / "nightjar-onion-auth" / "edge-link.auth_private");
  std::string prefix = std::string(kLinkOnion) + ":descriptor:x25519:";
  BOOST_TEST(priv.rfind(prefix, 0) == 0, priv);
  BOOST_TEST(priv.size() == prefix.size() + 53);
  BOOST_TEST(b32(priv.substr(prefix.size(), 52)), priv);
  BOOST_TEST(priv.back() == '\n');
  std::string pub =
      slurp(w.dir / "tor" / "nightjar-edge-link" / "authorized_clients" / "inner.auth");
  BOOST_TEST(pub.rfind("descriptor:x25519:", 0) == 0, pub);
  BOOST_TEST(pub.size() == 18 + 53);
  BOOST_TEST(b32(pub.substr(18, 52)), pub);
  BOOST_TEST(pub.substr(18, 52) != priv.substr(prefix.size(), 52));
  // The private key file is gone; the directories are private (tor checks their modes).
  BOOST_TEST(!fs::exists(w.dir / "work" / "link-client.pem"));
  for (auto d : {w.dir / "tor" / "nightjar-onion-auth", w.dir / "tor" / "nightjar-edge-link",
                 w.dir / "tor" / "nightjar-edge-link" / "authorized_clients"})
    BOOST_TEST(static_cast<unsigned>(fs::status(d).permissions() & fs::perms::all) == 0700u,
               d.string());
}

BOOST_AUTO_TEST_CASE(srv_records) {
  World w;
  auto o = w.opts();
  std::string t = nj::ctl::tor_dns(w.edge(), o);
  BOOST_TEST(config_lines(t) ==
             "_onion-mx._tcp.example.test. IN SRV 0 0 25 EDGE-MX-ONION.onion.\n"
             "_onion-mx._tcp.example.org. IN SRV 0 0 25 EDGE-MX-ONION.onion.\n");
  BOOST_TEST(t.find("--edge-onion NAME") != std::string::npos);
  o.edge_onion = std::string(kMxOnion) + ".onion";
  BOOST_TEST(nj::ctl::tor_dns(w.edge(), o) == "_onion-mx._tcp.example.test. IN SRV 0 0 25 " +
                                                  std::string(kMxOnion) +
                                                  ".onion.\n"
                                                  "_onion-mx._tcp.example.org. IN SRV 0 0 25 " +
                                                  std::string(kMxOnion) + ".onion.\n");
}

BOOST_AUTO_TEST_CASE(i2p_sections) {
  World w("edge:\n  address: \"edgelink.i2p:2600\"\n  transport: i2p\n  socks: 127.0.0.1:4447\n");
  auto in = w.inner();
  BOOST_TEST(config_lines(nj::ctl::i2p_inner(in)) ==
             "[nightjar-inner-submission]\ntype = server\nhost = 127.0.0.1\nport = 5870\n"
             "inport = 587\nkeys = nightjar-inner.dat\n"
             "[nightjar-inner-pop3]\ntype = server\nhost = 127.0.0.1\nport = 1100\n"
             "inport = 110\nkeys = nightjar-inner.dat\n"
             "[socksproxy]\nenabled = true\naddress = 127.0.0.1\nport = 4447\n"
             "keys = nightjar-inner-link.dat\n");
  BOOST_TEST(nj::ctl::i2p_inner(in).find("# not exposed over I2P (one target per tunnel): "
                                         "127.0.0.2:5870\n") != std::string::npos);
  std::string e = nj::ctl::i2p_edge(w.edge(), &in);
  BOOST_TEST(config_lines(e) ==
             "[nightjar-edge-link]\ntype = server\nhost = 127.0.0.1\nport = 2601\n"
             "inport = 2600\nkeys = nightjar-edge-link.dat\n"
             "[nightjar-edge-mx]\ntype = server\nhost = 127.0.0.1\nport = 2526\n"
             "inport = 25\nkeys = nightjar-edge-mx.dat\n");
  BOOST_TEST(e.find("# accesslist = INNER-LINK-DESTINATION.b32.i2p\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tor_accepts_the_generated_lines) {
  World w;
  auto o = w.opts();
  auto in = w.inner();
  std::string out;
  // As the generated commands do: the ClientOnionAuthDir must exist.
  BOOST_TEST(nj::ctl::tor_inner(in, o).find("$ install -d -m 0700 " + o.tor_dir +
                                            "/nightjar-onion-auth\n") != std::string::npos);
  fs::create_directories(w.dir / "tor" / "nightjar-onion-auth");
  fs::permissions(w.dir / "tor" / "nightjar-onion-auth", fs::perms::owner_all,
                  fs::perm_options::replace);
  int rc = tor_verify(w.dir, "inner", nj::ctl::tor_inner(in, o), out);
  BOOST_TEST(rc == 0, "tor --verify-config (inner): " << out);
  rc = tor_verify(w.dir, "edge", nj::ctl::tor_edge(w.edge(), &in, o), out);
  BOOST_TEST(rc == 0, "tor --verify-config (edge): " << out);
  // And the check can fail: a mangled line is refused.
  rc = tor_verify(w.dir, "broken", "SocksPort 0\nHiddenServicePort 587 127.0.0.1:5870\n", out);
  BOOST_TEST(rc != 0, "tor accepted a HiddenServicePort without a HiddenServiceDir");
}

BOOST_AUTO_TEST_CASE(command_output_and_errors) {
  World w;
  std::string out, err;
  auto o = w.opts();
  int rc = run_overlay({"tor", "--inner-config", w.inner_yaml.string(), "--edge-config",
                        w.edge_yaml.string(), "--edge-onion", kMxOnion, "--tor-dir", o.tor_dir},
                       out, err, w.dir);
  BOOST_TEST(rc == 0, err);
  auto in = w.inner();
  o.edge_onion = std::string(kMxOnion) + ".onion";
  BOOST_TEST(out.find(nj::ctl::tor_inner(in, o)) != std::string::npos);
  BOOST_TEST(out.find(nj::ctl::tor_edge(w.edge(), &in, o)) != std::string::npos);
  BOOST_TEST(out.find("_onion-mx._tcp.example.test. IN SRV 0 0 25 " + o.edge_onion + ".\n") !=
             std::string::npos);
  BOOST_TEST(out.find("# ---- torrc on the edge's machine ----\n") != std::string::npos);

  // `nightjarctl --config FILE overlay tor` passes the global option after the command's own.
  std::string via_global;
  BOOST_TEST(run_overlay({"tor", "--tor-dir", o.tor_dir, "--config", w.inner_yaml.string()},
                         via_global, err, w.dir) == 0);
  BOOST_TEST(via_global.find(nj::ctl::tor_inner(in, o)) != std::string::npos);

  BOOST_TEST(run_overlay({}, out, err, w.dir) == 2);
  BOOST_TEST(run_overlay({"gnunet", "--inner-config", w.inner_yaml.string()}, out, err, w.dir) ==
             2);
  BOOST_TEST(err.find("unknown overlay 'gnunet'") != std::string::npos);
  BOOST_TEST(run_overlay({"tor"}, out, err, w.dir) == 2);
  BOOST_TEST(err.find("--inner-config FILE is required") != std::string::npos);
  BOOST_TEST(run_overlay({"tor", "--inner-config"}, out, err, w.dir) == 2);
  BOOST_TEST(run_overlay({"tor", "--inner-config", w.inner_yaml.string(), "--edge-config",
                          w.edge_yaml.string(), "--edge-onion", "nope.onion"},
                         out, err, w.dir) == 2);
  BOOST_TEST(err.find("--edge-onion: 'nope.onion' is not a v3 onion name") != std::string::npos);
  BOOST_TEST(run_overlay({"tor", "--inner-config", w.inner_yaml.string(), "--edge-onion", kMxOnion},
                         out, err, w.dir) == 2);
  BOOST_TEST(err.find("--edge-onion needs --edge-config") != std::string::npos);
  // A configuration problem is the loader's "file:line: key: problem".
  BOOST_TEST(run_overlay({"tor", "--inner-config", (w.dir / "missing.yaml").string()}, out, err,
                         w.dir) == 1);
  BOOST_TEST(err.find("missing.yaml") != std::string::npos);
  // The inner dials its edge over Tor: I2P tunnels would not let it.
  BOOST_TEST(run_overlay({"i2p", "--inner-config", w.inner_yaml.string()}, out, err, w.dir) == 1);
  BOOST_TEST(err.find("edge.transport is tor") != std::string::npos);
  BOOST_TEST(err.find("run 'nightjarctl overlay tor'") != std::string::npos);
}
