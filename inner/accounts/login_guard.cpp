#include "inner/accounts/login_guard.h"

#include <algorithm>

namespace nj::inner {

LoginGuard::LoginGuard(const Clock& clock, Options options) : clock_(clock), o_(options) {
  o_.max_failures = std::max(1u, o_.max_failures);
  o_.max_entries = std::max<size_t>(1, o_.max_entries);
}

uint64_t LoginGuard::backoff(unsigned failures) const {
  if (failures == 0) return 0;
  uint64_t d = o_.base_delay_ms;
  for (unsigned i = 1; i < failures && d < o_.max_delay_ms; ++i) d *= 2;
  return std::min(d, o_.max_delay_ms);
}

LoginGuard::Decision LoginGuard::before_attempt(std::string_view account, ConnectionId conn) {
  const uint64_t now = clock_.monotonic_ms();
  auto c = per_conn_.find({std::string(account), conn});
  if (c != per_conn_.end() && c->second.locked_until != 0) {
    if (now < c->second.locked_until) return {Verdict::refuse, c->second.locked_until - now};
    per_conn_.erase(c);  // the lockout is over: a fresh start for this connection
  }
  auto a = per_account_.find(account);
  if (a != per_account_.end() && a->second.failures > 0) {
    uint64_t until = a->second.last + backoff(a->second.failures);
    if (now < until) return {Verdict::hold, until - now};
  }
  return {Verdict::check, 0};
}

uint64_t LoginGuard::record_failure(std::string_view account, ConnectionId conn) {
  const uint64_t now = clock_.monotonic_ms();
  std::pair<std::string, ConnectionId> key{std::string(account), conn};
  if (!per_conn_.count(key) && per_conn_.size() >= o_.max_entries) prune_connections(now);
  auto& c = per_conn_[key];
  c.failures++;
  c.last = now;
  // The lockout runs from when the client hears of its last failure, which is answered late:
  // a lockout shorter than that delay would otherwise be over before it could refuse anything.
  if (c.failures >= o_.max_failures) c.locked_until = now + backoff(c.failures) + o_.lockout_ms;

  auto a = per_account_.find(account);
  if (a == per_account_.end()) {
    if (per_account_.size() >= o_.max_entries) prune_accounts(now);
    a = per_account_.emplace(std::string(account), AccountState{}).first;
  } else if (now >= a->second.last + o_.lockout_ms) {
    a->second.failures = 0;  // a long quiet spell: old failures no longer count
  }
  a->second.failures++;
  a->second.last = now;
  return backoff(c.failures);
}

void LoginGuard::record_success(std::string_view account, ConnectionId conn) {
  per_conn_.erase({std::string(account), conn});
  if (auto a = per_account_.find(account); a != per_account_.end()) per_account_.erase(a);
}

void LoginGuard::connection_closed(ConnectionId conn) {
  for (auto it = per_conn_.begin(); it != per_conn_.end();) {
    it = it->first.second == conn ? per_conn_.erase(it) : std::next(it);
  }
}

void LoginGuard::prune_connections(uint64_t now) {
  for (auto it = per_conn_.begin(); it != per_conn_.end();) {
    bool expired = it->second.locked_until != 0 ? now >= it->second.locked_until
                                                : now >= it->second.last + o_.lockout_ms;
    it = expired ? per_conn_.erase(it) : std::next(it);
  }
  if (per_conn_.size() < o_.max_entries) return;
  auto oldest = std::min_element(per_conn_.begin(), per_conn_.end(),
                                 [](auto& x, auto& y) { return x.second.last < y.second.last; });
  per_conn_.erase(oldest);
}

void LoginGuard::prune_accounts(uint64_t now) {
  for (auto it = per_account_.begin(); it != per_account_.end();) {
    bool expired = now >= it->second.last + backoff(it->second.failures);
    it = expired ? per_account_.erase(it) : std::next(it);
  }
  if (per_account_.size() < o_.max_entries) return;
  auto oldest = std::min_element(per_account_.begin(), per_account_.end(),
                                 [](auto& x, auto& y) { return x.second.last < y.second.last; });
  per_account_.erase(oldest);
}

}  // namespace nj::inner
