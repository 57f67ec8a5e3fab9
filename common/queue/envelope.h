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
  size_t max_recipients = 1000;
  size_t max_message = 64u << 20;
};

// Serialized form: "NJQ1", then tagged fields (1-byte tag, 4-byte big-endian length, bytes),
// then zero padding up to a multiple of `pad_to` (0 = none), so stored sizes say little.
std::string encode(const Envelope& e, size_t pad_to = 1024);
Result<Envelope> decode(std::string_view bytes, const Limits& limits = {});

}  // namespace nj::queue
