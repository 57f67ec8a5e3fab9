// The control socket's client side, for nightjarctl: one command, one answer, blocking, with a
// deadline. The protocol (docs/operations.md, "The control socket"): the client sends one
// command line ("status\n"); the daemon answers "ok" or "error: REASON" on the first line, then
// the body, and closes.
// Trust: the daemon's answer is read with a size bound and printed by the caller as text.
#pragma once

#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::control {

// Longest command line, "\n" included; the server refuses longer ones.
constexpr size_t kMaxCommandLine = 256;
// Longest answer the client reads.
constexpr size_t kMaxAnswer = 1 << 20;

std::string socket_path(const std::string& data_dir);  // data_dir + "/control.sock"

// One command, the body of an "ok" answer; an error for "error: ..." or when no daemon answers
// on `path` within `timeout_ms` (the message names the path).
Result<std::string> request(const std::string& path, std::string_view command,
                            int timeout_ms = 5000);

// True when something accepts a connection on the unix socket `path` (the server's test before
// it removes a stale socket file).
bool answers(const std::string& path);

}  // namespace nj::control
