// OutboundHandover: the inner's Internet-bound mail on the links to its fleet of edges. Each
// message released by the queue goes to one healthy edge, the one with the least in flight
// (SUBMIT, within that link's flow-control window), and is marked as held by that edge once the
// edge has committed it (ACK). The edge's per-recipient results (STATUS) settle it: a message
// stays in the inner's queue until every recipient has a final result, so an edge lost with
// recipients pending costs nothing but a resubmission of those. An edge whose link comes back
// gets what it holds again (idempotent by id); one whose link has been down longer than its
// failover_after, or that is removed from the fleet, has what it holds handed to the others,
// and is told to forget it (WITHDRAW) when its link is next up, so it cannot deliver it too.
// Duplicates are possible only for what the lost edge delivered but had not yet reported; each
// one reported later is counted and logged. Failures make a DSN in the author's mailbox, in the
// same commit that records them, once per recipient however often a STATUS repeats. A
// temporary refusal by an edge is retried with a growing back-off; a permanent one, or a
// message too large for a link frame, is bounced.
// Trust: edges are authenticated by the link but any may be seized: a STATUS can only settle
// recipients of our own messages, a refusal only delays or bounces our own mail, and a slow or
// hostile edge holds no more than its window, while the others take the rest.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/crypto/crypto.h"
#include "common/link/payloads.h"
#include "common/link/session.h"
#include "common/store/group_commit.h"
#include "common/uv/handles.h"
#include "inner/accounts/accounts.h"
#include "inner/config/config.h"
#include "inner/link/dsn.h"
#include "inner/mailbox/mailbox.h"
#include "inner/outbound/outbound_queue.h"

namespace nj::inner {

class OutboundHandover {
 public:
  // An edge, as the queue records who holds a message: its 32-byte static link key.
  using EdgeKey = std::string;

  struct Deps {
    OutboundQueue& queue;
    Mailbox& mailbox;
    Accounts& accounts;
    const InnerConfig& config;
    const Clock& clock;
    store::GroupCommitter& gc;
    const crypto::KeyPair& inner;
  };
  struct Options {
    size_t window = 128;            // SUBMITs awaiting an edge's answer, per link (link::Window)
    size_t window_bytes = 8u << 20;
    int64_t retry_first_s = 60;     // after a temporary refusal by an edge, doubling ...
    int64_t retry_max_s = 3600;     // ... up to this
    size_t max_payload = link::kDefaultMaxPayload;  // the link's frame limit
    uint64_t tick_ms = 1000;        // how often the due index and failovers are looked at
  };

  OutboundHandover(uv::Loop& loop, Deps deps, Options options);
  ~OutboundHandover();

  // Starts the tick (due mail, back-offs, failovers).
  void start();
  void stop();

  // A member of the fleet, down until up(): `failover_after_ms` after its link went down (or
  // after it was added, if it never came up), what it holds goes to the others.
  void add_edge(const EdgeKey& key, const std::string& name, uint64_t failover_after_ms);
  // No longer a member: what it holds goes to the others now. If its link is still up, it is
  // first told to forget all of it (the caller then closes that link). `revoked`: its
  // pending withdrawal notes go as well, since it is never told anything again.
  void remove_edge(const EdgeKey& key, bool revoked);

  // A link to edge `key` opened: it gets again what it holds unfinished, the notes of what it
  // should forget, and its share of what is due.
  void up(const EdgeKey& key, const std::shared_ptr<link::Session>& session);
  // That link is gone: what was in flight on it and not yet its own is offered to the others;
  // what it holds waits for it (or for its failover).
  void down(const EdgeKey& key);
  // A submission committed `id`, due at `due`: handed over at once when due now.
  void queued(const std::string& id, int64_t due);

  // An edge's ACK or NACK of one of our SUBMITs or WITHDRAWs.
  void on_answer(const EdgeKey& key, const link::Frame& f);
  // STATUS: final results for some recipients of a message we handed to edge `key`.
  void on_status(const EdgeKey& key, const link::Frame& f);

  // For status and metrics.
  struct EdgeLoad {
    size_t in_flight = 0;      // SUBMITs awaiting its answer
    size_t held = 0;           // messages it holds unfinished (committed on its side)
    int64_t oldest_queued = 0;  // the queue time of the oldest of those (Unix s; 0: none)
  };
  // Per edge (by key), from the caller's one scan of the queue.
  std::map<EdgeKey, EdgeLoad> loads(const std::vector<OutboundQueue::Item>& queued) const;
  uint64_t duplicates() const { return duplicates_; }   // deliveries reported by two edges
  uint64_t failovers() const { return failovers_; }     // messages handed on from a lost edge
  uint64_t delivered() const { return delivered_; }     // recipients reported delivered
  uint64_t failed() const { return failed_; }           // recipients failed (reported or bounced)

 private:
  struct Edge {
    std::string name;
    uint64_t failover_after_ms = 0;
    std::weak_ptr<link::Session> link;
    link::Session* session = nullptr;  // the open link, or null
    link::Window window;
    std::deque<std::string> own;          // what it holds, to resubmit on this link
    std::set<std::string> owned;          // the same, while waiting or in flight
    std::map<uint64_t, std::string> withdrawing;  // WITHDRAW frame id -> message id
    uint64_t down_since_ms = 0;
    bool failed_over = false;  // what it held has gone to the others in this outage
    Edge(std::string n, uint64_t after, size_t count, size_t bytes)
        : name(std::move(n)), failover_after_ms(after), window(count, bytes) {}
    bool open() const { return session && session->is_open(); }
  };
  struct Sender {
    std::string account_id;  // empty: no DSN (null sender, or no longer an account)
    std::string address;     // the author's internal address
  };
  Sender sender_of(const queue::Envelope& e);
  // What one settlement did, for the log.
  struct Settled {
    size_t delivered = 0, failed = 0;
    std::vector<std::string> newly_delivered;  // the recipients this settlement made final
    bool removed = false;  // the last recipient was settled: the message is gone
    bool found = false;    // false: the message was no longer queued
  };
  // Records `results` for message `id` in one commit (OutboundQueue::settle_in), with a DSN in
  // its author's mailbox for the recipients that newly failed (`why` for those without a remote
  // reply); `done` runs after the commit. The STATUS path and the bounces share it.
  void settle(const std::string& id, std::vector<link::RecipientStatus> results,
              const LocalReason& why, std::function<void(Status, const Settled&)> done);
  void tick();
  void pump();
  bool send(const EdgeKey& key, Edge& e, const std::string& id);
  // DSN for every recipient still queued, then the message is gone (refused for good, or too
  // large for the link).
  void bounce(const std::string& id, const LocalReason& why);
  // Due and not waiting anywhere yet: into the pool, for whichever edge has room first.
  void pool(const std::string& id, bool front = false);
  bool tracked(const std::string& id) const { return placed_.count(id) || held_.count(id); }
  // What edge `key` holds goes to the others (`why` for the log).
  void hand_on(const EdgeKey& key, const std::string& name, const std::string& why);
  void send_withdrawals(const EdgeKey& key, Edge& e);
  void withdraw(Edge& e, const std::string& id);
  // Messages whose holder is no member any more (removed while the inner was stopped).
  void adopt_orphans();
  void note_taken(const std::string& id, const EdgeKey& from);

  Deps d_;
  Options opt_;
  uv::Timer timer_;
  std::map<EdgeKey, Edge> edges_;
  std::deque<std::string> pool_;            // due, for any edge
  EdgeKey last_pick_;                       // the edge the pool fed last
  std::map<std::string, EdgeKey> placed_;   // id -> the edge it waits or flies on ("": pool)
  struct Retry {
    uint32_t refusals = 0;
    int64_t next = 0;  // Unix seconds
  };
  std::map<std::string, Retry> retry_;  // refused for now by an edge (kept across links)
  std::set<std::string> held_;          // waiting for that back-off
  // Messages handed on from a lost edge, and from which: a delivery reported by it afterwards,
  // or reported again by the new edge for a recipient already settled, is a duplicate.
  std::map<std::string, EdgeKey> taken_from_;
  // For those messages, which edge's report made each recipient final: a delivery reported
  // again by that edge is a repeated STATUS, by another a duplicate.
  std::map<std::string, std::map<std::string, EdgeKey>> delivered_by_;
  std::deque<std::string> taken_order_;  // bounds taken_from_ and delivered_by_
  bool orphans_checked_ = false;
  uint64_t duplicates_ = 0;
  uint64_t failovers_ = 0;
  uint64_t delivered_ = 0;
  uint64_t failed_ = 0;
  // Gone with this object: commit callbacks that run after it do nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace nj::inner
