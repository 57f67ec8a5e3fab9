// Command-line syntax shared by the SMTP server and client engines: splitting a command line
// into verb and argument, MAIL/RCPT arguments into path and ESMTP parameters, SASL base64.
// Trust: every input is untrusted client text; all functions are bounded and return errors as
// values. Full address syntax is not checked here (common/mail does that in the hooks); only
// the "<...>" shape, so that garbage never reaches the hooks.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/ascii.h"
#include "common/base/result.h"

namespace nj::smtp {

struct EsmtpParam {
  std::string keyword;  // uppercased
  std::optional<std::string> value;
};

struct CommandLine {
  std::string verb;      // uppercased; empty if the line has no verb
  std::string_view arg;  // after the verb and its separating spaces; a view into the line
};

// Verbs are letters only; anything else leaves verb empty (a non-SMTP line).
CommandLine split_command(std::string_view line);

inline constexpr size_t kMaxPathLength = 256;  // RFC 5321 4.5.3.1.3, brackets included
inline constexpr size_t kMaxParams = 16;
inline constexpr size_t kMaxParamLength = 500;

struct PathArg {
  std::string_view path;  // "<...>", brackets included
  std::vector<EsmtpParam> params;
  bool eight_bit = false;  // the path holds non-ASCII octets (needs SMTPUTF8)
};

enum class PathError { syntax, bad_path, bad_params };

// Splits "FROM:<a@b> SIZE=10" (prefix "FROM:") or "TO:<a@b>". Spaces after the colon are
// tolerated (many clients send them). The path must be "<...>" with no control characters,
// at most kMaxPathLength; a '>' inside a quoted local part does not end it.
struct PathParse {
  std::optional<PathArg> value;
  PathError error = PathError::syntax;
};
PathParse parse_path_arg(std::string_view arg, std::string_view prefix);

// Strict RFC 4648 base64 (padding required, no whitespace). Bounded by the input size.
std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

using ascii::iequals;

}  // namespace nj::smtp
