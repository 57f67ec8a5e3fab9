// LinkServer: the edge's end of the link. It listens on `listen.link` (behind the edge's onion
// service), lets in only a peer that completes the handshake with the pinned inner key, pushes
// the sealed inbound queue to it (a message leaves the edge only after the inner's ACK, which the
// inner sends after its synced commit), and asks it whether recipients exist. Per edge, so a
// list of edges is a list of these, and losing one edge never stalls another.
// Trust: every connection is hostile until the handshake; the edge never learns the inner's
// address (it arrives through the overlay from 127.0.0.1). Answers are cached in memory only,
// under keyed hashes.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/base/clock.h"
#include "common/config/types.h"
#include "common/crypto/crypto.h"
#include "common/link/channel.h"
#include "common/link/payloads.h"
#include "common/queue/envelope.h"
#include "common/store/group_commit.h"
#include "common/uv/handles.h"
#include "common/uv/session_set.h"
#include "common/uv/tcp.h"
#include "edge/queue/inbound_queue.h"

namespace nj::edge {

class LinkServer {
 public:
  struct Options {
    uint64_t verify_timeout_ms = 10000;   // then 451 4.4.3 at RCPT
    uint64_t handshake_timeout_ms = 60000;
    uint64_t keepalive_ms = 30000;        // PING when idle; no frame for 3 of these: close
    // DELIVERs awaiting an ACK: at most this many, and no new one once this many bytes are in
    // flight (one always goes). Over Tor a round trip takes a large part of a second, so the
    // window, not the link's bandwidth, would otherwise bound throughput.
    size_t window = 128;
    size_t window_bytes = 8u << 20;
    uint64_t retry_ms = 30000;            // after a temporary NACK
  };

  LinkServer(uv::Loop& loop, const crypto::KeyPair& edge_key, const crypto::PublicKey& inner,
             InboundQueue& inbound, store::GroupCommitter& gc, const Clock& clock,
             Options options);
  ~LinkServer();

  Status listen(const std::vector<config::Endpoint>& endpoints);
  void shutdown();
  bool connected() const { return active_ != nullptr; }

  // A message was committed to the inbound queue: push it now if the inner is connected.
  void inbound_committed(const std::string& id);

  // Does this (internal) recipient exist? The callback runs exactly once, maybe before this
  // returns (cache, no inner connected). The caller guards its own lifetime.
  void verify(const std::string& address, std::function<void(link::VerifyOutcome)> cb);

  // Outbound mail from the inner: `submit` must call its callback after the synced commit into
  // the edge's outbound queue (then the inner gets its ACK). Not set: SUBMIT gets a temporary
  // NACK and the inner keeps the message.
  using SubmitFn = std::function<void(queue::Envelope, std::function<void(Status)>)>;
  void on_submit(SubmitFn fn) { submit_ = std::move(fn); }
  // The final result of a submitted message, sent as STATUS until the inner acknowledges it
  // (again on every new link).
  void report(const std::string& message_id, std::vector<link::RecipientStatus> results);

  class Peer;

 private:
  friend class Peer;
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
  void activate(Peer* p);      // the handshake succeeded
  void peer_gone(Peer* p);     // closed or failed
  void on_frame(Peer* p, link::Frame f);
  void pump();                 // sends DELIVERs up to the window
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
  std::unique_ptr<uv::SessionSet<Peer>> peers_;
  Peer* active_ = nullptr;
  uint64_t next_frame_id_ = 1;
  uint64_t link_epoch_ = 0;  // counts activations: late answers for an old link are dropped

  std::deque<std::string> to_send_;                      // message ids not yet pushed
  std::unordered_set<std::string> queued_;               // ids in to_send_ or in flight
  struct InFlight {
    std::string id;
    size_t bytes = 0;
  };
  std::map<uint64_t, InFlight> in_flight_;               // DELIVER frame id -> message
  size_t in_flight_bytes_ = 0;
  std::map<uint64_t, PendingVerify> verifies_;           // VERIFY frame id -> waiter
  std::unordered_map<std::string, CacheEntry> cache_;    // keyed hash -> answer
  std::unique_ptr<uv::Timer> retry_timer_;
  SubmitFn submit_;
  std::map<std::string, link::StatusPayload> statuses_;  // message id -> unacknowledged STATUS
  std::map<uint64_t, std::string> status_frames_;       // STATUS frame id -> message id
  void send_status(const std::string& message_id);
  bool stopping_ = false;
};

}  // namespace nj::edge
