// Envelope: one queued message with its SMTP envelope, serialized to bytes so it can be sealed
// (edge → inner) or encrypted (outbound queue) as one blob. The serialized form never appears on
// disk in the clear: callers seal it first.
// Trust: decode() reads bytes that come back from disk or from the link; it checks every length
// against explicit limits and refuses anything malformed without partial results.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/link/limits.h"

namespace nj::queue {

struct Envelope {
  std::string id;                       // random message id (log correlation, idempotence)
  int64_t received_at = 0;              // Unix seconds, UTC
  std::string mail_from;                // reverse path without <>, empty for the null sender
  std::vector<std::string> recipients;  // forward paths without <>
  bool smtputf8 = false;
  bool eight_bit = false;               // BODY=8BITMIME
  std::string message;                  // the message as accepted (CRLF line ends, unstuffed)
};

struct Limits {
  size_t max_id = 64;
  size_t max_address = 256;  // RFC 5321 path limit
  // An envelope travels the link whole, so it holds no more than one frame carries.
  size_t max_recipients = link::kMaxRecipients;
  size_t max_message = link::kMaxFramePayload;
};

// Serialized form: "NJQ1", then tagged fields (1-byte tag, 4-byte big-endian length, bytes),
// then zero padding up to a multiple of `pad_to` (0 = none), so stored sizes say little.
inline constexpr size_t kPadTo = 1024;
std::string encode(const Envelope& e, size_t pad_to = kPadTo);

// The layout's fixed parts, for sizing: the magic; per field a tag and a length; the receive
// time and the flags as fixed-size values; the end marker.
inline constexpr size_t kMagicBytes = 4;
inline constexpr size_t kFieldHeaderBytes = 1 + 4;
inline constexpr size_t kReceivedAtBytes = 8;
inline constexpr size_t kFlagsBytes = 4;
inline constexpr size_t kEndBytes = 1;

// Exactly what encode() writes, padding included, for an envelope whose fields have these sizes
// (recipient_bytes: the recipients' lengths added up). The link's largest message
// (common/link/message_size.h) is derived from it.
constexpr size_t encoded_size(size_t id, size_t mail_from, size_t recipients,
                              size_t recipient_bytes, size_t message, size_t pad_to = kPadTo) {
  // id, received_at, mail_from, flags and message, then one field per recipient.
  size_t n = kMagicBytes + 5 * kFieldHeaderBytes + id + kReceivedAtBytes + mail_from + kFlagsBytes +
             message + recipients * kFieldHeaderBytes + recipient_bytes + kEndBytes;
  if (pad_to > 0 && n % pad_to != 0) n += pad_to - n % pad_to;
  return n;
}

Result<Envelope> decode(std::string_view bytes, const Limits& limits = {});

}  // namespace nj::queue
