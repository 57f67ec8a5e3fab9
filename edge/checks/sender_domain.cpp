#include "edge/checks/sender_domain.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "common/dns/address_class.h"
#include "edge/checks/domain_util.h"

namespace nj::checks {
namespace {

Decision does_not_resolve(const char* why) {
  return Decision::reply(550, "5.1.8", "Sender domain does not resolve", why);
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Text that is not an address counts as blocked: the resolver formats addresses itself, so
// garbage there is not "public".
bool blocked_address(std::string_view addr, bool allow_loopback) {
  auto c = dns::classify_address(addr);
  if (!c) return true;
  if (allow_loopback && *c == dns::AddressClass::loopback) return false;
  return *c != dns::AddressClass::global;
}

bool is_root(std::string_view host) {
  return host.empty() || host == ".";
}

// Everything but the private-range refusal is about resolvability.
Decision apply_options(Decision d, const SenderDomainOptions& o) {
  if (!o.require_resolvable && !d.accept && d.enhanced != "5.7.1")
    return Decision::pass("sender domain: resolvability not required");
  return d;
}

// One check in flight. Every query callback holds a shared_ptr to it; the last one finishes.
class State : public std::enable_shared_from_this<State> {
 public:
  State(dns::Resolver& r, SenderDomainOptions o, std::string domain, Completion done)
      : resolver_(r), opt_(o), domain_(std::move(domain)), done_(std::move(done)) {}

  void start() {
    // The extra count keeps a resolver that answers synchronously from finishing the check
    // before every first-round query has been started.
    ++outstanding_;
    query(domain_, dns::Type::MX, [](State& s, const dns::Answer& a) { s.on_mx(a); });
    query(domain_, dns::Type::A, [](State& s, const dns::Answer& a) { s.on_own_address(a); });
    query(domain_, dns::Type::AAAA, [](State& s, const dns::Answer& a) { s.on_own_address(a); });
    query_ns(domain_, 0);
    finish_one();
  }

 private:
  using Handler = void (*)(State&, const dns::Answer&);

  void query(const std::string& name, dns::Type t, Handler h) {
    ++outstanding_;
    auto self = shared_from_this();
    resolver_.query(name, t, [self, h](const dns::Answer& a) {
      h(*self, a);
      self->finish_one();
    });
  }

  void on_mx(const dns::Answer& a) {
    mx_status_ = a.status;
    if (a.status != dns::Status::ok) return;
    if (a.mx.empty()) {
      mx_status_ = dns::Status::nodata;
      return;
    }
    if (a.mx.size() == 1 && is_root(a.mx[0].host) && a.mx[0].preference == 0) {
      null_mx_ = true;
      return;
    }
    std::vector<dns::MxRecord> mx = a.mx;
    std::stable_sort(mx.begin(), mx.end(),
                     [](const auto& x, const auto& y) { return x.preference < y.preference; });
    std::vector<std::string> hosts;
    for (const auto& r : mx) {
      if (hosts.size() >= opt_.max_hosts) break;
      if (is_root(r.host)) continue;  // a "." among real MX hosts is a misconfiguration: skip
      std::string h(strip_dot(r.host));
      bool seen = std::any_of(hosts.begin(), hosts.end(),
                              [&](const std::string& x) { return same_domain(x, h); });
      if (!seen) hosts.push_back(std::move(h));
    }
    for (const auto& h : hosts) {
      query(h, dns::Type::A, [](State& s, const dns::Answer& r) { s.on_mx_host(r); });
      query(h, dns::Type::AAAA, [](State& s, const dns::Answer& r) { s.on_mx_host(r); });
    }
  }

  void on_mx_host(const dns::Answer& a) {
    if (a.status == dns::Status::ok && !a.addresses.empty()) {
      mx_host_addresses_ = true;
      check_addresses(a, "mx host");
    } else if (dns::is_temporary(a.status) || a.status == dns::Status::error) {
      mx_host_temp_ = true;
    }
  }

  // The domain's own A/AAAA: the implicit MX when there is no MX record (RFC 5321 5.1).
  void on_own_address(const dns::Answer& a) {
    if (a.status == dns::Status::ok) {
      for (const auto& addr : a.addresses) own_addresses_.push_back(addr);
    } else if (dns::is_temporary(a.status) || a.status == dns::Status::error) {
      own_temp_ = true;
    }
  }

  // Walks up from the domain to the closest enclosing zone with NS records. Top-level domains
  // are not asked: their servers are public and the answer would only cost a query.
  void query_ns(const std::string& name, size_t depth) {
    if (depth >= opt_.max_zone_walk || name.find('.') == std::string::npos) return;
    ++outstanding_;
    auto self = shared_from_this();
    resolver_.query(name, dns::Type::NS, [self, name, depth](const dns::Answer& a) {
      self->on_ns(name, depth, a);
      self->finish_one();
    });
  }

  void on_ns(const std::string& name, size_t depth, const dns::Answer& a) {
    if (a.status == dns::Status::ok && !a.names.empty()) {
      size_t n = 0;
      for (const auto& host : a.names) {
        if (n++ >= opt_.max_hosts) break;
        if (is_root(host)) continue;
        std::string h(strip_dot(host));
        query(h, dns::Type::A, [](State& s, const dns::Answer& r) { s.on_ns_host(r); });
        query(h, dns::Type::AAAA, [](State& s, const dns::Answer& r) { s.on_ns_host(r); });
      }
      return;
    }
    if (a.status == dns::Status::ok || a.status == dns::Status::nodata ||
        a.status == dns::Status::nxdomain) {
      query_ns(name.substr(name.find('.') + 1), depth + 1);
      return;
    }
    ns_temp_ = true;
  }

  void on_ns_host(const dns::Answer& a) {
    // An NS host that does not resolve is the zone's problem, not a reason to refuse mail; a
    // temporary failure there is ignored for the same reason.
    if (a.status == dns::Status::ok) check_addresses(a, "ns host");
  }

  void check_addresses(const dns::Answer& a, const char* what) {
    for (const auto& addr : a.addresses) {
      if (blocked(addr)) private_what_ = what;
    }
  }

  bool blocked(std::string_view addr) const {
    return opt_.reject_private && blocked_address(addr, opt_.allow_loopback);
  }

  void finish_one() {
    if (--outstanding_ == 0) done_.fire(apply_options(decide(), opt_));
  }

  Decision decide() {
    if (mx_status_ == dns::Status::nxdomain) return does_not_resolve("sender domain: nxdomain");
    if (null_mx_) {
      return Decision::reply(550, "5.7.27", "Sender domain does not accept mail",
                             "sender domain: null mx");
    }
    bool implicit = mx_status_ == dns::Status::nodata;
    if (implicit) {
      for (const auto& addr : own_addresses_) {
        if (blocked(addr)) private_what_ = "implicit mx";
      }
    }
    if (!private_what_.empty()) {
      return Decision::reply(550, "5.7.1", "Sender domain points into private address space",
                             "sender domain: private address of " + private_what_);
    }
    if (mx_status_ != dns::Status::ok && !implicit) return temp_failure("mx lookup");
    if (ns_temp_) return temp_failure("ns lookup");
    if (implicit) {
      if (!own_addresses_.empty()) return Decision::pass("sender domain: implicit mx");
      if (own_temp_) return temp_failure("address lookup");
      return does_not_resolve("sender domain: no mx and no address");
    }
    if (mx_host_addresses_) return Decision::pass();
    if (mx_host_temp_) return temp_failure("mx host lookup");
    return does_not_resolve("sender domain: no mx host resolves");
  }

  static Decision temp_failure(const std::string& what) {
    return Decision::reply(451, "4.4.3", "Sender domain lookup failed, try again later",
                           "sender domain: temporary failure in " + what);
  }

  dns::Resolver& resolver_;
  SenderDomainOptions opt_;
  std::string domain_;
  Completion done_;
  size_t outstanding_ = 0;

  dns::Status mx_status_ = dns::Status::error;
  bool null_mx_ = false;
  bool mx_host_addresses_ = false;
  bool mx_host_temp_ = false;
  std::vector<std::string> own_addresses_;
  bool own_temp_ = false;
  bool ns_temp_ = false;
  std::string private_what_;  // non-empty once a private address was seen
};

}  // namespace

Pending SenderDomainCheck::check(const mail::Mailbox& sender, DecisionCallback cb) {
  Completion done(std::move(cb));
  Pending p = done.pending();
  if (sender.null_path) {
    done.fire(Decision::pass("sender domain: null sender"));
    return p;
  }
  std::string_view domain = strip_dot(sender.domain);
  if (domain.empty()) {
    done.fire(apply_options(does_not_resolve("sender domain: empty"), options_));
    return p;
  }
  if (domain.front() == '[') {
    // An address literal cannot be looked up; only its range can be judged.
    std::string_view lit = domain.substr(1, domain.size() - 2);
    if (lit.size() > 5 && iequals(lit.substr(0, 5), "IPv6:")) lit.remove_prefix(5);
    bool ok = !options_.reject_private || !blocked_address(lit, options_.allow_loopback);
    done.fire(ok ? Decision::pass("sender domain: address literal")
                 : Decision::reply(550, "5.7.1", "Sender domain points into private address space",
                                   "sender domain: private address literal"));
    return p;
  }
  if (!is_ascii(domain)) {
    // A U-label would have to become an A-label (IDNA) before DNS can answer; nothing in the tree
    // does that yet, so fail open rather than refuse every internationalized sender.
    done.fire(Decision::pass("sender domain: internationalized, not checked"));
    return p;
  }
  if (!mail::is_valid_domain(domain)) {
    done.fire(apply_options(does_not_resolve("sender domain: invalid"), options_));
    return p;
  }
  auto state = std::make_shared<State>(resolver_, options_, std::string(domain), std::move(done));
  state->start();
  return p;
}

}  // namespace nj::checks
