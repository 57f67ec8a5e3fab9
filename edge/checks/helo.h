// HELO/EHLO sanity: refuses names that are not syntactically a domain or an address literal,
// names that are not fully qualified, and names that claim to be this edge.
// Trust: `name` is the client's argument, untrusted, parsed by common/mail; `our` is config.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "edge/checks/decision.h"

namespace nj::checks {

struct OurNames {
  std::string hostname;                       // the edge's public HELO name
  std::vector<std::string> domains;           // the mail domains we accept mail for
  std::vector<std::string> listen_addresses;  // textual addresses our listeners bind
};

// 501 5.5.2 Invalid HELO name                       (not a domain nor a valid address literal)
// 504 5.5.2 HELO name must be fully qualified       (a domain without a dot)
// 550 5.7.1 HELO name is ours                       (our hostname, one of our domains, or a
//                                                    literal of one of our listen addresses)
// A literal naming the client's own address is accepted even when we also listen on it: that
// client is telling the truth (a local test client on 127.0.0.1 talking to a 127.0.0.1 edge).
// Names are compared case-insensitively, exactly (a subdomain of ours is not "ours").
Decision check_helo(std::string_view name, std::string_view client_ip, const OurNames& our);

}  // namespace nj::checks
