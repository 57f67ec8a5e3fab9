#define BOOST_TEST_MODULE config
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/config/document.h"
#include "common/config/types.h"

using namespace nj::config;
using namespace std::chrono_literals;

namespace {

template <class T>
T good(const Type<T>& t, std::string_view s) {
  auto r = t.parse(s);
  BOOST_TEST_INFO("input: " << s);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  return *r;
}

template <class T>
std::string bad(const Type<T>& t, std::string_view s) {
  auto r = t.parse(s);
  BOOST_TEST_INFO("input: " << s);
  BOOST_REQUIRE(!r.ok());
  return r.error();
}

// What check_here says about a value parse accepted ("" when this machine has no objection).
template <class T>
std::string here(const Type<T>& t, std::string_view s) {
  T v = good(t, s);
  BOOST_REQUIRE(t.check_here);
  return t.check_here(v);
}

// Printing a value as a YAML scalar and reading that YAML again gives the same value.
template <class T>
void round_trips(const Type<T>& t, std::string_view s) {
  T v = good(t, s);
  std::string printed = t.print(v);
  BOOST_TEST_INFO("printed: " << printed);
  auto doc = parse_yaml("- " + printed + "\n", "rt");
  BOOST_REQUIRE(doc.ok());
  BOOST_REQUIRE_EQUAL(doc->items.size(), 1u);
  BOOST_CHECK(good(t, doc->items[0].scalar) == v);
}

}  // namespace

BOOST_AUTO_TEST_CASE(booleans_are_only_true_and_false) {
  BOOST_CHECK_EQUAL(good(boolean(), "true"), true);
  BOOST_CHECK_EQUAL(good(boolean(), "false"), false);
  BOOST_CHECK_EQUAL(bad(boolean(), "yes"), "\"yes\" is not true or false");
  BOOST_CHECK_EQUAL(bad(boolean(), "NO"), "\"NO\" is not true or false");
  BOOST_CHECK_EQUAL(bad(boolean(), "1"), "\"1\" is not true or false");
}

BOOST_AUTO_TEST_CASE(integers_are_decimal_and_ranged) {
  auto t = integer<int>(-5, 100);
  BOOST_CHECK_EQUAL(good(t, "0"), 0);
  BOOST_CHECK_EQUAL(good(t, "100"), 100);
  BOOST_CHECK_EQUAL(good(t, "-5"), -5);
  BOOST_CHECK_EQUAL(bad(t, "101"), "101 is out of range (-5 to 100)");
  BOOST_CHECK_EQUAL(bad(t, "-6"), "-6 is out of range (-5 to 100)");
  BOOST_CHECK_EQUAL(bad(t, "abc"), "\"abc\" is not an integer");
  BOOST_CHECK_EQUAL(bad(t, "1.5"), "\"1.5\" is not an integer");
  BOOST_CHECK_EQUAL(bad(t, "0x10"), "\"0x10\" is not an integer");
  BOOST_CHECK_EQUAL(bad(t, "+3"), "\"+3\" is not an integer");
  BOOST_CHECK_EQUAL(bad(t, ""), "\"\" is not an integer");
  BOOST_CHECK_EQUAL(bad(t, "-"), "\"-\" is not an integer");
  BOOST_CHECK_EQUAL(bad(t, "99999999999999999999999"),
                    "\"99999999999999999999999\" is not an integer");
  BOOST_CHECK_EQUAL(bad(t, "18446744073709551615"), "out of range");
  auto wide = integer<std::int64_t>(INT64_MIN, INT64_MAX);
  BOOST_CHECK_EQUAL(good(wide, "-9223372036854775808"), INT64_MIN);
  BOOST_CHECK_EQUAL(good(wide, "9223372036854775807"), INT64_MAX);
  BOOST_CHECK_EQUAL(bad(wide, "9223372036854775808"), "out of range");
}

BOOST_AUTO_TEST_CASE(durations_need_a_unit) {
  auto t = duration(0ms, 365 * 24h);
  BOOST_CHECK(good(t, "300s") == 300s);
  BOOST_CHECK(good(t, "10m") == 10min);
  BOOST_CHECK(good(t, "2h") == 2h);
  BOOST_CHECK(good(t, "2d") == 48h);
  BOOST_CHECK(good(t, "1w") == 168h);
  BOOST_CHECK(good(t, "250ms") == 250ms);
  BOOST_CHECK(good(t, "0") == 0ms);
  BOOST_CHECK(good(t, "0s") == 0ms);
  BOOST_CHECK_EQUAL(bad(t, "300"), "\"300\" needs a unit");
  BOOST_CHECK_EQUAL(bad(t, "5x"), "\"5x\" has an unknown unit");
  BOOST_CHECK_EQUAL(bad(t, "5 s"), "\"5 s\" has an unknown unit");
  BOOST_CHECK_EQUAL(bad(t, "1h30m"), "\"1h30m\" has an unknown unit");
  BOOST_CHECK_EQUAL(bad(t, "s"), "\"s\" is not a duration (units ms, s, m, h, d, w)");
  BOOST_CHECK_EQUAL(bad(t, "-1s"), "\"-1s\" is not a duration (units ms, s, m, h, d, w)");
  BOOST_CHECK_EQUAL(bad(t, "53w"), "53w is out of range (0 to 365d)");
  BOOST_CHECK_EQUAL(bad(t, "99999999999999999w"), "out of range");
  BOOST_CHECK_EQUAL(bad(duration(1s, 1h), "500ms"), "500ms is out of range (1s to 1h)");
  BOOST_CHECK_EQUAL(bad(duration(1s, 1h), "0"), "0 is out of range (1s to 1h)");
  BOOST_CHECK_EQUAL(format_duration(90s), "90s");
  BOOST_CHECK_EQUAL(format_duration(120s), "2m");
  BOOST_CHECK_EQUAL(format_duration(14 * 24h), "2w");
  BOOST_CHECK_EQUAL(format_duration(1500ms), "1500ms");
  round_trips(t, "36h");
  round_trips(t, "0");
}

BOOST_AUTO_TEST_CASE(sizes_are_binary_multiples) {
  auto t = size(0, 1ull << 40);
  BOOST_CHECK_EQUAL(good(t, "100B"), 100u);
  BOOST_CHECK_EQUAL(good(t, "512K"), 512u * 1024);
  BOOST_CHECK_EQUAL(good(t, "35M"), 35u * 1024 * 1024);
  BOOST_CHECK_EQUAL(good(t, "1G"), 1024u * 1024 * 1024);
  BOOST_CHECK_EQUAL(good(t, "0"), 0u);
  BOOST_CHECK_EQUAL(bad(t, "1024"), "\"1024\" needs a unit");
  BOOST_CHECK_EQUAL(bad(t, "35MB"), "\"35MB\" has an unknown unit");
  BOOST_CHECK_EQUAL(bad(t, "35m"), "\"35m\" has an unknown unit");
  BOOST_CHECK_EQUAL(bad(t, "1.5M"), "\"1.5M\" has an unknown unit");
  BOOST_CHECK_EQUAL(bad(size(1024, 1ull << 20), "2M"), "2M is out of range (1K to 1M)");
  BOOST_CHECK_EQUAL(format_size(1536), "1536B");
  BOOST_CHECK_EQUAL(format_size(3ull << 30), "3G");
  round_trips(t, "1536K");
}

BOOST_AUTO_TEST_CASE(endpoints_are_numeric_or_localhost) {
  auto t = endpoint();
  Endpoint e = good(t, "192.0.2.1:25");
  BOOST_CHECK_EQUAL(e.host, "192.0.2.1");
  BOOST_CHECK_EQUAL(e.port, 25);
  BOOST_CHECK(!e.ipv6);
  e = good(t, "[2001:db8::1]:2525");
  BOOST_CHECK_EQUAL(e.host, "2001:db8::1");
  BOOST_CHECK_EQUAL(e.port, 2525);
  BOOST_CHECK(e.ipv6);
  BOOST_CHECK_EQUAL(e.str(), "[2001:db8::1]:2525");
  BOOST_CHECK_EQUAL(good(t, "localhost:53").str(), "127.0.0.1:53");
  BOOST_CHECK_EQUAL(good(t, "[::]:65535").str(), "[::]:65535");
  BOOST_CHECK_EQUAL(bad(t, "192.0.2.1"), "\"192.0.2.1\" has no port");
  BOOST_CHECK_EQUAL(bad(t, "192.0.2.1:0"), "\"192.0.2.1:0\": the port must be 1 to 65535");
  BOOST_CHECK_EQUAL(bad(t, "192.0.2.1:65536"), "\"192.0.2.1:65536\": the port must be 1 to 65535");
  BOOST_CHECK_EQUAL(bad(t, "192.0.2.1:smtp"), "\"192.0.2.1:smtp\": the port must be 1 to 65535");
  BOOST_CHECK_EQUAL(bad(t, "mx.example.org:25"),
                    "\"mx.example.org:25\": \"mx.example.org\" is not an IPv4 address (the only "
                    "name allowed is localhost)");
  BOOST_CHECK_EQUAL(bad(t, "192.0.2.300:25"),
                    "\"192.0.2.300:25\": \"192.0.2.300\" is not an IPv4 address (the only name "
                    "allowed is localhost)");
  BOOST_CHECK_EQUAL(bad(t, "2001:db8::1:25"),
                    "\"2001:db8::1:25\": an IPv6 address needs brackets: [address]:port");
  BOOST_CHECK_EQUAL(bad(t, "[2001:db8::1]25"),
                    "\"[2001:db8::1]25\" is not an address:port (like 192.0.2.1:25 or [::1]:25)");
  BOOST_CHECK_EQUAL(bad(t, "[192.0.2.1]:25"),
                    "\"[192.0.2.1]:25\": \"192.0.2.1\" is not an IPv6 address");
  round_trips(t, "[::1]:25");
  round_trips(t, "10.0.0.1:587");
}

BOOST_AUTO_TEST_CASE(paths_are_absolute_and_checked_here_when_asked) {
  char dir_tmpl[] = "/tmp/nj-config-test-XXXXXX";
  BOOST_REQUIRE(mkdtemp(dir_tmpl) != nullptr);
  std::string dir = dir_tmpl, file = dir + "/f";
  std::ofstream(file) << "x";

  BOOST_CHECK_EQUAL(good(path(PathCheck::none), "/does/not/exist"), "/does/not/exist");
  BOOST_CHECK(!path(PathCheck::none).check_here);
  for (PathCheck c : {PathCheck::none, PathCheck::directory, PathCheck::readable_file}) {
    BOOST_CHECK_EQUAL(bad(path(c), "relative/p"), "\"relative/p\" is not an absolute path");
    BOOST_CHECK_EQUAL(bad(path(c), ""), "must not be empty");
    BOOST_CHECK_EQUAL(bad(path(c), "/" + std::string(4095, 'a')), "longer than 4095 bytes");
  }
  // Existence is this machine's question: parse takes any absolute path, check_here answers it.
  BOOST_CHECK_EQUAL(good(path(PathCheck::directory), dir + "/nope"), dir + "/nope");
  BOOST_CHECK_EQUAL(good(path(PathCheck::readable_file), dir + "/nope"), dir + "/nope");
  BOOST_CHECK_EQUAL(here(path(PathCheck::directory), dir), "");
  BOOST_CHECK_EQUAL(here(path(PathCheck::directory), file), file + ": not a directory");
  BOOST_CHECK_EQUAL(here(path(PathCheck::directory), dir + "/nope"),
                    dir + "/nope: No such file or directory");
  BOOST_CHECK_EQUAL(here(path(PathCheck::readable_file), file), "");
  BOOST_CHECK_EQUAL(here(path(PathCheck::readable_file), dir), dir + ": not a regular file");
  BOOST_CHECK_EQUAL(here(path(PathCheck::readable_file), dir + "/nope"),
                    dir + "/nope: No such file or directory");
  if (geteuid() != 0) {  // root reads everything
    std::string locked = dir + "/locked";
    std::ofstream(locked) << "x";
    chmod(locked.c_str(), 0);
    BOOST_CHECK_EQUAL(here(path(PathCheck::readable_file), locked), locked + ": Permission denied");
    std::remove(locked.c_str());
  }
  std::remove(file.c_str());
  rmdir(dir.c_str());
}

BOOST_AUTO_TEST_CASE(systemd_credentials_are_looked_up_only_inside_their_unit) {
  // /run/credentials/UNIT/ is there for UNIT's processes while it runs; anywhere else (nightjarctl,
  // --check-config by hand) the path is passed, and inside the unit it is checked like any other.
  const std::string secret = "/run/credentials/nj-no-such.service/keys_edge.secret";
  const char* was = std::getenv("CREDENTIALS_DIRECTORY");
  std::string saved = was ? was : "";
  unsetenv("CREDENTIALS_DIRECTORY");
  BOOST_CHECK_EQUAL(here(path(PathCheck::readable_file), secret), "");
  setenv("CREDENTIALS_DIRECTORY", "/run/credentials/nj-other.service", 1);
  BOOST_CHECK_EQUAL(here(path(PathCheck::readable_file), secret), "");
  for (const char* ours :
       {"/run/credentials/nj-no-such.service", "/run/credentials/nj-no-such.service/"}) {
    setenv("CREDENTIALS_DIRECTORY", ours, 1);
    BOOST_CHECK_EQUAL(here(path(PathCheck::readable_file), secret),
                      secret + ": No such file or directory");
  }
  // Not a credential: the directory itself, and paths merely named like one.
  unsetenv("CREDENTIALS_DIRECTORY");
  BOOST_CHECK_EQUAL(here(path(PathCheck::readable_file), "/run/credentials/nj-no-such"),
                    "/run/credentials/nj-no-such: No such file or directory");
  BOOST_CHECK_EQUAL(here(path(PathCheck::readable_file), "/tmp/run/credentials/u/k"),
                    "/tmp/run/credentials/u/k: No such file or directory");
  if (was) setenv("CREDENTIALS_DIRECTORY", saved.c_str(), 1);
}

BOOST_AUTO_TEST_CASE(another_units_credentials_are_read_where_the_unit_loads_them) {
  // nightjarctl beside the inner reads an edge's key that inner.yaml names as the unit's
  // credential from the file or directory the unit's LoadCredential= names.
  char tmpl[] = "/tmp/nj-cred-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string units = dir + "/units", keys = dir + "/keys";
  mkdir(units.c_str(), 0700);
  mkdir(keys.c_str(), 0700);
  std::ofstream(units + "/nj-test.service")
      << "[Service]\nExecStart=/bin/true\nLoadCredential=keys:" << keys
      << "\nLoadCredential=tls.key:/etc/nj-tls/key.pem \n";
  const char* was = std::getenv("CREDENTIALS_DIRECTORY");
  std::string saved = was ? was : "";
  unsetenv("CREDENTIALS_DIRECTORY");
  const std::vector<std::string> at{dir + "/none", units};
  const std::string cred = "/run/credentials/nj-test.service/";
  BOOST_CHECK_EQUAL(file_for_this_process(cred + "keys_mx1.pub", at), keys + "/mx1.pub");
  BOOST_CHECK_EQUAL(file_for_this_process(cred + "tls.key", at), "/etc/nj-tls/key.pem");
  // What no LoadCredential= explains, and what is not a credential, stay as they are.
  for (const std::string& p : {cred + "other", cred + "keys", cred + "keysmx1.pub",
                               std::string("/run/credentials/nj-absent.service/keys_a"),
                               std::string("/etc/nightjar/keys/mx1.pub")})
    BOOST_CHECK_EQUAL(file_for_this_process(p, at), p);
  // Inside the unit the credential itself is read.
  setenv("CREDENTIALS_DIRECTORY", "/run/credentials/nj-test.service", 1);
  BOOST_CHECK_EQUAL(file_for_this_process(cred + "keys_mx1.pub", at), cred + "keys_mx1.pub");
  if (was)
    setenv("CREDENTIALS_DIRECTORY", saved.c_str(), 1);
  else
    unsetenv("CREDENTIALS_DIRECTORY");
  std::remove((units + "/nj-test.service").c_str());
  rmdir(units.c_str());
  rmdir(keys.c_str());
  rmdir(dir.c_str());
}

BOOST_AUTO_TEST_CASE(system_users_are_names_here_and_never_root) {
  auto t = system_user();
  BOOST_CHECK_EQUAL(good(t, "nobody"), "nobody");
  BOOST_CHECK_EQUAL(here(t, "nobody"), "");
  BOOST_CHECK_EQUAL(bad(t, "root"), "must not be root (it is the user to drop root to)");
  BOOST_CHECK_EQUAL(bad(t, "Mail User"), "\"Mail User\" is not a valid user name");
  BOOST_CHECK_EQUAL(bad(t, std::string(33, 'a')), "longer than 32 bytes");
  // An account of another machine is a good name; only this machine can say it does not exist.
  BOOST_CHECK_EQUAL(good(t, "nj-no-such-user"), "nj-no-such-user");
  BOOST_CHECK_EQUAL(here(t, "nj-no-such-user"), "no such user: nj-no-such-user");
  round_trips(t, "nightjar-edge");
}

BOOST_AUTO_TEST_CASE(domains_are_checked_and_normalised) {
  auto t = domain();
  BOOST_CHECK_EQUAL(good(t, "MX.Example.ORG."), "mx.example.org");
  BOOST_CHECK_EQUAL(good(t, "xn--bcher-kva.example"), "xn--bcher-kva.example");
  BOOST_CHECK_EQUAL(good(t, "users.i2p"), "users.i2p");
  std::string onion(56, 'a');
  BOOST_CHECK_EQUAL(good(t, onion + ".onion"), onion + ".onion");
  BOOST_CHECK_EQUAL(bad(t, "localhost"),
                    "\"localhost\" is not a valid domain name (like mx.example.org)");
  BOOST_CHECK_EQUAL(bad(t, "a..b"), "\"a..b\" is not a valid domain name (like mx.example.org)");
  BOOST_CHECK_EQUAL(bad(t, "-a.b"), "\"-a.b\" is not a valid domain name (like mx.example.org)");
  BOOST_CHECK_EQUAL(bad(t, "a_b.org"),
                    "\"a_b.org\" is not a valid domain name (like mx.example.org)");
  BOOST_CHECK_EQUAL(bad(t, "[192.0.2.1]"),
                    "\"[192.0.2.1]\" is not a valid domain name (like mx.example.org)");
  BOOST_CHECK(!t.parse(std::string(64, 'a') + ".org").ok());
  BOOST_CHECK(t.parse(std::string(63, 'a') + ".org").ok());
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";
  long_name += "org";  // 259 bytes
  BOOST_CHECK(!t.parse(long_name).ok());
}

BOOST_AUTO_TEST_CASE(networks_reject_host_bits_and_match_addresses) {
  auto t = network();
  Network n = good(t, "192.0.2.0/24");
  BOOST_CHECK_EQUAL(n.str(), "192.0.2.0/24");
  std::uint8_t in4[4], out4[4], in6[16];
  inet_pton(AF_INET, "192.0.2.77", in4);
  inet_pton(AF_INET, "192.0.3.1", out4);
  inet_pton(AF_INET6, "2001:db8::1", in6);
  BOOST_CHECK(n.contains(false, in4));
  BOOST_CHECK(!n.contains(false, out4));
  BOOST_CHECK(!n.contains(true, in6));
  Network n6 = good(t, "2001:db8::/33");
  BOOST_CHECK(n6.contains(true, in6));
  BOOST_CHECK_EQUAL(good(t, "192.0.2.7").str(), "192.0.2.7/32");
  BOOST_CHECK(good(t, "0.0.0.0/0").contains(false, out4));
  BOOST_CHECK_EQUAL(bad(t, "192.0.2.1/24"),
                    "\"192.0.2.1/24\" has host bits set (did you mean 192.0.2.0/24?)");
  BOOST_CHECK_EQUAL(bad(t, "192.0.2.0/33"), "\"192.0.2.0/33\": the prefix length must be 0 to 32");
  BOOST_CHECK_EQUAL(bad(t, "2001:db8::/129"),
                    "\"2001:db8::/129\": the prefix length must be 0 to 128");
  BOOST_CHECK_EQUAL(bad(t, "example.org/24"),
                    "\"example.org/24\" is not an address or network (like 192.0.2.0/24)");
  round_trips(t, "2001:db8:80::/41");
}

BOOST_AUTO_TEST_CASE(client_patterns_are_networks_or_suffixes) {
  auto t = client_pattern();
  ClientPattern c = good(t, "Google.COM");
  BOOST_CHECK(!c.network);
  BOOST_CHECK_EQUAL(c.host_suffix, "google.com");
  BOOST_CHECK_EQUAL(good(t, ".outbound.protection.outlook.com").host_suffix,
                    "outbound.protection.outlook.com");
  c = good(t, "209.85.128.0/17");
  BOOST_REQUIRE(c.network);
  BOOST_CHECK_EQUAL(c.network->prefix, 17);
  BOOST_CHECK_EQUAL(bad(t, "209.85.128.1/17"),
                    "\"209.85.128.1/17\" has host bits set (did you mean 209.85.128.0/17?)");
  BOOST_CHECK_EQUAL(bad(t, "not a host"),
                    "\"not a host\" is neither a network nor a host name suffix");
  round_trips(t, "google.com");
  round_trips(t, "2001:4860::/32");
}

BOOST_AUTO_TEST_CASE(ipv4_ranges) {
  auto t = ipv4_range();
  Ipv4Range r = good(t, "127.0.0.2-127.0.0.11");
  BOOST_CHECK(r.contains(0x7f000002));
  BOOST_CHECK(r.contains(0x7f00000b));
  BOOST_CHECK(!r.contains(0x7f00000c));
  BOOST_CHECK(!r.contains(0x7f000001));
  BOOST_CHECK_EQUAL(good(t, "127.0.0.4").str(), "127.0.0.4");
  BOOST_CHECK_EQUAL(bad(t, "127.0.0.11-127.0.0.2"),
                    "\"127.0.0.11-127.0.0.2\": the range ends before it starts");
  BOOST_CHECK_EQUAL(bad(t, "127.0.0.[2..11]"),
                    "\"127.0.0.[2..11]\" is not an IPv4 address or range (a.b.c.d-e.f.g.h)");
  round_trips(t, "127.0.0.2-127.0.0.11");
}

BOOST_AUTO_TEST_CASE(enums_and_text) {
  enum class Color { red, green };
  auto t = one_of<Color>({{"red", Color::red}, {"green", Color::green}});
  BOOST_CHECK(good(t, "green") == Color::green);
  BOOST_CHECK_EQUAL(bad(t, "Red"), "must be one of red, green");
  BOOST_CHECK_EQUAL(bad(text(5), ""), "must not be empty");
  BOOST_CHECK_EQUAL(bad(text(5), "abcdef"), "longer than 5 bytes");
  round_trips(text(), "a: b # not a comment");
  round_trips(text(), "- \"quoted\" \\ \t");
  round_trips(text(), "true");
  round_trips(text(), "[x]");
}
