// link: the authenticated, encrypted channel between nightjar-inner and nightjar-edge.
// Both ends hold static X25519 key pairs and pin each other's public key. The inner dials
// (initiator), the edge listens (responder). A Noise-KK-shaped handshake built from libsodium
// (X25519, keyed BLAKE2b, ChaCha20-Poly1305) with fresh ephemeral keys per connection gives
// mutual authentication and forward secrecy; after it, one crypto_secretstream per direction
// carries the frames: ordered, tamper-, replay- and truncation-evident. docs/link.md has the
// byte layout, the key schedule and what each side checks.
// Channel is the engine without I/O; the daemons move its bytes over a uv::Connection.
// Trust: every byte fed in is hostile until the handshake proves the peer holds the pinned key;
// after that, frames are authentic but their payloads are still decoded with limits
// (payloads.h). Failure reasons name what went wrong, never key material or addresses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/link/limits.h"

namespace nj::link {

// Request/response types on the link. Responses carry the request id of what they answer.
enum class FrameType : uint8_t {
  deliver = 1,        // edge→inner: inbound mail (DeliverPayload); answered by ACK or NACK
  ack = 2,            // the request with this id is committed on the receiver (empty payload)
  nack = 3,           // not taken (NackPayload): temporary (retry later) or permanent
  verify = 4,         // edge→inner: does this recipient exist? (VerifyPayload)
  verify_result = 5,  // inner→edge (VerifyResultPayload)
  submit = 6,         // inner→edge: outbound mail (SubmitPayload); answered by ACK or NACK
  status = 7,         // edge→inner: final per-recipient results (StatusPayload); ACK
  ping = 8,           // keepalive (empty payload)
  pong = 9,           // answer to ping, same id (empty payload)
  withdraw = 10,      // inner→edge: another edge has the message now (WithdrawPayload); ACK
};
constexpr uint8_t kMaxFrameType = 10;
std::string_view frame_type_name(FrameType t);

struct Frame {
  FrameType type = FrameType::ping;
  uint64_t id = 0;  // chosen by the requester, unique per connection
  std::string payload;
};

// Type (1) + request id (8) in front of every payload, inside the encryption.
constexpr size_t kFrameHeaderBytes = 9;
// The largest message this carries is link::max_message_size() (message_size.h).
constexpr size_t kDefaultMaxPayload = kMaxFramePayload;
// Handshake message sizes on the wire (docs/link.md).
constexpr size_t kMessage1Bytes = 4 + 32 + 16;
constexpr size_t kMessage2Bytes = 32 + 16;

struct Options {
  // Largest payload either side sends or accepts; a bigger one fails the channel (the peer
  // must use the same or a smaller limit).
  size_t max_payload = kDefaultMaxPayload;
};

enum class Role { initiator, responder };

class Channel {
 public:
  enum class State {
    handshaking,  // keys not yet agreed (the responder also waits for the initiator's confirmation)
    open,         // frames flow both ways
    closed,       // the peer ended the stream properly (close()); nothing more comes
    failed,       // refused or broken: reason() says why; drop the connection
  };

  // The initiator's first handshake message is ready in take_output() at once (check state():
  // a pinned key that is a low-order point fails here). The key pair is copied into locked
  // memory.
  Channel(Role role, const crypto::KeyPair& self, const crypto::PublicKey& peer,
          Options options = {});
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Bytes from the peer, any split. Ignored once failed or closed.
  void feed(std::string_view bytes);
  // Bytes for the peer (empty if none). Once failed, nothing more is produced.
  std::string take_output();
  bool has_output() const { return !out_.empty(); }

  // Queues one frame. Error (and no change) when not open or the payload is over the limit.
  Status send(const Frame& frame);
  // Frames received, in order.
  std::optional<Frame> next_frame();

  // Ends our direction with the stream's final tag, so the peer can tell an orderly end from
  // a cut connection. No send() after this.
  void close();

  State state() const { return state_; }
  bool is_open() const { return state_ == State::open; }
  // Why the channel failed or closed, for the log.
  const std::string& reason() const { return reason_; }
  Role role() const { return role_; }

  struct Secrets;

 private:
  void fail(std::string why);
  void write_message1();
  void read_message1(std::string_view m);
  void read_message2(std::string_view m);
  void start_streams();
  void push_record(uint8_t type, uint64_t id, std::string_view payload, bool final);
  // One record from in_ if complete; false when more bytes are needed or the channel stopped.
  bool pull_record();
  void compact_input();

  Role role_;
  Options opt_;
  State state_ = State::handshaking;
  std::string reason_;
  crypto::PublicKey self_pub_;
  crypto::PublicKey peer_pub_;
  Secrets* sec_;  // locked memory: static and ephemeral secrets, chaining key, stream states
  unsigned char h_[64] = {};  // handshake transcript hash (not secret)
  enum class Step { message1, message2, header, confirm, frames, ended } step_;
  bool sent_final_ = false;
  std::string in_;
  size_t in_pos_ = 0;
  std::string out_;
  std::deque<Frame> frames_;
};

}  // namespace nj::link
