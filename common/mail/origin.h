// The origin mark: one header field the inner writes at the top of every message that came from
// the Internet (DESIGN.md: mail from the Internet reaches users "marked as from the Internet"),
// so a reader, a filter rule or nightjar-filter can tell it from mail another account sent.
// Only the inner writes it, and only the inner's copy counts: every field of this name already in
// a message is removed wherever mail enters (the edge's inbound sanitizer, the inner's delivery
// of what the edge pushes, the submission path for what a user submits), and the outbound
// allowlist never lets it out. So neither an Internet sender nor a seized edge can forge the
// mark, nor make Internet mail look local by leaving it out. The name has no "X-" (RFC 6648).
// Trust: the message is untrusted; its header section is parsed with limits.
#pragma once

#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/mail/headers.h"

namespace nj::mail {

inline constexpr std::string_view kOriginField = "Nightjar-Origin";
inline constexpr std::string_view kOriginInternet = "internet";

// The message with every kOriginField field removed (folded fields as a whole) and
// "Nightjar-Origin: internet" as its first field; all other bytes unchanged. Fails when the
// header section does not parse: then a forged field could not be found for certain.
Result<std::string> mark_internet_origin(std::string_view message, const HeaderLimits& limits = {});

}  // namespace nj::mail
