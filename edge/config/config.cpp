#include "edge/config/config.h"

#include <arpa/inet.h>
#include <pwd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "common/base/ascii.h"
#include "common/config/table.h"
#include "common/link/limits.h"

namespace nj::edge {

namespace {

using namespace std::chrono_literals;
using config::Checker;
using config::Items;
using config::PathCheck;
using config::Table;
using config::Type;

// sockaddr_un's sun_path holds 108 bytes with the terminating NUL.
constexpr std::size_t kMaxSocketPath = 107;

// A loopback address: the metrics listener's, since a scrape is for this machine's own
// Prometheus (or an SSH tunnel to it), never for the Internet the edge faces; clamd's, since a
// message sent to it crosses no network. The check is in the type so that the problem is
// reported at the key's own line; `why` ends it.
Type<Endpoint> loopback_endpoint(std::string example, std::string why) {
  Type<Endpoint> any = config::endpoint();
  return Type<Endpoint>{
      "a loopback address and port like " + example,
      [parse = any.parse, why](std::string_view s) -> Result<Endpoint> {
        auto r = parse(s);
        if (!r) return r;
        in6_addr a6{};
        unsigned char a4[4] = {};
        bool loopback = r->ipv6 ? inet_pton(AF_INET6, r->host.c_str(), &a6) == 1 &&
                                      IN6_IS_ADDR_LOOPBACK(&a6)
                                : inet_pton(AF_INET, r->host.c_str(), a4) == 1 && a4[0] == 127;
        if (!loopback)
          // The endpoint parser accepted it, so it holds only address characters.
          return make_error("\"" + std::string(s) + "\" is not a loopback address: " + why);
        Endpoint e = *r;
        char canon[INET6_ADDRSTRLEN];
        if (e.ipv6 && inet_ntop(AF_INET6, &a6, canon, sizeof canon) != nullptr) e.host = canon;
        return e;
      },
      any.print};
}

Table<DomainMap> domain_table() {
  return Table<DomainMap>()
      .key("public", &DomainMap::public_domain, config::domain(), config::required)
      .key("internal", &DomainMap::internal_domain, config::domain(), config::required)
      .check([](const DomainMap& d, Checker& c) {
        if (d.public_domain == d.internal_domain)
          c.fail("internal", "must differ from the public domain");
      });
}

Table<ListenConfig> listen_table() {
  Items nonempty{.min = 1, .unique = true};
  Items any{.unique = true};
  return Table<ListenConfig>()
      .list("mx", &ListenConfig::mx, config::endpoint(), nonempty)
      .list("onion_mx", &ListenConfig::onion_mx, config::endpoint(), any)
      .list("link", &ListenConfig::link, config::endpoint(), any)
      .key("metrics", &ListenConfig::metrics,
           loopback_endpoint("127.0.0.1:9101 or [::1]:9101",
                             "metrics are served on 127.0.0.0/8 or [::1] only"),
           config::optional)
      .check([](const ListenConfig& l, Checker& c) {
        // One socket cannot serve two listeners.
        std::map<std::string, std::string> used;
        auto claim = [&](const std::vector<Endpoint>& eps, const std::string& name) {
          for (std::size_t i = 0; i < eps.size(); ++i) {
            std::string at = name + "[" + std::to_string(i) + "]";
            auto [it, fresh] = used.emplace(eps[i].str(), at);
            if (!fresh) c.fail(at, "same address as listen." + it->second);
          }
        };
        claim(l.mx, "mx");
        claim(l.onion_mx, "onion_mx");
        claim(l.link, "link");
        if (l.metrics.port != 0) {
          auto it = used.find(l.metrics.str());
          if (it != used.end()) c.fail("metrics", "same address as listen." + it->second);
        }
      });
}

Table<DnsConfig> dns_table() {
  return Table<DnsConfig>()
      .list("servers", &DnsConfig::servers, config::endpoint(), Items{.max = 16, .unique = true})
      .key("timeout", &DnsConfig::timeout, config::duration(100ms, 60s), 5s)
      .key("tries", &DnsConfig::tries, config::integer(1, 10), 3);
}

Table<TlsConfig> tls_table() {
  return Table<TlsConfig>()
      .key("cert", &TlsConfig::cert, config::path(PathCheck::readable_file), config::optional)
      .key("key", &TlsConfig::key, config::path(PathCheck::readable_file), config::optional)
      .check([](const TlsConfig& t, Checker& c) {
        if (t.cert.empty() != t.key.empty())
          c.fail(t.cert.empty() ? "key" : "cert",
                 "tls.cert and tls.key go together: set both or neither");
      });
}

Table<KeysConfig> keys_table() {
  return Table<KeysConfig>()
      .key("edge_secret", &KeysConfig::edge_secret, config::path(PathCheck::readable_file),
           config::required)
      .key("inner_public", &KeysConfig::inner_public, config::path(PathCheck::readable_file),
           config::required);
}

Table<HeloChecks> helo_table() {
  return Table<HeloChecks>()
      .key("require_fqdn", &HeloChecks::require_fqdn, config::boolean(), true)
      .key("allow_address_literal", &HeloChecks::allow_address_literal, config::boolean(), true)
      .key("reject_our_names", &HeloChecks::reject_our_names, config::boolean(), true);
}

Table<SenderAllowlist> allowlist_table() {
  return Table<SenderAllowlist>()
      .key("domain", &SenderAllowlist::domain, config::domain(), config::required)
      .list("clients", &SenderAllowlist::clients, config::client_pattern(),
            Items{.min = 1, .unique = true});
}

Table<SenderChecks> sender_table() {
  return Table<SenderChecks>()
      .key("require_resolvable", &SenderChecks::require_resolvable, config::boolean(), true)
      .key("reject_private_mx_ns", &SenderChecks::reject_private_mx_ns, config::boolean(), true)
      .key("allow_loopback_dns", &SenderChecks::allow_loopback_dns, config::boolean(), false)
      .list("allowlists", &SenderChecks::allowlists, allowlist_table())
      .check([](const SenderChecks& s, Checker& c) {
        std::map<std::string, std::size_t> seen;
        for (std::size_t i = 0; i < s.allowlists.size(); ++i) {
          auto [it, fresh] = seen.emplace(s.allowlists[i].domain, i);
          if (!fresh)
            c.fail("allowlists[" + std::to_string(i) + "].domain",
                   "duplicate of allowlists[" + std::to_string(it->second) + "].domain");
        }
      });
}

Table<DnsblZone> zone_table() {
  return Table<DnsblZone>()
      .key("zone", &DnsblZone::zone, config::domain(), config::required)
      .key("weight", &DnsblZone::weight, config::integer(-100, 100), 1,
           [](const int& w) { return w == 0 ? std::string("must not be 0") : std::string(); })
      .list("match", &DnsblZone::match, config::ipv4_range(), Items{.max = 32})
      .check([](const DnsblZone& z, Checker& c) {
        // edge/checks matches on the last octet of 127.0.0.x answers; a range elsewhere
        // could never count, and silently never matching is worse than refusing to start.
        for (std::size_t i = 0; i < z.match.size(); ++i)
          if ((z.match[i].first >> 8) != 0x7f0000 || (z.match[i].last >> 8) != 0x7f0000)
            c.fail("match[" + std::to_string(i) + "]", "must lie within 127.0.0.0-127.0.0.255");
      });
}

Table<DnsblChecks> dnsbl_table() {
  return Table<DnsblChecks>()
      .list("zones", &DnsblChecks::zones, zone_table(), Items{.max = 32})
      .key("threshold", &DnsblChecks::threshold, config::integer(1, 1000), 1);
}

Table<GreylistChecks> greylist_table() {
  return Table<GreylistChecks>()
      .key("enabled", &GreylistChecks::enabled, config::boolean(), true)
      .key("delay", &GreylistChecks::delay, config::duration(1s, 24h), 300s)
      .key("retry_window", &GreylistChecks::retry_window, config::duration(1min, 30 * 24h), 48h)
      .key("max_age", &GreylistChecks::max_age, config::duration(1h, 365 * 24h), 35 * 24h)
      .key("auto_allow_after", &GreylistChecks::auto_allow_after, config::integer(0, 1000), 5)
      .check([](const GreylistChecks& g, Checker& c) {
        // A retry must be able to arrive after the delay and before the window closes.
        if (g.retry_window <= g.delay)
          c.fail("retry_window",
                 "must be longer than greylist.delay (" + config::format_duration(g.delay) + ")");
        else if (g.max_age < g.retry_window)
          c.fail("max_age", "must not be shorter than greylist.retry_window (" +
                                config::format_duration(g.retry_window) + ")");
      });
}

// clamd's socket: an absolute unix socket path, or a loopback address and port (the message
// would otherwise cross a network in the clear). Not looked up on this machine: clamd may start
// after the edge, and a scan that finds no socket is an error like any other (on_error).
Type<std::string> clamd_socket() {
  Type<std::string> file = config::path(PathCheck::none);
  Type<Endpoint> tcp = loopback_endpoint("127.0.0.1:3310",
                                         "clamd is reached on 127.0.0.0/8, [::1] or a unix "
                                         "socket only");
  return Type<std::string>{
      "a unix socket path like /run/clamav/clamd.ctl or a loopback address and port like "
      "127.0.0.1:3310",
      [file = file.parse, tcp = tcp.parse](std::string_view s) -> Result<std::string> {
        if (!s.empty() && s.front() == '/') {
          auto p = file(s);
          if (!p) return p;
          if (p->size() > kMaxSocketPath)
            return make_error("a unix socket path has at most " + std::to_string(kMaxSocketPath) +
                              " bytes");
          return p;
        }
        if (s.find(':') == std::string_view::npos)
          return make_error("must be an absolute unix socket path or a loopback host:port");
        auto e = tcp(s);
        if (!e) return make_error(e.error());
        return e->str();
      },
      [](const std::string& v) { return config::yaml_quote(v); }};
}

Table<ClamdChecks> clamd_table() {
  return Table<ClamdChecks>()
      .key("socket", &ClamdChecks::socket, clamd_socket(), config::required)
      .key("on_error", &ClamdChecks::on_error,
           config::one_of<ClamdOnError>(
               {{"tempfail", ClamdOnError::tempfail}, {"accept", ClamdOnError::accept}}),
           ClamdOnError::tempfail)
      .key("timeout", &ClamdChecks::timeout, config::duration(1s, 10min), 30s)
      .key("max_size", &ClamdChecks::max_size, config::size(64 << 10, 1ull << 30), 35ull << 20);
}

Table<AuthChecks> auth_table() {
  return Table<AuthChecks>()
      .key("enabled", &AuthChecks::enabled, config::boolean(), true)
      .key("dmarc_reject", &AuthChecks::dmarc_reject, config::boolean(), true)
      .key("public_suffix_list", &AuthChecks::public_suffix_list,
           config::path(PathCheck::readable_file),
           std::string("/usr/share/publicsuffix/public_suffix_list.dat"));
}

Table<Checks> checks_table() {
  return Table<Checks>()
      .key("greet_wait", &Checks::greet_wait, config::duration(0ms, 60s), 6s)
      .section("helo", &Checks::helo, helo_table())
      .section("sender", &Checks::sender, sender_table())
      .section("dnsbl", &Checks::dnsbl, dnsbl_table())
      .section("greylist", &Checks::greylist, greylist_table())
      .optional_section("clamd", &Checks::clamd, clamd_table(),
                        [](const ClamdChecks& c) { return !c.socket.empty(); })
      .section("auth", &Checks::auth, auth_table());
}

Table<Limits> limits_table() {
  return Table<Limits>()
      .key("max_message_size", &Limits::max_message_size, config::size(64 << 10, 1ull << 30),
           35ull << 20)
      .key("max_recipients", &Limits::max_recipients,
           config::integer(1, static_cast<int>(link::kMaxRecipients)), 100)
      .key("max_connections", &Limits::max_connections, config::integer(1, 100000), 1000)
      .key("max_connections_per_client", &Limits::max_connections_per_client,
           config::integer(1, 100000), 20)
      .key("max_errors", &Limits::max_errors, config::integer(1, 1000), 10)
      .key("command_timeout", &Limits::command_timeout, config::duration(10s, 1h), 300s)
      .check([](const Limits& l, Checker& c) {
        if (l.max_connections_per_client > l.max_connections)
          c.fail("max_connections_per_client", "must not exceed limits.max_connections (" +
                                                   std::to_string(l.max_connections) + ")");
        // Every accepted message goes to the inner in one frame (DELIVER).
        std::string link = config::check_link_message_size(
            l.max_message_size, static_cast<std::uint64_t>(l.max_recipients));
        if (!link.empty()) c.fail("max_message_size", link);
      });
}

Table<InboundConfig> inbound_table() {
  return Table<InboundConfig>()
      .key("max_queue_lifetime", &InboundConfig::max_queue_lifetime, config::duration(1min, 30 * 24h),
           5 * 24h)
      .key("retry_initial", &InboundConfig::retry_initial, config::duration(1s, 24h), 1min)
      .key("retry_max", &InboundConfig::retry_max, config::duration(1s, 7 * 24h), 1h)
      .check([](const InboundConfig& i, Checker& c) {
        if (i.retry_max < i.retry_initial)
          c.fail("retry_max", "must not be shorter than retry_initial");
      });
}

Table<OutboundConfig> outbound_table() {
  return Table<OutboundConfig>()
      .key("onion_map", &OutboundConfig::onion_map, config::path(PathCheck::readable_file),
           config::optional)
      .key("socks", &OutboundConfig::socks, config::endpoint(), config::optional)
      .key("per_destination_limit", &OutboundConfig::per_destination_limit, config::integer(1, 100),
           2)
      .key("retry_initial", &OutboundConfig::retry_initial, config::duration(1s, 24h), 5min)
      .key("retry_max", &OutboundConfig::retry_max, config::duration(1s, 7 * 24h), 4h)
      .key("max_queue_lifetime", &OutboundConfig::max_queue_lifetime,
           config::duration(1min, 30 * 24h), 5 * 24h)
      .key("connect_timeout", &OutboundConfig::connect_timeout, config::duration(1s, 10min), 120s)
      .key("connection_cache_time", &OutboundConfig::connection_cache_time,
           config::duration(0s, 5min), 2s)
      .key("connection_reuse_limit", &OutboundConfig::connection_reuse_limit,
           config::integer(1, 100000), 100)
      .key("smtp_port", &OutboundConfig::smtp_port, config::integer(1, 65535), 25)
      .key("allow_private_addresses", &OutboundConfig::allow_private_addresses, config::boolean(),
           false)
      .check([](const OutboundConfig& o, Checker& c) {
        if (o.retry_max < o.retry_initial)
          c.fail("retry_max", "must not be shorter than retry_initial");
      });
}

// Signing domains are few; two keys each (ed25519 and rsa) for a handful of domains.
constexpr std::size_t kMaxDkimKeys = 32;

Type<std::string> dkim_selector() {
  return Type<std::string>{"a DKIM selector like mx1-2026 (labels of a-z, 0-9 and '-')",
                           [](std::string_view s) -> Result<std::string> {
                             std::string v(s);
                             for (char& c : v)
                               if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
                             if (!dkim::valid_selector(v))
                               return make_error(
                                   "must be dot-separated labels of a-z, 0-9 and '-', at most 63 "
                                   "characters in all, like mx1-2026-ed");
                             return v;
                           },
                           [](const std::string& v) { return config::yaml_quote(v); }};
}

Table<DkimKeyConfig> dkim_table() {
  return Table<DkimKeyConfig>()
      .key("domain", &DkimKeyConfig::domain, config::domain(), config::required)
      .key("selector", &DkimKeyConfig::selector, dkim_selector(), config::required)
      .key("key", &DkimKeyConfig::key, config::path(PathCheck::readable_file), config::required)
      .key("algorithm", &DkimKeyConfig::algorithm,
           config::one_of<dkim::Algorithm>(
               {{"ed25519", dkim::Algorithm::ed25519}, {"rsa", dkim::Algorithm::rsa}}),
           config::required)
      .check([](const DkimKeyConfig& k, Checker& c) {
        // The key must be one the signer can use, of the algorithm named: a mismatch found at
        // the first message would leave every message unsigned (or undelivered).
        if (!c.checks_here()) return;
        auto key = dkim::load_key(k.key, k.algorithm);
        if (!key) c.fail("key", key.error());
      });
}

const Table<EdgeConfig>& edge_table() {
  static const Table<EdgeConfig> t =
      Table<EdgeConfig>()
          .key("hostname", &EdgeConfig::hostname, config::domain(), config::required)
          .key("data_dir", &EdgeConfig::data_dir, config::path(PathCheck::directory),
               config::required)
          .key("user", &EdgeConfig::user, config::system_user(), config::optional)
          .list("domains", &EdgeConfig::domains, domain_table(), Items{.min = 1, .max = 256})
          .section("listen", &EdgeConfig::listen, listen_table())
          .section("dns", &EdgeConfig::dns, dns_table())
          .section("tls", &EdgeConfig::tls, tls_table())
          .section("keys", &EdgeConfig::keys, keys_table())
          .section("checks", &EdgeConfig::checks, checks_table())
          .section("limits", &EdgeConfig::limits, limits_table())
          .section("inbound", &EdgeConfig::inbound, inbound_table())
          .section("outbound", &EdgeConfig::outbound, outbound_table())
          .list("dkim", &EdgeConfig::dkim, dkim_table(), Items{.max = kMaxDkimKeys})
          .section("log", &EdgeConfig::log, config::log_table())
          .check([](const EdgeConfig& e, Checker& c) {
            // Each public and each internal domain names exactly one mapping, and the two sides
            // never share a name (a rewrite would then be ambiguous).
            std::map<std::string, std::string> seen;
            for (std::size_t i = 0; i < e.domains.size(); ++i) {
              for (const char* side : {"public", "internal"}) {
                const std::string& d =
                    side[0] == 'p' ? e.domains[i].public_domain : e.domains[i].internal_domain;
                std::string at = "domains[" + std::to_string(i) + "]." + side;
                auto [it, fresh] = seen.emplace(d, at);
                if (!fresh) c.fail(at, "\"" + d + "\" is already used by " + it->second);
              }
            }
            // A message clamd is not sent is never scanned: every message between the two sizes
            // would get on_error's answer, always.
            if (!e.checks.clamd.socket.empty() && e.checks.clamd.max_size < e.limits.max_message_size)
              c.fail("checks.clamd.max_size",
                     "is below limits.max_message_size (" +
                         std::to_string(e.limits.max_message_size) +
                         " bytes): larger messages could never be scanned; raise it (and clamd's "
                         "StreamMaxLength) or lower limits.max_message_size");
          })
          .check([](const EdgeConfig& e, Checker& c) {
            // A signature for a domain that is not ours would vouch for someone else's mail;
            // one (domain, selector) names one record; a domain signs once per algorithm.
            for (std::size_t i = 0; i < e.dkim.size(); ++i) {
              const DkimKeyConfig& k = e.dkim[i];
              std::string at = "dkim[" + std::to_string(i) + "]";
              bool ours = std::any_of(e.domains.begin(), e.domains.end(), [&](const DomainMap& d) {
                return d.public_domain == k.domain;
              });
              if (!ours)
                c.fail(at + ".domain", "\"" + k.domain + "\" is not one of domains[].public");
              for (std::size_t j = 0; j < i; ++j) {
                const DkimKeyConfig& o = e.dkim[j];
                if (o.domain != k.domain) continue;
                if (o.selector == k.selector)
                  c.fail(at + ".selector", "duplicate of dkim[" + std::to_string(j) +
                                               "]: the same domain and selector");
                else if (o.algorithm == k.algorithm)
                  c.fail(at + ".algorithm",
                         "dkim[" + std::to_string(j) + "] already signs " + k.domain + " with " +
                             std::string(dkim::algorithm_name(k.algorithm)) +
                             ": a domain has at most one ed25519 and one rsa key");
              }
            }
          });
  return t;
}

}  // namespace

Result<EdgeConfig> load(const std::string& path, config::Host host) {
  return config::load_file(path, edge_table(), host);
}

Result<EdgeConfig> load_text(std::string_view text, const std::string& name, config::Host host) {
  return config::load_text(text, name, edge_table(), host);
}

std::string print_effective(const EdgeConfig& c) {
  return config::print(c, edge_table());
}

bool is_our_domain(const std::vector<DomainMap>& domains, std::string_view domain) {
  for (const auto& d : domains)
    if (ascii::iequals(d.public_domain, domain) || ascii::iequals(d.internal_domain, domain))
      return true;
  return false;
}

std::optional<std::string> internal_domain_for(const std::vector<DomainMap>& domains,
                                               std::string_view public_domain) {
  for (const auto& d : domains)
    if (ascii::iequals(d.public_domain, public_domain)) return d.internal_domain;
  return std::nullopt;
}

}  // namespace nj::edge
