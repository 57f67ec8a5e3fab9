#include "inner/link/inbound_delivery.h"

#include "common/queue/envelope.h"

namespace nj::inner {

nj::Result<std::unique_ptr<InboundDelivery>> InboundDelivery::open(store::Env& env,
                                                                   const crypto::KeyPair& inner,
                                                                   Accounts& accounts,
                                                                   Mailbox& mailbox,
                                                                   const Clock& clock) {
  if (auto s = env.ensure_schema(kSchemaName, kSchemaVersion); !s) return make_error(s.error());
  auto db = env.open_dbi("inbound_seen");
  if (!db) return make_error(db.error());
  return std::unique_ptr<InboundDelivery>(
      new InboundDelivery(*db, inner, accounts, mailbox, clock));
}

void InboundDelivery::deliver(store::GroupCommitter& gc, std::string sealed,
                              std::function<void(Result)> done) {
  auto plain = crypto::open_sealed(inner_, sealed);
  if (!plain) {
    done(Result{Outcome::permanent, 0, 0, "does not open with the inner's key"});
    return;
  }
  auto env = queue::decode(*plain);
  if (!env) {
    done(Result{Outcome::permanent, 0, 0, "bad envelope: " + env.error()});
    return;
  }
  // Recipients were rewritten to the internal domain by the edge; each must be an account.
  struct Target {
    std::string account_id;
  };
  auto targets = std::make_shared<std::vector<Target>>();
  auto res = std::make_shared<Result>();
  for (const auto& r : env->recipients) {
    auto who = accounts_.recipient(r);
    if (!who) {
      done(Result{Outcome::temporary, 0, 0, "account lookup: " + who.error()});
      return;
    }
    if (!*who) {
      ++res->unknown;
      continue;
    }
    targets->push_back(Target{(*who)->id});
  }
  auto copy = std::make_shared<std::string>("Return-Path: <" + env->mail_from + ">\r\n" +
                                            env->message);
  auto id = std::make_shared<std::string>(env->id);
  Mailbox* mbox = &mailbox_;
  auto db = db_;
  const int64_t now = clock_.now();
  gc.submit(
      [=](store::Txn& txn) -> Status {
        res->delivered = 0;
        res->outcome = Outcome::delivered;
        res->reason.clear();
        for (const auto& t : *targets) {
          const std::string seen = "r/" + *id + "/" + t.account_id;
          auto had = txn.get(db, seen);
          if (!had) return make_error(had.error());
          if (*had) continue;  // a retransmit: this one has it already
          auto d = mbox->deliver_in(txn, t.account_id, *copy);
          if (d.status == DeliveryStatus::ok) {
            if (auto s = txn.put(db, seen, store::be64(static_cast<uint64_t>(now))); !s) return s;
            ++res->delivered;
          } else if (d.status == DeliveryStatus::no_such_account) {
            ++res->unknown;  // removed since the lookup
          } else {
            // Mailbox full or store trouble: the others keep their copies, the edge retries.
            res->outcome = Outcome::temporary;
            res->reason = to_string(d.status);
          }
        }
        return {};
      },
      [res, done = std::move(done)](Status s) {
        if (!s) {
          res->outcome = Outcome::temporary;
          res->reason = s.error();
        }
        done(*res);
      });
}

nj::Result<size_t> InboundDelivery::purge(store::GroupCommitter& gc) {
  const int64_t cutoff = clock_.now() - kRememberSeconds;
  auto n = std::make_shared<size_t>(0);
  auto db = db_;
  Status st = gc.commit_now([db, cutoff, n](store::Txn& txn) -> Status {
    *n = 0;
    std::vector<std::string> old;
    auto s = store::scan_prefix(txn, db, "r/", [&](std::string_view k, std::string_view v) {
      auto t = store::read_be64(v, 0);
      if (!t || static_cast<int64_t>(*t) < cutoff) old.emplace_back(k);
      return true;
    });
    if (!s) return s;
    for (const auto& k : old) {
      if (auto d = txn.del(db, k); !d) return make_error(d.error());
      ++*n;
    }
    return {};
  });
  if (!st) return make_error(st.error());
  return *n;
}

}  // namespace nj::inner
