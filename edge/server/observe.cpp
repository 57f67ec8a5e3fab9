#include "edge/server/observe.h"

#include <ctime>

#include "common/base/clock.h"

namespace nj::edge {

const char* refusal_name(Refusal r) {
  switch (r) {
    case Refusal::connection_limit:
      return "connection_limit";
    case Refusal::pregreet:
      return "pregreet";
    case Refusal::protocol:
      return "protocol";
    case Refusal::helo:
      return "helo";
    case Refusal::sender_syntax:
      return "sender_syntax";
    case Refusal::sender_forged:
      return "sender_forged";
    case Refusal::dnsbl:
      return "dnsbl";
    case Refusal::sender_domain:
      return "sender_domain";
    case Refusal::sender_allowlist:
      return "sender_allowlist";
    case Refusal::recipient_syntax:
      return "recipient_syntax";
    case Refusal::relay:
      return "relay";
    case Refusal::greylist:
      return "greylist";
    case Refusal::recipient_too_long:
      return "recipient_too_long";
    case Refusal::no_such_user:
      return "no_such_user";
    case Refusal::mailbox_full:
      return "mailbox_full";
    case Refusal::recipient_check_unavailable:
      return "recipient_check_unavailable";
    case Refusal::data_limits:
      return "data_limits";
    case Refusal::virus:
      return "virus";
    case Refusal::virus_scan_failed:
      return "virus_scan_failed";
    case Refusal::headers:
      return "headers";
    case Refusal::content:
      return "content";
    case Refusal::dmarc:
      return "dmarc";
    case Refusal::queue_write:
      return "queue_write";
  }
  return "?";
}

const char* delivery_name(Delivery d) {
  switch (d) {
    case Delivery::delivered:
      return "delivered";
    case Delivery::deferred:
      return "deferred";
    case Delivery::failed:
      return "failed";
    case Delivery::expired:
      return "expired";
  }
  return "?";
}

EdgeCounters::EdgeCounters(metrics::Registry& r) {
  const char* conn_help = "SMTP connections admitted to a session, by listener.";
  connections_mx_ =
      &r.counter("nightjar_edge_smtp_connections_total", conn_help, {{"listener", "mx"}});
  connections_onion_ =
      &r.counter("nightjar_edge_smtp_connections_total", conn_help, {{"listener", "onion_mx"}});
  for (size_t i = 0; i < kRefusals; ++i)
    refusals_[i] = &r.counter("nightjar_edge_smtp_refusals_total",
                              "Connections, commands and messages refused, by the check that "
                              "refused them.",
                              {{"reason", refusal_name(static_cast<Refusal>(i))}});
  accepted_ = &r.counter("nightjar_edge_messages_accepted_total",
                         "Messages committed to the inbound queue (each answered 250).");
  for (size_t i = 0; i < kDeliveries; ++i)
    deliveries_[i] = &r.counter("nightjar_edge_deliveries_total",
                                "Outbound delivery results, one per recipient and attempt.",
                                {{"outcome", delivery_name(static_cast<Delivery>(i))}});
}

void EdgeCounters::connection(bool onion) {
  (onion ? connections_onion_ : connections_mx_)->inc();
}

void EdgeCounters::refused(Refusal r) {
  refusals_[static_cast<size_t>(r)]->inc();
}

void EdgeCounters::message_accepted() {
  accepted_->inc();
}

void EdgeCounters::delivery(Delivery d, uint64_t n) {
  deliveries_[static_cast<size_t>(d)]->inc(n);
}

uint64_t EdgeCounters::connections() const {
  return connections_mx_->value() + connections_onion_->value();
}

uint64_t EdgeCounters::refusals() const {
  uint64_t n = 0;
  for (const auto* c : refusals_) n += c->value();
  return n;
}

namespace {

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string queue_line(const QueueFigures& q, int64_t now, bool recipients) {
  if (!q.error.empty()) return "cannot be read: " + q.error;
  std::string s = plural(q.messages, "message", "messages");
  if (recipients) s += ", " + plural(q.recipients, "recipient", "recipients") + " pending";
  if (q.messages) s += ", oldest " + age_text(now - q.oldest);
  return s;
}

}  // namespace

std::string format_status(const StatusFigures& f) {
  std::string s;
  auto line = [&s](const char* label, const std::string& value) {
    std::string l = label;
    l.resize(17, ' ');
    s += l + value + "\n";
  };
  line("running since:",
       utc_text(f.started, UtcStyle::seconds) + " (" + age_text(f.now - f.started) + ")");
  if (!f.link) {
    line("link:", "not configured (listen.link is empty)");
  } else {
    const auto& k = *f.link;
    std::string v = std::string(k.up ? "up" : "down") + " since " +
                    utc_text(k.since, UtcStyle::seconds) + " (" + age_text(f.now - k.since) + ")";
    if (k.up) v += ", round trip " + std::to_string(k.rtt_ms) + " ms";
    line("link:", v);
    line("links opened:", std::to_string(k.links_opened));
    line("last link end:", k.last_error.empty() ? "none yet" : k.last_error);
  }
  line("inbound queue:", queue_line(f.inbound, f.now, false));
  line("outbound queue:",
       f.outbound ? queue_line(*f.outbound, f.now, true) : "none (no link configured)");
  line("smtp sessions:", std::to_string(f.sessions) + " open");
  line("since start:", plural(f.connections, "connection", "connections") + ", " +
                           plural(f.messages_accepted, "message", "messages") + " accepted, " +
                           plural(f.refusals, "refusal", "refusals"));
  if (f.outbound) {
    std::string d;
    for (size_t i = 0; i < kDeliveries; ++i)
      d += (i ? ", " : "") + std::to_string(f.deliveries[i]) + " " +
           delivery_name(static_cast<Delivery>(i));
    line("deliveries:", d + " (per recipient)");
  }
  return s;
}

}  // namespace nj::edge
