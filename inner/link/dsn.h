// DSN: the delivery status notification (RFC 3464, multipart/report per RFC 6522) the inner puts
// in a user's mailbox when the edge reports that recipients of their message failed permanently
// or expired. It quotes the original header section (text/rfc822-headers), never the body.
// Trust: the remote replies come from other mail servers through the edge; they are cut to one
// line of printable ASCII before they go into the report.
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "common/link/payloads.h"
#include "common/queue/envelope.h"

namespace nj::inner {

// `failed` holds only the recipients that did not get the message.
std::string make_dsn(const queue::Envelope& original,
                     const std::vector<link::RecipientStatus>& failed,
                     const std::string& reporting_host, const std::string& to,
                     std::time_t now, const std::string& boundary);

}  // namespace nj::inner
