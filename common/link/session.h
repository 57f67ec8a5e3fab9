// link::Session: one link connection, the same on both ends. It feeds the connection's bytes to a
// Channel, hands the owner each frame, writes what the channel produced once per loop turn
// (uv::Deferred: the answers to one read, or a window of DELIVERs/SUBMITs, leave in one write),
// bounds the handshake in time, keeps an open link alive (PING when idle; three silent rounds end
// it) and answers the peer's PINGs, measures the round trip (one PING as soon as the link opens,
// so a busy link that never idles has a figure too; then the keepalive's), and tells the owner
// once how the connection ended and at which stage, so the log can say why (a refused key reads
// differently from a cut connection).
// The edge's LinkServer and the inner's LinkClient each own Sessions and add only their flows.
// Trust: the peer is hostile until the channel's handshake proves the pinned key; the Session
// passes on authenticated frames only and judges none of their payloads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/link/channel.h"
#include "common/uv/handles.h"
#include "common/uv/tcp.h"

namespace nj::link {

class Session {
 public:
  struct Options {
    uint64_t handshake_timeout_ms = 10000;  // from start() until the channel is open
    uint64_t keepalive_ms = 30000;          // PING when idle this long; 3 silent rounds: end
    link::Options channel;
  };

  // How a session ended. `handshaking` in Ended says whether the channel ever opened.
  enum class End {
    refused,            // the channel failed: wrong key, other protocol, altered frame (`why`)
    closed_by_peer,     // the peer ended its stream in order (final record), or hung up
    cut,                // the connection broke (`why` has the error)
    handshake_timeout,  // the handshake did not finish in time
    silent,             // no byte for three keepalive rounds
    local,              // close() or abort() by the owner, or a frame we could not send
  };
  static const char* end_name(End e);

  struct Ended {
    End how = End::local;
    bool handshaking = false;  // the channel never opened
    std::string why;           // for the log: never key material or addresses
  };

  struct Events {
    std::function<void()> open;                  // the handshake finished
    std::function<void(Frame)> frame;            // one authenticated frame (not PING/PONG)
    std::function<void(const Ended&)> ended;     // exactly once; no call after it
  };

  // The connection is connected (the inner's outgoing one, or one the edge accepted).
  Session(uv::Loop& loop, std::unique_ptr<uv::Connection> conn, Role role,
          const crypto::KeyPair& self, const crypto::PublicKey& peer, Options options);
  // Closes the connection; calls nothing. Safe only outside this session's own callbacks (owners
  // retire sessions through a uv::SessionSet or on a later loop turn).
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Installs the owner's events and the connection's callbacks, sends the initiator's first
  // message, feeds `early` (bytes the SOCKS proxy passed on with its reply) and starts the
  // handshake clock. `ended` may run from inside start().
  void start(Events events, std::string_view early = {});

  // Queues a frame; it leaves with the others of this loop turn. Error (and the session ends,
  // End::local) when it cannot be framed; nothing happens once ended.
  Status send(const Frame& f);
  // A fresh request id on this connection.
  uint64_t next_id() { return next_id_++; }

  // Orderly end: the final record and what is queued go out, then the connection shuts down.
  // `ended` runs with End::local.
  void close(const std::string& why);
  // Ends at once; queued output is dropped.
  void abort(const std::string& why);

  bool is_open() const { return !ended_ && channel_.is_open(); }
  bool handshaking() const { return !ended_ && !channel_.is_open(); }
  bool ended() const { return ended_; }
  // A random id for this connection's log lines.
  const std::string& id() const { return id_; }
  // Round trip of the last PING the peer answered, in ms rounded up (so at least 1); 0 until one
  // was answered.
  uint64_t rtt_ms() const { return rtt_ms_; }

 private:
  void on_bytes(std::string_view b);
  void flush();
  void schedule_flush();
  void arm_keepalive();
  void send_ping();
  void end(End how, std::string why);

  std::unique_ptr<uv::Connection> conn_;
  Channel channel_;
  Options opt_;
  Events ev_;
  uv::Timer timer_;          // handshake deadline, then keepalive
  uv::Deferred flush_soon_;  // flush() at the end of this loop turn
  std::string id_;
  uint64_t next_id_ = 1;
  int idle_rounds_ = 0;
  uint64_t ping_id_ = 0;       // the PING whose PONG is awaited (0: none); a newer one replaces it
  uint64_t ping_sent_ns_ = 0;  // uv_hrtime() when it went out
  uint64_t rtt_ms_ = 0;
  bool was_open_ = false;
  bool ended_ = false;
};

// Flow control of one side's mail requests (DELIVER on the edge, SUBMIT on the inner): at most
// `count` awaiting an answer, and none added while `bytes` are in flight (one always goes, so a
// message larger than the byte window is not stuck). Over Tor a round trip takes a large part of
// a second, so the window, not the overlay's bandwidth, would otherwise bound the link.
class Window {
 public:
  Window(size_t count, size_t bytes) : max_count_(count), max_bytes_(bytes) {}
  bool has_room() const {
    return items_.size() < max_count_ && (items_.empty() || bytes_ < max_bytes_);
  }
  void add(uint64_t frame_id, std::string message_id, size_t bytes);
  // The message a frame id stood for, once answered; nullopt when unknown (an old link's).
  std::optional<std::string> answered(uint64_t frame_id);
  // Everything in flight, oldest first, and the window emptied (the link is gone).
  std::vector<std::string> drain();
  size_t size() const { return items_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Item {
    std::string id;
    size_t bytes = 0;
  };
  size_t max_count_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::map<uint64_t, Item> items_;
};

}  // namespace nj::link
