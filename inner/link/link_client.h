// LinkClient: the inner's link to one edge of its fleet. It dials (EdgeDialer) when the
// DialPolicy allows, runs one link::Session at a time, and routes the edge's frames: DELIVER and
// VERIFY to that edge's EdgeRequests, answers to our SUBMITs and WITHDRAWs and the edge's STATUS
// to the fleet-wide OutboundHandover, under this edge's key. When a link ends it logs why, in the
// operator's terms (a refused key reads differently from a cut connection), and waits as the
// DialPolicy says before dialing again. Each edge has its own LinkClient: one that is down, slow
// or hostile holds up only itself.
// Trust: the edge is authenticated by its pinned key but may be seized: it cannot make the inner
// dial faster than the policy allows, and what it asks is bounded by the parts that answer. The
// inner never tells the edge where it is (the overlay carries the connection).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/link/session.h"
#include "common/uv/handles.h"
#include "inner/config/config.h"
#include "inner/link/dial_policy.h"
#include "inner/link/edge_dialer.h"
#include "inner/link/edge_requests.h"
#include "inner/link/outbound_handover.h"

namespace nj::inner {

class LinkClient {
 public:
  struct Options {
    DialPolicy::Options dial;
    // The handshake over an open overlay stream is one round trip; keepalive as the edge's.
    link::Session::Options session = {30000, 30000, {}};
  };

  // What status and metrics show of this edge's link. Never an address.
  struct State {
    enum class Stage { dialing, handshaking, up, waiting, stopped };
    Stage stage = Stage::waiting;
    int64_t since = 0;        // Unix seconds of the last change of stage
    std::string last_error;   // why the last link or attempt ended; empty: none yet
    uint64_t rtt_ms = 0;      // the last measured round trip (0: none)
    uint64_t links_opened = 0;
    uint64_t dials_last_hour = 0;
  };
  static const char* stage_name(State::Stage s);

  // `edge` and `edge_pub` are copied: the fleet may change while this link runs.
  LinkClient(uv::Loop& loop, const EdgeLinkConfig& edge, const crypto::KeyPair& inner,
             const crypto::PublicKey& edge_pub, EdgeRequests& requests,
             OutboundHandover& outbound, const Clock& clock, Options options);
  ~LinkClient();

  void start();
  // Stops for good: the link is closed with `why` as its final record (the edge logs it).
  void shutdown(const std::string& why = "the inner is stopping");
  bool connected() const { return session_ && session_->is_open(); }
  const std::string& name() const { return edge_.name; }
  // The key the OutboundHandover knows this edge by.
  const std::string& key() const { return key_; }
  State state() const;

 private:
  void dial();
  void connected_to(socks::Connected c);
  void opened();
  void ended(const link::Session::Ended& e);
  void on_frame(link::Frame f);
  void retry(const std::string& why, bool warn = false);  // logs, then waits as the policy says
  void stage(State::Stage s);

  uv::Loop& loop_;
  EdgeLinkConfig edge_;
  const crypto::KeyPair& inner_;
  crypto::PublicKey edge_pub_;
  std::string key_;
  EdgeRequests& requests_;
  OutboundHandover& outbound_;
  const Clock& clock_;
  Options opt_;
  EdgeDialer dialer_;
  DialPolicy policy_;
  uv::Timer retry_timer_;
  uv::Timer reaper_;  // frees ended sessions on a later loop turn
  std::shared_ptr<link::Session> session_;
  std::vector<std::shared_ptr<link::Session>> retired_;
  State state_;
  bool stopping_ = false;
};

}  // namespace nj::inner
