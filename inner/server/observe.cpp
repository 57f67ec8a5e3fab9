// What the inner shows its operator: `nightjarctl status` over the control socket, and the
// metrics endpoint (listen.metrics). Both hold counts, times, states and the edges' names,
// which the operator chose; never an account, a mail address, an edge's address or an IP.
#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

#include "common/base/log.h"
#include "common/control/client.h"
#include "inner/server/inner_server.h"

namespace nj::inner {
namespace {

// A link error may quote where the link was dialed (the edge's onion, the SOCKS proxy's IP):
// each such mention becomes a word, and any other IPv4 address too.
std::string scrub(std::string text, const EdgeLinkConfig& e) {
  auto replace_all = [&](const std::string& what, const std::string& with) {
    if (what.empty()) return;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at))
      text.replace(at, what.size(), with), at += with.size();
  };
  replace_all(e.address, "the edge");
  replace_all(split_edge_address(e.address).first, "the edge");
  if (e.socks.port) replace_all(e.socks.str(), "the SOCKS proxy");
  std::string out;
  for (size_t i = 0; i < text.size();) {
    // d+.d+.d+.d+ (and an optional :port) outside a longer word
    size_t j = i, dots = 0;
    bool digit = false;
    while (j < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[j])) || (text[j] == '.' && digit))) {
      if (text[j] == '.') {
        ++dots;
        digit = false;
      } else {
        digit = true;
      }
      ++j;
    }
    bool word_before = i > 0 && std::isalnum(static_cast<unsigned char>(text[i - 1]));
    if (dots == 3 && digit && !word_before) {
      if (j < text.size() && text[j] == ':')
        for (++j; j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]));) ++j;
      out += "(an address)";
      i = j;
    } else if (j > i) {
      out.append(text, i, j - i);
      i = j;
    } else {
      out += text[i++];
    }
  }
  return out;
}

// The outbound queue by state and delay class.
struct QueueFigures {
  size_t messages = 0, recipients = 0;
  size_t delayed = 0, due = 0, at_edges = 0;
  int64_t next_due = 0, oldest_due = 0, oldest_at_edges = 0;  // Unix s; 0: none
  std::map<std::string, size_t> by_class;
};

QueueFigures figures(const std::vector<OutboundQueue::Item>& items, int64_t now) {
  QueueFigures f;
  for (const auto& class_name : {"none", "defer", "batch", "own"}) f.by_class[class_name] = 0;
  auto oldest = [](int64_t& slot, int64_t t) {
    if (!slot || t < slot) slot = t;
  };
  for (const auto& m : items) {
    ++f.messages;
    f.recipients += m.recipients;
    ++f.by_class[m.delay_class.empty() ? "own" : m.delay_class];
    if (m.released) {
      ++f.at_edges;
      oldest(f.oldest_at_edges, m.queued_at);
    } else if (m.due > now) {
      ++f.delayed;
      oldest(f.next_due, m.due);
    } else {
      ++f.due;
      oldest(f.oldest_due, m.queued_at);
    }
  }
  return f;
}

// Every reason the inner counts a refusal for; each series exists from the start.
constexpr const char* kRefusalReasons[] = {
    "too_many_connections", "stopping",         "auth_failed",
    "auth_locked_out",      "sender_not_login", "no_such_account",
    "mailbox_full",         "too_large",        "store"};

const char* kRefusalsHelp = "Connections, logins and messages refused, by reason (a fixed set).";

}  // namespace

void InnerServer::counted_refusal(DeliveryStatus st) {
  switch (st) {
    case DeliveryStatus::no_such_account:
      return counted_refusal("no_such_account");
    case DeliveryStatus::over_quota:
      return counted_refusal("mailbox_full");
    case DeliveryStatus::too_large:
      return counted_refusal("too_large");
    case DeliveryStatus::ok:
    case DeliveryStatus::temp_failure:
      return counted_refusal("store");
  }
}

void InnerServer::counted_message(size_t local, size_t remote) {
  metrics_.counter("nightjar_inner_messages_accepted_total", "Submissions committed.").inc();
  metrics_
      .counter("nightjar_inner_recipients_accepted_total", "Recipients of committed submissions.",
               {{"to", "local"}})
      .inc(local);
  metrics_
      .counter("nightjar_inner_recipients_accepted_total", "Recipients of committed submissions.",
               {{"to", "internet"}})
      .inc(remote);
}

void InnerServer::counted_refusal(const char* why) {
  metrics_.counter("nightjar_inner_refusals_total", kRefusalsHelp, {{"reason", why}}).inc();
}

Status InnerServer::start_observing() {
  std::map<std::string, control::Handler> handlers;
  handlers["status"] = [this](control::Reply reply) { reply(status_text()); };
  handlers["reload"] = [this](control::Reply reply) {
    auto r = reload();
    if (!r) {
      reply(make_error(r.error() + " (the running fleet is unchanged)"));
      return;
    }
    std::string out;
    for (const auto& line : *r) out += line + "\n";
    reply(out);
  };
  const std::string path = control::socket_path(cfg_.data_dir);
  auto c = control::ControlServer::start(loop_, path, std::move(handlers));
  if (!c) return make_error("control socket " + path + ": " + c.error());
  control_ = std::move(*c);
  register_metrics();
  if (cfg_.listen.metrics.port != 0) {
    const std::string at = cfg_.listen.metrics.str();
    auto e = metrics::Exporter::start(loop_, at, metrics_);
    if (!e) return make_error("listen.metrics " + at + ": " + e.error());
    exporter_ = std::move(*e);
    NJ_LOG_INFO("listening metrics on %s", at.c_str());
  }
  return {};
}

std::vector<InnerServer::EdgeStatus> InnerServer::fleet_status(
    const std::vector<OutboundQueue::Item>& queued) {
  auto loads = handover_->loads(queued);
  std::vector<EdgeStatus> out;
  for (const auto& [key, m] : fleet_) {
    EdgeStatus st;
    st.name = m->spec.link.name;
    st.link = m->link->state();
    st.link.last_error = scrub(st.link.last_error, m->spec.link);
    if (auto l = loads.find(key); l != loads.end()) st.load = l->second;
    out.push_back(std::move(st));
  }
  std::sort(out.begin(), out.end(),
            [](const EdgeStatus& a, const EdgeStatus& b) { return a.name < b.name; });
  return out;
}

Result<std::string> InnerServer::status_text() {
  auto items = outbound_->list();
  if (!items) return make_error(items.error());
  const auto fleet = fleet_status(*items);
  const int64_t now = clock_.now();
  std::string out = "nightjar-inner: up since " + utc_text(started_at_, UtcStyle::seconds) + " (" +
                    age_text(now - started_at_) + ")\n";
  size_t up = 0;
  for (const auto& e : fleet) up += e.link.stage == LinkClient::State::Stage::up;
  out += "edges: " + std::to_string(fleet.size()) + ", " + std::to_string(up) + " up\n";
  for (const auto& e : fleet) {
    const auto& l = e.link;
    out += "  " + e.name + ": " + LinkClient::stage_name(l.stage);
    if (l.since)
      out +=
          " since " + utc_text(l.since, UtcStyle::seconds) + " (" + age_text(now - l.since) + ")";
    if (l.stage == LinkClient::State::Stage::up && l.rtt_ms)
      out += ", round trip " + std::to_string(l.rtt_ms) + " ms";
    out += "\n    in flight " + std::to_string(e.load.in_flight) + ", holds " +
           std::to_string(e.load.held) + " messages";
    if (e.load.oldest_queued)
      out += " (the oldest queued " + age_text(now - e.load.oldest_queued) + " ago)";
    out += ", links opened " + std::to_string(l.links_opened) + ", dials in the last hour " +
           std::to_string(l.dials_last_hour) + "\n";
    if (!l.last_error.empty()) out += "    last error: " + l.last_error + "\n";
  }
  QueueFigures q = figures(*items, now);
  out += "outbound queue: " + std::to_string(q.messages) + " messages, " +
         std::to_string(q.recipients) + " recipients\n";
  out += "  held for their delay class: " + std::to_string(q.delayed);
  if (q.next_due) out += " (the next due in " + age_text(q.next_due - now) + ")";
  out += "\n  due, waiting for an edge: " + std::to_string(q.due);
  if (q.oldest_due) out += " (the oldest queued " + age_text(now - q.oldest_due) + " ago)";
  out += "\n  at the edges, results pending: " + std::to_string(q.at_edges);
  if (q.oldest_at_edges)
    out += " (the oldest queued " + age_text(now - q.oldest_at_edges) + " ago)";
  out += "\n  by delay class:";
  bool first = true;
  for (const auto& [name, n] : q.by_class) {
    out += std::string(first ? " " : ", ") + (name == "own" ? "the inner's own" : name) + " " +
           std::to_string(n);
    first = false;
  }
  out += "\nsince start: recipients delivered " + std::to_string(handover_->delivered()) +
         ", failed " + std::to_string(handover_->failed()) +
         "; messages handed on from a lost edge " + std::to_string(handover_->failovers()) +
         ", duplicate deliveries " + std::to_string(handover_->duplicates()) + "\n";
  return out;
}

void InnerServer::register_metrics() {
  // The series that only count, present at 0 from the start.
  for (const char* l : {"submission", "pop3"})
    metrics_.counter("nightjar_inner_connections_total", "Connections accepted by listener.",
                     {{"listener", l}});
  for (const char* r : kRefusalReasons)
    metrics_.counter("nightjar_inner_refusals_total", kRefusalsHelp, {{"reason", r}});
  metrics_.counter("nightjar_inner_messages_accepted_total", "Submissions committed.");
  for (const char* to : {"local", "internet"})
    metrics_.counter("nightjar_inner_recipients_accepted_total",
                     "Recipients of committed submissions.", {{"to", to}});
  metrics_.on_collect([this] {
    const int64_t now = clock_.now();
    // One scan of the queue serves the edges' loads and the queue's figures.
    auto items = outbound_->list();
    std::set<std::string> names;
    const char* kUp = "nightjar_inner_link_up";
    const char* kRtt = "nightjar_inner_link_rtt_seconds";
    const char* kOpened = "nightjar_inner_links_opened_total";
    const char* kInFlight = "nightjar_inner_edge_in_flight";
    const char* kHeld = "nightjar_inner_edge_held_messages";
    const char* kOldest = "nightjar_inner_edge_oldest_held_seconds";
    if (items) {
      for (const auto& e : fleet_status(*items)) {
        names.insert(e.name);
        metrics::Labels l{{"edge", e.name}};
        metrics_.gauge(kUp, "1 while the link to the edge is up, else 0.", l)
            .set(e.link.stage == LinkClient::State::Stage::up ? 1 : 0);
        metrics_.gauge(kRtt, "The link's last measured round trip.", l)
            .set(static_cast<double>(e.link.rtt_ms) / 1000.0);
        metrics_.counter(kOpened, "Links opened to the edge.", l).set(e.link.links_opened);
        metrics_.gauge(kInFlight, "SUBMITs awaiting the edge's answer.", l)
            .set(static_cast<double>(e.load.in_flight));
        metrics_.gauge(kHeld, "Messages the edge holds with results pending.", l)
            .set(static_cast<double>(e.load.held));
        metrics_.gauge(kOldest, "Age of the oldest message the edge holds (0: none).", l)
            .set(e.load.oldest_queued ? static_cast<double>(now - e.load.oldest_queued) : 0);
      }
    }
    for (const auto& gone : metric_edges_) {
      if (names.count(gone)) continue;
      for (const char* n : {kUp, kRtt, kOpened, kInFlight, kHeld, kOldest})
        metrics_.remove(n, {{"edge", gone}});
    }
    metric_edges_ = std::move(names);

    if (items) {
      QueueFigures q = figures(*items, now);
      auto state = [&](const char* s, size_t n, int64_t oldest) {
        metrics_
            .gauge("nightjar_inner_outbound_messages", "Outbound messages queued, by state.",
                   {{"state", s}})
            .set(static_cast<double>(n));
        metrics_
            .gauge("nightjar_inner_outbound_oldest_seconds",
                   "Age of the oldest outbound message in that state (0: none).", {{"state", s}})
            .set(oldest ? static_cast<double>(now - oldest) : 0);
      };
      state("delayed", q.delayed, 0);
      state("due", q.due, q.oldest_due);
      state("at_edges", q.at_edges, q.oldest_at_edges);
      for (const auto& [name, n] : q.by_class)
        metrics_
            .gauge("nightjar_inner_outbound_messages_by_class",
                   "Outbound messages queued, by the author's delay class (own: the inner's "
                   "bounces).",
                   {{"class", name}})
            .set(static_cast<double>(n));
      metrics_.gauge("nightjar_inner_outbound_recipients", "Outbound recipients queued.")
          .set(static_cast<double>(q.recipients));
    }
    metrics_
        .counter("nightjar_inner_outbound_results_total",
                 "Final results the edges reported (or bounces), by outcome.",
                 {{"outcome", "delivered"}})
        .set(handover_->delivered());
    metrics_
        .counter("nightjar_inner_outbound_results_total",
                 "Final results the edges reported (or bounces), by outcome.",
                 {{"outcome", "failed"}})
        .set(handover_->failed());
    metrics_
        .counter("nightjar_inner_failovers_total",
                 "Messages handed on from an edge lost past its failover_after, or removed.")
        .set(handover_->failovers());
    metrics_
        .counter("nightjar_inner_duplicate_deliveries_total",
                 "Recipients delivered by two edges after a failover.")
        .set(handover_->duplicates());

    auto st = committer_->stats();
    std::vector<double> bounds(store::GroupCommitter::kBatchBounds.begin(),
                               store::GroupCommitter::kBatchBounds.end());
    std::vector<uint64_t> buckets(st.batch_sizes.begin(), st.batch_sizes.end());
    metrics_
        .histogram("nightjar_store_commit_batch_size",
                   "Items per synced commit of the store's group committer.", bounds)
        .assign(buckets, static_cast<double>(st.batched_items));
    metrics_.counter("nightjar_store_commits_total", "Synced commits of the store.")
        .set(st.batches);
  });
}

}  // namespace nj::inner
