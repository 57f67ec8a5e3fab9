// link payloads: the body of each frame type, encoded and decoded with explicit limits.
// Integers are big-endian; strings are length-prefixed; a payload is refused when anything is
// left over. The mail itself (sealed or encrypted envelope bytes) is the tail of DELIVER and
// SUBMIT, bounded by the channel's frame limit.
// Trust: after the handshake the peer is authenticated, but a compromised or buggy peer must
// still not make us misparse: every decoder checks every length.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/link/limits.h"

namespace nj::link {

constexpr size_t kMaxMessageIdBytes = 64;
constexpr size_t kMaxReasonBytes = 512;
constexpr size_t kMaxAddressBytes = 512;
constexpr size_t kMaxRemoteReplyBytes = 2048;
constexpr size_t kMaxStatusRecipients = kMaxRecipients;

// Retransmits are idempotent by message id: a receiver that already committed a DELIVER or
// SUBMIT with this id answers ACK again without storing a second copy (docs/link.md).
// DELIVER (edge→inner): the envelope is sealed to the inner's public key.
// Flags: kDeliverLastAttempt = the edge has held the message for its whole inbound lifetime;
// the inner delivers what it can and bounces the rest instead of asking for a retry.
constexpr uint8_t kDeliverLastAttempt = 0x01;
struct DeliverPayload {
  std::string message_id;  // 1..64 printable ASCII
  std::string sealed_envelope;
  uint8_t flags = 0;  // kDeliver* bits; unknown bits are refused
  bool operator==(const DeliverPayload&) const = default;
};
// SUBMIT (inner→edge): the outbound envelope (common/queue encoding).
struct SubmitPayload {
  std::string message_id;
  std::string envelope;
  bool operator==(const SubmitPayload&) const = default;
};

// WITHDRAW (inner→edge): forget this message; another edge has its unfinished recipients now.
// The id is encoded as in SUBMIT (u8 length, 1..64 printable ASCII) and nothing follows it.
struct WithdrawPayload {
  std::string message_id;
  bool operator==(const WithdrawPayload&) const = default;
};

enum class NackKind : uint8_t { temporary = 1, permanent = 2 };
struct NackPayload {
  NackKind kind = NackKind::temporary;
  std::string reason;  // for the sender's log; no addresses or content; up to 512 bytes
  bool operator==(const NackPayload&) const = default;
};

struct VerifyPayload {
  std::string recipient;  // 1..512 bytes
  bool operator==(const VerifyPayload&) const = default;
};

// full: the account exists but its mailbox cannot take mail now (452 4.2.2 at RCPT).
enum class VerifyOutcome : uint8_t { exists = 1, unknown = 2, temporary = 3, full = 4 };
struct VerifyResultPayload {
  VerifyOutcome outcome = VerifyOutcome::temporary;
  bool operator==(const VerifyResultPayload&) const = default;
};

enum class RecipientOutcome : uint8_t { delivered = 1, failed = 2, expired = 3 };
struct RecipientStatus {
  std::string recipient;  // 1..512 bytes
  RecipientOutcome outcome = RecipientOutcome::delivered;
  std::string remote_reply;  // the remote server's reply for `failed`; empty otherwise
  bool operator==(const RecipientStatus&) const = default;
};
// STATUS (edge→inner): final results for a submitted message, 1..1000 recipients.
struct StatusPayload {
  std::string message_id;
  std::vector<RecipientStatus> recipients;
  bool operator==(const StatusPayload&) const = default;
};

// Encoders check the same limits as the decoders, so we never send what the peer refuses.
Result<std::string> encode(const DeliverPayload& p);
Result<std::string> encode(const SubmitPayload& p);
Result<std::string> encode(const NackPayload& p);
Result<std::string> encode(const VerifyPayload& p);
Result<std::string> encode(const VerifyResultPayload& p);
Result<std::string> encode(const StatusPayload& p);
Result<std::string> encode(const WithdrawPayload& p);

Result<DeliverPayload> decode_deliver(std::string_view b);
Result<SubmitPayload> decode_submit(std::string_view b);
Result<NackPayload> decode_nack(std::string_view b);
Result<VerifyPayload> decode_verify(std::string_view b);
Result<VerifyResultPayload> decode_verify_result(std::string_view b);
Result<StatusPayload> decode_status(std::string_view b);
Result<WithdrawPayload> decode_withdraw(std::string_view b);
// ACK, PING and PONG carry nothing: anything present is refused.
Status decode_empty(std::string_view b);

}  // namespace nj::link
