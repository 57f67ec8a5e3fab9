#include "edge/checks/dnsbl.h"

#include <charconv>

#include "common/crypto/crypto.h"
#include "common/dns/address_class.h"
#include "edge/checks/client_address.h"

namespace nj::checks {
namespace {

constexpr size_t kMaxZones = 32;
constexpr size_t kMaxFilterRanges = 32;
constexpr size_t kMaxZoneName = 253;
constexpr int kMaxWeight = 1000;

// Per zone, in the cache and while collecting: not known yet, listed, not listed.
enum class Hit : int8_t { unknown, listed, clean };

Result<uint8_t> parse_octet(std::string_view s) {
  unsigned v = 0;
  if (s.empty() || s.size() > 3) return make_error("bad octet");
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > 255) return make_error("bad octet");
  return static_cast<uint8_t>(v);
}

Decision decide(const std::vector<DnsblZone>& zones, int threshold, const std::vector<Hit>& hits,
                const std::string& failed) {
  int score = 0;
  std::string listed;
  for (size_t i = 0; i < hits.size(); ++i) {
    if (hits[i] != Hit::listed) continue;
    score += zones[i].weight;
    listed += (listed.empty() ? "" : ",") + zones[i].zone;
  }
  std::string reason = "dnsbl: score " + std::to_string(score) + "/" + std::to_string(threshold);
  if (!listed.empty()) reason += " listed=" + listed;
  if (!failed.empty()) reason += " failed=" + failed;
  if (score >= threshold) {
    return Decision::reply(550, "5.7.1", "Service unavailable; client listed by DNSBL", reason);
  }
  return Decision::pass(reason);
}

}  // namespace

bool DnsblZone::matches(std::string_view address) const {
  auto ip = parse_ip(address);
  if (!ip || ip->v6 || ip->bytes[0] != 127) return false;
  if (filter.empty()) return !(ip->bytes[1] == 255 && ip->bytes[2] == 255);
  if (ip->bytes[1] != 0 || ip->bytes[2] != 0) return false;
  for (const auto& [lo, hi] : filter) {
    if (ip->bytes[3] >= lo && ip->bytes[3] <= hi) return true;
  }
  return false;
}

Result<DnsblZone> parse_dnsbl_zone(std::string_view spec) {
  DnsblZone z;
  size_t star = spec.rfind('*');
  if (star != std::string_view::npos) {
    std::string_view w = spec.substr(star + 1);
    int weight = 0;
    auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), weight);
    if (w.empty() || ec != std::errc() || end != w.data() + w.size() || weight > kMaxWeight ||
        weight < -kMaxWeight) {
      return make_error("bad weight");
    }
    z.weight = weight;
    spec = spec.substr(0, star);
  }
  size_t eq = spec.find('=');
  std::string_view name = spec.substr(0, eq);
  if (name.empty() || name.size() > kMaxZoneName || name.find_first_of(" \t[]") != name.npos) {
    return make_error("bad zone name");
  }
  z.zone = std::string(name);
  if (!dns::dnsbl_name("127.0.0.2", z.zone).ok()) return make_error("bad zone name");
  if (eq == std::string_view::npos) return z;
  std::string_view f = spec.substr(eq + 1);
  constexpr std::string_view kPrefix = "127.0.0.";
  if (f.substr(0, kPrefix.size()) != kPrefix) return make_error("filter must be 127.0.0.x");
  f.remove_prefix(kPrefix.size());
  if (!f.empty() && f.front() == '[') {
    if (f.size() < 3 || f.back() != ']') return make_error("bad filter list");
    f = f.substr(1, f.size() - 2);
  } else if (f.find_first_of(";.") != std::string_view::npos) {
    return make_error("bad filter octet");
  }
  while (true) {
    size_t semi = f.find(';');
    std::string_view item = f.substr(0, semi);
    size_t dots = item.find("..");
    auto lo = parse_octet(item.substr(0, dots));
    auto hi = dots == std::string_view::npos ? lo : parse_octet(item.substr(dots + 2));
    if (!lo.ok() || !hi.ok() || *hi < *lo) return make_error("bad filter range");
    if (z.filter.size() >= kMaxFilterRanges) return make_error("too many filter ranges");
    z.filter.emplace_back(*lo, *hi);
    if (semi == std::string_view::npos) break;
    f.remove_prefix(semi + 1);
  }
  return z;
}

struct CacheEntry {
  int64_t expires = 0;
  std::vector<Hit> hits;
  std::list<std::string>::iterator order;
};

struct DnsblScorer::Impl {
  Impl(dns::Resolver& r, const Clock& c, DnsblOptions o)
      : resolver(r), clock(c), opt(std::move(o)), key(crypto::HashKey::generate()) {}

  dns::Resolver& resolver;
  const Clock& clock;
  DnsblOptions opt;
  crypto::HashKey key;
  // Oldest first: every entry lives cache_seconds, so insertion order is expiry order.
  std::list<std::string> order;
  std::unordered_map<std::string, CacheEntry> cache;

  std::vector<Hit> cached(const std::string& k) {
    auto it = cache.find(k);
    if (it == cache.end()) return {};
    if (it->second.expires <= clock.now()) {
      order.erase(it->second.order);
      cache.erase(it);
      return {};
    }
    return it->second.hits;
  }

  void store(const std::string& k, const std::vector<Hit>& hits) {
    auto it = cache.find(k);
    if (it != cache.end()) {
      order.erase(it->second.order);
      cache.erase(it);
    }
    int64_t now = clock.now();
    while (!order.empty() &&
           (cache.size() >= opt.max_cache_entries || cache.at(order.front()).expires <= now)) {
      cache.erase(order.front());
      order.pop_front();
    }
    if (opt.max_cache_entries == 0) return;
    order.push_back(k);
    cache.emplace(k, CacheEntry{now + opt.cache_seconds, hits, std::prev(order.end())});
  }
};

namespace {

// One scoring in flight.
struct Round {
  std::weak_ptr<DnsblScorer::Impl> impl;
  std::vector<DnsblZone> zones;
  int threshold = 0;
  std::string cache_key;
  std::vector<Hit> hits;
  std::string failed;
  size_t outstanding = 0;
  Completion done;
  explicit Round(Completion c) : done(std::move(c)) {}

  void finish_one() {
    if (--outstanding != 0) return;
    // Failed zones stay unknown in the cache so the next connection asks them again. A scorer
    // that is gone (shutdown) has no cache to fill.
    if (auto i = impl.lock()) i->store(cache_key, hits);
    done.fire(decide(zones, threshold, hits, failed));
  }
};

}  // namespace

DnsblScorer::DnsblScorer(dns::Resolver& resolver, const Clock& clock, DnsblOptions options)
    : impl_(std::make_shared<Impl>(resolver, clock, std::move(options))) {
  if (impl_->opt.zones.size() > kMaxZones) impl_->opt.zones.resize(kMaxZones);
  // A threshold of 0 or less would refuse every client, listed or not.
  if (impl_->opt.threshold < 1) impl_->opt.threshold = 1;
}

DnsblScorer::~DnsblScorer() = default;

size_t DnsblScorer::cache_size() const {
  return impl_->cache.size();
}

Pending DnsblScorer::score(std::string_view client_ip, DecisionCallback cb) {
  Completion done(std::move(cb));
  Pending p = done.pending();
  auto ip = parse_ip(client_ip);
  if (!ip) {
    done.fire(Decision::pass("dnsbl: no client address"));
    return p;
  }
  const auto& zones = impl_->opt.zones;
  if (zones.empty()) {
    done.fire(Decision::pass("dnsbl: no zones"));
    return p;
  }
  std::string text = format_ip(*ip);
  auto digest = crypto::keyed_hash(impl_->key, {"dnsbl", text});
  std::string key(crypto::digest_view(digest));
  std::vector<Hit> hits = impl_->cached(key);
  hits.resize(zones.size(), Hit::unknown);
  bool complete = true;
  for (Hit h : hits) complete = complete && h != Hit::unknown;
  if (complete) {
    Decision d = decide(zones, impl_->opt.threshold, hits, "");
    d.reason += " (cached)";
    done.fire(std::move(d));
    return p;
  }

  auto round = std::make_shared<Round>(std::move(done));
  round->impl = impl_;
  round->zones = zones;
  round->threshold = impl_->opt.threshold;
  round->cache_key = std::move(key);
  round->hits = std::move(hits);
  round->outstanding = 1;  // held until every query is started (synchronous resolvers)
  for (size_t i = 0; i < zones.size(); ++i) {
    if (round->hits[i] != Hit::unknown) continue;
    auto qname = dns::dnsbl_name(text, zones[i].zone);
    if (!qname.ok()) {  // parse_dnsbl_zone refuses such zones; a hand-built one fails open
      round->failed += (round->failed.empty() ? "" : ",") + zones[i].zone + "(bad zone)";
      continue;
    }
    ++round->outstanding;
    impl_->resolver.query(*qname, dns::Type::A, [round, i](const dns::Answer& a) {
      Hit h = Hit::clean;
      if (a.status == dns::Status::ok) {
        for (const auto& addr : a.addresses) {
          if (round->zones[i].matches(addr)) h = Hit::listed;
        }
      } else if (a.status != dns::Status::nxdomain && a.status != dns::Status::nodata) {
        h = Hit::unknown;
        round->failed += (round->failed.empty() ? "" : ",") + round->zones[i].zone + "(" +
                         dns::status_name(a.status) + ")";
      }
      round->hits[i] = h;
      round->finish_one();
    });
  }
  round->finish_one();
  return p;
}

}  // namespace nj::checks
