#include "edge/checks/sender_allowlist.h"

#include <memory>
#include <utility>

#include "common/dns/address_class.h"
#include "edge/checks/domain_util.h"

namespace nj::checks {
namespace {

Decision unauthorized(const char* why) {
  return Decision::reply(550, "5.7.1",
                         "Sender address rejected: not sent from an authorized client", why);
}

// One FCrDNS confirmation in flight: PTR, then A or AAAA of each matching name.
struct Confirm {
  Confirm(dns::Resolver& r, IpAddress ip, std::vector<std::string> s, size_t max, Completion c)
      : resolver(r), client(ip), suffixes(std::move(s)), max_names(max), done(std::move(c)) {}

  dns::Resolver& resolver;
  IpAddress client;
  std::vector<std::string> suffixes;
  size_t max_names;
  Completion done;
  size_t outstanding = 0;
  bool confirmed = false;
  bool temporary = false;

  static void start(const std::shared_ptr<Confirm>& self) {
    auto rev = dns::reverse_name(format_ip(self->client));
    if (!rev.ok()) {  // cannot happen for a parsed address; refuse rather than guess
      self->done.fire(unauthorized("sender allowlist: no reverse name"));
      return;
    }
    self->outstanding = 1;
    self->resolver.query(*rev, dns::Type::PTR, [self](const dns::Answer& a) {
      self->on_ptr(self, a);
      self->finish_one();
    });
  }

  bool wanted_name(std::string_view name) const {
    for (const auto& s : suffixes) {
      if (under_domain(name, s)) return true;
    }
    return false;
  }

  void on_ptr(const std::shared_ptr<Confirm>& self, const dns::Answer& a) {
    if (a.status != dns::Status::ok) {
      temporary = dns::is_temporary(a.status) || a.status == dns::Status::error;
      return;
    }
    size_t asked = 0;
    for (const auto& name : a.names) {
      if (asked >= max_names) break;
      if (!wanted_name(name)) continue;
      ++asked;
      ++outstanding;
      resolver.query(
          strip_dot(name), client.v6 ? dns::Type::AAAA : dns::Type::A,
          [self](const dns::Answer& fwd) {
            if (fwd.status == dns::Status::ok) {
              for (const auto& addr : fwd.addresses) {
                auto ip = parse_ip(addr);
                if (ip && *ip == self->client) self->confirmed = true;
              }
            } else if (dns::is_temporary(fwd.status) || fwd.status == dns::Status::error) {
              self->temporary = true;
            }
            self->finish_one();
          });
    }
  }

  void finish_one() {
    if (--outstanding != 0) return;
    if (confirmed) {
      done.fire(Decision::pass("sender allowlist: client name confirmed"));
    } else if (temporary) {
      done.fire(Decision::reply(451, "4.4.3", "Client name lookup failed, try again later",
                                "sender allowlist: temporary dns failure"));
    } else {
      done.fire(unauthorized("sender allowlist: client not authorized"));
    }
  }
};

}  // namespace

const AllowlistRule* SenderAllowlist::rule_for(std::string_view domain) const {
  const AllowlistRule* best = nullptr;
  for (const auto& r : options_.rules) {
    if (under_domain(domain, r.domain) &&
        (best == nullptr || strip_dot(r.domain).size() > strip_dot(best->domain).size())) {
      best = &r;
    }
  }
  return best;
}

Pending SenderAllowlist::check(const mail::Mailbox& sender, std::string_view client_ip,
                               DecisionCallback cb) {
  Completion done(std::move(cb));
  Pending p = done.pending();
  const AllowlistRule* rule = sender.null_path ? nullptr : rule_for(sender.domain);
  if (rule == nullptr) {
    done.fire(Decision::pass());
    return p;
  }
  auto ip = parse_ip(client_ip);
  if (!ip) {
    done.fire(unauthorized("sender allowlist: no client address"));
    return p;
  }
  for (const auto& net : rule->networks) {
    if (net.contains(*ip)) {
      done.fire(Decision::pass("sender allowlist: client network listed"));
      return p;
    }
  }
  if (rule->ptr_suffixes.empty()) {
    done.fire(unauthorized("sender allowlist: client network not listed"));
    return p;
  }
  auto c = std::make_shared<Confirm>(resolver_, *ip, rule->ptr_suffixes, options_.max_ptr_names,
                                     std::move(done));
  Confirm::start(c);
  return p;
}

}  // namespace nj::checks
