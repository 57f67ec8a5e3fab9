#include "common/mail/origin.h"

namespace nj::mail {

Result<std::string> mark_internet_origin(std::string_view message, const HeaderLimits& limits) {
  auto hs = parse_headers(message, limits);
  if (!hs) return make_error(hs.error());
  std::string out;
  out.reserve(message.size() + kOriginField.size() + kOriginInternet.size() + 4);
  out.append(kOriginField).append(": ").append(kOriginInternet).append("\r\n");
  for (const auto& f : hs->fields)
    if (!f.is(kOriginField)) out.append(f.raw);
  // The separator line (when there is one) and the body, as they were.
  out.append(message.substr(hs->has_separator ? hs->body_offset - 2 : hs->body_offset));
  return out;
}

}  // namespace nj::mail
