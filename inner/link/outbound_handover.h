// OutboundHandover: the inner's Internet-bound mail on a link to an edge. It hands messages over
// (SUBMIT) within a flow-control window as they become due, marks each as handed over once the
// edge has committed it (ACK), and records the edge's per-recipient results (STATUS): a message
// stays in the inner's queue until every recipient has a final result, so an edge lost with
// recipients still pending costs nothing but a resubmission of those recipients to the next
// link. Failures make a DSN in the author's mailbox, in the same commit that records them, once
// per recipient however often a STATUS repeats. A temporary refusal by the edge is retried with
// a growing back-off; a permanent one, or a message too large for a link frame, is bounced.
// Trust: the edge is authenticated by the link but may be seized: its STATUS can only settle
// recipients of messages we gave it, and a refusal only delays or bounces our own mail.
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
    size_t window = 128;            // SUBMITs awaiting the edge's answer (link::Window)
    size_t window_bytes = 8u << 20;
    int64_t retry_first_s = 60;     // after a temporary refusal by the edge, doubling ...
    int64_t retry_max_s = 3600;     // ... up to this
    size_t max_payload = link::kDefaultMaxPayload;  // the link's frame limit
    uint64_t tick_ms = 1000;        // how often the due index is read
  };

  OutboundHandover(uv::Loop& loop, Deps deps, Options options);
  ~OutboundHandover();

  // A link opened: everything due, and everything handed to an earlier link and unfinished,
  // is offered on it (one scan of the queue).
  void up(const std::shared_ptr<link::Session>& session);
  // The link is gone: what was waiting or in flight on it is offered on the next one.
  void down();
  // A submission committed `id`, due at `due`: handed over at once when due now.
  void queued(const std::string& id, int64_t due);

  // The edge's ACK or NACK of one of our SUBMITs.
  void on_answer(const link::Frame& f);
  // STATUS: final results for some recipients of a message we handed over.
  void on_status(const link::Frame& f);

 private:
  struct Sender {
    std::string account_id;  // empty: no DSN (null sender, or no longer an account)
    std::string address;     // the author's internal address
  };
  Sender sender_of(const queue::Envelope& e);
  // What one settlement did, for the log.
  struct Settled {
    size_t delivered = 0, failed = 0;
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
  // DSN for every recipient still queued, then the message is gone (refused for good, or too
  // large for the link).
  void bounce(const std::string& id, const LocalReason& why);
  void offer(const std::string& id);

  Deps d_;
  Options opt_;
  std::weak_ptr<link::Session> link_;
  link::Session* session_ = nullptr;  // the open link, or null
  link::Window window_;
  uv::Timer timer_;
  std::deque<std::string> to_submit_;  // waiting for room in the window, in queue order
  std::set<std::string> offered_;      // waiting, in flight or handed over on this link
  struct Retry {
    uint32_t refusals = 0;
    int64_t next = 0;  // Unix seconds
  };
  std::map<std::string, Retry> retry_;  // refused for now by the edge (kept across links)
  std::set<std::string> held_;          // offered on this link, waiting for its back-off
};

}  // namespace nj::inner
