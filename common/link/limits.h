// link limits: the two numbers everything that crosses the link between edge and inner is sized
// by. The channel's frame limit (channel.h), the envelope decoder's limits (common/queue), the
// STATUS payload (payloads.h) and both daemons' `limits.max_recipients` range use these
// constants, so no side accepts what the other cannot carry. The largest message that still
// fits one frame is derived from them in message_size.h; both configurations refuse a larger
// `limits.max_message_size` at start-up.
// Trust: constants only; nothing is read here.
#pragma once

#include <cstddef>

namespace nj::link {

// Largest frame payload either end sends or accepts (Options::max_payload's default). A peer
// with a larger limit still fails on our side, so both ends use this value.
inline constexpr std::size_t kMaxFramePayload = std::size_t{64} << 20;

// Most recipients one message carries over the link: an envelope (DELIVER, SUBMIT, the queues),
// a STATUS report, and the ceiling of both daemons' `limits.max_recipients`.
inline constexpr std::size_t kMaxRecipients = 1000;

}  // namespace nj::link
