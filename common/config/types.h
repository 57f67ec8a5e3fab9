// Typed configuration values: how one YAML scalar becomes a checked C++ value and how that value
// is printed back (print_effective output parses to the same value). Every parser trusts nothing
// in its input, has explicit length limits and returns the problem as text; table.h adds the
// "file:line: key: " prefix.
//
// Decisions (operators see these in the example files):
// - bool: only `true` / `false` (no yes/no/on/off: `NO` must not mean false by accident).
// - integer: decimal digits with an optional leading '-', within the key's range.
// - duration: an integer and one unit: ms, s, m, h, d, w (`300s`, `10m`, `2d`). A bare `0` is
//   allowed (zero in any unit); any other number without a unit is an error.
// - size: an integer and one unit, binary multiples: B, K (1024), M (1024^2), G (1024^3).
//   A bare `0` is allowed.
// - endpoint (host:port): `192.0.2.1:25`, `[2001:db8::1]:25`, `0.0.0.0:25`, `[::]:25`, and the
//   one name `localhost`, which means 127.0.0.1. Ports 1-65535. No other names: the daemons
//   must not depend on DNS to know where to listen or which resolver to ask.
// - path: absolute; optionally must be an existing directory or a readable regular file (a check
//   made on this machine: see Type::check_here; a systemd credential only inside its unit).
// - domain: letters/digits/hyphens, labels 1-63, total <= 253, at least two labels; stored
//   lower case, one trailing dot removed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/log.h"
#include "common/base/result.h"

namespace nj::config {

template <class T>
struct Type {
  std::string what;                                  // noun phrase: "a duration like 300s"
  std::function<Result<T>(std::string_view)> parse;  // error text is the bare problem
  std::function<std::string(const T&)> print;        // YAML scalar that parses back to T
  // What only this machine can answer about a parsed value: that the file or directory it names
  // exists and is readable, that the account exists. Returns the problem, or "" when it is fine.
  // `parse` holds every check that gives the same answer on any machine; a load of another
  // machine's configuration (Host::other, below) runs only that. Empty for most types.
  std::function<std::string(const T&)> check_here = {};
};

// Which machine's configuration a load reads (table.h's load_file, load_text; the daemons' load).
enum class Host {
  this_one,  // the daemon's own, on its machine: Type::check_here runs
  other,     // another machine's, for its names, ports and addresses: Type::check_here does not
};

inline constexpr std::size_t kMaxScalarBytes = 4096;

Type<std::string> text(std::size_t max_len = 1024);  // any non-empty string
Type<bool> boolean();

Result<std::int64_t> parse_integer(std::string_view s, std::int64_t min, std::int64_t max);
template <class I>
Type<I> integer(I min, I max) {
  static_assert(std::numeric_limits<I>::is_integer);
  return Type<I>{"an integer from " + std::to_string(min) + " to " + std::to_string(max),
                 [min, max](std::string_view s) -> Result<I> {
                   auto r = parse_integer(s, static_cast<std::int64_t>(min),
                                          static_cast<std::int64_t>(max));
                   if (!r) return make_error(r.error());
                   return static_cast<I>(*r);
                 },
                 [](const I& v) { return std::to_string(v); }};
}

using Duration = std::chrono::milliseconds;
Type<Duration> duration(Duration min, Duration max);
std::string format_duration(Duration d);

Type<std::uint64_t> size(std::uint64_t min, std::uint64_t max);
std::string format_size(std::uint64_t bytes);

struct Endpoint {
  std::string host;  // numeric address, no brackets ("127.0.0.1", "::1")
  std::uint16_t port = 0;
  bool ipv6 = false;
  std::string str() const;  // "127.0.0.1:25", "[::1]:25"
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};
Type<Endpoint> endpoint();

// `parse` checks that the path is absolute and not too long; `check_here` that it names an
// existing directory or a readable regular file, as `check` says. A file in
// /run/credentials/UNIT/ is a systemd credential, there only for UNIT while it runs: check_here
// looks it up only when $CREDENTIALS_DIRECTORY is that directory (in UNIT's processes) and passes
// it anywhere else (nightjarctl, --check-config run by hand).
enum class PathCheck { none, directory, readable_file };
Type<std::string> path(PathCheck check);

// Where this process reads a file the configuration names. A systemd credential of another
// process's unit (/run/credentials/UNIT/NAME, while this is not UNIT) is read from where the unit
// loads it: the first `LoadCredential=ID:SOURCE` of UNIT's file in the first of unit_dirs that
// has one (systemd's order: /etc/systemd/system, then /lib/systemd/system) with ID equal to NAME (SOURCE itself), or with NAME = ID_FILE and
// SOURCE a directory (SOURCE/FILE). So nightjarctl, run by root beside a stopped or running
// daemon, reads the same keys as the daemon. Any other path, or a credential no unit file
// explains, is returned as it is.
std::string file_for_this_process(
    const std::string& path,
    const std::vector<std::string>& unit_dirs = {"/etc/systemd/system", "/lib/systemd/system"});

Type<std::string> domain();
bool valid_domain(std::string_view s);  // s already lower case, no trailing dot

// An IPv4 or IPv6 network. A bare address is a /32 or /128. Host bits must be zero.
struct Network {
  bool ipv6 = false;
  std::uint8_t addr[16] = {};  // network byte order; IPv4 uses the first 4 bytes
  int prefix = 0;
  // `bytes` is 4 (IPv4) or 16 (IPv6) bytes in network order.
  bool contains(bool is_ipv6, const std::uint8_t* bytes) const;
  std::string str() const;
  friend bool operator==(const Network&, const Network&) = default;
};
Type<Network> network();

// A client pattern for allowlists: a network, or a hostname suffix that matches the client's
// verified (forward-confirmed) reverse name when it equals the suffix or ends in "." + suffix.
struct ClientPattern {
  std::optional<Network> network;
  std::string host_suffix;  // set when network is empty
  std::string str() const;
  friend bool operator==(const ClientPattern&, const ClientPattern&) = default;
};
Type<ClientPattern> client_pattern();

// An inclusive range of IPv4 addresses in host byte order: "127.0.0.2" or "127.0.0.2-127.0.0.11".
struct Ipv4Range {
  std::uint32_t first = 0;
  std::uint32_t last = 0;
  bool contains(std::uint32_t a) const { return a >= first && a <= last; }
  std::string str() const;
  friend bool operator==(const Ipv4Range&, const Ipv4Range&) = default;
};
Type<Ipv4Range> ipv4_range();

// debug, info, warn or error (the daemons' `log.level`).
Type<nj::log::Level> log_level();

// Both daemons' `log` section.
struct LogConfig {
  nj::log::Level level = nj::log::Level::info;
  bool redact = true;  // addresses and IPs as keyed hashes; false only for debugging a test setup
};

// The `user` a daemon drops root to: `parse` takes a name as useradd accepts it (at most 32
// bytes) that is not root; `check_here` wants the account to exist on this machine.
Type<std::string> system_user();

// Both daemons' `limits`: whether a message of max_message_size with max_recipients recipients
// still fits one link frame (common/link/message_size.h). Returns the problem, naming the
// largest size that fits, or "" when it does.
std::string check_link_message_size(std::uint64_t max_message_size, std::uint64_t max_recipients);

// One of a fixed set of names.
template <class E>
Type<E> one_of(std::vector<std::pair<std::string, E>> names) {
  std::string what = "one of";
  for (std::size_t i = 0; i < names.size(); ++i) what += (i ? ", " : " ") + names[i].first;
  return Type<E>{what,
                 [names, what](std::string_view s) -> Result<E> {
                   for (const auto& [n, v] : names)
                     if (n == s) return v;
                   return make_error("must be " + what);
                 },
                 [names](const E& v) {
                   for (const auto& [n, x] : names)
                     if (x == v) return n;
                   return std::string("?");
                 }};
}

// Quotes a string for YAML output when it would not read back as the same plain scalar.
std::string yaml_quote(std::string_view s);

}  // namespace nj::config
