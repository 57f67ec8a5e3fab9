// OnionMap: the static map of mail domains reachable over onion services, in the OnionMX
// format (ehloonion/onionmx sources/map.yml): a YAML map whose keys are onion names and whose
// values are lists of mail domains, e.g.
//   'xyz...xyz.onion':
//     - 'example.org'
// Trust: the file is operator input, checked once at start-up; every entry that is not an
// onion name with a list of plausible domains is refused with `file:line: problem`, never
// skipped, so a typo cannot silently send a domain's mail over the clearnet instead.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::edge::outbound {

struct OnionMapLimits {
  size_t max_onions = 10000;
  size_t max_domains = 100000;  // over all onions
};

class OnionMap {
 public:
  // Parses the YAML text; `name` prefixes the errors ("name:line: ...").
  static Result<OnionMap> parse(std::string_view yaml, std::string_view name,
                                const OnionMapLimits& limits = {});
  static Result<OnionMap> load(const std::string& path, const OnionMapLimits& limits = {});

  // The onion name for a mail domain (case-insensitive, trailing dot ignored).
  std::optional<std::string> lookup(std::string_view domain) const;
  size_t size() const { return by_domain_.size(); }

  // Adds one mapping (tests, and the parser).
  void add(std::string domain, std::string onion);

 private:
  std::map<std::string, std::string> by_domain_;
};

// Lowercase, no trailing dot.
std::string normalize_domain(std::string_view d);
// A syntactically valid DNS name (labels 1..63 of letters, digits, '-', not starting or ending
// with '-'; total <= 253).
bool is_domain_name(std::string_view d);
// v2 (16) or v3 (56) base32 label followed by ".onion"; subdomains of an onion are allowed.
bool is_onion_name(std::string_view d);
// Anything under .onion: never to be given to DNS.
bool is_onion_domain(std::string_view d);

}  // namespace nj::edge::outbound
