// Small comparisons of DNS names that several checks share. Internal to edge/checks.
// Trust: inputs are untrusted names; nothing here allocates per label or recurses.
#pragma once

#include <string_view>

#include "common/base/ascii.h"

namespace nj::checks {

using ascii::iequals;
// Case-insensitive, ignoring one trailing dot on either side.
bool same_domain(std::string_view a, std::string_view b);
// `name` equals `zone` or is below it on a label boundary ("a.paypal.com" is under
// "paypal.com", "evilpaypal.com" is not). A leading dot on `zone` is ignored.
bool under_domain(std::string_view name, std::string_view zone);
// Without one trailing dot.
std::string_view strip_dot(std::string_view name);

}  // namespace nj::checks
