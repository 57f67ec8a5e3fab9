// InboundBounce: the delivery status notification (RFC 3464, multipart/report per RFC 6522) the
// inner sends back to the Internet sender of a message it takes from the edge but cannot put in
// some mailbox: a recipient that is no account (any more), a mailbox still full when the edge
// gives up (its last attempt), a message larger than the mailbox can ever hold. It goes into
// the inner's outbound queue like any mail to the Internet (InboundDelivery queues it in the
// commit that records the deliveries), so it leaves through an edge.
// What it shows is the public face only: From MAILER-DAEMON@<public domain>, every recipient on
// the public domain (never the internal one, which may be the inner's .onion or .i2p name),
// Reporting-MTA the public domain, no host name of the inner, no Received line of the inner, and
// of the original only its header section (text/rfc822-headers), without any field that names
// the internal domain. Like every message in the outbound queue it has passed sanitize_outbound.
// Its envelope sender is null (RFC 5321 4.5.5), so it is never bounced itself.
// Trust: the original comes from the Internet through the edge (which may be hostile): its
// addresses are cut to printable ASCII and its header fields are only copied, bounded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/mail/outbound.h"
#include "common/queue/envelope.h"

namespace nj::inner {

// Why one recipient did not get the message.
struct BounceReason {
  const char* status;  // RFC 3463 enhanced status code
  const char* text;    // one line for the sender
};
inline constexpr BounceReason kBounceNoSuchUser{"5.1.1", "no such user here"};
// RFC 3463 X.2.2 keeps its class 4 ("persistent transient"): the mailbox might have had room
// later, but the edge held the message for its whole lifetime.
inline constexpr BounceReason kBounceMailboxFull{"4.2.2",
                                                 "mailbox full for the whole time we kept it"};
inline constexpr BounceReason kBounceTooLarge{
    "5.2.3", "message larger than the recipient's mailbox can ever hold"};

struct BouncedRecipient {
  std::string recipient;  // as in the envelope (the edge rewrote it to the internal domain)
  BounceReason reason;
};

// Bytes of the original's header section quoted at most (whole fields; the rest is left out).
inline constexpr size_t kMaxQuotedHeaders = 64 * 1024;

// The bounce of `original` for `failed` (not empty), ready for OutboundQueue::add_in: a new
// random id, null sender, the original's envelope sender as its one recipient (moved to the
// public domain should it name the internal one), received at `now`. `original.mail_from` must
// not be empty (a message from the null sender is never bounced). Fails only when the report
// does not pass sanitize_outbound (or `domains` is not valid).
Result<queue::Envelope> make_inbound_bounce(const queue::Envelope& original,
                                            const std::vector<BouncedRecipient>& failed,
                                            const mail::DomainRewrite& domains, int64_t now);

}  // namespace nj::inner
