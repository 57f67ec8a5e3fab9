#define BOOST_TEST_MODULE ctl_overlay
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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
#include <vector>

#include "inner/ctl/overlay.h"

namespace fs = std::filesystem;
using nj::ctl::OverlayOptions;

namespace {

constexpr const char* kLinkOnion = "p53lf57qovyuvwsc6xnrppyply3vtqm7l6pcobkmyqsiofyeznfu5uqd";
constexpr const char* kMxOnion = "2wgaaq36xkv54atswgwf7jgn62uxtzkbypgf6py5w3duecbwvtrd5mid";
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
  o.edge_onion = std::string(kMxOnion) + ".onion";
  BOOST_TEST(nj::ctl::tor_dns(w.edge(), o) == "_onion-mx._tcp.example.test. IN SRV 0 0 25 " +
                                                  std::string(kMxOnion) +
                                                  ".onion.\n"
                                                  "_onion-mx._tcp.example.org. IN SRV 0 0 25 " +
                                                  std::string(kMxOnion) + ".onion.\n");
}

BOOST_AUTO_TEST_CASE(no_srv_record_before_the_onion_mx_name_is_given) {
  // Nothing to paste into a zone that names a stand-in: the part says what to pass, and where the
  // name is, instead.
  World w;
  auto o = w.opts();
  std::string t = nj::ctl::tor_dns(w.edge(), o);
  BOOST_TEST(config_lines(t) == "");
  BOOST_TEST(t.find("IN SRV") == std::string::npos, t);
  BOOST_TEST(t.find("_onion-mx") == std::string::npos, t);
  BOOST_TEST(t.find("The SRV records are not printed") != std::string::npos, t);
  BOOST_TEST(
      t.find("NAME is in " + o.tor_dir + "/nightjar-edge-mx/hostname there") != std::string::npos,
      t);
  BOOST_TEST(t.find("run this again with\n# --edge-onion NAME.\n") != std::string::npos, t);
  // The command prints the rest (the edge's torrc is what makes the name) and exits 0.
  std::string out, err;
  BOOST_TEST(run_overlay({"tor", "--inner-config", w.inner_yaml.string(), "--edge-config",
                          w.edge_yaml.string(), "--tor-dir", o.tor_dir},
                         out, err, w.dir) == 0);
  BOOST_TEST(err == "");
  auto in = w.inner();
  BOOST_TEST(out.find(nj::ctl::tor_edge(w.edge(), &in, o)) != std::string::npos);
  BOOST_TEST(out.find("# ---- DNS: publish in each public domain's zone ----\n" + t) !=
             std::string::npos);
  BOOST_TEST(out.find("IN SRV") == std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(either_file_may_be_a_copy_from_the_other_machine) {
  // As README step 4 runs it on the inner: edge.yaml is the edge's, naming the edge's keys,
  // certificate, onion map, data directory and user, none of which is on this machine; run on
  // the edge, inner.yaml names the inner's. Only names, ports and addresses are read.
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
            "  edge_public: " +
            gone +
            "/keys/edge.pub\n"
            "edge:\n  address: \"" +
            kLinkOnion +
            ".onion:2600\"\n  transport: tor\n"
            "  socks: 127.0.0.1:9050\n");
  // The premise: the daemons' own loads refuse both files here.
  auto edge_here = nj::edge::load(w.edge_yaml.string());
  BOOST_REQUIRE(!edge_here.ok());
  for (auto key : {"data_dir", "user", "tls.cert", "tls.key", "keys.edge_secret",
                   "keys.inner_public", "outbound.onion_map"})
    BOOST_TEST(edge_here.error().find(std::string(": ") + key + ": ") != std::string::npos,
               key << " in " << edge_here.error());
  auto inner_here = nj::inner::load(w.inner_yaml.string());
  BOOST_REQUIRE(!inner_here.ok());
  for (auto key : {"data_dir", "user", "keys.inner_secret", "keys.edge_public"})
    BOOST_TEST(inner_here.error().find(std::string(": ") + key + ": ") != std::string::npos,
               key << " in " << inner_here.error());

  auto o = w.opts();
  std::string out, err;
  BOOST_TEST(run_overlay({"tor", "--inner-config", w.inner_yaml.string(), "--edge-config",
                          w.edge_yaml.string(), "--edge-onion", kMxOnion, "--tor-dir", o.tor_dir},
                         out, err, w.dir) == 0,
             err);
  BOOST_TEST(err == "");
  BOOST_TEST(out.find("HiddenServicePort 587 127.0.0.1:5870\n") != std::string::npos, out);
  BOOST_TEST(out.find("SocksPort 127.0.0.1:9150 ExtendedErrors\n") != std::string::npos, out);
  BOOST_TEST(out.find("HiddenServicePort 2600 127.0.0.1:2601\n") != std::string::npos, out);
  BOOST_TEST(out.find("_onion-mx._tcp.example.test. IN SRV 0 0 25 " + std::string(kMxOnion) +
                      ".onion.\n") != std::string::npos,
             out);
  BOOST_TEST(out.find(gone) == std::string::npos, out);
  BOOST_TEST(run_overlay({"i2p", "--inner-config", w.inner_yaml.string()}, out, err, w.dir) == 1);
  BOOST_TEST(err.find("edge.transport is tor") != std::string::npos, err);

  // Every other check still runs, with the loaders' file:line: key: problem.
  std::string text = slurp(w.edge_yaml);
  auto at = text.find("data_dir: /");
  BOOST_REQUIRE(at != std::string::npos);
  text.replace(at, std::string("data_dir: /").size(), "data_dir: relative/");
  text += "limits:\n  max_recipients: 0\n";
  write(w.edge_yaml, text);
  BOOST_TEST(run_overlay({"tor", "--inner-config", w.inner_yaml.string(), "--edge-config",
                          w.edge_yaml.string()},
                         out, err, w.dir) == 1);
  BOOST_TEST(err.find(w.edge_yaml.string() + ":2: data_dir: \"relative/") != std::string::npos,
             err);
  BOOST_TEST(err.find(": limits.max_recipients: 0 is out of range") != std::string::npos, err);
  BOOST_TEST(err.find("keys.edge_secret") == std::string::npos, err);
}

BOOST_AUTO_TEST_CASE(i2p_sections) {
  World w("edge:\n  address: \"edgelink.i2p:2600\"\n  transport: i2p\n  socks: 127.0.0.1:4447\n");
  auto in = w.inner();
  auto o = w.opts();
  o.inner_link_b32 = std::string(kInnerLinkB32) + ".b32.i2p";
  BOOST_TEST(config_lines(nj::ctl::i2p_inner(in)) ==
             "[nightjar-inner-submission]\ntype = server\nhost = 127.0.0.1\nport = 5870\n"
             "inport = 587\nkeys = nightjar-inner.dat\n"
             "[nightjar-inner-pop3]\ntype = server\nhost = 127.0.0.1\nport = 1100\n"
             "inport = 110\nkeys = nightjar-inner.dat\n"
             "[socksproxy]\nenabled = true\naddress = 127.0.0.1\nport = 4447\n"
             "keys = nightjar-inner-link.dat\n");
  BOOST_TEST(nj::ctl::i2p_inner(in).find("# not exposed over I2P (one target per tunnel): "
                                         "127.0.0.2:5870\n") != std::string::npos);
  auto e = nj::ctl::i2p_edge(w.edge(), &in, o);
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
  BOOST_TEST(e->find(o.inner_link_b32) != std::string::npos);
  BOOST_TEST(e->find("INNER-LINK") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(i2p_edge_link_tunnel_refused_without_the_inner_link_destination) {
  World w("edge:\n  address: \"edgelink.i2p:2600\"\n  transport: i2p\n  socks: 127.0.0.1:4447\n");
  auto in = w.inner();
  auto e = nj::ctl::i2p_edge(w.edge(), &in, w.opts());
  BOOST_REQUIRE(!e.ok());
  BOOST_TEST(e.error().find("pass --inner-link-keys FILE") != std::string::npos, e.error());
  BOOST_TEST(e.error().find("/var/lib/i2pd/nightjar-inner-link.dat") != std::string::npos,
             e.error());
  // Without a link listener there is nothing to admit anyone to: the MX tunnel alone is printed.
  {
    std::string yaml = slurp(w.edge_yaml);
    auto at = yaml.find("  link: [127.0.0.1:2601]\n");
    BOOST_REQUIRE(at != std::string::npos);
    yaml.replace(at, std::string("  link: [127.0.0.1:2601]\n").size(), "  link: []\n");
    write(w.edge_yaml, yaml);
  }
  auto mx_only = nj::ctl::i2p_edge(w.edge(), &in, w.opts());
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

std::string with_cert(unsigned char type, size_t len, size_t payload, size_t after) {
  std::string k(384, 'k');
  k += static_cast<char>(type);
  k += static_cast<char>(len >> 8);
  k += static_cast<char>(len & 0xff);
  k += std::string(payload, '\0');
  k += std::string(after, 'p');
  return k;
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

BOOST_AUTO_TEST_CASE(i2p_command_needs_the_inner_link_keys_for_the_edge) {
  World w("edge:\n  address: \"edgelink.i2p:2600\"\n  transport: i2p\n  socks: 127.0.0.1:4447\n");
  std::string out, err;
  std::vector<std::string> base = {"i2p", "--inner-config", w.inner_yaml.string()};
  // The inner's part alone needs nothing more: it is what makes i2pd write the link keys.
  BOOST_TEST(run_overlay(base, out, err, w.dir) == 0, err);
  BOOST_TEST(out.find("keys = nightjar-inner-link.dat\n") != std::string::npos);
  BOOST_TEST(out.find("edge's part with --edge-config FILE --inner-link-keys KEYS, KEYS being\n"
                      "# nightjar-inner-link.dat in i2pd's data directory") != std::string::npos,
             out);
  // The edge's part without the inner's link destination: refused, nothing printed.
  auto with_edge = base;
  with_edge.insert(with_edge.end(), {"--edge-config", w.edge_yaml.string()});
  BOOST_TEST(run_overlay(with_edge, out, err, w.dir) == 1);
  BOOST_TEST(out.empty(), out);
  BOOST_TEST(err.find("nightjarctl overlay: the edge's link tunnel admits only the inner's link "
                      "destination, which is not known: pass --inner-link-keys FILE") == 0,
             err);

  auto made = i2pd_made_keys(w.dir);
  std::string keys = (w.dir / "i2pd-data" / "nightjar-inner-link.dat").string();
  std::string b32 = made[keys];
  BOOST_REQUIRE(b32.size() == 60u);
  auto full = with_edge;
  full.insert(full.end(), {"--inner-link-keys", keys});
  BOOST_TEST(run_overlay(full, out, err, w.dir) == 0, err);
  BOOST_TEST(out.find("\nkeys = nightjar-edge-link.dat\naccesslist = " + b32.substr(0, 52) +
                      "\n") != std::string::npos,
             out);
  BOOST_TEST(out.find("# accesslist") == std::string::npos);

  // Usage and file problems.
  BOOST_TEST(run_overlay({"tor", "--inner-config", w.inner_yaml.string(), "--edge-config",
                          w.edge_yaml.string(), "--inner-link-keys", keys},
                         out, err, w.dir) == 2);
  BOOST_TEST(err.find("--inner-link-keys is for i2p") != std::string::npos, err);
  BOOST_TEST(
      run_overlay({"i2p", "--inner-config", w.inner_yaml.string(), "--inner-link-keys", keys}, out,
                  err, w.dir) == 2);
  BOOST_TEST(err.find("it needs --edge-config") != std::string::npos, err);
  auto wrong = with_edge;
  wrong.insert(wrong.end(), {"--inner-link-keys", (w.dir / "nightjar-inner.dat").string()});
  BOOST_TEST(run_overlay(wrong, out, err, w.dir) == 1);
  BOOST_TEST(err.find("is the inner's mail destination") != std::string::npos, err);
  auto missing = with_edge;
  missing.insert(missing.end(), {"--inner-link-keys", (w.dir / "nope.dat").string()});
  BOOST_TEST(run_overlay(missing, out, err, w.dir) == 1);
  BOOST_TEST(err.find("--inner-link-keys: " + (w.dir / "nope.dat").string() + ": no such file") !=
                 std::string::npos,
             err);
  BOOST_TEST(out.empty());
}
