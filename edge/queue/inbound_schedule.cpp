#include "edge/queue/inbound_schedule.h"

#include <algorithm>

#include "common/crypto/crypto.h"

namespace nj::edge {

outbound::BackoffPolicy InboundSchedule::policy(std::chrono::milliseconds retry_initial,
                                                std::chrono::milliseconds retry_max,
                                                std::chrono::milliseconds max_queue_lifetime) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  outbound::BackoffPolicy p;
  p.initial_s = duration_cast<seconds>(retry_initial).count();
  p.max_s = duration_cast<seconds>(retry_max).count();
  p.jitter_percent = kJitterPercent;
  p.max_lifetime_s = duration_cast<seconds>(max_queue_lifetime).count();
  return p;
}

InboundSchedule::InboundSchedule(outbound::BackoffPolicy policy, outbound::RandomFn rand)
    : policy_(policy), rand_(std::move(rand)) {
  if (!rand_) rand_ = [](uint32_t upper) { return crypto::random_uniform(upper); };
}

bool InboundSchedule::add(const std::string& id, int64_t queued_at, int64_t now) {
  auto [it, fresh] = entries_.try_emplace(id, Entry{queued_at, 0, now, false});
  if (!fresh) return false;
  waiting_.insert(slot(id, it->second));
  return true;
}

std::vector<std::string> InboundSchedule::due(int64_t now, size_t max) const {
  std::vector<std::string> out;
  for (auto it = waiting_.begin(); it != waiting_.end() && out.size() < max; ++it) {
    if (std::get<0>(*it) > now) break;
    out.push_back(std::get<2>(*it));
  }
  return out;
}

bool InboundSchedule::mark_in_flight(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.in_flight) return false;
  waiting_.erase(slot(id, it->second));
  it->second.in_flight = true;
  in_flight_.insert(id);
  return true;
}

std::optional<int64_t> InboundSchedule::deferred(const std::string& id, int64_t now) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  Entry& e = it->second;
  if (e.in_flight) {
    in_flight_.erase(id);
    e.in_flight = false;
  } else {
    waiting_.erase(slot(id, e));
  }
  ++e.attempts;
  int64_t next = now + outbound::backoff_delay(policy_, e.attempts, rand_);
  // A back-off step may pass the end of the lifetime by up to retry_max; the last attempt (the
  // one that lets the inner bounce) should not wait for it.
  const int64_t expiry = e.queued_at + policy_.max_lifetime_s;
  if (expiry > now) next = std::min(next, expiry);
  e.next_attempt = next;
  waiting_.insert(slot(id, e));
  return next;
}

void InboundSchedule::link_lost() {
  for (const auto& id : in_flight_) {
    auto it = entries_.find(id);
    if (it == entries_.end()) continue;
    it->second.in_flight = false;
    waiting_.insert(slot(id, it->second));
  }
  in_flight_.clear();
}

bool InboundSchedule::remove(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  if (it->second.in_flight) {
    in_flight_.erase(id);
  } else {
    waiting_.erase(slot(id, it->second));
  }
  entries_.erase(it);
  return true;
}

bool InboundSchedule::last_attempt(const std::string& id, int64_t now) const {
  auto it = entries_.find(id);
  return it != entries_.end() && outbound::expired(policy_, it->second.queued_at, now);
}

std::optional<int64_t> InboundSchedule::next_due() const {
  if (waiting_.empty()) return std::nullopt;
  return std::get<0>(*waiting_.begin());
}

const InboundSchedule::Entry* InboundSchedule::find(const std::string& id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace nj::edge
