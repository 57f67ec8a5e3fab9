#include "inner/link/inbound_delivery.h"

#include <optional>
#include <vector>

#include "common/link/payloads.h"
#include "common/mail/address.h"
#include "common/mail/origin.h"
#include "common/mail/sanitize.h"
#include "common/queue/envelope.h"
#include "common/uv/work.h"
#include "inner/link/inbound_bounce.h"

namespace nj::inner {

// What the thread pool hands back to the loop.
struct InboundDelivery::Opened {
  std::string sealed;
  uint8_t flags = 0;
  std::string error;  // set: permanent
  queue::Envelope env;
  std::string copy;  // what each mailbox gets: Return-Path, the origin mark, the message
};

namespace {

// Seen records, value = be64 time:
//   "r/" id "/" account id  -> that account has it (delivered, or bounced on its behalf)
//   "r/" id "/#" index      -> the envelope's recipient at that index is done with
// The account key keeps a message listed twice (or under two spellings) to one copy; the index
// key remembers a recipient that is no account, and one whose account went away after it got
// the message, so a retransmit bounces neither. Account ids never contain '#'.
std::string account_key(const std::string& id, const std::string& account) {
  return "r/" + id + "/" + account;
}
std::string index_key(const std::string& id, size_t i) {
  return "r/" + id + "/#" + std::to_string(i);
}

}  // namespace

// Everything here costs time and trusts nothing.
void InboundDelivery::open_envelope(const crypto::KeyPair& inner, Opened& o) {
  auto plain = crypto::open_sealed(inner, o.sealed);
  std::string().swap(o.sealed);
  if (!plain) {
    o.error = "does not open with the inner's key";
    return;
  }
  auto env = queue::decode(*plain);
  if (!env) {
    o.error = "bad envelope: " + env.error();
    return;
  }
  o.env = std::move(*env);
  if (o.env.recipients.empty()) {
    o.error = "bad envelope: no recipient";
    return;
  }
  // The sender goes into Return-Path and is where bounces go: it must be an address, not a way
  // to add header fields.
  if (!o.env.mail_from.empty() &&
      !mail::parse_reverse_path("<" + o.env.mail_from + ">", o.env.smtputf8)) {
    o.error = "bad envelope: the sender is not an address";
    return;
  }
  // The edge sanitized the header section, but the inner trusts no edge: the same sanitizer
  // runs again (postman's step 7). What it drops the inner writes itself or nobody may write:
  // Return-Path (below), Delivered-To, X-Original-To, the origin mark. The edge's own fields
  // (its Received line, X-Nightjar-Content, its Authentication-Results) stay: the inner has no
  // way to check them, and says so nowhere else.
  mail::InboundPolicy policy;
  policy.drop_prefixes.clear();
  auto clean = mail::sanitize_inbound(o.env.message, policy);
  if (!clean) {
    o.error = "header section does not parse: " + clean.error();
    return;
  }
  auto marked = mail::mark_internet_origin(*clean);
  if (!marked) {
    o.error = "header section does not parse: " + marked.error();
    return;
  }
  o.copy = "Return-Path: <" + o.env.mail_from + ">\r\n" + *marked;
}

nj::Result<std::unique_ptr<InboundDelivery>> InboundDelivery::open(store::Env& env, Deps deps,
                                                                   Options options) {
  if (auto s = env.ensure_schema(kSchemaName, kSchemaVersion); !s) return make_error(s.error());
  auto db = env.open_dbi("inbound_seen");
  if (!db) return make_error(db.error());
  return std::unique_ptr<InboundDelivery>(
      new InboundDelivery(env, *db, std::move(deps), std::move(options)));
}

void InboundDelivery::deliver(store::GroupCommitter& gc, VerifyGuard& guard, std::string sealed,
                              uint8_t flags, std::function<void(Result)> done) {
  auto o = std::make_shared<Opened>();
  o->sealed = std::move(sealed);
  o->flags = flags;
  const crypto::KeyPair* inner = &d_.inner;
  std::function<void()> hook = opt_.opened_hook;
  std::weak_ptr<bool> alive = alive_;
  uv::queue_work(
      d_.loop,
      [o, inner, hook] {
        open_envelope(*inner, *o);
        if (hook) hook();
      },
      [this, alive, &gc, &guard, o, done = std::move(done)]() mutable {
        if (alive.expired()) return;
        if (!o->error.empty()) {
          Result r;
          r.outcome = Outcome::permanent;
          r.reason = o->error;
          done(r);
          return;
        }
        commit(gc, guard, std::move(o), std::move(done));
      });
}

void InboundDelivery::commit(store::GroupCommitter& gc, VerifyGuard& guard,
                             std::shared_ptr<Opened> o, std::function<void(Result)> done) {
  // Recipients were rewritten to the internal domain by the edge; each should be an account.
  // An empty id: no account (checked again inside the commit for the others).
  auto targets = std::make_shared<std::vector<std::string>>();
  std::vector<size_t> unknown;
  for (size_t i = 0; i < o->env.recipients.size(); ++i) {
    auto who = d_.accounts.recipient(o->env.recipients[i]);
    if (!who) {
      done(Result{Outcome::temporary, 0, 0, 0, 0, "account lookup: " + who.error()});
      return;
    }
    targets->push_back(*who ? (*who)->id : std::string());
    if (!*who) unknown.push_back(i);
  }
  // Unknown recipients not bounced yet (a retransmit's were) count against the edge's guard.
  size_t fresh = 0;
  if (!unknown.empty()) {
    auto txn = env_.begin_read();
    if (!txn) {
      done(Result{Outcome::temporary, 0, 0, 0, 0, "store: " + txn.error()});
      return;
    }
    for (size_t i : unknown) {
      auto had = txn->get(db_, index_key(o->env.id, i));
      if (!had) {
        done(Result{Outcome::temporary, 0, 0, 0, 0, "store: " + had.error()});
        return;
      }
      if (!*had) ++fresh;
    }
  }
  if (!guard.admit_delivery(fresh, d_.clock.monotonic_ms())) {
    done(Result{Outcome::temporary, 0, 0, 0, 0, "recipient checks paused (cool-down)"});
    return;
  }

  auto res = std::make_shared<Result>();
  const bool last = (o->flags & link::kDeliverLastAttempt) != 0;
  const int64_t now = d_.clock.now();
  Mailbox* mbox = &d_.mailbox;
  OutboundQueue* outbound = &d_.outbound;
  const mail::DomainRewrite* domains = &d_.domains;
  auto db = db_;
  gc.submit(
      [=](store::Txn& txn) -> Status {
        // May run again after a map grow: start from nothing each time.
        *res = Result{};
        res->outcome = Outcome::delivered;
        const queue::Envelope& env = o->env;
        const std::string stamp = store::be64(static_cast<uint64_t>(now));
        std::vector<BouncedRecipient> bounce;
        // Done with recipient i: remember it; bounce it when there is someone to tell.
        auto settle = [&](size_t i, const std::string& account, const BounceReason* why) -> Status {
          if (auto s = txn.put(db, index_key(env.id, i), stamp); !s) return s;
          if (!account.empty())
            if (auto s = txn.put(db, account_key(env.id, account), stamp); !s) return s;
          if (why && !env.mail_from.empty()) bounce.push_back({env.recipients[i], *why});
          return {};
        };
        for (size_t i = 0; i < env.recipients.size(); ++i) {
          auto had = txn.get(db, index_key(env.id, i));
          if (!had) return make_error(had.error());
          if (*had) continue;  // a retransmit: done with before
          const std::string& account = (*targets)[i];
          if (account.empty()) {
            ++res->unknown;
            if (auto s = settle(i, {}, &kBounceNoSuchUser); !s) return s;
            continue;
          }
          auto got = txn.get(db, account_key(env.id, account));
          if (!got) return make_error(got.error());
          if (*got) {
            // This account has it already (listed twice, or delivered before records by index).
            if (auto s = settle(i, {}, nullptr); !s) return s;
            continue;
          }
          auto d = mbox->deliver_in(txn, account, o->copy);
          switch (d.status) {
            case DeliveryStatus::ok:
              ++res->delivered;
              if (auto s = settle(i, account, nullptr); !s) return s;
              break;
            case DeliveryStatus::no_such_account:  // removed since the lookup
              ++res->unknown;
              if (auto s = settle(i, account, &kBounceNoSuchUser); !s) return s;
              break;
            case DeliveryStatus::too_large:  // it will never fit: waiting would change nothing
              ++res->full;
              if (auto s = settle(i, account, &kBounceTooLarge); !s) return s;
              break;
            case DeliveryStatus::over_quota:
              ++res->full;
              if (last) {
                if (auto s = settle(i, account, &kBounceMailboxFull); !s) return s;
              } else {
                // The others keep their copies; the edge tries again later.
                res->outcome = Outcome::temporary;
                res->reason = "mailbox full";
              }
              break;
            case DeliveryStatus::temp_failure:
              // deliver_in may have written part of it: nothing of this item may commit.
              return make_error(d.error.empty() ? to_string(d.status) : d.error);
          }
        }
        if (!bounce.empty()) {
          auto b = make_inbound_bounce(env, bounce, *domains, now);
          if (!b) return make_error(b.error());
          // Due now, in the due index: the link's handover finds it on its next tick.
          if (auto s = outbound->add_in(txn, *b, now); !s) return s;
          res->bounced = bounce.size();
        }
        return {};
      },
      [res, done = std::move(done)](Status s) {
        if (!s) {
          // Nothing of it was committed.
          *res = Result{};
          res->outcome = Outcome::temporary;
          res->reason = s.error();
        }
        done(*res);
      });
}

nj::Result<size_t> InboundDelivery::purge(store::GroupCommitter& gc) {
  const int64_t cutoff = d_.clock.now() - kRememberSeconds;
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
