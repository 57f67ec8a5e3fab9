#include "edge/outbound/edge_outbound_queue.h"

#include <lmdb.h>

#include <algorithm>
#include <optional>

#include "common/base/log.h"

namespace nj::edge::outbound {

const char* rcpt_status_name(RcptStatus s) {
  switch (s) {
    case RcptStatus::pending:
      return "pending";
    case RcptStatus::delivered:
      return "delivered";
    case RcptStatus::permanent:
      return "permanent";
    case RcptStatus::expired:
      return "expired";
  }
  return "?";
}

Result<std::unique_ptr<EdgeOutboundQueue>> EdgeOutboundQueue::open(
    store::Env& env, store::GroupCommitter& committer, uv::Loop& loop, const Clock& clock,
    QueueOptions options, DeliverFn deliver, ReportFn report, RandomFn rand) {
  if (auto s = env.ensure_schema(kSchemaName, kSchemaVersion); !s) return make_error(s.error());
  auto db = env.open_dbi(kDbName);
  if (!db) return make_error(db.error());
  // Whatever an earlier run left is encrypted under a key that died with it: drop it all, in one
  // synced commit, before anything new is stored.
  store::Dbi dbi = *db;
  if (auto s = committer.commit_now([dbi](store::Txn& t) -> Status {
        int rc = mdb_drop(t.raw(), dbi.id, 0);
        if (rc != 0) return make_error(std::string("outbound queue: drop: ") + mdb_strerror(rc));
        return {};
      });
      !s) {
    return make_error(s.error());
  }
  if (!rand) rand = [](uint32_t upper) { return crypto::random_uniform(upper); };
  return std::unique_ptr<EdgeOutboundQueue>(
      new EdgeOutboundQueue(env, committer, loop, clock, dbi, options, std::move(deliver),
                            std::move(report), std::move(rand)));
}

EdgeOutboundQueue::EdgeOutboundQueue(store::Env& env, store::GroupCommitter& committer,
                                     uv::Loop& loop, const Clock& clock, store::Dbi db,
                                     QueueOptions options, DeliverFn deliver, ReportFn report,
                                     RandomFn rand)
    : env_(env),
      committer_(committer),
      clock_(clock),
      db_(db),
      options_(options),
      deliver_(std::move(deliver)),
      report_(std::move(report)),
      rand_(std::move(rand)),
      key_(crypto::AeadKey::generate()),
      timer_(std::make_unique<uv::Timer>(loop)),
      kick_(std::make_unique<uv::Timer>(loop)) {}

EdgeOutboundQueue::~EdgeOutboundQueue() {
  *alive_ = false;
}

const QueueEntry* EdgeOutboundQueue::find(const std::string& id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

std::string EdgeOutboundQueue::encode_state(const QueueEntry& e) const {
  // be64 first_queued, be64 next_attempt, be64 attempts, then per recipient: status byte.
  // Addresses are in the body record; this one changes on every attempt.
  std::string out;
  store::append_be64(out, static_cast<uint64_t>(e.first_queued));
  store::append_be64(out, static_cast<uint64_t>(e.next_attempt));
  store::append_be64(out, e.attempts);
  for (const auto& r : e.recipients) out.push_back(static_cast<char>(r.status));
  return out;
}

void EdgeOutboundQueue::enqueue(queue::Envelope e, std::function<void(Status)> done) {
  if (entries_.count(e.id) ||
      (committing_.count(e.id) && !withdrawn_while_committing_.count(e.id))) {
    // A retransmit of what we hold (or are about to hold): one copy, and the same answer.
    done(Status{});
    return;
  }
  if (entries_.size() + committing_.size() >= options_.max_messages) {
    done(make_error("outbound queue full"));
    return;
  }
  if (e.id.empty() || e.recipients.empty()) {
    done(make_error("outbound message without id or recipients"));
    return;
  }
  QueueEntry entry;
  entry.id = e.id;
  entry.first_queued = clock_.now();
  entry.next_attempt = entry.first_queued;
  for (const auto& r : e.recipients) entry.recipients.push_back({r, RcptStatus::pending, ""});
  std::string body = crypto::aead_encrypt(key_, queue::encode(e), body_key(e.id));
  std::string state = crypto::aead_encrypt(key_, encode_state(entry), state_key(e.id));
  std::string id = e.id;
  committing_.insert(id);
  committer_.submit(
      [db = db_, id, body = std::move(body), state = std::move(state)](store::Txn& t) -> Status {
        if (auto s = t.put(db, body_key(id), body); !s) return s;
        return t.put(db, state_key(id), state);
      },
      [this, alive = std::weak_ptr<bool>(alive_), entry = std::move(entry),
       done = std::move(done)](Status s) mutable {
        if (alive.expired()) {
          done(s);
          return;
        }
        committing_.erase(entry.id);
        if (withdrawn_while_committing_.erase(entry.id)) {
          // Withdrawn before this commit was done; the withdraw's delete comes after it.
          done(s);
          return;
        }
        if (s) {
          entry.serial = next_serial_++;
          NJ_LOG_INFO("outbound %s: queued for %zu recipient(s)", entry.id.c_str(),
                      entry.recipients.size());
          auto [it, added] = entries_.emplace(entry.id, std::move(entry));
          if (added) schedule(it->second);
          kick();
        }
        done(s);
      });
}

void EdgeOutboundQueue::start() {
  started_ = true;
  timer_->start(options_.tick_ms, options_.tick_ms, [this] { run_due(); });
}

void EdgeOutboundQueue::kick() {
  if (started_ && !kick_->active()) kick_->start(0, 0, [this] { run_due(); });
}

void EdgeOutboundQueue::stop() {
  started_ = false;
  timer_->stop();
  kick_->stop();
}

void EdgeOutboundQueue::schedule(QueueEntry& e) {
  e.wake = std::min(e.next_attempt, e.first_queued + options_.backoff.max_lifetime_s);
  schedule_.emplace(e.wake, e.id);
}

void EdgeOutboundQueue::run_due() {
  int64_t now = clock_.now();
  while (!schedule_.empty()) {
    auto first = schedule_.begin();
    if (first->first > now) break;
    auto it = entries_.find(first->second);
    if (it == entries_.end()) {
      schedule_.erase(first);
      continue;
    }
    QueueEntry& e = it->second;
    // Expiry does not wait for the next attempt time (its wake is the sooner of the two).
    if (expired(options_.backoff, e.first_queued, now)) {
      schedule_.erase(first);
      finish_or_reschedule(e, {});
      continue;
    }
    if (in_flight_ >= options_.max_in_flight) break;
    schedule_.erase(first);
    attempt(e);
  }
}

void EdgeOutboundQueue::attempt(QueueEntry& e) {
  // A record that cannot be read is a failed attempt like any other: it backs off and expires,
  // rather than being retried on every tick.
  auto fail = [&](const std::string& why) {
    NJ_LOG_ERROR("outbound %s: %s", e.id.c_str(), why.c_str());
    ++e.attempts;
    finish_or_reschedule(e, {});
  };
  std::optional<queue::Envelope> env;
  {
    auto txn = env_.begin_read();
    if (!txn) return fail(txn.error());
    auto got = txn->get(db_, body_key(e.id));
    if (!got) return fail(got.error());
    if (!*got) return fail("record missing");
    auto plain = crypto::aead_decrypt(key_, **got, body_key(e.id));
    if (!plain) return fail("record does not decrypt");
    auto decoded = queue::decode(*plain);
    if (!decoded) return fail("record does not decode");
    env = std::move(*decoded);
  }
  std::vector<std::string> pending;
  for (const auto& r : e.recipients) {
    if (r.status == RcptStatus::pending) pending.push_back(r.address);
  }
  e.in_flight = true;
  ++e.attempts;
  ++in_flight_;
  std::string id = e.id;
  deliver_(*env, std::move(pending),
           [this, alive = std::weak_ptr<bool>(alive_), id,
            serial = e.serial](std::vector<RcptResult> results) {
             if (alive.expired()) return;
             on_results(id, serial, std::move(results));
           });
}

void EdgeOutboundQueue::on_results(const std::string& id, uint64_t serial,
                                   std::vector<RcptResult> results) {
  auto it = entries_.find(id);
  // Withdrawn during the attempt (and maybe submitted again since): nothing of it is applied.
  if (it == entries_.end() || it->second.serial != serial || !it->second.in_flight) return;
  QueueEntry& e = it->second;
  e.in_flight = false;
  --in_flight_;
  kick();
  std::vector<RcptResult> newly_final;
  for (auto& r : results) {
    for (auto& mine : e.recipients) {
      if (mine.address != r.address || mine.status != RcptStatus::pending) continue;
      mine.reply = r.reply;
      if (r.status == RcptStatus::delivered || r.status == RcptStatus::permanent) {
        mine.status = r.status;
        newly_final.push_back(mine);
      }
      break;
    }
  }
  finish_or_reschedule(e, std::move(newly_final));
}

void EdgeOutboundQueue::finish_or_reschedule(QueueEntry& e, std::vector<RcptResult> newly_final) {
  int64_t now = clock_.now();
  bool pending = false;
  for (auto& r : e.recipients) {
    if (r.status != RcptStatus::pending) continue;
    if (expired(options_.backoff, e.first_queued, now)) {
      r.status = RcptStatus::expired;
      if (r.reply.empty()) r.reply = "451 4.4.7 queue lifetime exceeded";
      newly_final.push_back(r);
    } else {
      pending = true;
    }
  }
  if (!newly_final.empty()) {
    size_t delivered = 0, permanent = 0, expired_n = 0;
    for (const auto& r : newly_final) {
      delivered += r.status == RcptStatus::delivered;
      permanent += r.status == RcptStatus::permanent;
      expired_n += r.status == RcptStatus::expired;
    }
    NJ_LOG_INFO("outbound %s: attempt %u: %zu delivered, %zu bounced, %zu expired", e.id.c_str(),
                e.attempts, delivered, permanent, expired_n);
    if (report_) report_(e.id, newly_final);
  }
  if (!pending) {
    remove(e.id);  // invalidates e
    return;
  }
  e.next_attempt = now + backoff_delay(options_.backoff, std::max<uint32_t>(e.attempts, 1), rand_);
  schedule(e);
  persist_state(e);
}

void EdgeOutboundQueue::persist_state(const QueueEntry& e) {
  committer_.submit([db = db_, key = state_key(e.id),
                     state = crypto::aead_encrypt(key_, encode_state(e), state_key(e.id))](
                        store::Txn& t) -> Status { return t.put(db, key, state); },
                    [id = e.id](Status s) {
                      if (!s)
                        NJ_LOG_WARN("outbound %s: state not stored: %s", id.c_str(),
                                    s.error().c_str());
                    });
}

void EdgeOutboundQueue::withdraw(const std::string& id, std::function<void(Status)> done) {
  if (auto it = entries_.find(id); it != entries_.end()) {
    QueueEntry& e = it->second;
    if (e.in_flight) {
      --in_flight_;
      if (cancel_) cancel_(id);
      kick();
    } else {
      schedule_.erase({e.wake, e.id});
    }
    entries_.erase(it);
  }
  if (committing_.count(id)) withdrawn_while_committing_.insert(id);
  // Deleted whether held or not: this commit is after every earlier write for the id (the
  // GroupCommitter keeps their order), so nothing of it is left once `done` says ok.
  committer_.submit(
      [db = db_, id](store::Txn& t) -> Status {
        if (auto r = t.del(db, body_key(id)); !r) return make_error(r.error());
        if (auto r = t.del(db, state_key(id)); !r) return make_error(r.error());
        return {};
      },
      [id, done = std::move(done)](Status s) {
        if (!s)
          NJ_LOG_WARN("outbound %s: withdrawn, not removed: %s", id.c_str(), s.error().c_str());
        done(s);
      });
}

void EdgeOutboundQueue::remove(std::string id) {
  entries_.erase(id);
  committer_.submit(
      [db = db_, id](store::Txn& t) -> Status {
        if (auto r = t.del(db, body_key(id)); !r) return make_error(r.error());
        if (auto r = t.del(db, state_key(id)); !r) return make_error(r.error());
        return {};
      },
      [id](Status s) {
        if (!s) NJ_LOG_WARN("outbound %s: not removed: %s", id.c_str(), s.error().c_str());
      });
}

Result<size_t> EdgeOutboundQueue::stored_records() {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  size_t n = 0;
  if (auto s = store::scan_prefix(*txn, db_, "",
                                  [&](std::string_view, std::string_view) {
                                    ++n;
                                    return true;
                                  });
      !s) {
    return make_error(s.error());
  }
  return n;
}

}  // namespace nj::edge::outbound
