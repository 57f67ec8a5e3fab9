// nightjarctl quota: shows an account's Internet recipient quota (used today, bought credits,
// spent stamps remembered) and grants extra recipients, which expire like bought ones.
// Trust: run by the operator beside the inner; writes go straight to the store in one synced
// transaction (LMDB serializes them with the daemon's writer).
#include "inner/ctl/quota.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>

#include "common/base/clock.h"
#include "common/config/types.h"
#include "common/crypto/crypto.h"
#include "common/store/lmdb.h"
#include "inner/accounts/accounts.h"
#include "inner/config/config.h"
#include "inner/policy/quota_store.h"

namespace nj::ctl {
namespace {

constexpr CommandText kText{
    "quota",
    "usage: nightjarctl quota --config FILE show ADDRESS\n"
    "       nightjarctl quota --config FILE grant ADDRESS COUNT\n",
    "show: an account's Internet recipients a day, used today, bought with stamps\n"
    "or granted, and what remains. grant: COUNT more (1 to 100000) for 24 hours.\n"};

constexpr Option kOptions[] = {{"--config"}};

}  // namespace

int cmd_quota(const Args& args) {
  auto p = parse(kText, args, kOptions);
  if (p.exit) return *p.exit;
  const std::string config = p.args.value("--config");
  const auto& pos = p.args.positionals();
  if (config.empty() || pos.empty()) return usage_error(kText, "missing arguments");
  const std::string& action = pos[0];
  if (action == "show" && pos.size() != 2) return usage_error(kText, "show wants ADDRESS");
  if (action == "grant" && pos.size() != 3) return usage_error(kText, "grant wants ADDRESS COUNT");
  if (action != "show" && action != "grant")
    return usage_error(kText, "unknown action '" + action + "'");
  uint32_t count = 0;
  if (action == "grant") {
    auto n = config::parse_integer(pos[2], 1, 100000);
    if (!n) return usage_error(kText, "COUNT: " + n.error());
    count = static_cast<uint32_t>(*n);
  }

  auto cfg = inner::load(config);
  if (!cfg) return fail(kText, cfg.error());
  crypto::init();
  std::string dir = cfg->data_dir + "/store";
  if (!std::filesystem::exists(dir + "/data.mdb"))
    return fail(kText, dir + ": no store here (add an account first, or start the daemon)");
  auto env = store::Env::open(dir);
  if (!env) return fail(kText, dir + ": " + env.error());
  SystemClock clock;
  inner::Accounts::Options ao;
  ao.internal_domain = cfg->domain.internal_domain;
  auto accounts = inner::Accounts::open(*env, ao, clock);
  if (!accounts) return fail(kText, accounts.error());
  std::string address = pos[1];
  if (address.find('@') == std::string::npos) address += "@" + cfg->domain.internal_domain;
  auto canonical = (*accounts)->canonical_address(address);
  if (canonical) address = *canonical;
  auto who = (*accounts)->recipient(address);
  if (!who) return fail(kText, who.error());
  if (!*who) return fail(kText, address + ": no such account");

  policy::QuotaRules rules;
  rules.daily = cfg->quota.daily;
  rules.prices.clear();
  for (const auto& price : cfg->quota.prices) rules.prices[price.bits] = price.recipients;
  auto q = policy::QuotaStore::open(*env, rules);
  if (!q) return fail(kText, q.error());
  int64_t now = clock.now();

  if (action == "grant") {
    auto txn = env->begin_write();
    if (!txn) return fail(kText, txn.error());
    if (auto s = (*q)->grant_in(*txn, (*who)->id, count, now); !s) return fail(kText, s.error());
    if (auto s = txn->commit(); !s) return fail(kText, s.error());
    std::printf("%s: granted %u Internet recipients until %s\n", address.c_str(), count,
                utc_text(now + rules.credit_lifetime).c_str());
  }
  auto a = (*q)->allowance((*who)->id, now);
  if (!a) return fail(kText, a.error());
  std::printf("%s: daily %u, used today %u, bought %llu", address.c_str(), a->daily, a->used_today,
              static_cast<unsigned long long>(a->credits));
  if (a->credits) std::printf(" (first expires %s)", utc_text(a->credits_expire).c_str());
  std::printf(", remaining %llu; resets %s\n", static_cast<unsigned long long>(a->remaining()),
              utc_text((policy::utc_day(now) + 1) * 86400).c_str());
  return 0;
}

}  // namespace nj::ctl
