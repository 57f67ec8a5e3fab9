// OutboundQueue: the inner's durable queue of mail for Internet recipients, waiting for the link
// to carry it to an edge (a later issue). Each record is the Envelope — already sanitized and
// rewritten for the Internet — sealed to the inner's own public key, behind a small clear header
// (queue time and recipient count, for `nightjarctl queue list` without the secret key).
// Trust: written only by the submission session inside its one commit; records read back are
// decoded with limits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/queue/envelope.h"
#include "common/store/lmdb.h"

namespace nj::inner {

class OutboundQueue {
 public:
  static constexpr const char* kSchemaName = "inner.outbound";
  static constexpr uint32_t kSchemaVersion = 1;

  // Opens (creating on first use) the queue's database; call at start-up.
  static Result<std::unique_ptr<OutboundQueue>> open(store::Env& env, crypto::PublicKey inner);

  // Adds the envelope inside the caller's write transaction, so a submission's local deliveries
  // and its outbound copy commit together, before the one 250. It is due at once.
  Status add_in(store::Txn& txn, const queue::Envelope& e) const;
  // The same, held until `due` (Unix seconds; the account's delay class, inner/policy/delay.h).
  // The due time is kept beside the record as "d/<be64 due>/<id>", so the release scan reads
  // only what is due and needs no key.
  Status add_in(store::Txn& txn, const queue::Envelope& e, int64_t due) const;

  struct Item {
    std::string id;
    int64_t queued_at = 0;
    uint32_t recipients = 0;
    size_t sealed_size = 0;
    int64_t due = 0;        // when it may leave; queued_at for records written before due times
    bool released = false;  // handed to the link already
  };
  Result<std::vector<Item>> list();
  // The envelope of one queued message (needs the inner's secret key).
  Result<queue::Envelope> open_one(const crypto::KeyPair& inner, const std::string& id);

  // Ids of the messages due at `now` and not yet released, soonest first (at most `limit`).
  Result<std::vector<std::string>> due_before(int64_t now, size_t limit = 1000);

  // The messages due at `now`, opened and re-dated: their Date field says `now` in UTC, the time
  // they actually leave the inner. Nothing is changed in the store; the caller hands each to
  // the link and then calls release_in() in the transaction that records the hand-over, so a
  // crash before that leaves the message due (and sent again: the link is idempotent by id).
  Result<std::vector<queue::Envelope>> released(const crypto::KeyPair& inner, int64_t now,
                                                size_t limit = 1000);
  // One message as it leaves at `now` (opened, re-dated), due or already handed over before
  // (a new link resubmits what an earlier edge did not finish).
  Result<queue::Envelope> leaving(const crypto::KeyPair& inner, const std::string& id,
                                  int64_t now);
  // Marks `id` as handed to the link: no longer due. The record stays until the edge reports a
  // final result (the link's business).
  Status release_in(store::Txn& txn, const std::string& id) const;
  // Removes a message and its due time (after the edge's final report). False when absent.
  Result<bool> remove_in(store::Txn& txn, const std::string& id) const;

 private:
  OutboundQueue(store::Env& env, store::Dbi db, crypto::PublicKey inner)
      : env_(env), db_(db), inner_(inner) {}
  static std::string key_for(const std::string& id) { return "q/" + id; }
  static std::string due_key(int64_t due, const std::string& id);
  static std::string due_index_key(const std::string& id) { return "i/" + id; }

  store::Env& env_;
  store::Dbi db_;
  crypto::PublicKey inner_;
};

}  // namespace nj::inner
