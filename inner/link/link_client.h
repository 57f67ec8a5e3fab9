// LinkClient: the inner's end of the link. It dials the edge through the overlay's SOCKS5 proxy
// by name (or plain loopback TCP for `direct`), keeps the link up, and reconnects with
// exponential backoff and jitter. Over the link it takes the edge's inbound mail (ACK only after
// the synced commit into the mailboxes) and answers recipient checks.
// Trust: the edge is authenticated by its pinned key, but the mail it pushes is Internet mail;
// the inner never tells the edge where it is (the overlay carries the connection).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/link/channel.h"
#include "common/socks/connect.h"
#include "common/store/group_commit.h"
#include "common/uv/handles.h"
#include "common/uv/tcp.h"
#include "inner/accounts/accounts.h"
#include "inner/config/config.h"
#include "inner/link/inbound_delivery.h"
#include "inner/mailbox/mailbox.h"
#include "inner/outbound/outbound_queue.h"

namespace nj::inner {

class LinkClient {
 public:
  struct Options {
    uint64_t first_backoff_ms = 1000;
    uint64_t max_backoff_ms = 60000;
    uint64_t keepalive_ms = 30000;  // PING when idle; no frame for 3 of these: reconnect
    // SUBMITs awaiting the edge's ACK: at most this many, and no new one once this many bytes
    // are in flight (one always goes). Over Tor a round trip takes a large part of a second,
    // so the window, not the link's bandwidth, would otherwise bound throughput.
    size_t window = 128;
    size_t window_bytes = 8u << 20;
  };

  // What the outbound half needs: the queue it hands over and the mailboxes DSNs go to.
  struct Outbound {
    OutboundQueue& queue;
    Mailbox& mailbox;
    const InnerConfig& config;
    const Clock& clock;
  };

  LinkClient(uv::Loop& loop, const EdgeLinkConfig& edge, const crypto::KeyPair& inner,
             const crypto::PublicKey& edge_pub, InboundDelivery& inbound, Accounts& accounts,
             store::GroupCommitter& gc, Outbound outbound, Options options);
  ~LinkClient();

  void start();
  void shutdown();
  bool connected() const { return channel_ && channel_->is_open(); }
  // A submission committed outbound message `id`, due at `due` (Unix seconds): when it is due
  // now it is handed over at once rather than found by the next tick.
  void queued(const std::string& id, int64_t due);

 private:
  void dial();
  void connected_to(std::string early);
  void on_bytes(std::string_view b);
  void on_frame(link::Frame f);
  // Queues a frame; it is written with the others of this loop turn (schedule_flush()).
  void send(link::Frame f);
  // Writes the channel's pending output now. Used where the connection is set up or closes;
  // everything else goes through schedule_flush(), so the frames one loop turn produces
  // (group-commit answers, a window of SUBMITs) leave in one write.
  void flush();
  void schedule_flush();
  void drop(const std::string& why);  // closes and schedules the next attempt
  void arm_keepalive();
  void clear_outbound();  // forgets this link's hand-over state (link up or down)
  // On link up: every message due now, and every one handed to an earlier edge and unfinished,
  // joins to_submit_ (one scan of the queue per link).
  void load_outbound();
  // Each tick: messages whose delay class has just let them go, and those the edge refused
  // for now, join to_submit_ (reads only the due index, not the whole queue).
  void tick_outbound();
  // Sends SUBMITs from to_submit_ while the window has room.
  void pump_submits();
  void on_submit_answer(uint64_t frame_id, bool acked);
  void on_status(uint64_t frame_id, const std::string& payload);

  uv::Loop& loop_;
  const EdgeLinkConfig& edge_;
  const crypto::KeyPair& inner_;
  crypto::PublicKey edge_pub_;
  InboundDelivery& inbound_;
  Accounts& accounts_;
  store::GroupCommitter& gc_;
  Outbound out_;
  Options opt_;

  std::unique_ptr<socks::Attempt> attempt_;
  std::unique_ptr<uv::Connection> conn_;
  std::unique_ptr<link::Channel> channel_;
  uv::Timer retry_timer_;
  uv::Timer keepalive_;
  uv::Timer submit_timer_;
  uv::Deferred flush_soon_;  // flush() at the end of this loop turn
  struct InFlight {
    std::string id;
    size_t bytes = 0;
  };
  std::map<uint64_t, InFlight> submits_;  // SUBMIT frame id -> message awaiting the ACK
  std::deque<std::string> to_submit_;     // waiting for room in the window, in queue order
  std::vector<std::string> refused_;      // NAKed by the edge: offered again on the next tick
  std::set<std::string> submitted_;       // waiting, in flight or handed over on this link
  size_t in_flight_bytes_ = 0;
  uint64_t backoff_ms_;
  uint64_t next_frame_id_ = 1;
  int idle_rounds_ = 0;
  bool was_open_ = false;
  bool stopping_ = false;
  std::shared_ptr<bool> epoch_;  // replaced per connection: late callbacks from an old one stop
};

}  // namespace nj::inner
