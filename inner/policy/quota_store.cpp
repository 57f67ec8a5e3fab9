#include "inner/policy/quota_store.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/crypto/crypto.h"

namespace nj::policy {
namespace {

// Keys:
//   u/<account>                         -> be64 day, be64 used
//   c/<account>/<be64 expiry><8 random> -> be64 remaining recipients
//   s/<32-byte sha256>                  -> be64 time after which the stamp can be forgotten
std::string usage_key(const std::string& a) {
  return "u/" + a;
}
std::string credit_prefix(const std::string& a) {
  return "c/" + a + "/";
}
std::string stamp_key(std::string_view digest) {
  return "s/" + std::string(digest);
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

}  // namespace

Result<std::unique_ptr<QuotaStore>> QuotaStore::open(store::Env& env, QuotaRules rules) {
  if (auto s = env.ensure_schema(kSchemaName, kSchemaVersion); !s) return make_error(s.error());
  auto db = env.open_dbi("quota");
  if (!db) return make_error(db.error());
  return std::unique_ptr<QuotaStore>(new QuotaStore(env, *db, std::move(rules)));
}

Result<Allowance> QuotaStore::allowance(const std::string& account_id, int64_t now) {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  return allowance_in(*txn, account_id, now);
}

Result<Allowance> QuotaStore::allowance_in(store::Txn& txn, const std::string& account_id,
                                           int64_t now) {
  Allowance a;
  a.daily = rules_.daily;
  auto u = txn.get(db_, usage_key(account_id));
  if (!u) return make_error(u.error());
  if (*u) {
    auto day = store::read_be64(**u, 0);
    auto used = store::read_be64(**u, 8);
    if (!day || !used) return make_error("quota: corrupt usage record");
    if (static_cast<int64_t>(*day) == utc_day(now))
      a.used_today = static_cast<uint32_t>(std::min<uint64_t>(*used, UINT32_MAX));
  }
  auto cur = store::Cursor::open(txn, db_);
  if (!cur) return make_error(cur.error());
  std::string prefix = credit_prefix(account_id);
  auto at = cur->seek(prefix);
  while (at && *at && starts_with(cur->key(), prefix)) {
    auto expiry = store::read_be64(cur->key(), prefix.size());
    auto left = store::read_be64(cur->value(), 0);
    if (!expiry || !left) return make_error("quota: corrupt credit record");
    if (static_cast<int64_t>(*expiry) > now) {
      if (a.credits == 0) a.credits_expire = static_cast<int64_t>(*expiry);
      a.credits += *left;
    }
    at = cur->next();
  }
  if (!at) return make_error(at.error());
  return a;
}

Status QuotaStore::charge_in(store::Txn& txn, const std::string& account_id, uint32_t n,
                             int64_t now) {
  if (n == 0) return {};
  auto a = allowance_in(txn, account_id, now);
  if (!a) return make_error(a.error());
  if (a->remaining() < n) return make_error("quota exhausted");
  uint32_t from_day = std::min(n, a->daily > a->used_today ? a->daily - a->used_today : 0u);
  std::string rec = store::be64(static_cast<uint64_t>(utc_day(now)));
  store::append_be64(rec, uint64_t{a->used_today} + from_day);
  if (auto s = txn.put(db_, usage_key(account_id), rec); !s) return s;
  uint64_t need = n - from_day;
  if (need == 0) return {};
  // Soonest-expiring credits first, so that fewer of them go to waste. Changes are collected
  // and written after the scan: deleting under a cursor at the end of the table is not portable
  // across LMDB versions.
  std::vector<std::pair<std::string, uint64_t>> updates;  // key, new remaining (0: delete)
  {
    auto cur = store::Cursor::open(txn, db_);
    if (!cur) return make_error(cur.error());
    std::string prefix = credit_prefix(account_id);
    auto at = cur->seek(prefix);
    while (need > 0 && at && *at && starts_with(cur->key(), prefix)) {
      auto expiry = store::read_be64(cur->key(), prefix.size());
      auto left = store::read_be64(cur->value(), 0);
      if (!expiry || !left) return make_error("quota: corrupt credit record");
      if (static_cast<int64_t>(*expiry) > now) {
        uint64_t take = std::min(need, *left);
        need -= take;
        updates.emplace_back(std::string(cur->key()), *left - take);
      }
      at = cur->next();
    }
    if (!at) return make_error(at.error());
  }
  for (const auto& [key, left] : updates) {
    if (left == 0) {
      if (auto d = txn.del(db_, key); !d) return make_error(d.error());
    } else if (auto p = txn.put(db_, key, store::be64(left)); !p) {
      return p;
    }
  }
  if (need > 0) return make_error("quota exhausted");
  return {};
}

Status QuotaStore::grant_in(store::Txn& txn, const std::string& account_id, uint32_t n,
                            int64_t now) {
  if (n == 0) return {};
  std::string key = credit_prefix(account_id);
  store::append_be64(key, static_cast<uint64_t>(now + rules_.credit_lifetime));
  key += crypto::random_bytes(8);  // two purchases in one second are two credits
  return txn.put(db_, key, store::be64(n));
}

Result<StampResult> QuotaStore::spend_stamp_in(store::Txn& txn, const std::string& account_id,
                                               std::string_view address, std::string_view stamp,
                                               int64_t now) {
  StampResult r;
  int min_bits = rules_.prices.empty() ? kMaxBits + 1 : rules_.prices.begin()->first;
  auto c = check_stamp(stamp, "quota:" + std::string(address), now, min_bits, rules_.stamps);
  r.verdict = c.verdict;
  if (c.verdict != StampVerdict::ok) return r;
  // Remembered until the stamp would be refused as expired anyway.
  int64_t forget_at = c.stamp.date + rules_.stamps.validity + rules_.stamps.grace;
  auto fresh = txn.insert(db_, stamp_key(stamp_digest(stamp)),
                          store::be64(static_cast<uint64_t>(std::max<int64_t>(forget_at, 0))));
  if (!fresh) return make_error(fresh.error());
  if (!*fresh) {
    r.verdict = StampVerdict::spent;
    return r;
  }
  auto price = rules_.prices.upper_bound(c.stamp.bits);
  --price;  // exists: bits >= min_bits
  r.credited = price->second;
  if (auto s = grant_in(txn, account_id, r.credited, now); !s) return make_error(s.error());
  return r;
}

Result<size_t> QuotaStore::purge_in(store::Txn& txn, int64_t now) {
  std::vector<std::string> drop;
  {
    auto cur = store::Cursor::open(txn, db_);
    if (!cur) return make_error(cur.error());
    auto at = cur->first();
    while (at && *at) {
      std::string_view k = cur->key();
      bool expired = false;
      if (starts_with(k, "s/")) {
        auto until = store::read_be64(cur->value(), 0);
        expired = !until || static_cast<int64_t>(*until) < now;
      } else if (starts_with(k, "c/") && k.size() >= 2 + 1 + 8 + 8) {
        auto expiry = store::read_be64(k, k.size() - 16);
        expired = !expiry || static_cast<int64_t>(*expiry) <= now;
      }
      if (expired) drop.emplace_back(k);
      at = cur->next();
    }
    if (!at) return make_error(at.error());
  }
  for (const auto& k : drop)
    if (auto d = txn.del(db_, k); !d) return make_error(d.error());
  return drop.size();
}

Status QuotaStore::forget_in(store::Txn& txn, const std::string& account_id) {
  if (auto d = txn.del(db_, usage_key(account_id)); !d) return make_error(d.error());
  std::vector<std::string> drop;
  {
    auto cur = store::Cursor::open(txn, db_);
    if (!cur) return make_error(cur.error());
    std::string prefix = credit_prefix(account_id);
    auto at = cur->seek(prefix);
    while (at && *at && starts_with(cur->key(), prefix)) {
      drop.emplace_back(cur->key());
      at = cur->next();
    }
    if (!at) return make_error(at.error());
  }
  for (const auto& k : drop)
    if (auto d = txn.del(db_, k); !d) return make_error(d.error());
  return {};
}

Result<size_t> QuotaStore::spent_count() {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  auto cur = store::Cursor::open(*txn, db_);
  if (!cur) return make_error(cur.error());
  size_t n = 0;
  auto at = cur->seek("s/");
  while (at && *at && starts_with(cur->key(), "s/")) {
    ++n;
    at = cur->next();
  }
  if (!at) return make_error(at.error());
  return n;
}

}  // namespace nj::policy
