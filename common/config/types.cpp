#include "common/config/types.h"

#include <arpa/inet.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/link/message_size.h"

namespace nj::config {

namespace {

// The offending value, shortened and made printable, for error messages.
std::string shown(std::string_view s) {
  std::string out = "\"";
  std::size_t n = 0;
  for (char c : s) {
    if (++n > 60) {
      out += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f || c == '"') ? '?' : c;
  }
  return out + "\"";
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Unsigned decimal with overflow check.
bool to_u64(std::string_view s, std::uint64_t* out) {
  if (!all_digits(s) || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool too_long(std::string_view s) {
  return s.size() > kMaxScalarBytes;
}

}  // namespace

std::string yaml_quote(std::string_view s) {
  bool plain = !s.empty();
  static constexpr std::string_view kSpecialFirst = "!&*-?:,[]{}#|>@`\"'% ";
  if (plain && kSpecialFirst.find(s.front()) != std::string_view::npos) plain = false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '#' || c == ':' || c == '"' || c == '\'' || c == ',' ||
        c == '[' || c == ']' || c == '{' || c == '}')
      plain = false;
  }
  if (plain && (s.back() == ' ' || s == "null" || s == "~" || s == "true" || s == "false"))
    plain = false;
  if (plain) return std::string(s);
  std::string out = "\"";
  static const char* hex = "0123456789abcdef";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Type<std::string> text(std::size_t max_len) {
  return Type<std::string>{
      "a text value",
      [max_len](std::string_view s) -> Result<std::string> {
        if (s.empty()) return make_error("must not be empty");
        if (s.size() > max_len)
          return make_error("longer than " + std::to_string(max_len) + " bytes");
        return std::string(s);
      },
      [](const std::string& v) { return yaml_quote(v); }};
}

Type<bool> boolean() {
  return Type<bool>{"true or false",
                    [](std::string_view s) -> Result<bool> {
                      if (s == "true") return true;
                      if (s == "false") return false;
                      return make_error(shown(s) + " is not true or false");
                    },
                    [](const bool& v) { return std::string(v ? "true" : "false"); }};
}

Result<std::int64_t> parse_integer(std::string_view s, std::int64_t min, std::int64_t max) {
  std::string_view digits = s;
  bool neg = false;
  if (!digits.empty() && digits.front() == '-') {
    neg = true;
    digits.remove_prefix(1);
  }
  std::uint64_t mag = 0;
  if (too_long(s) || !to_u64(digits, &mag)) return make_error(shown(s) + " is not an integer");
  std::int64_t v = 0;
  if (neg) {
    if (mag > static_cast<std::uint64_t>(INT64_MAX) + 1) return make_error("out of range");
    v = mag == static_cast<std::uint64_t>(INT64_MAX) + 1 ? INT64_MIN
                                                         : -static_cast<std::int64_t>(mag);
  } else {
    if (mag > static_cast<std::uint64_t>(INT64_MAX)) return make_error("out of range");
    v = static_cast<std::int64_t>(mag);
  }
  if (v < min || v > max)
    return make_error(std::to_string(v) + " is out of range (" + std::to_string(min) + " to " +
                      std::to_string(max) + ")");
  return v;
}

namespace {
struct Unit {
  std::string_view name;
  std::uint64_t factor;
};
constexpr Unit kDurationUnits[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
                                   {"h", 3600000}, {"d", 86400000}, {"w", 604800000}};
constexpr Unit kSizeUnits[] = {{"B", 1}, {"K", 1ull << 10}, {"M", 1ull << 20}, {"G", 1ull << 30}};

// "<digits><unit>" with one of `units`; a bare "0" is allowed.
template <std::size_t N>
bool parse_with_unit(std::string_view s, const Unit (&units)[N], std::uint64_t* out,
                     std::string* problem, std::string_view kind) {
  std::size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  std::string_view num = s.substr(0, i), unit = s.substr(i);
  std::uint64_t n = 0;
  if (too_long(s) || !to_u64(num, &n)) {
    *problem = shown(s) + " is not a " + std::string(kind);
    return false;
  }
  if (unit.empty()) {
    if (n == 0) {
      *out = 0;
      return true;
    }
    *problem = shown(s) + " needs a unit";
    return false;
  }
  for (const Unit& u : units) {
    if (u.name == unit) {
      if (n > UINT64_MAX / u.factor) {
        *problem = "out of range";
        return false;
      }
      *out = n * u.factor;
      return true;
    }
  }
  *problem = shown(s) + " has an unknown unit";
  return false;
}

template <std::size_t N>
std::string format_with_unit(std::uint64_t v, const Unit (&units)[N]) {
  if (v == 0) return "0";
  for (std::size_t i = N; i-- > 0;)
    if (v % units[i].factor == 0)
      return std::to_string(v / units[i].factor) + std::string(units[i].name);
  return std::to_string(v);
}
}  // namespace

std::string format_duration(Duration d) {
  return format_with_unit(static_cast<std::uint64_t>(d.count()), kDurationUnits);
}

Type<Duration> duration(Duration min, Duration max) {
  return Type<Duration>{"a duration like 300s (units ms, s, m, h, d, w)",
                        [min, max](std::string_view s) -> Result<Duration> {
                          std::uint64_t ms = 0;
                          std::string problem;
                          if (!parse_with_unit(s, kDurationUnits, &ms, &problem,
                                               "duration (units ms, s, m, h, d, w)"))
                            return make_error(problem);
                          if (ms > static_cast<std::uint64_t>(max.count()) ||
                              static_cast<std::int64_t>(ms) < min.count())
                            return make_error(format_duration(Duration(ms)) + " is out of range (" +
                                              format_duration(min) + " to " + format_duration(max) +
                                              ")");
                          return Duration(static_cast<std::int64_t>(ms));
                        },
                        [](const Duration& d) { return format_duration(d); }};
}

std::string format_size(std::uint64_t bytes) {
  return format_with_unit(bytes, kSizeUnits);
}

Type<std::uint64_t> size(std::uint64_t min, std::uint64_t max) {
  return Type<std::uint64_t>{
      "a size like 35M (units B, K, M, G; K = 1024)",
      [min, max](std::string_view s) -> Result<std::uint64_t> {
        std::uint64_t b = 0;
        std::string problem;
        if (!parse_with_unit(s, kSizeUnits, &b, &problem, "size (units B, K, M, G)"))
          return make_error(problem);
        if (b < min || b > max)
          return make_error(format_size(b) + " is out of range (" + format_size(min) + " to " +
                            format_size(max) + ")");
        return b;
      },
      [](const std::uint64_t& b) { return format_size(b); }};
}

std::string Endpoint::str() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Type<Endpoint> endpoint() {
  return Type<Endpoint>{
      "an address and port like 192.0.2.1:25 or [2001:db8::1]:25",
      [](std::string_view s) -> Result<Endpoint> {
        std::string bad = shown(s) + " is not an address:port (like 192.0.2.1:25 or [::1]:25)";
        if (too_long(s)) return make_error(bad);
        Endpoint e;
        std::string_view host, port;
        if (!s.empty() && s.front() == '[') {
          auto close = s.find(']');
          if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
            return make_error(bad);
          host = s.substr(1, close - 1);
          port = s.substr(close + 2);
          e.ipv6 = true;
        } else {
          auto colon = s.rfind(':');
          if (colon == std::string_view::npos) return make_error(shown(s) + " has no port");
          host = s.substr(0, colon);
          port = s.substr(colon + 1);
          if (host.find(':') != std::string_view::npos)
            return make_error(shown(s) + ": an IPv6 address needs brackets: [address]:port");
        }
        std::uint64_t p = 0;
        if (!to_u64(port, &p) || p < 1 || p > 65535)
          return make_error(shown(s) + ": the port must be 1 to 65535");
        e.port = static_cast<std::uint16_t>(p);
        std::string h(host);
        unsigned char buf[16];
        if (e.ipv6) {
          if (inet_pton(AF_INET6, h.c_str(), buf) != 1)
            return make_error(shown(s) + ": " + shown(h) + " is not an IPv6 address");
        } else if (h == "localhost") {
          h = "127.0.0.1";
        } else if (inet_pton(AF_INET, h.c_str(), buf) != 1) {
          return make_error(shown(s) + ": " + shown(h) +
                            " is not an IPv4 address (the only name allowed is localhost)");
        }
        e.host = h;
        return e;
      },
      [](const Endpoint& e) { return yaml_quote(e.str()); }};
}

namespace {

// systemd's LoadCredential= copies a unit's credentials into /run/credentials/UNIT/ when UNIT
// starts and removes them when it stops; UNIT's own processes find that directory in
// $CREDENTIALS_DIRECTORY. Any other process (nightjarctl, --check-config run by hand) cannot count
// on it, so such a file is looked up only inside its unit (whose ExecStartPre runs --check-config).
bool credential_of_another_process(const std::string& p) {
  constexpr std::string_view kRoot = "/run/credentials/";
  if (p.compare(0, kRoot.size(), kRoot) != 0) return false;
  auto slash = p.find('/', kRoot.size());
  if (slash == std::string::npos) return false;
  const char* ours = std::getenv("CREDENTIALS_DIRECTORY");
  std::string unit_dir = p.substr(0, slash);
  return !ours || (unit_dir != ours && unit_dir + "/" != ours);
}

}  // namespace

std::string file_for_this_process(const std::string& p,
                                  const std::vector<std::string>& unit_dirs) {
  if (!credential_of_another_process(p)) return p;
  constexpr std::string_view kRoot = "/run/credentials/";
  auto slash = p.find('/', kRoot.size());
  std::string unit = p.substr(kRoot.size(), slash - kRoot.size());
  std::string name = p.substr(slash + 1);
  if (unit.empty() || name.empty() || name.find('/') != std::string::npos ||
      unit.find("..") != std::string::npos)
    return p;
  constexpr size_t kMaxUnitFile = 64 * 1024;
  for (const auto& dir : unit_dirs) {
    std::ifstream in(dir + "/" + unit);
    if (!in) continue;
    std::string line;
    size_t read = 0;
    while (read < kMaxUnitFile && std::getline(in, line)) {
      read += line.size() + 1;
      constexpr std::string_view kKey = "LoadCredential=";
      if (line.compare(0, kKey.size(), kKey) != 0) continue;
      std::string spec = line.substr(kKey.size());
      auto colon = spec.find(':');
      if (colon == std::string::npos) continue;
      std::string id = spec.substr(0, colon), source = spec.substr(colon + 1);
      while (!source.empty() && (source.back() == ' ' || source.back() == '\t')) source.pop_back();
      if (source.empty() || source.front() != '/') continue;
      // A directory becomes one credential per file, ID_FILE; a file, the credential ID.
      std::error_code ec;
      if (std::filesystem::is_directory(source, ec)) {
        if (name.size() > id.size() + 1 && name.compare(0, id.size() + 1, id + "_") == 0)
          return source + "/" + name.substr(id.size() + 1);
      } else if (name == id) {
        return source;
      }
    }
    return p;  // the unit file that systemd uses is the first found
  }
  return p;
}

Type<std::string> path(PathCheck check) {
  std::string what = check == PathCheck::directory       ? "the path of an existing directory"
                     : check == PathCheck::readable_file ? "the path of a readable file"
                                                         : "an absolute path";
  Type<std::string> t{what,
                      [](std::string_view s) -> Result<std::string> {
                        if (s.empty()) return make_error("must not be empty");
                        if (s.size() > 4095) return make_error("longer than 4095 bytes");
                        if (s.front() != '/')
                          return make_error(shown(s) + " is not an absolute path");
                        return std::string(s);
                      },
                      [](const std::string& v) { return yaml_quote(v); }};
  if (check == PathCheck::none) return t;
  t.check_here = [check](const std::string& p) -> std::string {
    if (check == PathCheck::readable_file && credential_of_another_process(p)) return "";
    struct stat st;
    if (stat(p.c_str(), &st) != 0) return p + ": " + std::strerror(errno);
    if (check == PathCheck::directory) {
      if (!S_ISDIR(st.st_mode)) return p + ": not a directory";
    } else {
      if (!S_ISREG(st.st_mode)) return p + ": not a regular file";
      if (access(p.c_str(), R_OK) != 0) return p + ": " + std::strerror(errno);
    }
    return "";
  };
  return t;
}

bool valid_domain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t labels = 0, start = 0;
  while (start <= s.size()) {
    std::size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) dot = s.size();
    std::string_view label = s.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    ++labels;
    start = dot + 1;
  }
  return labels >= 2;
}

namespace {
Result<std::string> parse_domain(std::string_view s) {
  if (too_long(s)) return make_error("not a valid domain name");
  std::string d(s);
  for (char& c : d)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (!d.empty() && d.back() == '.') d.pop_back();
  if (!valid_domain(d))
    return make_error(shown(s) + " is not a valid domain name (like mx.example.org)");
  return d;
}
}  // namespace

Type<std::string> domain() {
  return Type<std::string>{"a domain name", parse_domain,
                           [](const std::string& v) { return yaml_quote(v); }};
}

bool Network::contains(bool is_ipv6, const std::uint8_t* bytes) const {
  if (is_ipv6 != ipv6) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(addr, bytes, static_cast<std::size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (addr[full] & mask) == (bytes[full] & mask);
}

std::string Network::str() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, addr, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

namespace {
Result<Network> parse_network(std::string_view s) {
  std::string bad = shown(s) + " is not an address or network (like 192.0.2.0/24)";
  if (s.size() > 64) return make_error(bad);
  Network n;
  auto slash = s.find('/');
  std::string a(s.substr(0, slash));
  if (inet_pton(AF_INET, a.c_str(), n.addr) == 1) {
    n.ipv6 = false;
  } else if (inet_pton(AF_INET6, a.c_str(), n.addr) == 1) {
    n.ipv6 = true;
  } else {
    return make_error(bad);
  }
  int max = n.ipv6 ? 128 : 32;
  n.prefix = max;
  if (slash != std::string_view::npos) {
    std::uint64_t p = 0;
    if (!to_u64(s.substr(slash + 1), &p) || p > static_cast<std::uint64_t>(max))
      return make_error(shown(s) + ": the prefix length must be 0 to " + std::to_string(max));
    n.prefix = static_cast<int>(p);
  }
  Network masked = n;
  for (int bit = masked.prefix; bit < max; ++bit)
    masked.addr[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
  if (!(masked == n))
    return make_error(shown(s) + " has host bits set (did you mean " + masked.str() + "?)");
  return n;
}
}  // namespace

Type<Network> network() {
  return Type<Network>{"an address or network like 192.0.2.0/24", parse_network,
                       [](const Network& n) { return yaml_quote(n.str()); }};
}

std::string ClientPattern::str() const {
  return network ? network->str() : host_suffix;
}

Type<ClientPattern> client_pattern() {
  return Type<ClientPattern>{
      "a network like 192.0.2.0/24 or a host name suffix like mail.example.org",
      [](std::string_view s) -> Result<ClientPattern> {
        ClientPattern c;
        bool looks_numeric = s.find(':') != std::string_view::npos ||
                             s.find('/') != std::string_view::npos ||
                             (!s.empty() && s.back() >= '0' && s.back() <= '9');
        if (looks_numeric) {
          auto n = parse_network(s);
          if (!n) return make_error(n.error());
          c.network = *n;
          return c;
        }
        std::string_view d = s;
        if (!d.empty() && d.front() == '.') d.remove_prefix(1);
        auto dom = parse_domain(d);
        if (!dom) return make_error(shown(s) + " is neither a network nor a host name suffix");
        c.host_suffix = *dom;
        return c;
      },
      [](const ClientPattern& c) { return yaml_quote(c.str()); }};
}

std::string Ipv4Range::str() const {
  auto one = [](std::uint32_t a) {
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
           std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
  };
  return first == last ? one(first) : one(first) + "-" + one(last);
}

Type<Ipv4Range> ipv4_range() {
  return Type<Ipv4Range>{
      "an IPv4 address or range like 127.0.0.2-127.0.0.11",
      [](std::string_view s) -> Result<Ipv4Range> {
        auto one = [](std::string_view a, std::uint32_t* out) {
          if (a.size() > 15) return false;
          std::string t(a);
          in_addr in;
          if (inet_pton(AF_INET, t.c_str(), &in) != 1) return false;
          *out = ntohl(in.s_addr);
          return true;
        };
        Ipv4Range r;
        auto dash = s.find('-');
        bool ok = dash == std::string_view::npos
                      ? one(s, &r.first) && one(s, &r.last)
                      : one(s.substr(0, dash), &r.first) && one(s.substr(dash + 1), &r.last);
        if (!ok) return make_error(shown(s) + " is not an IPv4 address or range (a.b.c.d-e.f.g.h)");
        if (r.first > r.last) return make_error(shown(s) + ": the range ends before it starts");
        return r;
      },
      [](const Ipv4Range& r) { return r.str(); }};
}

Type<nj::log::Level> log_level() {
  return one_of<nj::log::Level>({{"debug", nj::log::Level::debug},
                                 {"info", nj::log::Level::info},
                                 {"warn", nj::log::Level::warn},
                                 {"error", nj::log::Level::error}});
}

Type<std::string> system_user() {
  return Type<std::string>{
      "a user name",
      [](std::string_view s) -> Result<std::string> {
        if (s.empty()) return make_error("must not be empty");
        if (s.size() > 32) return make_error("longer than 32 bytes");
        for (char c : s) {
          if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return make_error(shown(s) + " is not a valid user name");
        }
        if (s == "root") return make_error("must not be root (it is the user to drop root to)");
        return std::string(s);
      },
      [](const std::string& v) { return yaml_quote(v); },
      [](const std::string& u) {
        return getpwnam(u.c_str()) == nullptr ? "no such user: " + u : std::string();
      }};
}

std::string check_link_message_size(std::uint64_t max_message_size, std::uint64_t max_recipients) {
  std::uint64_t most = link::max_message_size(static_cast<std::size_t>(max_recipients));
  if (max_message_size <= most) return "";
  // Whole KiB, so the number shown can be written into the file as it stands.
  return format_size(max_message_size) +
         " is more than the link between edge and inner carries (at most " +
         format_size(most / 1024 * 1024) + " with limits.max_recipients " +
         std::to_string(max_recipients) + ")";
}

}  // namespace nj::config
