// EdgeOutboundQueue: mail the inner handed to the edge for delivery, until each recipient has a
// final result (delivered, permanent, expired). Every record is encrypted with an AeadKey made
// at start-up and never written anywhere, so the queue on disk is unreadable once the process
// is gone; on start the queue's database is emptied (its records could not be read anyway) and
// the inner resubmits what it has not seen finished (DESIGN.md "Storage").
// Message bodies live on disk (encrypted), only the schedule is kept in memory. Writes go
// through the GroupCommitter; enqueue's `done` runs after the synced commit (the link's ACK).
// withdraw() forgets a message the inner has handed to another edge: at once in memory (an
// attempt in flight is cancelled, and whatever result it still brings is dropped), on disk in one
// synced commit, after which its `done` runs (the link's ACK of WITHDRAW).
// Trust: envelopes come from the inner over the authenticated link; records read back were
// written by this process under its in-memory key and are authenticated by it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/queue/envelope.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"
#include "common/uv/handles.h"
#include "common/uv/loop.h"
#include "edge/outbound/backoff.h"
#include "edge/outbound/status.h"

namespace nj::edge::outbound {

struct QueueOptions {
  BackoffPolicy backoff;
  size_t max_in_flight = 64;  // messages being attempted at once
  uint64_t tick_ms = 1000;    // how often the scheduler looks for due messages
  size_t max_messages = 100000;
};

// What the scheduler knows about one message without reading its record.
struct QueueEntry {
  std::string id;
  int64_t first_queued = 0;
  int64_t next_attempt = 0;
  uint32_t attempts = 0;  // attempts made so far
  std::vector<RcptResult> recipients;
  bool in_flight = false;
  int64_t wake = 0;  // its place in the schedule: the next attempt, or expiry if sooner
  // Which copy of the message this is: one withdrawn and submitted again is a new copy, and the
  // results of an attempt on the old one are not applied to it.
  uint64_t serial = 0;
};

class EdgeOutboundQueue {
 public:
  static constexpr const char* kDbName = "outbound";
  static constexpr const char* kSchemaName = "edge_outbound";
  static constexpr uint32_t kSchemaVersion = 1;

  // Attempts delivery of `recipients` (the still-pending ones) of `envelope`; calls `done`
  // exactly once with one result per recipient (pending = transient failure). The Deliverer
  // in production.
  using DeliverFn =
      std::function<void(const queue::Envelope& envelope, std::vector<std::string> recipients,
                         std::function<void(std::vector<RcptResult>)> done)>;
  // Recipients that just became final, for STATUS to the inner. Runs on the loop thread.
  using ReportFn =
      std::function<void(const std::string& id, const std::vector<RcptResult>& final_results)>;
  // Stops the attempt in flight for message `id` (Deliverer::cancel in production): its `done`
  // need not run any more.
  using CancelFn = std::function<void(const std::string& id)>;

  // Opens the database in `env`, empties it, and makes a fresh key. `committer` must be the
  // env's. `rand` is for jitter (crypto::random_uniform when empty).
  static Result<std::unique_ptr<EdgeOutboundQueue>> open(store::Env& env,
                                                         store::GroupCommitter& committer,
                                                         uv::Loop& loop, const Clock& clock,
                                                         QueueOptions options, DeliverFn deliver,
                                                         ReportFn report, RandomFn rand = {});
  ~EdgeOutboundQueue();
  EdgeOutboundQueue(const EdgeOutboundQueue&) = delete;
  EdgeOutboundQueue& operator=(const EdgeOutboundQueue&) = delete;

  // Stores the message (encrypted) and schedules it at once. `done` runs after the synced
  // commit. Enqueueing an id that is already queued is a retransmit: ok, nothing stored twice.
  void enqueue(queue::Envelope e, std::function<void(Status)> done);
  // The inner has given message `id` to another edge. It leaves the schedule at once: an attempt
  // in flight is cancelled (set_cancel) and any result it still brings is dropped, neither
  // reported nor stored. Its records are deleted in one synced commit, after which `done` runs;
  // ok means no record of it is left on disk. An id not held (never queued, finished, withdrawn
  // before) is deleted all the same: ok. A result the remote server gave before this call and
  // that is not processed yet is dropped too (the inner's other edge may deliver it again).
  void withdraw(const std::string& id, std::function<void(Status)> done);
  void set_cancel(CancelFn cancel) { cancel_ = std::move(cancel); }

  // Starts the scheduler timer; run_due() every tick_ms.
  void start();
  void stop();
  // One scheduler pass: expire what outlived its lifetime, start attempts for due messages.
  void run_due();

  size_t size() const { return entries_.size(); }
  const QueueEntry* find(const std::string& id) const;
  // For tests: number of records in the database (committed state).
  Result<size_t> stored_records();

 private:
  EdgeOutboundQueue(store::Env& env, store::GroupCommitter& committer, uv::Loop& loop,
                    const Clock& clock, store::Dbi db, QueueOptions options, DeliverFn deliver,
                    ReportFn report, RandomFn rand);
  static std::string body_key(const std::string& id) { return "b/" + id; }
  static std::string state_key(const std::string& id) { return "s/" + id; }
  std::string encode_state(const QueueEntry& e) const;
  void attempt(QueueEntry& e);
  void on_results(const std::string& id, uint64_t serial, std::vector<RcptResult> results);
  void finish_or_reschedule(QueueEntry& e, std::vector<RcptResult> newly_final);
  void persist_state(const QueueEntry& e);
  void remove(std::string id);  // by value: callers pass the id of the entry it erases

  store::Env& env_;
  store::GroupCommitter& committer_;
  const Clock& clock_;
  store::Dbi db_;
  QueueOptions options_;
  DeliverFn deliver_;
  ReportFn report_;
  CancelFn cancel_;
  RandomFn rand_;
  crypto::AeadKey key_;
  std::map<std::string, QueueEntry> entries_;
  // (wake, id) of every entry not in flight, soonest first: a pass reads only what is due, so a
  // large backlog for a slow destination does not make every arrival scan the whole queue.
  std::set<std::pair<int64_t, std::string>> schedule_;
  void schedule(QueueEntry& e);
  std::set<std::string> committing_;  // enqueued, commit not yet done
  // Withdrawn while its enqueue commit was under way: that commit's completion does not add it
  // (the withdraw's delete is committed after the put).
  std::set<std::string> withdrawn_while_committing_;
  uint64_t next_serial_ = 1;
  size_t in_flight_ = 0;
  std::unique_ptr<uv::Timer> timer_;
  // Runs run_due() on the next loop turn after a message arrives or an attempt ends, so the
  // queue does not wait for the next tick to use a free slot.
  std::unique_ptr<uv::Timer> kick_;
  void kick();
  bool started_ = false;
  // Expires with this object, so late delivery callbacks after destruction do nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace nj::edge::outbound
