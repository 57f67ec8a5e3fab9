// LinkServer: the edge's end of the link. It listens on `listen.link` (behind the edge's onion
// service), lets in only a peer that completes the handshake with the pinned inner key, pushes
// the sealed inbound queue to it (a message leaves the edge only after the inner's ACK, which the
// inner sends after its synced commit; a message the inner cannot take now waits with a growing,
// jittered back-off, and once it has outlived `inbound.max_queue_lifetime` is offered one last
// time, for the inner to bounce what it still cannot deliver), asks it whether recipients exist,
// takes its outbound mail (SUBMIT) and reports the results (STATUS) until each is acknowledged,
// and forgets a submitted message the inner has given to another edge (WITHDRAW): ACKed only
// after the synced commit that removed it, with no STATUS for it after that ACK.
// Trust: every connection is hostile until the handshake; a stranger who reaches the link port
// can hold at most `max_handshakes` unauthenticated connections, each for a few seconds, and the
// oldest gives way to a new one, so the paired inner always gets in. The edge never learns the
// inner's address (it arrives through the overlay from 127.0.0.1). Answers are cached in memory
// only, under keyed hashes.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/clock.h"
#include "common/config/types.h"
#include "common/crypto/crypto.h"
#include "common/link/payloads.h"
#include "common/link/session.h"
#include "common/queue/envelope.h"
#include "common/store/group_commit.h"
#include "common/uv/handles.h"
#include "common/uv/session_set.h"
#include "common/uv/tcp.h"
#include "edge/link/status_reports.h"
#include "edge/queue/inbound_queue.h"
#include "edge/queue/inbound_schedule.h"

namespace nj::edge {

class LinkServer {
 public:
  struct Options {
    uint64_t verify_timeout_ms = 10000;  // then 451 4.4.3 at RCPT
    // Handshake deadline and keepalive. An honest inner finishes the handshake in one round
    // trip (a second or two over Tor), so a few seconds are plenty.
    link::Session::Options session = {10000, 30000, {}};
    // Unauthenticated connections held at once; a new one pushes out the oldest.
    size_t max_handshakes = 16;
    // DELIVERs awaiting an ACK (link::Window).
    size_t window = 128;
    size_t window_bytes = 8u << 20;
    // When a message the inner refused for now is offered again, and when it has waited long
    // enough to be offered a last time.
    // (InboundSchedule::policy of the `inbound:` section.)
    outbound::BackoffPolicy schedule = InboundSchedule::policy(
        std::chrono::minutes(1), std::chrono::hours(1), std::chrono::hours(24 * 5));
  };

  LinkServer(uv::Loop& loop, const crypto::KeyPair& edge_key, const crypto::PublicKey& inner,
             InboundQueue& inbound, store::GroupCommitter& gc, const Clock& clock,
             Options options);
  ~LinkServer();

  Status listen(const std::vector<config::Endpoint>& endpoints);
  void shutdown();
  bool connected() const { return active_ != nullptr; }

  // A message was committed to the inbound queue at `queued_at`: push it now if the inner is
  // connected.
  void inbound_committed(const std::string& id, int64_t queued_at);

  // Does this (internal) recipient exist, and can its mailbox take mail? The callback runs
  // exactly once, maybe before this returns (cache, no inner connected). The caller guards its
  // own lifetime.
  void verify(const std::string& address, std::function<void(link::VerifyOutcome)> cb);

  // Outbound mail from the inner: `submit` must call its callback after the synced commit into
  // the edge's outbound queue (then the inner gets its ACK). Not set: SUBMIT gets a temporary
  // NACK and the inner keeps the message.
  using SubmitFn = std::function<void(queue::Envelope, std::function<void(Status)>)>;
  void on_submit(SubmitFn fn) { submit_ = std::move(fn); }
  // WITHDRAW from the inner: `withdraw` must stop delivering the message and call its callback
  // after the synced commit that removed it from the edge's outbound queue (ok also for an id it
  // does not hold); then its unacknowledged reports are dropped and the inner gets its ACK. Not
  // set: WITHDRAW gets a temporary NACK.
  using WithdrawFn = std::function<void(const std::string&, std::function<void(Status)>)>;
  void on_withdraw(WithdrawFn fn) { withdraw_ = std::move(fn); }
  // Recipients of a submitted message that just became final, sent as STATUS until the inner
  // acknowledges them (again on every new link); later reports add to earlier ones.
  void report(const std::string& message_id, std::vector<link::RecipientStatus> results);

  // For tests and the log.
  size_t handshaking() const { return handshakes_.size(); }

  // The link as `nightjarctl status` and the metrics show it: only times, counts and the reason
  // the last link ended (as the log gives it; never an address).
  struct State {
    bool up = false;
    int64_t since = 0;       // Unix seconds: when it came up or went down (or the server started)
    std::string last_error;  // why the last link ended ("" when none has yet)
    uint64_t rtt_ms = 0;     // round trip of the last answered PING on the link up; 0 when down
    uint64_t links_opened = 0;
  };
  State state() const;
  // The port of the first listener (tests listen on port 0); 0 when not listening.
  uint16_t port() const;
  // Reports not yet acknowledged by the inner.
  const StatusReports& reports() const { return reports_; }

 private:
  struct PendingVerify {
    std::string cache_key;
    std::function<void(link::VerifyOutcome)> cb;
    std::unique_ptr<uv::Timer> timer;
  };
  struct CacheEntry {
    link::VerifyOutcome outcome;
    int64_t expires;
  };

  void accept(std::unique_ptr<uv::Connection> conn);
  void opened(link::Session* s);
  void ended(link::Session* s, const link::Session::Ended& e);
  void on_frame(link::Session* s, link::Frame f);
  void load_inbound();
  void pump();               // DELIVERs up to the window, due ones first
  void arm_retry();          // one timer for the soonest deferred message
  void on_deliver_answer(uint64_t frame_id, const link::Frame& f);
  void on_submit(link::Session* s, link::Frame f);
  void on_withdraw(link::Session* s, link::Frame f);
  void send_statuses();
  void finish_verify(uint64_t frame_id, link::VerifyOutcome outcome);
  std::string cache_key(const std::string& address) const;

  uv::Loop& loop_;
  const crypto::KeyPair& key_;
  crypto::PublicKey inner_;
  InboundQueue& inbound_;
  store::GroupCommitter& gc_;
  const Clock& clock_;
  Options opt_;
  crypto::HashKey cache_hash_key_ = crypto::HashKey::generate();

  std::vector<std::unique_ptr<uv::TcpListener>> listeners_;
  std::unique_ptr<uv::SessionSet<link::Session>> sessions_;
  std::deque<link::Session*> handshakes_;  // unauthenticated, oldest first
  link::Session* active_ = nullptr;
  uint64_t link_epoch_ = 0;  // counts activations: late answers for an old link are dropped

  InboundSchedule schedule_;
  link::Window window_;
  std::unique_ptr<uv::Timer> retry_timer_;
  std::map<uint64_t, PendingVerify> verifies_;           // VERIFY frame id -> waiter
  std::unordered_map<std::string, CacheEntry> cache_;    // keyed hash -> answer
  SubmitFn submit_;
  WithdrawFn withdraw_;
  StatusReports reports_;
  bool stopping_ = false;
  // For state(): set as links open and end.
  int64_t state_since_ = 0;
  std::string last_error_;
  uint64_t links_opened_ = 0;
};

}  // namespace nj::edge
