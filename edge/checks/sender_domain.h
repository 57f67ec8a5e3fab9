// SenderDomainCheck: at MAIL FROM, the sender's domain must be able to receive a bounce and must
// not point into private address space (Postfix's reject_unknown_sender_domain plus
// check_sender_ns_access / check_sender_mx_access for private networks).
// Trust: the domain comes from the client (already parsed by common/mail); every DNS answer is
// untrusted, so the number of hosts resolved and zones walked is bounded.
#pragma once

#include <cstddef>
#include <memory>

#include "common/dns/resolver.h"
#include "common/mail/address.h"
#include "edge/checks/decision.h"

namespace nj::checks {

struct SenderDomainOptions {
  // Tests only: the test DNS server answers 127.0.0.x. Lets loopback through; every other
  // private or reserved range is still refused.
  bool allow_loopback = false;
  // The two halves of the check can be turned off separately (edge config
  // checks.sender.require_resolvable / reject_private_mx_ns).
  bool require_resolvable = true;  // off: 5.1.8, 5.7.27 and 4.4.3 become passes
  bool reject_private = true;      // off: private and reserved ranges are not judged
  size_t max_hosts = 10;      // MX hosts and NS hosts resolved, each
  size_t max_zone_walk = 10;  // parent zones tried while looking for NS records
};

// Replies (exact text is part of the edge's contract):
//   550 5.1.8  Sender domain does not resolve              (NXDOMAIN, or no MX and no A/AAAA,
//                                                           or no MX host has an address)
//   550 5.7.27 Sender domain does not accept mail          (RFC 7505 null MX)
//   550 5.7.1  Sender domain points into private address space  (an MX host, the implicit MX,
//                                                           or an NS host of the closest
//                                                           enclosing zone)
//   451 4.4.3  Sender domain lookup failed, try again later (temporary DNS failure)
// The null sender is always accepted. MX, A, AAAA and the NS walk run in parallel; so do the
// address lookups of all MX and NS hosts.
class SenderDomainCheck {
 public:
  SenderDomainCheck(dns::Resolver& resolver, SenderDomainOptions options)
      : resolver_(resolver), options_(options) {}

  // The resolver must outlive the pending queries (its destructor fails them); this object need
  // not: each check holds its own state.
  [[nodiscard]] Pending check(const mail::Mailbox& sender, DecisionCallback cb);

 private:
  dns::Resolver& resolver_;
  SenderDomainOptions options_;
};

}  // namespace nj::checks
