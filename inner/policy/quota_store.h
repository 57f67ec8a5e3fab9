// QuotaStore: how many Internet recipients each account may still send to. Per account: the UTC
// day number and the recipients used that day; credits bought with hashcash stamps, each
// expiring 24 hours after purchase; and every stamp ever accepted (by SHA-256), kept until it
// could no longer be accepted anyway, so that a stamp pays once.
// Trust: account ids and amounts come from our own code; stamps are checked by hashcash.h before
// they reach the store. Writes happen inside the caller's transaction, so a charge commits with
// the message it pays for and disappears with it when the message's commit fails.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/store/lmdb.h"
#include "inner/policy/hashcash.h"

namespace nj::policy {

struct QuotaRules {
  uint32_t daily = 20;
  // Stamp bits -> recipients bought. A stamp buys the price of the largest entry not above its
  // bits; fewer bits than the smallest entry buy nothing (the stamp is underweight).
  std::map<int, uint32_t> prices{{20, 20}, {22, 40}, {24, 80}};
  int64_t credit_lifetime = 86400;
  StampRules stamps;
};

struct Allowance {
  uint32_t daily = 0;
  uint32_t used_today = 0;
  uint64_t credits = 0;        // bought and not yet expired or used
  int64_t credits_expire = 0;  // earliest expiry among them (0: none)
  uint64_t remaining() const { return (used_today < daily ? daily - used_today : 0) + credits; }
};

struct StampResult {
  StampVerdict verdict = StampVerdict::malformed;
  uint32_t credited = 0;
};

class QuotaStore {
 public:
  static constexpr const char* kSchemaName = "inner.quota";
  static constexpr uint32_t kSchemaVersion = 1;

  static Result<std::unique_ptr<QuotaStore>> open(store::Env& env, QuotaRules rules);

  const QuotaRules& rules() const { return rules_; }

  Result<Allowance> allowance(const std::string& account_id, int64_t now);
  Result<Allowance> allowance_in(store::Txn& txn, const std::string& account_id, int64_t now);

  // Spends `n` recipients: today's quota first, then credits, soonest-expiring first. Fails
  // (writing nothing the caller cannot roll back) when fewer than `n` remain.
  Status charge_in(store::Txn& txn, const std::string& account_id, uint32_t n, int64_t now);

  // Adds `n` recipients of credit expiring credit_lifetime after `now` (operator grants and
  // stamps both come here).
  Status grant_in(store::Txn& txn, const std::string& account_id, uint32_t n, int64_t now);

  // Checks one stamp for `address` (resource "quota:" + address), remembers it as spent and
  // credits the account when it is good.
  Result<StampResult> spend_stamp_in(store::Txn& txn, const std::string& account_id,
                                     std::string_view address, std::string_view stamp, int64_t now);

  // Deletes expired credits and stamps that can no longer be accepted; returns how many.
  Result<size_t> purge_in(store::Txn& txn, int64_t now);

  // Removes everything about one account (account deletion).
  Status forget_in(store::Txn& txn, const std::string& account_id);

  // Number of remembered spent stamps (for tests and `nightjarctl quota show`).
  Result<size_t> spent_count();

 private:
  QuotaStore(store::Env& env, store::Dbi db, QuotaRules rules)
      : env_(env), db_(db), rules_(std::move(rules)) {}

  store::Env& env_;
  store::Dbi db_;
  QuotaRules rules_;
};

// The UTC day number of `t` (days since 1970-01-01): the quota resets at 00:00 UTC.
inline int64_t utc_day(int64_t t) {
  return (t >= 0 ? t : t - 86399) / 86400;
}

}  // namespace nj::policy
