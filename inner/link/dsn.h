// DSN: the delivery status notification (RFC 3464, multipart/report per RFC 6522) the inner puts
// in a user's mailbox when recipients of their message failed permanently, expired at the edge,
// or are bounced by the inner itself (the edge refused the message for good, the link cannot
// carry it). It goes only to the message's own author, so it quotes the original header section
// (text/rfc822-headers); never the body.
// Trust: the remote replies come from other mail servers through the edge; they are cut to one
// line of printable ASCII before they go into the report, and a status code is taken from them
// only when it has the RFC 3463 shape.
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "common/link/payloads.h"
#include "common/queue/envelope.h"

namespace nj::inner {

// The reason given for recipients that no remote server answered for: `failed` entries with an
// empty remote_reply. Ours, not a peer's.
struct LocalReason {
  // RFC 3463 enhanced status code.
  std::string status = "5.0.0";
  // One line for the sender.
  std::string text = "the message could not be sent";
};
inline const LocalReason kTooLargeForLink{"5.3.4", "the message is larger than the link can carry"};
inline const LocalReason kRefusedByEdge{"5.0.0", "the message was refused by the edge"};

// `failed` holds only the recipients that did not get the message: `failed` with the remote
// server's reply (its enhanced status code, Diagnostic-Code), `failed` without one (`local`),
// or `expired` (the edge kept the message for its whole queue lifetime: Status 4.4.7, and a
// Diagnostic-Code only when a last reply came with it). To bounce every recipient still queued
// for one reason, pass each as `failed` with no reply, and the reason as `local`.
std::string make_dsn(const queue::Envelope& original,
                     const std::vector<link::RecipientStatus>& failed,
                     const std::string& reporting_host, const std::string& to, std::time_t now,
                     const std::string& boundary, const LocalReason& local = {});

}  // namespace nj::inner
