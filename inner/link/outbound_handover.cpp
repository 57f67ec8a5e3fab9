#include "inner/link/outbound_handover.h"

#include <algorithm>

#include "common/base/backoff.h"
#include "common/base/log.h"
#include "common/mail/outbound.h"
#include "common/queue/envelope.h"

namespace nj::inner {

namespace {

constexpr size_t kMaxTaken = 100000;  // failed-over messages remembered for duplicate counting

}  // namespace

OutboundHandover::OutboundHandover(uv::Loop& loop, Deps deps, Options options)
    : d_(deps), opt_(options), timer_(loop) {}

OutboundHandover::~OutboundHandover() {
  timer_.close();
}

void OutboundHandover::start() {
  timer_.start(opt_.tick_ms, opt_.tick_ms, [this] { tick(); });
}

void OutboundHandover::stop() { timer_.stop(); }

void OutboundHandover::add_edge(const EdgeKey& key, const std::string& name,
                                uint64_t failover_after_ms) {
  auto [it, fresh] =
      edges_.try_emplace(key, name, failover_after_ms, opt_.window, opt_.window_bytes);
  it->second.name = name;
  it->second.failover_after_ms = failover_after_ms;
  if (fresh) it->second.down_since_ms = d_.clock.monotonic_ms();
}

void OutboundHandover::remove_edge(const EdgeKey& key, bool revoked) {
  auto it = edges_.find(key);
  if (it == edges_.end()) return;
  Edge& e = it->second;
  std::string name = e.name;
  if (e.open()) {
    // Told to forget everything it holds before its link is closed: if it is not seized, it
    // stops delivering what the others now carry. A seized edge learns nothing it did not hold.
    auto items = d_.queue.list();
    size_t told = 0;
    if (items)
      for (const auto& m : *items)
        if (m.released && m.holder == key) withdraw(e, m.id), ++told;
    NJ_LOG_INFO("link edge=%s told to forget %zu messages before its link closes", name.c_str(),
                told);
  }
  down(key);
  edges_.erase(it);
  hand_on(key, name, revoked ? "revoked" : "removed from the fleet");
  if (revoked) {
    OutboundQueue* q = &d_.queue;
    d_.gc.submit([q, key](store::Txn& txn) { return q->forget_edge_in(txn, key); },
                 [name](Status s) {
                   if (!s)
                     NJ_LOG_ERROR("link edge=%s: withdrawal notes not dropped: %s", name.c_str(),
                                  s.error().c_str());
                 });
  }
  pump();
}

void OutboundHandover::note_taken(const std::string& id, const EdgeKey& from) {
  if (taken_from_.insert_or_assign(id, from).second) taken_order_.push_back(id);
  while (taken_order_.size() > kMaxTaken) {
    taken_from_.erase(taken_order_.front());
    delivered_by_.erase(taken_order_.front());
    taken_order_.pop_front();
  }
}

void OutboundHandover::hand_on(const EdgeKey& key, const std::string& name,
                               const std::string& why) {
  auto items = d_.queue.list();
  if (!items) {
    NJ_LOG_ERROR("link: outbound queue: %s", items.error().c_str());
    return;
  }
  size_t messages = 0, recipients = 0;
  for (const auto& m : *items) {
    if (!m.released || m.holder != key || tracked(m.id)) continue;
    note_taken(m.id, key);
    pool(m.id);
    ++messages;
    recipients += m.recipients;
  }
  failovers_ += messages;
  if (messages)
    NJ_LOG_WARN("link edge=%s %s: its %zu unfinished messages (%zu recipients) go to the other "
                "edges; any it delivered but had not yet reported will arrive twice",
                name.c_str(), why.c_str(), messages, recipients);
  else
    NJ_LOG_INFO("link edge=%s %s: it held no unfinished mail", name.c_str(), why.c_str());
}

void OutboundHandover::adopt_orphans() {
  auto items = d_.queue.list();
  if (!items) {
    NJ_LOG_ERROR("link: outbound queue: %s", items.error().c_str());
    return;
  }
  orphans_checked_ = true;
  size_t n = 0;
  for (const auto& m : *items) {
    if (!m.released || tracked(m.id)) continue;
    // No holder recorded (handed over before the inner knew a fleet), or one that is no
    // member any more: any edge may take it (an edge that has it already takes it again as a
    // retransmission).
    if (!m.holder.empty() && edges_.count(m.holder)) continue;
    if (!m.holder.empty()) note_taken(m.id, m.holder);
    pool(m.id);
    ++n;
  }
  if (n) NJ_LOG_INFO("link %zu unfinished messages held by no current edge go to the fleet", n);
}

void OutboundHandover::pool(const std::string& id, bool front) {
  if (!placed_.emplace(id, EdgeKey{}).second) return;
  if (front)
    pool_.push_front(id);
  else
    pool_.push_back(id);
}

void OutboundHandover::up(const EdgeKey& key, const std::shared_ptr<link::Session>& session) {
  auto it = edges_.find(key);
  if (it == edges_.end()) return;
  down(key);
  Edge& e = it->second;
  e.link = session;
  e.session = session.get();
  e.failed_over = false;
  auto items = d_.queue.list();
  if (!items) {
    NJ_LOG_ERROR("link: outbound queue: %s", items.error().c_str());
  } else {
    const int64_t now = d_.clock.now();
    // Back-offs of messages no longer queued (settled or bounced since) are forgotten here.
    std::set<std::string> queued;
    for (const auto& m : *items) queued.insert(m.id);
    for (auto r = retry_.begin(); r != retry_.end();)
      r = queued.count(r->first) ? std::next(r) : retry_.erase(r);
    for (auto h = held_.begin(); h != held_.end();)
      h = queued.count(*h) ? std::next(h) : held_.erase(h);
    for (const auto& m : *items) {
      if (held_.count(m.id)) continue;
      if (m.released && m.holder == key) {
        // Handed on after its failover but taken by no other edge yet: it comes back to this
        // one, which still has it, rather than going to a second edge as well.
        if (auto p = placed_.find(m.id); p != placed_.end()) {
          if (!p->second.empty()) continue;
          placed_.erase(p);  // its pool_ entry is skipped as stale
        }
        e.own.push_back(m.id);  // it has it: again, so it knows we still want it delivered
        e.owned.insert(m.id);
        placed_[m.id] = key;
      } else if (tracked(m.id)) {
        continue;
      } else if (!m.released && m.due <= now) {
        pool(m.id);
      }
    }
  }
  send_withdrawals(key, e);
  pump();
}

void OutboundHandover::down(const EdgeKey& key) {
  auto it = edges_.find(key);
  if (it == edges_.end()) return;
  Edge& e = it->second;
  bool was_up = e.session != nullptr;
  e.link.reset();
  e.session = nullptr;
  // In flight and not its own: the edge may or may not have committed it (its ACK is lost
  // with the link), so it goes to the others now; a duplicate is possible only within this
  // acknowledgement window. What it holds waits for it, or for its failover.
  for (auto& id : e.window.drain()) {
    if (placed_.count(id) && placed_[id] == key) placed_.erase(id);
    if (!e.owned.count(id)) pool(id, true);
  }
  for (auto& id : e.own)
    if (auto p = placed_.find(id); p != placed_.end() && p->second == key) placed_.erase(p);
  e.own.clear();
  e.owned.clear();
  e.withdrawing.clear();
  if (was_up) e.down_since_ms = d_.clock.monotonic_ms();
}

void OutboundHandover::queued(const std::string& id, int64_t due) {
  if (due > d_.clock.now()) return;  // found by the tick once due
  pool(id);
  pump();
}

void OutboundHandover::tick() {
  const int64_t now = d_.clock.now();
  const uint64_t mono = d_.clock.monotonic_ms();
  if (!orphans_checked_) adopt_orphans();
  for (auto& [key, e] : edges_) {
    if (e.open() || e.failed_over || mono - e.down_since_ms < e.failover_after_ms) continue;
    e.failed_over = true;
    hand_on(key, e.name,
            "down for " + std::to_string((mono - e.down_since_ms) / 1000) + "s (failover_after)");
  }
  for (auto it = held_.begin(); it != held_.end();) {
    auto r = retry_.find(*it);
    if (r != retry_.end() && r->second.next > now) {
      ++it;
      continue;
    }
    std::string id = *it;
    it = held_.erase(it);
    pool(id);  // its back-off is over
  }
  // Due and not yet released: mostly what is already waiting or in flight, which placed_
  // skips. The limit bounds one tick's work; what lies beyond it is read once those before it
  // have been handed over.
  auto due = d_.queue.due_before(now, 4096);
  if (!due) {
    NJ_LOG_ERROR("link: outbound queue: %s", due.error().c_str());
  } else {
    for (auto& id : *due)
      if (!tracked(id)) pool(id);
  }
  pump();
}

bool OutboundHandover::send(const EdgeKey& key, Edge& e, const std::string& id) {
  auto m = d_.queue.leaving(d_.inner, id, d_.clock.now());
  if (!m) {
    // Gone meanwhile (its last recipient settled) or unreadable.
    NJ_LOG_WARN("link: outbound msg=%s cannot be opened: %s", id.c_str(), m.error().c_str());
    placed_.erase(id);
    return false;
  }
  auto payload = link::encode(link::SubmitPayload{id, queue::encode(*m, 0)});
  if (!payload || payload->size() > opt_.max_payload) {
    // Never retried: it would not fit the next time either.
    NJ_LOG_WARN("link: outbound msg=%s cannot be framed (%s): bounced", id.c_str(),
                payload ? "larger than a link frame" : payload.error().c_str());
    placed_.erase(id);
    bounce(id, kTooLargeForLink);
    return false;
  }
  uint64_t fid = e.session->next_id();
  e.window.add(fid, id, payload->size());
  placed_[id] = key;
  (void)e.session->send(link::Frame{link::FrameType::submit, fid, std::move(*payload)});
  return true;
}

void OutboundHandover::pump() {
  // First what each edge holds already: only that edge may take it.
  for (auto& [key, e] : edges_) {
    while (e.open() && !e.own.empty() && e.window.has_room()) {
      std::string id = std::move(e.own.front());
      e.own.pop_front();
      if (!send(key, e, id)) e.owned.erase(id);
    }
  }
  // Then the pool, each message to the open edge with the least in flight: a slow edge fills
  // its window and gets no more, the others take the rest.
  while (!pool_.empty()) {
    // Among equals, the next after the last one chosen: a trickle of mail alternates too.
    Edge* best = nullptr;
    const EdgeKey* best_key = nullptr;
    auto consider = [&](std::map<EdgeKey, Edge>::iterator from, std::map<EdgeKey, Edge>::iterator to) {
      for (auto it = from; it != to; ++it) {
        Edge& e = it->second;
        if (!e.open() || !e.window.has_room()) continue;
        if (!best || e.window.size() < best->window.size()) {
          best = &e;
          best_key = &it->first;
        }
      }
    };
    auto after = edges_.upper_bound(last_pick_);
    consider(after, edges_.end());
    consider(edges_.begin(), after);
    if (!best) return;
    last_pick_ = *best_key;
    std::string id = std::move(pool_.front());
    pool_.pop_front();
    auto p = placed_.find(id);
    if (p == placed_.end() || !p->second.empty()) continue;  // placed since (a stale entry)
    placed_.erase(p);
    send(*best_key, *best, id);
  }
}

void OutboundHandover::withdraw(Edge& e, const std::string& id) {
  auto payload = link::encode(link::WithdrawPayload{id});
  if (!payload) return;
  uint64_t fid = e.session->next_id();
  e.withdrawing.emplace(fid, id);
  (void)e.session->send(link::Frame{link::FrameType::withdraw, fid, std::move(*payload)});
}

void OutboundHandover::send_withdrawals(const EdgeKey& key, Edge& e) {
  if (!e.open()) return;
  auto ids = d_.queue.withdrawals(key);
  if (!ids) {
    NJ_LOG_ERROR("link edge=%s: withdrawals: %s", e.name.c_str(), ids.error().c_str());
    return;
  }
  std::set<std::string> asked;
  for (const auto& [fid, id] : e.withdrawing) asked.insert(id);
  for (const auto& id : *ids)
    if (!asked.count(id)) withdraw(e, id);
  if (!ids->empty())
    NJ_LOG_INFO("link edge=%s told to forget %zu messages the other edges now carry",
                e.name.c_str(), ids->size());
}

void OutboundHandover::on_answer(const EdgeKey& key, const link::Frame& f) {
  auto eit = edges_.find(key);
  if (eit == edges_.end()) return;
  Edge& e = eit->second;
  if (auto w = e.withdrawing.find(f.id); w != e.withdrawing.end()) {
    std::string id = w->second;
    e.withdrawing.erase(w);
    if (f.type != link::FrameType::ack) {
      NJ_LOG_WARN("link msg=%s WITHDRAW refused; asked again on its next link edge=%s",
                  id.c_str(), e.name.c_str());
      return;
    }
    OutboundQueue* q = &d_.queue;
    d_.gc.submit([q, key, id](store::Txn& txn) { return q->withdrawn_in(txn, key, id); },
                 [id](Status s) {
                   if (!s)
                     NJ_LOG_ERROR("link: msg=%s withdrawal not recorded: %s", id.c_str(),
                                  s.error().c_str());
                 });
    return;
  }
  auto id = e.window.answered(f.id);
  if (!id) return;  // not ours, or of a link that is gone
  e.owned.erase(*id);
  if (f.type == link::FrameType::ack) {
    retry_.erase(*id);
    // The edge has it durably: held by that edge, no longer due; kept until every recipient
    // is final. Another edge that held it before is told to forget it.
    OutboundQueue* q = &d_.queue;
    std::string mid = *id;
    std::set<EdgeKey> members;
    for (const auto& [k, _] : edges_) members.insert(k);
    auto previous = std::make_shared<std::string>();
    d_.gc.submit(
        [q, mid, key, members, previous](store::Txn& txn) -> Status {
          auto before = q->release_in(txn, mid, key);
          if (!before) return make_error(before.error());
          *previous = *before;
          if (!before->empty() && *before != key && members.count(*before))
            return q->withdraw_in(txn, *before, mid);
          return {};
        },
        [this, alive = std::weak_ptr<int>(alive_), mid, key, previous, name = e.name](Status s) {
          if (alive.expired()) return;
          if (auto p = placed_.find(mid); p != placed_.end() && p->second == key)
            placed_.erase(p);
          if (!s) {
            NJ_LOG_ERROR("link: msg=%s release failed: %s", mid.c_str(), s.error().c_str());
            return;
          }
          NJ_LOG_INFO("link msg=%s handed to the edge edge=%s", mid.c_str(), name.c_str());
          if (previous->empty() || *previous == key) return;
          auto old = edges_.find(*previous);
          if (old != edges_.end() && old->second.open()) withdraw(old->second, mid);
        });
    pump();  // the window has room again
    return;
  }
  placed_.erase(*id);
  auto n = link::decode_nack(f.payload);
  if (n && n->kind == link::NackKind::permanent) {
    NJ_LOG_WARN("link msg=%s refused for good by the edge: %s edge=%s", id->c_str(),
                n->reason.c_str(), e.name.c_str());
    bounce(*id, kRefusedByEdge);
  } else {
    auto& r = retry_[*id];
    ++r.refusals;
    // The same back-off as the edge's queues, +-25% so refused messages do not return in step.
    int64_t wait = backoff_delay(BackoffPolicy{opt_.retry_first_s, opt_.retry_max_s, 25, 0},
                                 r.refusals,
                                 [](uint32_t upper) { return crypto::random_uniform(upper); });
    r.next = d_.clock.now() + wait;
    held_.insert(*id);  // the tick offers it again (to any edge) when due
    NJ_LOG_INFO("link msg=%s refused for now by the edge (%s); again in %llds edge=%s",
                id->c_str(), n ? n->reason.c_str() : "?", static_cast<long long>(wait),
                e.name.c_str());
  }
  pump();
}

std::map<OutboundHandover::EdgeKey, OutboundHandover::EdgeLoad> OutboundHandover::loads(
    const std::vector<OutboundQueue::Item>& queued) const {
  std::map<EdgeKey, EdgeLoad> out;
  for (const auto& [key, e] : edges_) out[key].in_flight = e.window.size();
  for (const auto& m : queued) {
    if (!m.released || m.holder.empty()) continue;
    auto it = out.find(m.holder);
    if (it == out.end()) continue;
    ++it->second.held;
    if (!it->second.oldest_queued || m.queued_at < it->second.oldest_queued)
      it->second.oldest_queued = m.queued_at;
  }
  return out;
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
          if (r.outcome == link::RecipientOutcome::delivered) {
            ++out->delivered;
            out->newly_delivered.push_back(r.recipient);
          } else
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
  settle(id, std::move(failed), why,
         [this, alive = std::weak_ptr<int>(alive_), id, why](Status s, const Settled& out) {
    if (s && !alive.expired()) failed_ += out.failed;
    if (!s)
      NJ_LOG_ERROR("link: msg=%s bounce not recorded: %s", id.c_str(), s.error().c_str());
    else
      NJ_LOG_INFO("link msg=%s bounced rcpts=%zu status=%s", id.c_str(), out.failed,
                  why.status.c_str());
  });
}

void OutboundHandover::on_status(const EdgeKey& key, const link::Frame& f) {
  auto eit = edges_.find(key);
  if (eit == edges_.end()) return;
  std::weak_ptr<link::Session> asked = eit->second.link;
  std::string name = eit->second.name;
  auto st = link::decode_status(f.payload);
  if (!st) {
    if (auto s = asked.lock()) s->close("bad STATUS: " + st.error());
    return;
  }
  std::string id = st->message_id;
  // A message handed on from a lost edge may be delivered by both: the second report of a
  // recipient's delivery, by the other edge, is a duplicate (the same edge reporting it again
  // is a repeated STATUS whose ACK was lost).
  std::vector<std::string> delivered;
  if (taken_from_.count(id))
    for (const auto& r : st->recipients)
      if (r.outcome == link::RecipientOutcome::delivered) delivered.push_back(r.recipient);
  settle(id, std::move(st->recipients), LocalReason{},
         [this, alive = std::weak_ptr<int>(alive_), asked, fid = f.id, id, name, key,
          delivered = std::move(delivered)](Status s, const Settled& out) {
           if (alive.expired()) return;
           if (!s) {
             NJ_LOG_ERROR("link: msg=%s results not recorded: %s", id.c_str(),
                          s.error().c_str());
             return;  // no ACK: the edge sends the STATUS again
           }
           delivered_ += out.delivered;
           failed_ += out.failed;
           size_t dup = 0;
           if (!delivered.empty()) {
             auto& by = delivered_by_[id];
             for (const auto& r : out.newly_delivered) by.emplace(r, key);
             for (const auto& r : delivered) {
               if (std::find(out.newly_delivered.begin(), out.newly_delivered.end(), r) !=
                   out.newly_delivered.end())
                 continue;
               auto b = by.find(r);
               if (b == by.end() || b->second != key) {
                 ++dup;
                 by[r] = key;  // a third report by this edge is a repeat again
               }
             }
           }
           if (dup) {
             duplicates_ += dup;
             NJ_LOG_WARN("link msg=%s duplicates=%zu (delivered by two edges after a failover; "
                         "%llu since start) edge=%s",
                         id.c_str(), dup, static_cast<unsigned long long>(duplicates_),
                         name.c_str());
           }
           if (!out.found)
             NJ_LOG_INFO("link msg=%s results for a message no longer queued edge=%s",
                         id.c_str(), name.c_str());
           else
             NJ_LOG_INFO("link msg=%s %s delivered=%zu failed=%zu edge=%s", id.c_str(),
                         out.removed ? "final" : "partial (others pending)", out.delivered,
                         out.failed, name.c_str());
           if (auto l = asked.lock(); l && l->is_open())
             (void)l->send(link::Frame{link::FrameType::ack, fid, {}});
         });
}

}  // namespace nj::inner
