// The largest message the link carries, derived from the encoders a message passes through on
// its way into one frame, so `limits.max_message_size` can be checked against it at start-up
// (both daemons) and a sender can tell before framing that a message can never go.
//
// DELIVER (edge→inner): the edge puts its one Received line in front of the message as the SMTP
// engine accepted it, encodes the envelope (common/queue: tags, id, sender, every recipient,
// padding to whole KiB), seals it to the inner's key and sends it behind the DELIVER header
// (message id, flags). SUBMIT (inner→edge) carries the envelope without Received line or seal;
// its message is the inner's outbound copy, which the outbound sanitizer may have made longer
// than the message accepted (regenerated Message-ID and boundaries, rewritten domains), so the
// inner still compares an encoded SUBMIT with kMaxFramePayload before sending it.
// Every variable part is taken at the longest a receiver accepts: ids of 64, sender and
// recipients of queue::Limits::max_address, the longest Received line. Padding makes the bound
// exact, not approximate: the padded envelope at max_message_size() fills its last KiB, so one
// byte more needs another KiB that the frame no longer has (tests/unit/link/test_limits.cpp
// builds both with the real encoders).
// Trust: constants only; nothing is read here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/crypto/crypto.h"
#include "common/link/limits.h"
#include "common/link/payloads.h"
#include "common/mail/sanitize.h"
#include "common/queue/envelope.h"

namespace nj::link {

// The payload bytes in front of the envelope (payloads.cpp): u8 id length, id, and for DELIVER
// one flags byte.
inline constexpr std::size_t kMaxDeliverHeaderBytes = 1 + kMaxMessageIdBytes + 1;
inline constexpr std::size_t kMaxSubmitHeaderBytes = 1 + kMaxMessageIdBytes;

// The largest message, counted as the SMTP engine counts it (unstuffed, CRLF line ends; what
// `limits.max_message_size` limits), whose DELIVER and SUBMIT with `recipients` recipients both
// fit one frame of kMaxFramePayload. 0 if not even an empty message fits.
constexpr std::uint64_t max_message_size(std::size_t recipients) {
  const queue::Limits worst{};
  // The envelope without its message and unpadded; a message adds its own length.
  const std::size_t envelope = queue::encoded_size(worst.max_id, worst.max_address, recipients,
                                                   recipients * worst.max_address, 0, 0);
  // Room for the padded envelope: a whole number of pad units (SUBMIT is counted padded too,
  // which is never less than what the inner sends).
  auto room = [](std::size_t around) {
    std::size_t r = kMaxFramePayload - around;
    return r - r % queue::kPadTo;
  };
  auto fit = [&](std::size_t r, std::size_t added) -> std::uint64_t {
    return r > envelope + added ? r - envelope - added : 0;
  };
  const std::uint64_t deliver =
      fit(room(kMaxDeliverHeaderBytes + crypto::kSealOverhead), mail::kMaxReceivedLineBytes);
  const std::uint64_t submit = fit(room(kMaxSubmitHeaderBytes), 0);
  return deliver < submit ? deliver : submit;
}

}  // namespace nj::link
