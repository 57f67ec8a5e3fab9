// LinkClient: the inner's link to one edge. It dials (EdgeDialer) when the DialPolicy allows,
// runs one link::Session at a time, and routes the edge's frames: DELIVER and VERIFY to
// EdgeRequests, answers to our SUBMITs and the edge's STATUS to OutboundHandover. When a link
// ends it logs why, in the operator's terms (a refused key reads differently from a cut
// connection), and waits as the DialPolicy says before dialing again.
// Trust: the edge is authenticated by its pinned key but may be seized: it cannot make the inner
// dial faster than the policy allows, and what it asks is bounded by the parts that answer. The
// inner never tells the edge where it is (the overlay carries the connection).
#pragma once

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

  LinkClient(uv::Loop& loop, const EdgeLinkConfig& edge, const crypto::KeyPair& inner,
             const crypto::PublicKey& edge_pub, EdgeRequests& requests,
             OutboundHandover& outbound, const Clock& clock, Options options);
  ~LinkClient();

  void start();
  void shutdown();
  bool connected() const { return session_ && session_->is_open(); }
  // A submission committed outbound message `id`, due at `due` (Unix seconds).
  void queued(const std::string& id, int64_t due) { outbound_.queued(id, due); }

 private:
  void dial();
  void connected_to(socks::Connected c);
  void opened();
  void ended(const link::Session::Ended& e);
  void on_frame(link::Frame f);
  void retry(const std::string& why, bool warn = false);  // logs, then waits as the policy says

  uv::Loop& loop_;
  const EdgeLinkConfig& edge_;
  const crypto::KeyPair& inner_;
  crypto::PublicKey edge_pub_;
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
  bool stopping_ = false;
};

}  // namespace nj::inner
