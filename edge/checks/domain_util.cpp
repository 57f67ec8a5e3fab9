#include "edge/checks/domain_util.h"

namespace nj::checks {

std::string_view strip_dot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

bool same_domain(std::string_view a, std::string_view b) {
  return iequals(strip_dot(a), strip_dot(b));
}

bool under_domain(std::string_view name, std::string_view zone) {
  name = strip_dot(name);
  zone = strip_dot(zone);
  if (!zone.empty() && zone.front() == '.') zone.remove_prefix(1);
  if (zone.empty() || name.size() < zone.size()) return false;
  if (!iequals(name.substr(name.size() - zone.size()), zone)) return false;
  return name.size() == zone.size() || name[name.size() - zone.size() - 1] == '.';
}

}  // namespace nj::checks
