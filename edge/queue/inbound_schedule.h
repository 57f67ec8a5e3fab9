// InboundSchedule: which message of the edge's inbound queue the link offers the inner next,
// and when. A message is due at once when it arrives (or is loaded at start); after the inner
// refuses it for now (a temporary NACK: the mailbox is full, the inner's store is busy) it
// waits an exponential back-off with jitter (common/base/backoff.h: the same arithmetic as the
// outbound queue), so a refused message costs the inner one decryption per back-off step rather
// than one per retry sweep of the whole queue. Once a message has waited its lifetime, its next
// offer is the last: the link flags it (link::kDeliverLastAttempt) and the inner bounces what it
// cannot deliver. The edge never drops a message by itself: only the inner's ACK (or a
// permanent refusal) ends it.
// Memory only: the queue on disk (InboundQueue) holds each message's queued_at; attempts and
// back-off start again after a restart, which only makes the next offers sooner.
// No I/O and no clock: every time is passed in, so the link and tests drive it alike. Each
// operation costs O(log n) in the number of messages (the earliest one O(1)), except due(),
// which adds the count it returns, and link_lost(), which adds the number in flight.
// Trust: ids are the queue's own; nothing here reads untrusted input.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "edge/outbound/backoff.h"

namespace nj::edge {

class InboundSchedule {
 public:
  static constexpr uint32_t kJitterPercent = 25;

  struct Entry {
    int64_t queued_at = 0;     // Unix seconds, from the queue record
    uint32_t attempts = 0;     // offers refused for now so far (an offer lost with the link
                               // does not count: the inner never judged it)
    int64_t next_attempt = 0;  // due from this time on
    bool in_flight = false;    // offered on the link, no answer yet
  };

  // The back-off of the configuration's `inbound:` section (retry_initial, retry_max,
  // max_queue_lifetime; config::Duration values) with +-kJitterPercent jitter.
  static outbound::BackoffPolicy policy(std::chrono::milliseconds retry_initial,
                                        std::chrono::milliseconds retry_max,
                                        std::chrono::milliseconds max_queue_lifetime);

  // `rand`: uniform in [0, upper), for the jitter; crypto::random_uniform when empty.
  explicit InboundSchedule(outbound::BackoffPolicy policy, outbound::RandomFn rand = {});

  // A message new in the queue, or loaded from it at start: due at `now`. False (and nothing
  // changed) when `id` is already scheduled.
  bool add(const std::string& id, int64_t queued_at, int64_t now);

  // Up to `max` ids due at `now` that are not in flight: earliest next_attempt first, then
  // oldest queued_at, then id. Changes nothing; the link calls mark_in_flight() for each it
  // sends.
  std::vector<std::string> due(int64_t now, size_t max) const;

  // Offered on the link: not due again until deferred(), link_lost() or remove(). False when
  // `id` is unknown or already in flight.
  bool mark_in_flight(const std::string& id);

  // The inner refused it for now: attempts + 1 and the next offer after the back-off for that
  // many refusals, from `now`; never later than the end of its lifetime while that is still
  // ahead, so the last attempt comes on time. Returns the new next_attempt; nullopt for an
  // unknown id.
  std::optional<int64_t> deferred(const std::string& id, int64_t now);

  // The link went down: every message in flight is due again at its next_attempt (its back-off
  // and attempts kept: the lost offer was never answered).
  void link_lost();

  // Acknowledged by the inner, or refused for good: forgotten. False when unknown.
  bool remove(const std::string& id);

  // True when the offer of `id` at `now` is its last: queued_at + lifetime <= now. The link
  // then sets link::kDeliverLastAttempt. False for an unknown id.
  bool last_attempt(const std::string& id, int64_t now) const;

  // The earliest next_attempt of a message not in flight (the one timer the link arms), or
  // nullopt when none waits.
  std::optional<int64_t> next_due() const;

  const Entry* find(const std::string& id) const;
  size_t size() const { return entries_.size(); }
  size_t in_flight() const { return in_flight_.size(); }

 private:
  // (next_attempt, queued_at, id) of every message not in flight.
  using Slot = std::tuple<int64_t, int64_t, std::string>;
  static Slot slot(const std::string& id, const Entry& e) {
    return {e.next_attempt, e.queued_at, id};
  }

  outbound::BackoffPolicy policy_;
  outbound::RandomFn rand_;
  std::unordered_map<std::string, Entry> entries_;
  std::set<Slot> waiting_;
  std::unordered_set<std::string> in_flight_;
};

}  // namespace nj::edge
