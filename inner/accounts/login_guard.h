// LoginGuard: failed-login accounting for the inner's POP3 and submission listeners, in memory
// (a restart clears it) and driven by nj::Clock so tests can move time.
//
// Every client arrives through the overlay from 127.0.0.1, so there is no client address to
// blame; the only client identity is the connection. The design has two parts:
//
//  1. Per (account, connection): after `max_failures` wrong passwords on one connection, that
//     connection is refused for that account for `lockout` (the POP3 layer says so and closes).
//     Each failure on the connection also delays the -ERR reply, doubling from `base_delay` up to
//     `max_delay`, so one connection guesses slowly.
//
//  2. Per account, over all connections: a short backoff. After the k-th consecutive failure for
//     an account (from anyone), attempts for it made within min(base_delay * 2^(k-1), max_delay)
//     of that failure are HELD until the window ends, then checked — never refused. This caps the
//     guessing rate per account at roughly (concurrent connections) per `max_delay`, which the
//     daemon's connection limit bounds.
//
// Why the account-wide part only holds and never refuses: an attacker who knows an address could
// otherwise keep its owner out for as long as they keep guessing. Here the owner's correct
// password is checked after at most `max_delay`, whatever the attacker does, and a success clears
// the account's backoff. The hard lockout is tied to the connection that failed, so it can only
// lock out the attacker's own connections.
//
// Names that are not accounts are tracked the same way (the guard never learns which names
// exist), under the canonical name the caller passes. Memory is bounded: at most `max_entries`
// per table; when full, entries whose windows have passed are dropped first, then the oldest.
// Trust: the account name and connection id are the caller's; the guard only compares them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "common/base/clock.h"

namespace nj::inner {

class LoginGuard {
 public:
  struct Options {
    unsigned max_failures = 5;             // auth.max_failures
    uint64_t lockout_ms = 15 * 60 * 1000;  // auth.lockout
    uint64_t base_delay_ms = 1000;         // first failure's delay; doubles per failure
    uint64_t max_delay_ms = 8000;          // cap of both the reply delay and the account backoff
    size_t max_entries = 100000;           // per table
  };

  using ConnectionId = uint64_t;

  enum class Verdict {
    check,   // check the password now
    hold,    // wait `wait_ms`, then check the password (do not ask again: that could wait longer)
    refuse,  // this connection is locked out for this account: do not check the password
  };
  struct Decision {
    Verdict verdict = Verdict::check;
    uint64_t wait_ms = 0;  // for hold: how long; for refuse: until the lockout ends
  };

  LoginGuard(const Clock& clock, Options options);

  // Before checking `account`'s password on `conn`.
  Decision before_attempt(std::string_view account, ConnectionId conn);
  // After a wrong password (or a name that is not an account). Returns how long to wait before
  // sending the failure reply.
  uint64_t record_failure(std::string_view account, ConnectionId conn);
  // After a correct password: clears this connection's count and the account's backoff.
  void record_success(std::string_view account, ConnectionId conn);
  // Forget a closed connection's counters (its lockouts would otherwise linger until expiry).
  void connection_closed(ConnectionId conn);

  size_t tracked_connections() const { return per_conn_.size(); }
  size_t tracked_accounts() const { return per_account_.size(); }

 private:
  struct ConnState {
    unsigned failures = 0;
    uint64_t locked_until = 0;  // monotonic ms; 0 when not locked
    uint64_t last = 0;          // last failure, for pruning
  };
  struct AccountState {
    unsigned failures = 0;  // consecutive, from any connection
    uint64_t last = 0;      // last failure (monotonic ms)
  };

  uint64_t backoff(unsigned failures) const;  // base * 2^(failures-1), capped
  void prune_connections(uint64_t now);
  void prune_accounts(uint64_t now);

  const Clock& clock_;
  Options o_;
  std::map<std::pair<std::string, ConnectionId>, ConnState> per_conn_;
  std::map<std::string, AccountState, std::less<>> per_account_;
};

}  // namespace nj::inner
