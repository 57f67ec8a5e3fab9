// What the edge shows of itself: the counters its sessions, queues and deliveries feed (exported
// as Prometheus series when `listen.metrics` is set; docs/metrics.md lists them), and the plain
// text `nightjarctl status` prints.
// Privacy: only counts, times and states. A refusal's label is the name of the check that
// refused, from the fixed list below; nothing taken from the network (an address, a name, a
// reply) ever becomes a label or a line of the status.
// Trust: only the edge's own code feeds these.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/metrics/registry.h"
#include "edge/link/link_server.h"

namespace nj::edge {

// Why the edge refused a connection, a command or a message: one per check that can refuse.
enum class Refusal : uint8_t {
  connection_limit,             // too many connections, in all or from the client's network
  pregreet,                     // the client talked before the banner
  protocol,                     // a protocol violation or too many errors ended the session
  helo,                         // HELO/EHLO name refused
  sender_syntax,                // MAIL FROM address unparseable
  sender_forged,                // MAIL FROM in one of our own domains
  dnsbl,                        // the client's DNSBL score reached the threshold
  sender_domain,                // the sender's domain does not resolve or points inward
  sender_allowlist,             // a "usual suspect" domain from a client not on its list
  recipient_syntax,             // RCPT TO address unparseable
  relay,                        // RCPT TO outside our domains
  greylist,                     // greylisted (450)
  recipient_too_long,           // too long once rewritten to the internal domain
  no_such_user,                 // the inner knows no such user
  mailbox_full,                 // the inner says the mailbox is full (452)
  recipient_check_unavailable,  // the inner did not answer (no link, timeout, rate limit)
  data_limits,                  // the message broke a DATA limit: size, line length, bare CR/LF
  virus,                        // clamd found a virus in the message (554 5.7.1)
  virus_scan_failed,            // clamd gave no verdict and checks.clamd.on_error is tempfail
  headers,                      // the message's header section is malformed
  content,                      // a body part the cleaner cannot make safe (edge/content)
  dmarc,                        // DMARC failed and the From domain's policy is reject (550 5.7.1)
  queue_write,                  // the queue's commit failed (451)
};
inline constexpr size_t kRefusals = static_cast<size_t>(Refusal::queue_write) + 1;
const char* refusal_name(Refusal r);

// What one delivery attempt did for one recipient of outbound mail; `expired` is the end of its
// queue lifetime.
enum class Delivery : uint8_t { delivered, deferred, failed, expired };
inline constexpr size_t kDeliveries = static_cast<size_t>(Delivery::expired) + 1;
const char* delivery_name(Delivery d);

// The edge's own counters. Every series is created (at 0) when this is built, so a scrape shows
// every reason from the start.
class EdgeCounters {
 public:
  explicit EdgeCounters(metrics::Registry& registry);

  void connection(bool onion);  // a connection admitted to an SMTP session
  void refused(Refusal r);
  void message_accepted();  // committed to the inbound queue
  void delivery(Delivery d, uint64_t n = 1);

  uint64_t connections() const;
  uint64_t refusals() const;
  uint64_t refusals(Refusal r) const { return refusals_[static_cast<size_t>(r)]->value(); }
  uint64_t messages_accepted() const { return accepted_->value(); }
  uint64_t deliveries(Delivery d) const { return deliveries_[static_cast<size_t>(d)]->value(); }

 private:
  metrics::Counter* connections_mx_;
  metrics::Counter* connections_onion_;
  std::array<metrics::Counter*, kRefusals> refusals_{};
  metrics::Counter* accepted_;
  std::array<metrics::Counter*, kDeliveries> deliveries_{};
};

// One queue as the status shows it.
struct QueueFigures {
  std::string error;        // set when the queue could not be read; nothing else is then
  uint64_t messages = 0;
  uint64_t recipients = 0;  // outbound: recipients still without a final result
  int64_t oldest = 0;       // Unix seconds when the oldest message was queued; 0 when empty
};

// Everything `nightjarctl status` prints, gathered at one moment.
struct StatusFigures {
  int64_t now = 0;      // Unix seconds
  int64_t started = 0;  // when the edge started
  std::optional<LinkServer::State> link;  // nullopt: no link configured (listen.link empty)
  QueueFigures inbound;
  std::optional<QueueFigures> outbound;  // nullopt: no link, so no outbound delivery
  uint64_t sessions = 0;                 // SMTP sessions open now
  uint64_t connections = 0;              // since start, as the counters
  uint64_t messages_accepted = 0;
  uint64_t refusals = 0;
  std::array<uint64_t, kDeliveries> deliveries{};
};

// The status body: plain text, one figure per line, times in UTC.
std::string format_status(const StatusFigures& f);

}  // namespace nj::edge
