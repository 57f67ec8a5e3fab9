// OutboundQueue: the inner's durable queue of mail for Internet recipients, waiting for the link
// to carry it to an edge. Each record is the Envelope — already sanitized and rewritten for the
// Internet — encrypted behind a small clear header (queue time and recipient count, for
// `nightjarctl queue list`, which decrypts nothing):
//   "r/<id>" -> be64 queued_at | be32 recipients | u8 format | body
// Format 1 (the only one written): the body is XChaCha20-Poly1305 (nonce || ciphertext || tag)
// under the queue key, derived once at open from the inner's secret key (keyed BLAKE2b, context
// "njoutq01"); the associated data is the 13 clear bytes followed by the id, so a record cannot
// be moved to another id nor its header altered unnoticed. This costs no X25519 operation per
// record: the inner holds its secret key whenever it writes or reads the queue anyway.
// Schema version 1 stored "q/<id>" -> be64 queued_at | be32 recipients | sealed box (to the
// inner's public key). Such records are still read (with the key pair) and removed, never written;
// see open() for why they keep their own prefix rather than gaining a format byte.
// A record holds the recipients that have no final result yet: the edge's STATUS settles them
// one by one (settle_in), and the record goes only with the last, so an edge wiped while some
// recipients are still pending there loses nothing; the next edge gets only those.
// With a fleet of edges, a released message also names the edge that holds it:
//   "h/<id>" -> the 32-byte static key of that edge
// and a message taken from one edge and handed to another leaves a note for the first, to be
// told to forget it (WITHDRAW) when its link is next up:
//   "w/<32-byte key>/<id>" -> ""
// Trust: written by the submission session inside its one commit and rewritten by settle_in in
// the commit that records a STATUS; records read back are decoded with limits.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/link/payloads.h"
#include "common/queue/envelope.h"
#include "common/store/lmdb.h"

namespace nj::inner {

class OutboundQueue {
 public:
  static constexpr const char* kSchemaName = "inner.outbound";
  static constexpr uint32_t kSchemaVersion = 2;
  // crypto_kdf context of the queue key (8 bytes; a new key would need a new context or id).
  static constexpr const char* kKeyContext = "njoutq01";

  // Opens (creating on first use) the queue's database and derives the queue key from the
  // inner's key pair; call at start-up.
  static Result<std::unique_ptr<OutboundQueue>> open(store::Env& env, const crypto::KeyPair& inner);

  // Adds the envelope inside the caller's write transaction, so a submission's local deliveries
  // and its outbound copy commit together, before the one 250. It is due at once.
  Status add_in(store::Txn& txn, const queue::Envelope& e) const;
  // The same, held until `due` (Unix seconds; the account's delay class, inner/policy/delay.h).
  // The due time is kept beside the record as "d/<be64 due>/<id>", so the release scan reads
  // only what is due and needs no key.
  // `delay_class` ("none", "defer", "batch"; empty for the inner's own bounces) is kept in clear
  // as "c/<id>" for the status count by class: the account's setting, not the mail's.
  Status add_in(store::Txn& txn, const queue::Envelope& e, int64_t due,
                std::string_view delay_class = {}) const;

  struct Item {
    std::string id;
    int64_t queued_at = 0;
    uint32_t recipients = 0;
    size_t encrypted_size = 0;  // the stored body: ciphertext and its overhead
    int64_t due = 0;            // when it may leave; queued_at for records written before due times
    bool released = false;      // handed to the link already
    std::string holder;         // released: the key of the edge holding it (empty: unknown)
    std::string delay_class;    // as given to add_in (empty: the inner's own, or not recorded)
  };
  Result<std::vector<Item>> list();
  // The envelope of one queued message. `inner` (the key pair the queue was opened with) opens
  // the sealed boxes of records written by schema version 1; newer ones use the queue key.
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
  Result<queue::Envelope> leaving(const crypto::KeyPair& inner, const std::string& id, int64_t now);
  // Marks `id` as handed to the link: no longer due. The record stays until the edge reports a
  // final result (the link's business). `holder` (an edge's 32-byte key; empty: not recorded)
  // is the edge that took it; the result is the edge that held it before (empty: none).
  Result<std::string> release_in(store::Txn& txn, const std::string& id,
                                 std::string_view holder = {}) const;
  // The edge holding released message `id` (empty: none recorded, or not released).
  Result<std::string> holder(const std::string& id);

  // Withdrawals: edge `holder` is to forget message `id`, which another edge now holds.
  Status withdraw_in(store::Txn& txn, std::string_view holder, const std::string& id) const;
  // The ids edge `holder` is to forget (at most `limit`).
  Result<std::vector<std::string>> withdrawals(std::string_view holder, size_t limit = 100000);
  // The edge forgot `id` (it ACKed the WITHDRAW): the note goes.
  Status withdrawn_in(store::Txn& txn, std::string_view holder, const std::string& id) const;
  // Every note for `holder` goes (it was revoked: it is never told anything again).
  Status forget_edge_in(store::Txn& txn, std::string_view holder) const;
  // Removes a message and its due time, whatever recipients it still holds: after settle_in
  // has settled the last one, or to bounce the rest (the edge refused the message for good, the
  // link cannot carry it: open_one first for the envelope the DSN names). False when absent.
  Result<bool> remove_in(store::Txn& txn, const std::string& id) const;

  struct Settled {
    bool found = false;      // false: not queued (a STATUS repeated after the last recipient)
    queue::Envelope before;  // the envelope as it was before this STATUS, for the DSN
    // The results for recipients this record still held, in the record's order; results for
    // recipients settled before (a repeated or overlapping STATUS) or never in it are left out,
    // so each recipient is reported, and bounced, once.
    std::vector<link::RecipientStatus> newly_final;
    bool removed = false;  // no recipient left: the record and its due time are gone
  };
  // Records the edge's final results for some recipients of `id`, inside the caller's write
  // transaction (the GroupCommitter's, which commits the DSN with it). Recipients match as
  // stored, byte for byte: the edge echoes the envelope's strings. With recipients left, the
  // record is rewritten under the same id with only those (re-encrypted, the clear count
  // updated), keeping its queue time and its due or released state; a schema-1 "q/" record
  // becomes an "r/" one. Reads and writes nothing but `txn`.
  Result<Settled> settle_in(store::Txn& txn, const crypto::KeyPair& inner, const std::string& id,
                            const std::vector<link::RecipientStatus>& results) const;

 private:
  OutboundQueue(store::Env& env, store::Dbi db, crypto::AeadKey key)
      : env_(env), db_(db), key_(std::move(key)) {}
  static std::string record_key(const std::string& id) { return "r/" + id; }
  static std::string sealed_key(const std::string& id) { return "q/" + id; }  // version 1
  static std::string due_key(int64_t due, const std::string& id);
  static std::string due_index_key(const std::string& id) { return "i/" + id; }
  static std::string holder_key(const std::string& id) { return "h/" + id; }
  static std::string class_key(const std::string& id) { return "c/" + id; }
  static std::string withdraw_prefix(std::string_view holder) {
    return "w/" + std::string(holder) + "/";
  }

  struct Opened {
    queue::Envelope envelope;
    int64_t queued_at = 0;
    bool sealed = false;  // a schema-1 "q/" record
  };
  // The record of `id` in `txn`, opened; nullopt when there is none.
  Result<std::optional<Opened>> open_in(store::Txn& txn, const crypto::KeyPair& inner,
                                        const std::string& id) const;
  // The value of an "r/" record: clear header, format byte, the envelope encrypted and bound
  // to the header and the id.
  std::string encrypt_record(const std::string& id, int64_t queued_at,
                             const queue::Envelope& e) const;

  store::Env& env_;
  store::Dbi db_;
  crypto::AeadKey key_;
};

}  // namespace nj::inner
