#include "inner/config/config.h"

#include <arpa/inet.h>
#include <pwd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

#include "common/config/table.h"
#include "common/link/limits.h"

namespace nj::inner {

namespace {

using namespace std::chrono_literals;
using config::Checker;
using config::Items;
using config::PathCheck;
using config::Table;
using config::Type;

// A listen address that must be loopback. The check is in the type rather than in a cross-key
// check so that every bad item is reported at its own line, together with other mistakes.
// IPv6 hosts are stored in canonical form, so "[0::1]:587" and "[::1]:587" compare equal when
// the table looks for an address used twice.
Type<Endpoint> loopback_endpoint() {
  Type<Endpoint> any = config::endpoint();
  return Type<Endpoint>{
      "a loopback address and port like 127.0.0.1:587 or [::1]:587",
      [parse = any.parse](std::string_view s) -> Result<Endpoint> {
        auto r = parse(s);
        if (!r) return r;
        Endpoint e = *r;
        if (e.ipv6) {
          unsigned char buf[16];
          char canon[INET6_ADDRSTRLEN];
          if (inet_pton(AF_INET6, e.host.c_str(), buf) == 1 &&
              inet_ntop(AF_INET6, buf, canon, sizeof canon) != nullptr)
            e.host = canon;
        }
        if (!is_loopback(e))
          // The endpoint parser accepted it, so it holds only address characters.
          return make_error("\"" + std::string(s) +
                            "\" is not a loopback address: the inner listens only on "
                            "127.0.0.0/8 or [::1]; the overlay daemon (Tor or I2P) is what "
                            "exposes its listeners");
        // The unit file gives the inner no CAP_NET_BIND_SERVICE: it binds high ports and the
        // overlay maps the well-known ports (587, 110) onto them.
        if (e.port < 1024)
          return make_error("\"" + std::string(s) + "\": port " + std::to_string(e.port) +
                            " is privileged; the inner binds only ports 1024 and up (let the "
                            "overlay map the well-known port to it)");
        return e;
      },
      any.print};
}

Table<DomainConfig> domain_table() {
  return Table<DomainConfig>()
      .key("internal", &DomainConfig::internal_domain, config::domain(), config::required)
      .key("public", &DomainConfig::public_domain, config::domain(), config::required)
      .check([](const DomainConfig& d, Checker& c) {
        // Submission rewrites internal to public on the way out; one name cannot be both.
        if (d.public_domain == d.internal_domain)
          c.fail("public", "must differ from domain.internal");
      });
}

Table<ListenConfig> listen_table() {
  Items nonempty{.min = 1, .max = 16, .unique = true};
  return Table<ListenConfig>()
      .list("submission", &ListenConfig::submission, loopback_endpoint(), nonempty)
      .list("pop3", &ListenConfig::pop3, loopback_endpoint(), nonempty)
      .key("metrics", &ListenConfig::metrics, loopback_endpoint(), config::optional)
      .check([](const ListenConfig& l, Checker& c) {
        // One socket cannot serve two protocols.
        std::map<std::string, std::string> used;
        auto claim = [&](const std::vector<Endpoint>& eps, const std::string& name,
                         bool list = true) {
          for (std::size_t i = 0; i < eps.size(); ++i) {
            std::string at = list ? name + "[" + std::to_string(i) + "]" : name;
            auto [it, fresh] = used.emplace(eps[i].str(), at);
            if (!fresh) c.fail(at, "same address as listen." + it->second);
          }
        };
        claim(l.submission, "submission");
        claim(l.pop3, "pop3");
        if (l.metrics.port != 0) claim({l.metrics}, "metrics", false);
      });
}

Table<KeysConfig> keys_table() {
  return Table<KeysConfig>()
      .key("inner_secret", &KeysConfig::inner_secret, config::path(PathCheck::readable_file),
           config::required)
      .key("edge_public", &KeysConfig::edge_public, config::path(PathCheck::readable_file),
           config::optional)
      .check([](const KeysConfig& k, Checker& c) {
        // A pairing needs two different key pairs; one file for both is a copy-paste slip.
        if (!k.edge_public.empty() && k.inner_secret == k.edge_public)
          c.fail("edge_public", "must not be the same file as keys.inner_secret");
      });
}

Table<MailboxConfig> mailbox_table() {
  // Small mailboxes are allowed (tests fill one quickly); a message larger than the space left
  // is refused at delivery, so no relation to limits.max_message_size is required.
  return Table<MailboxConfig>().key("max_size", &MailboxConfig::max_size,
                                    config::size(1ull << 10, 1ull << 40), 50ull << 20);
}

Table<AuthConfig> auth_table() {
  // Lockouts as short as a second are allowed so end-to-end tests can wait one out.
  return Table<AuthConfig>()
      .key("max_failures", &AuthConfig::max_failures, config::integer(1, 100), 5)
      .key("lockout", &AuthConfig::lockout, config::duration(1s, 7 * 24h), 15min);
}

Table<Limits> limits_table() {
  return Table<Limits>()
      .key("max_message_size", &Limits::max_message_size, config::size(64 << 10, 1ull << 30),
           35ull << 20)
      .key("max_recipients", &Limits::max_recipients,
           config::integer(1, static_cast<int>(link::kMaxRecipients)), 100)
      .key("max_connections", &Limits::max_connections, config::integer(1, 100000), 200);
}

// "host:port" with a port 1..65535 and a host of letters, digits, dots and dashes (an onion or
// I2P name, or an IPv4 address for direct links). No DNS name is ever resolved by the inner.
Type<std::string> edge_address() {
  Type<std::string> text = config::text(300);
  return Type<std::string>{
      "an address like NAME.onion:2600, NAME.i2p:2600 or 127.0.0.1:2600",
      [parse = text.parse](std::string_view s) -> Result<std::string> {
        auto r = parse(s);
        if (!r) return r;
        size_t colon = r->rfind(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == r->size())
          return make_error("\"" + *r + "\" is not host:port");
        for (size_t i = 0; i < colon; ++i) {
          char c = (*r)[i];
          if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-')
            return make_error("\"" + *r +
                              "\": the host may hold only letters, digits, dots and dashes");
        }
        unsigned long port = 0;
        for (size_t i = colon + 1; i < r->size(); ++i) {
          if (!std::isdigit(static_cast<unsigned char>((*r)[i])) || port > 65535)
            return make_error("\"" + *r + "\": bad port");
          port = port * 10 + static_cast<unsigned>((*r)[i] - '0');
        }
        if (port == 0 || port > 65535) return make_error("\"" + *r + "\": bad port");
        return r;
      },
      text.print};
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// An edge's name in logs, status and `nightjarctl edge`: short, and safe in a metrics label.
Type<std::string> edge_name() {
  return Type<std::string>{
      "a name of 1 to 32 characters a-z, 0-9 and '-', like mx1",
      [](std::string_view s) -> Result<std::string> {
        if (s.empty() || s.size() > 32 || s.front() == '-')
          return make_error("\"" + std::string(s) + "\" is not 1 to 32 of a-z, 0-9 and '-'");
        for (char c : s)
          if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-')
            return make_error("\"" + std::string(s) + "\" is not 1 to 32 of a-z, 0-9 and '-'");
        return std::string(s);
      },
      [](const std::string& s) { return s; }};
}

Type<Transport> transport_type() {
  return config::one_of<Transport>(
      {{"tor", Transport::tor}, {"i2p", Transport::i2p}, {"direct", Transport::direct}});
}

Type<Duration> failover_type() { return config::duration(1s, 30 * 24h); }

// Whether the address and SOCKS port fit the transport; `fail(key, problem)` for each misfit.
template <class Fail>
void check_reach(const EdgeLinkConfig& e, Fail fail) {
  std::string host = split_edge_address(e.address).first;
  switch (e.transport) {
    case Transport::tor:
      if (!ends_with(host, ".onion"))
        fail("address", "with transport tor the edge is an onion service (NAME.onion)");
      if (e.socks.port == 0) fail("socks", "transport tor needs Tor's SocksPort here");
      break;
    case Transport::i2p:
      if (!ends_with(host, ".i2p"))
        fail("address", "with transport i2p the edge is an I2P destination (NAME.i2p)");
      if (e.socks.port == 0) fail("socks", "transport i2p needs i2pd's SOCKS port here");
      break;
    case Transport::direct: {
      Endpoint ep;
      ep.host = host;
      if (!is_loopback(ep))
        fail("address",
             "transport direct is for tests and demos on this machine: "
             "the address must be 127.x.x.x");
      if (e.socks.port != 0) fail("socks", "transport direct uses no SOCKS proxy");
      break;
    }
  }
}

// How to reach an edge: the keys both forms share, and their check, added to `t`.
Table<EdgeLinkConfig> with_reach(Table<EdgeLinkConfig> t) {
  t.key("address", &EdgeLinkConfig::address, edge_address(), config::required)
      .key("transport", &EdgeLinkConfig::transport, transport_type(), Transport::tor)
      .key("socks", &EdgeLinkConfig::socks, loopback_endpoint(), config::optional)
      .check([](const EdgeLinkConfig& e, Checker& c) {
        check_reach(e, [&](const char* key, const std::string& p) { c.fail(key, p); });
      });
  return t;
}

// The one-edge form's `edge:` section.
Table<EdgeLinkConfig> edge_reach_table() { return with_reach(Table<EdgeLinkConfig>()); }

// One entry of `edges:`.
Table<EdgeLinkConfig> edge_entry_table() {
  return with_reach(Table<EdgeLinkConfig>().key("name", &EdgeLinkConfig::name, edge_name(),
                                                config::required))
      .key("public_key", &EdgeLinkConfig::public_key, config::path(PathCheck::readable_file),
           config::required)
      .key("failover_after", &EdgeLinkConfig::failover_after, failover_type(), Duration{10min});
}

// "BITS:RECIPIENTS", e.g. "20:20": what a hashcash stamp of that weight buys.
Type<QuotaPrice> quota_price() {
  return Type<QuotaPrice>{
      "a price like \"20:20\" (stamp bits 8 to 40 : recipients 1 to 10000)",
      [](std::string_view s) -> Result<QuotaPrice> {
        auto colon = s.find(':');
        if (colon == std::string_view::npos)
          return make_error("\"" + std::string(s) + "\" is not BITS:RECIPIENTS");
        auto bits = config::parse_integer(s.substr(0, colon), 8, 40);
        if (!bits) return make_error("bits: " + bits.error());
        auto n = config::parse_integer(s.substr(colon + 1), 1, 10000);
        if (!n) return make_error("recipients: " + n.error());
        return QuotaPrice{static_cast<int>(*bits), static_cast<std::uint32_t>(*n)};
      },
      [](const QuotaPrice& p) {
        return "\"" + std::to_string(p.bits) + ":" + std::to_string(p.recipients) + "\"";
      }};
}

Table<QuotaConfig> quota_table() {
  return Table<QuotaConfig>()
      .key("daily", &QuotaConfig::daily, config::integer<std::uint32_t>(0, 100000), 20u)
      .list("prices", &QuotaConfig::prices, quota_price(), Items{.min = 0, .max = 16})
      .check([](const QuotaConfig& q, Checker& c) {
        // One price per weight; more bits must never buy fewer recipients.
        for (std::size_t i = 0; i < q.prices.size(); ++i)
          for (std::size_t j = 0; j < q.prices.size(); ++j) {
            if (i == j) continue;
            const auto& a = q.prices[i];
            const auto& b = q.prices[j];
            if (a.bits == b.bits && i > j)
              c.fail("prices[" + std::to_string(i) + "]",
                     "same bits as prices[" + std::to_string(j) + "]");
            else if (a.bits > b.bits && a.recipients < b.recipients && i > j)
              c.fail(
                  "prices[" + std::to_string(i) + "]",
                  "more bits must not buy fewer recipients than prices[" + std::to_string(j) + "]");
          }
      });
}

// "HH:MM", UTC.
Type<int> time_of_day() {
  return Type<int>{"a UTC time of day like 12:00",
                   [](std::string_view s) -> Result<int> {
                     auto bad = [&] {
                       return make_error("\"" + std::string(s) + "\" is not HH:MM (UTC)");
                     };
                     if (s.size() != 5 || s[2] != ':') return bad();
                     auto h = config::parse_integer(s.substr(0, 2), 0, 23);
                     auto m = config::parse_integer(s.substr(3, 2), 0, 59);
                     if (!h || !m) return bad();
                     return static_cast<int>(*h * 3600 + *m * 60);
                   },
                   [](const int& t) {
                     char buf[32];
                     std::snprintf(buf, sizeof buf, "\"%02d:%02d\"", t / 3600, t / 60 % 60);
                     return std::string(buf);
                   }};
}

Table<DelayConfig> delay_table() {
  return Table<DelayConfig>()
      .key("default", &DelayConfig::default_class,
           config::one_of<std::string>({{"none", "none"}, {"defer", "defer"}, {"batch", "batch"}}),
           std::string("defer"))
      .key("defer_min", &DelayConfig::defer_min, config::duration(1s, 7 * 24h), 2000s)
      .key("defer_max", &DelayConfig::defer_max, config::duration(1s, 7 * 24h), 4000s)
      .list("batch_times", &DelayConfig::batch_times, time_of_day(),
            Items{.min = 0, .max = 48, .unique = true})
      .check([](const DelayConfig& d, Checker& c) {
        if (d.defer_max < d.defer_min) c.fail("defer_max", "must not be less than delay.defer_min");
        if (d.batch_times.empty()) c.fail("batch_times", "needs at least one time");
      });
}

// The fleet as a whole: one form at a time, and no two entries that are the same edge.
void check_fleet(const InnerConfig& c, Checker& ch) {
  const bool one = !c.edge.address.empty();
  if (one && !c.edges.empty())
    ch.fail("edge", "give the fleet as `edges:` only (this one-edge form is the same as an "
                    "entry `- {name: edge, address: ..., transport: ..., public_key: ...}`)");
  if (one && c.keys.edge_public.empty())
    ch.fail("edge",
            "needs keys.edge_public, or write it as a list: edges: [{name: mx1, address: "
            "..., transport: ..., socks: ..., public_key: "
            "/run/credentials/nightjar-inner.service/keys_mx1.pub}]");
  // Without any edge (mail stays local) an old file's keys.edge_public is harmless: it loads.
  if (!c.edges.empty() && !c.keys.edge_public.empty())
    ch.fail("keys.edge_public",
            "belongs to the one-edge form (an `edge:` section); with `edges:` each entry "
            "names its key as public_key");
  std::map<std::string, size_t> names, addresses, keys;
  for (size_t i = 0; i < c.edges.size(); ++i) {
    const auto& e = c.edges[i];
    std::string at = "edges[" + std::to_string(i) + "]";
    auto twice = [&](std::map<std::string, size_t>& seen, const std::string& v,
                     const std::string& key, const char* what) {
      auto [it, fresh] = seen.emplace(v, i);
      if (!fresh)
        ch.fail(at + "." + key, std::string("same ") + what + " as edges[" +
                                    std::to_string(it->second) + "]");
    };
    twice(names, e.name, "name", "name");
    twice(addresses, e.address, "address", "address");
    twice(keys, e.public_key, "public_key", "key file");
    if (e.public_key == c.keys.inner_secret)
      ch.fail(at + ".public_key", "must not be the same file as keys.inner_secret");
  }
}

const Table<InnerConfig>& inner_table() {
  static const Table<InnerConfig> t =
      Table<InnerConfig>()
          .key("hostname", &InnerConfig::hostname, config::domain(), config::required)
          .key("data_dir", &InnerConfig::data_dir, config::path(PathCheck::directory),
               config::required)
          .key("user", &InnerConfig::user, config::system_user(), config::optional)
          .section("domain", &InnerConfig::domain, domain_table())
          .section("listen", &InnerConfig::listen, listen_table())
          .section("keys", &InnerConfig::keys, keys_table())
          .section("mailbox", &InnerConfig::mailbox, mailbox_table())
          .section("auth", &InnerConfig::auth, auth_table())
          .section("limits", &InnerConfig::limits, limits_table())
          .list("edges", &InnerConfig::edges, edge_entry_table(),
                Items{.min = 0, .max = kMaxEdges})
          .optional_section("edge", &InnerConfig::edge, edge_reach_table(),
                            [](const EdgeLinkConfig& e) { return !e.address.empty(); })
          .section("quota", &InnerConfig::quota, quota_table())
          .section("delay", &InnerConfig::delay, delay_table())
          .section("log", &InnerConfig::log, config::log_table())
          .check(check_fleet)
          .check([](const InnerConfig& c, Checker& ch) {
            // Mail for the Internet goes to an edge in one frame (SUBMIT); an inner without
            // an edge keeps all its mail and has no frame to fit.
            if (c.edge.address.empty() && c.edges.empty()) return;
            std::string link = config::check_link_message_size(
                c.limits.max_message_size, static_cast<std::uint64_t>(c.limits.max_recipients));
            if (!link.empty()) ch.fail("limits.max_message_size", link);
          });
  return t;
}

}  // namespace

Result<EdgeLinkConfig> check_edge_entry(std::string_view name, std::string_view address,
                                        std::string_view transport, std::string_view socks,
                                        std::string_view failover_after) {
  EdgeLinkConfig e;
  std::string problems;
  auto fail = [&](const std::string& key, const std::string& p) {
    problems += (problems.empty() ? "" : "\n") + key + ": " + p;
  };
  // Each value by its key's own type, then the entry's check, as the table does for a file.
  auto take = [&](const char* key, auto type, std::string_view v, auto& into) {
    auto r = type.parse(v);
    if (r)
      into = *r;
    else
      fail(key, r.error());
    return r.ok();
  };
  bool ok = take("name", edge_name(), name, e.name);
  ok = take("address", edge_address(), address, e.address) && ok;
  if (!transport.empty()) ok = take("transport", transport_type(), transport, e.transport) && ok;
  if (!socks.empty()) ok = take("socks", loopback_endpoint(), socks, e.socks) && ok;
  if (!failover_after.empty())
    ok = take("failover_after", failover_type(), failover_after, e.failover_after) && ok;
  if (ok) check_reach(e, fail);
  if (!problems.empty()) return make_error(problems);
  return e;
}

std::pair<std::string, uint16_t> split_edge_address(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return {address, 0};
  return {address.substr(0, colon), static_cast<uint16_t>(std::stoul(address.substr(colon + 1)))};
}

bool is_loopback(const Endpoint& e) {
  unsigned char buf[16];
  if (e.ipv6) {
    static const unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return inet_pton(AF_INET6, e.host.c_str(), buf) == 1 &&
           std::memcmp(buf, kLoopback6, sizeof buf) == 0;
  }
  return inet_pton(AF_INET, e.host.c_str(), buf) == 1 && buf[0] == 127;
}

namespace {

// The one-edge form becomes a list of one, so nothing after loading knows there were two forms.
Result<InnerConfig> as_fleet(Result<InnerConfig> r) {
  if (!r || r->edge.address.empty()) return r;
  EdgeLinkConfig e = r->edge;
  e.name = "edge";
  e.public_key = r->keys.edge_public;
  r->edges = {e};
  r->edge = EdgeLinkConfig{};
  r->keys.edge_public.clear();
  return r;
}

}  // namespace

Result<InnerConfig> load(const std::string& path, config::Host host) {
  return as_fleet(config::load_file(path, inner_table(), host));
}

Result<InnerConfig> load_text(std::string_view text, const std::string& name, config::Host host) {
  return as_fleet(config::load_text(text, name, inner_table(), host));
}

std::string print_effective(const InnerConfig& c) {
  return config::print(c, inner_table());
}

}  // namespace nj::inner
