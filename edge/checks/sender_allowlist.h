// SenderAllowlist: for "usual suspect" domains that phishers forge (paypal.com, banks), mail
// claiming a sender in the domain or below it is accepted only from the domain's own client
// networks (CIDR) or from clients whose forward-confirmed reverse DNS name ends in a listed
// suffix. Other senders are not affected.
// Trust: rules are operator config; the sender domain is client input parsed by common/mail; PTR
// and address answers are untrusted, so only a bounded number of PTR names are confirmed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/dns/resolver.h"
#include "common/mail/address.h"
#include "edge/checks/client_address.h"
#include "edge/checks/decision.h"

namespace nj::checks {

struct AllowlistRule {
  std::string domain;                     // applies to this domain and its subdomains
  std::vector<Cidr> networks;             // clients allowed by address
  std::vector<std::string> ptr_suffixes;  // clients allowed by FCrDNS name, e.g. "paypal.com"
};

struct SenderAllowlistOptions {
  std::vector<AllowlistRule> rules;
  size_t max_ptr_names = 5;  // PTR names forward-confirmed per client
};

// 550 5.7.1 Sender address rejected: not sent from an authorized client
// 451 4.4.3 Client name lookup failed, try again later   (temporary DNS failure while the
//                                                         client could still be authorized)
class SenderAllowlist {
 public:
  SenderAllowlist(dns::Resolver& resolver, SenderAllowlistOptions options)
      : resolver_(resolver), options_(std::move(options)) {}

  // The rule that covers `domain`, if any (the most specific one).
  const AllowlistRule* rule_for(std::string_view domain) const;

  // Calls back before returning when no DNS is needed (no rule, or a network match).
  [[nodiscard]] Pending check(const mail::Mailbox& sender, std::string_view client_ip,
                              DecisionCallback cb);

 private:
  dns::Resolver& resolver_;
  SenderAllowlistOptions options_;
};

}  // namespace nj::checks
