// Greylist: postgrey's greylisting. A triplet (client network: IPv4 /24 or IPv6 /64; sender
// normalized by mail::normalize_for_greylist; recipient lowercased) must be retried after
// `delay` and within `retry_window` before mail for it passes; a passed triplet keeps passing
// while it is seen at least every `max_age`. A client network that has passed
// `auto_allow_after` times (counted at most once an hour, as postgrey does) skips greylisting.
//
// Privacy: triplets and client networks are stored only as keyed BLAKE2b hashes. The key is
// generated at start and held in memory only, so a restart forgets the whole greylist: every
// sender is greylisted once more. That is intended; a seized disk must not reveal who mails whom,
// and a key that is never written cannot be seized with it.
// Trust: addresses are client input already parsed by common/mail; the store is ours.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/clock.h"
#include "common/crypto/crypto.h"
#include "common/mail/address.h"
#include "edge/checks/decision.h"
#include "edge/checks/greylist_store.h"

namespace nj::checks {

struct GreylistOptions {               // postgrey's defaults
  int64_t delay = 300;                 // seconds before a retry passes
  int64_t retry_window = 2 * 86400;    // a first retry later than this starts over
  int64_t max_age = 35 * 86400;        // entries not seen for this long expire
  uint32_t auto_allow_after = 5;       // passes before a client network is allowlisted; 0 = off
  int64_t auto_allow_interval = 3600;  // a network's passes count at most once per interval
};

// 450 4.2.0 Greylisted, try again later
class Greylist {
 public:
  Greylist(GreylistStore& store, const Clock& clock, GreylistOptions options);

  // Synchronous: the store is local. A store error passes the mail (fail open: greylisting is a
  // delay, not a defence worth losing mail over) and says so in the reason.
  Decision check(std::string_view client_ip, const mail::Mailbox& sender,
                 const mail::Mailbox& recipient);

  // Drops entries not seen for max_age. Call it now and then (postgrey does it daily).
  Result<size_t> purge();

 private:
  std::string network_of(std::string_view client_ip) const;
  // Counts a pass for the client network's auto-allowlist.
  Status count_pass(const std::string& client_key, int64_t now);

  GreylistStore& store_;
  const Clock& clock_;
  GreylistOptions opt_;
  crypto::HashKey key_;
};

}  // namespace nj::checks
