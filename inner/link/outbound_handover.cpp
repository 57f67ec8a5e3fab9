#include "inner/link/outbound_handover.h"

#include <algorithm>

#include "common/base/backoff.h"
#include "common/base/log.h"
#include "common/mail/outbound.h"
#include "common/queue/envelope.h"

namespace nj::inner {

OutboundHandover::OutboundHandover(uv::Loop& loop, Deps deps, Options options)
    : d_(deps),
      opt_(options),
      window_(options.window, options.window_bytes),
      timer_(loop) {}

OutboundHandover::~OutboundHandover() {
  timer_.close();
}

void OutboundHandover::up(const std::shared_ptr<link::Session>& session) {
  down();
  link_ = session;
  session_ = session.get();
  auto items = d_.queue.list();
  if (!items) {
    NJ_LOG_ERROR("link: outbound queue: %s", items.error().c_str());
  } else {
    const int64_t now = d_.clock.now();
    // Back-offs of messages no longer queued (settled or bounced since) are forgotten here.
    std::set<std::string> queued;
    for (const auto& it : *items) queued.insert(it.id);
    for (auto r = retry_.begin(); r != retry_.end();)
      r = queued.count(r->first) ? std::next(r) : retry_.erase(r);
    for (const auto& it : *items) {
      if (!it.released && it.due > now) continue;  // its delay class still holds it
      if (auto r = retry_.find(it.id); r != retry_.end() && r->second.next > now) {
        offered_.insert(it.id);  // refused for now: the tick offers it when its time comes
        held_.insert(it.id);
        continue;
      }
      offer(it.id);
    }
  }
  pump();
  timer_.start(opt_.tick_ms, opt_.tick_ms, [this] { tick(); });
}

void OutboundHandover::down() {
  timer_.stop();
  link_.reset();
  session_ = nullptr;
  window_.drain();
  to_submit_.clear();
  offered_.clear();
  held_.clear();
}

void OutboundHandover::offer(const std::string& id) {
  if (offered_.insert(id).second) to_submit_.push_back(id);
}

void OutboundHandover::queued(const std::string& id, int64_t due) {
  if (!session_) return;             // loaded when the link comes up
  if (due > d_.clock.now()) return;  // found by the tick once due
  offer(id);
  pump();
}

void OutboundHandover::tick() {
  if (!session_) return;
  const int64_t now = d_.clock.now();
  for (auto it = held_.begin(); it != held_.end();) {
    auto r = retry_.find(*it);
    if (r != retry_.end() && r->second.next > now) {
      ++it;
      continue;
    }
    to_submit_.push_back(*it);  // its back-off is over
    it = held_.erase(it);
  }
  // Due and not yet released: mostly what is already waiting or in flight here, which the set
  // skips. The limit bounds one tick's work; what lies beyond it is read once those before it
  // have been handed over.
  auto due = d_.queue.due_before(now, 4096);
  if (!due) {
    NJ_LOG_ERROR("link: outbound queue: %s", due.error().c_str());
    return;
  }
  for (auto& id : *due) offer(id);
  pump();
}

void OutboundHandover::pump() {
  const int64_t now = d_.clock.now();
  while (session_ && session_->is_open() && !to_submit_.empty() && window_.has_room()) {
    std::string id = std::move(to_submit_.front());
    to_submit_.pop_front();
    auto e = d_.queue.leaving(d_.inner, id, now);
    if (!e) {
      // Gone meanwhile (its last recipient settled) or unreadable; not again on this link.
      NJ_LOG_WARN("link: outbound msg=%s cannot be opened: %s", id.c_str(), e.error().c_str());
      continue;
    }
    auto payload = link::encode(link::SubmitPayload{id, queue::encode(*e, 0)});
    if (!payload || payload->size() > opt_.max_payload) {
      // Never retried: it would not fit the next time either.
      NJ_LOG_WARN("link: outbound msg=%s cannot be framed (%s): bounced", id.c_str(),
                  payload ? "larger than a link frame" : payload.error().c_str());
      bounce(id, kTooLargeForLink);
      continue;
    }
    uint64_t fid = session_->next_id();
    window_.add(fid, id, payload->size());
    (void)session_->send(link::Frame{link::FrameType::submit, fid, std::move(*payload)});
  }
}

void OutboundHandover::on_answer(const link::Frame& f) {
  auto id = window_.answered(f.id);
  if (!id) return;  // not ours, or of a link that is gone
  if (f.type == link::FrameType::ack) {
    retry_.erase(*id);
    pump();  // the window has room again
    // The edge has it durably: no longer due here; kept until every recipient is final.
    OutboundQueue* q = &d_.queue;
    std::string mid = *id;
    d_.gc.submit([q, mid](store::Txn& txn) { return q->release_in(txn, mid); },
                 [mid](Status s) {
                   if (!s)
                     NJ_LOG_ERROR("link: msg=%s release failed: %s", mid.c_str(),
                                  s.error().c_str());
                   else
                     NJ_LOG_INFO("link msg=%s handed to the edge", mid.c_str());
                 });
    return;
  }
  auto n = link::decode_nack(f.payload);
  if (n && n->kind == link::NackKind::permanent) {
    NJ_LOG_WARN("link msg=%s refused for good by the edge: %s", id->c_str(), n->reason.c_str());
    bounce(*id, kRefusedByEdge);
  } else {
    auto& r = retry_[*id];
    ++r.refusals;
    // The same back-off as the edge's queues, +-25% so refused messages do not return in step.
    int64_t wait = backoff_delay(BackoffPolicy{opt_.retry_first_s, opt_.retry_max_s, 25, 0},
                                 r.refusals, [](uint32_t upper) { return crypto::random_uniform(upper); });
    r.next = d_.clock.now() + wait;
    held_.insert(*id);  // still offered on this link: the tick lets it go when due
    NJ_LOG_INFO("link msg=%s refused for now by the edge (%s); again in %llds", id->c_str(),
                n ? n->reason.c_str() : "?", static_cast<long long>(wait));
  }
  pump();
}

OutboundHandover::Sender OutboundHandover::sender_of(const queue::Envelope& e) {
  Sender s;
  if (e.mail_from.empty()) return s;
  // The envelope carries the public address; the account is its internal twin.
  std::string local = e.mail_from.substr(0, e.mail_from.rfind('@'));
  s.address = local + "@" + d_.config.domain.internal_domain;
  auto who = d_.accounts.recipient(s.address);
  if (who && *who) s.account_id = (*who)->id;
  return s;
}

void OutboundHandover::settle(const std::string& id,
                              std::vector<link::RecipientStatus> results, const LocalReason& why,
                              std::function<void(Status, const Settled&)> done) {
  // The author's account, for a DSN. A message no longer queued (a STATUS repeated after its
  // last recipient) has none; settle_in then finds nothing. A record that does not open fails
  // there too, and the caller hears of it.
  auto env = d_.queue.open_one(d_.inner, id);
  Sender sender = env ? sender_of(*env) : Sender{};
  OutboundQueue* q = &d_.queue;
  Mailbox* mbox = &d_.mailbox;
  const crypto::KeyPair* inner = &d_.inner;
  std::string host = d_.config.hostname;
  auto now = static_cast<std::time_t>(d_.clock.now());
  std::string boundary = mail::new_boundary();
  auto out = std::make_shared<Settled>();
  auto res = std::make_shared<std::vector<link::RecipientStatus>>(std::move(results));
  d_.gc.submit(
      [=](store::Txn& txn) -> Status {
        *out = Settled{};
        auto settled = q->settle_in(txn, *inner, id, *res);
        if (!settled) return make_error(settled.error());
        std::vector<link::RecipientStatus> failed;
        for (const auto& r : settled->newly_final) {
          if (r.outcome == link::RecipientOutcome::delivered)
            ++out->delivered;
          else
            failed.push_back(r);
        }
        out->failed = failed.size();
        out->removed = settled->removed;
        out->found = settled->found;
        if (!failed.empty() && !sender.account_id.empty()) {
          std::string dsn =
              make_dsn(settled->before, failed, host, sender.address, now, boundary, why);
          // A full mailbox must not keep the results unrecorded forever: the report is dropped.
          auto d = mbox->deliver_in(txn, sender.account_id, dsn);
          if (d.status == DeliveryStatus::temp_failure) return make_error(d.error);
        }
        return {};
      },
      [out, done = std::move(done)](Status s) { done(s, *out); });
}

void OutboundHandover::bounce(const std::string& id, const LocalReason& why) {
  retry_.erase(id);
  auto env = d_.queue.open_one(d_.inner, id);
  if (!env) {
    NJ_LOG_ERROR("link: msg=%s cannot be opened to bounce: %s", id.c_str(), env.error().c_str());
    return;
  }
  // Every recipient still queued fails for `why`. Which those are is decided inside the commit:
  // a STATUS committed meanwhile may have settled some, and a recipient the edge reported
  // delivered must not be reported failed (nor a failed one twice). Settling every recipient
  // the record could hold removes it.
  std::vector<link::RecipientStatus> failed;
  for (const auto& r : env->recipients)
    failed.push_back(link::RecipientStatus{r, link::RecipientOutcome::failed, ""});
  settle(id, std::move(failed), why, [id, why](Status s, const Settled& out) {
    if (!s)
      NJ_LOG_ERROR("link: msg=%s bounce not recorded: %s", id.c_str(), s.error().c_str());
    else
      NJ_LOG_INFO("link msg=%s bounced rcpts=%zu status=%s", id.c_str(), out.failed,
                  why.status.c_str());
  });
}

void OutboundHandover::on_status(const link::Frame& f) {
  std::weak_ptr<link::Session> asked = link_;
  auto st = link::decode_status(f.payload);
  if (!st) {
    if (auto s = asked.lock()) s->close("bad STATUS: " + st.error());
    return;
  }
  std::string id = st->message_id;
  settle(id, std::move(st->recipients), LocalReason{},
         [asked, fid = f.id, id](Status s, const Settled& out) {
           if (!s) {
             NJ_LOG_ERROR("link: msg=%s results not recorded: %s", id.c_str(),
                          s.error().c_str());
             return;  // no ACK: the edge sends the STATUS again
           }
           if (!out.found)
             NJ_LOG_INFO("link msg=%s results for a message no longer queued", id.c_str());
           else
             NJ_LOG_INFO("link msg=%s %s delivered=%zu failed=%zu", id.c_str(),
                         out.removed ? "final" : "partial (others pending)", out.delivered,
                         out.failed);
           if (auto l = asked.lock(); l && l->is_open())
             (void)l->send(link::Frame{link::FrameType::ack, fid, {}});
         });
}

}  // namespace nj::inner
