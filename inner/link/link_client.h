// LinkClient: the inner's end of the link. It dials the edge through the overlay's SOCKS5 proxy
// by name (or plain loopback TCP for `direct`), keeps the link up, and reconnects with
// exponential backoff and jitter. Over the link it takes the edge's inbound mail (ACK only after
// the synced commit into the mailboxes) and answers recipient checks.
// Trust: the edge is authenticated by its pinned key, but the mail it pushes is Internet mail;
// the inner never tells the edge where it is (the overlay carries the connection).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

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
  // New outbound mail was committed: hand over what is due now rather than at the next tick.
  void kick() { submit_pass(); }

 private:
  void dial();
  void connected_to(std::string early);
  void on_bytes(std::string_view b);
  void on_frame(link::Frame f);
  void send(link::Frame f);
  void flush();
  void drop(const std::string& why);  // closes and schedules the next attempt
  void arm_keepalive();
  // Hands every due (and every earlier handed-over, unfinished) message to the edge.
  void submit_pass();
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
  std::map<uint64_t, std::string> submits_;       // SUBMIT frame id -> message id
  std::set<std::string> submitted_;               // handed over on this link
  uint64_t backoff_ms_;
  uint64_t next_frame_id_ = 1;
  int idle_rounds_ = 0;
  bool was_open_ = false;
  bool stopping_ = false;
  std::shared_ptr<bool> epoch_;  // replaced per connection: late callbacks from an old one stop
};

}  // namespace nj::inner
