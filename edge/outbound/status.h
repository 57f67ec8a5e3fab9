// Per-recipient outcome of outbound delivery, as the edge reports it to the inner (STATUS over
// the link). Trust: the reply text comes from a remote server: it is reported, never logged.
#pragma once

#include <string>
#include <vector>

namespace nj::edge::outbound {

enum class RcptStatus {
  pending,    // not final yet (queued, or the last attempt failed transiently)
  delivered,  // the remote server accepted it (final)
  permanent,  // refused for good (final); `reply` says why
  expired,    // still failing transiently at the end of the queue lifetime (final)
};

const char* rcpt_status_name(RcptStatus s);
inline bool is_final(RcptStatus s) {
  return s != RcptStatus::pending;
}

struct RcptResult {
  std::string address;
  RcptStatus status = RcptStatus::pending;
  // "550 5.1.1 text" from the remote server, or a local reply ("451 4.4.1 connection failed").
  std::string reply;
};

}  // namespace nj::edge::outbound
