#include "edge/outbound/router.h"

#include <algorithm>

#include "common/crypto/crypto.h"

namespace nj::edge::outbound {

namespace {

Route verdict(Verdict v, std::string enhanced, std::string reason) {
  Route r;
  r.verdict = v;
  r.enhanced = std::move(enhanced);
  r.reason = std::move(reason);
  return r;
}

bool is_root(std::string_view host) {
  return host.empty() || host == ".";
}

}  // namespace

bool is_null_mx(const std::vector<dns::MxRecord>& mx) {
  return mx.size() == 1 && is_root(mx[0].host);
}

std::vector<dns::MxRecord> order_mx(std::vector<dns::MxRecord> mx, const RandomFn& rand) {
  std::erase_if(mx, [](const dns::MxRecord& r) { return is_root(r.host); });
  // Fisher-Yates first, then a stable sort: equal preferences keep their random order.
  for (size_t i = mx.size(); i > 1; --i) {
    size_t j = rand(static_cast<uint32_t>(i));
    std::swap(mx[i - 1], mx[j]);
  }
  std::stable_sort(mx.begin(), mx.end(), [](const dns::MxRecord& a, const dns::MxRecord& b) {
    return a.preference < b.preference;
  });
  return mx;
}

std::vector<dns::SrvRecord> order_srv(std::vector<dns::SrvRecord> srv, const RandomFn& rand) {
  std::stable_sort(srv.begin(), srv.end(), [](const dns::SrvRecord& a, const dns::SrvRecord& b) {
    return a.priority < b.priority;
  });
  std::vector<dns::SrvRecord> out;
  out.reserve(srv.size());
  size_t i = 0;
  while (i < srv.size()) {
    size_t end = i;
    while (end < srv.size() && srv[end].priority == srv[i].priority) ++end;
    std::vector<dns::SrvRecord> group(srv.begin() + static_cast<ptrdiff_t>(i),
                                      srv.begin() + static_cast<ptrdiff_t>(end));
    std::stable_partition(group.begin(), group.end(),
                          [](const dns::SrvRecord& r) { return r.weight == 0; });
    while (!group.empty()) {
      uint64_t sum = 0;
      for (const auto& r : group) sum += r.weight;
      // sum <= 65535 * 65535 records fits in 32 bits only for small groups; the resolver bounds
      // answers far below that, and the clamp keeps rand's argument valid regardless.
      uint32_t bound = static_cast<uint32_t>(std::min<uint64_t>(sum, UINT32_MAX - 1)) + 1;
      uint64_t pick = rand(bound);
      uint64_t running = 0;
      size_t chosen = group.size() - 1;
      for (size_t k = 0; k < group.size(); ++k) {
        running += group[k].weight;
        if (running >= pick) {
          chosen = k;
          break;
        }
      }
      out.push_back(group[chosen]);
      group.erase(group.begin() + static_cast<ptrdiff_t>(chosen));
    }
    i = end;
  }
  return out;
}

Router::Router(dns::Resolver& resolver, RouterConfig config, RandomFn rand)
    : resolver_(resolver), config_(std::move(config)), rand_(std::move(rand)) {
  if (!rand_) rand_ = [](uint32_t upper) { return crypto::random_uniform(upper); };
  for (auto& d : config_.our_domains) d = normalize_domain(d);
}

bool Router::is_ours(std::string_view domain) const {
  std::string d = normalize_domain(domain);
  return std::find(config_.our_domains.begin(), config_.our_domains.end(), d) !=
         config_.our_domains.end();
}

void Router::route(std::string_view domain_in, std::function<void(Route)> cb) {
  std::string domain = normalize_domain(domain_in);
  if (!is_domain_name(domain)) {
    cb(verdict(Verdict::permanent, "5.1.2", "bad destination domain"));
    return;
  }
  if (is_ours(domain)) {
    cb(verdict(Verdict::ours, "5.1.1", "our own domain is never delivered outbound"));
    return;
  }
  if (is_onion_domain(domain)) {
    // Never to DNS: the proxy resolves it inside Tor.
    if (!is_onion_name(domain)) {
      cb(verdict(Verdict::permanent, "5.1.2", "not a valid onion name"));
      return;
    }
    Route r = verdict(Verdict::route, "", "");
    r.destinations.push_back({domain, config_.onion_port, true});
    cb(std::move(r));
    return;
  }
  if (auto onion = config_.onion_map.lookup(domain)) {
    Route r = verdict(Verdict::route, "", "");
    r.destinations.push_back({*onion, config_.onion_port, true});
    cb(std::move(r));
    return;
  }
  resolver_.query("_onion-mx._tcp." + domain, dns::Type::SRV,
                  [this, domain, cb = std::move(cb)](const dns::Answer& a) mutable {
                    if (dns::is_temporary(a.status)) {
                      // The domain may publish an onion MX we cannot see right now; MX would
                      // send its mail over the clearnet instead.
                      cb(verdict(Verdict::transient, "4.4.3", "onion-mx lookup failed"));
                      return;
                    }
                    Route r = verdict(Verdict::route, "", "");
                    if (a.status == dns::Status::ok) {
                      for (const auto& s : order_srv(a.srv, rand_)) {
                        std::string target = normalize_domain(s.target);
                        // Only onion targets: an onion-mx record never routes to the clearnet.
                        if (!is_onion_name(target) || s.port == 0) continue;
                        if (r.destinations.size() >= config_.max_destinations) break;
                        r.destinations.push_back({target, s.port, true});
                      }
                    }
                    if (!r.destinations.empty()) {
                      cb(std::move(r));
                      return;
                    }
                    route_mx(domain, std::move(cb));
                  });
}

void Router::route_mx(const std::string& domain, std::function<void(Route)> cb) {
  resolver_.query(domain, dns::Type::MX, [this, domain, cb = std::move(cb)](const dns::Answer& a) {
    switch (a.status) {
      case dns::Status::nxdomain:
        cb(verdict(Verdict::permanent, "5.1.2", "recipient domain does not exist"));
        return;
      case dns::Status::servfail:
      case dns::Status::timeout:
      case dns::Status::error:
        cb(verdict(Verdict::transient, "4.4.3", "MX lookup failed"));
        return;
      case dns::Status::nodata: {
        // RFC 5321 5.1 implicit MX: the domain itself, preference 0.
        Route r = verdict(Verdict::route, "", "");
        r.destinations.push_back({domain, config_.smtp_port, false});
        cb(std::move(r));
        return;
      }
      case dns::Status::ok:
        break;
    }
    if (a.mx.empty()) {
      Route r = verdict(Verdict::route, "", "");
      r.destinations.push_back({domain, config_.smtp_port, false});
      cb(std::move(r));
      return;
    }
    if (is_null_mx(a.mx)) {
      cb(verdict(Verdict::permanent, "5.1.10", "recipient domain does not accept mail (null MX)"));
      return;
    }
    Route r = verdict(Verdict::route, "", "");
    for (const auto& m : order_mx(a.mx, rand_)) {
      std::string host = normalize_domain(m.host);
      // A clearnet MX naming an onion cannot be reached without DNS for it; and an MX path is
      // never a way into Tor (that is what the map and SRV are for).
      if (!is_domain_name(host) || is_onion_domain(host)) continue;
      if (r.destinations.size() >= config_.max_destinations) break;
      r.destinations.push_back({host, config_.smtp_port, false});
    }
    if (r.destinations.empty()) {
      cb(verdict(Verdict::permanent, "5.4.4", "no usable MX host"));
      return;
    }
    cb(std::move(r));
  });
}

}  // namespace nj::edge::outbound
