// mailbox: the inner's sealed mailboxes. Each message is sealed (crypto_box_seal) to its
// account's public key when it is committed, so the stored mail can be read only with the key
// pair that verify() unwraps from the user's password; the daemon alone cannot read it.
//
// Layout (databases "mailbox" and "mailbox_meta"):
//   mailbox:      <account id> "/" be64(seq)      -> sealed message
//   mailbox_meta: "m/" <account id> "/" be64(seq) -> meta (plaintext size, received time, UIDL)
//                 "s/" <account id>               -> state (next seq, stored bytes, count)
// The meta record is in the clear: sizes and times are what POP3 LIST/STAT/UIDL need without the
// key, and the UIDL is random. Keys hold the random account id, never the address.
//
// Quota: the stored (sealed) bytes of an account count against `max_size`; a delivery that would
// pass it fails with DeliveryStatus::over_quota (SMTP: 552 5.2.2). The check and the insert are
// in one transaction, so concurrent deliveries cannot overshoot together.
//
// Only this class writes mailboxes (one writer of mail). Deliveries and deletions go through the
// GroupCommitter: `done` runs on the loop thread after the synced commit. Sealing runs on the
// writer thread inside the work item, with the key the account has at commit time (an operator
// reset between RCPT and DATA must not seal to the superseded key).
// Trust: message bytes are untrusted but only sealed and counted; records read back are decoded
// with limits (decode_meta is fuzzed); sealed records open only with the right key.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"
#include "inner/accounts/accounts.h"

namespace nj::inner {

struct MessageMeta {
  uint64_t size = 0;     // plaintext octets (what POP3 reports)
  int64_t received = 0;  // unix seconds
  std::string uidl;      // random, 1..70 printable characters (RFC 1939 7)
};
inline constexpr size_t kMaxUidl = 70;
std::string encode_meta(const MessageMeta& m);
Result<MessageMeta> decode_meta(std::string_view in);

struct MessageInfo {
  uint64_t seq = 0;
  uint64_t size = 0;
  int64_t received = 0;
  std::string uidl;
};

enum class DeliveryStatus {
  ok,
  no_such_account,  // removed meanwhile: SMTP 550 5.1.1
  over_quota,       // SMTP 552 5.2.2
  too_large,        // larger than the whole quota can ever hold: SMTP 552 5.3.4
  temp_failure,     // store trouble: SMTP 451 4.3.0
};
const char* to_string(DeliveryStatus s);

struct DeliveryResult {
  DeliveryStatus status = DeliveryStatus::temp_failure;
  uint64_t seq = 0;   // when ok
  std::string error;  // when temp_failure (no address or content in it)
};

class Mailbox {
 public:
  static constexpr const char* kSchemaName = "inner.mailbox";
  static constexpr uint32_t kSchemaVersion = 1;

  struct Options {
    uint64_t max_size = 50ull << 20;  // mailbox.max_size, sealed bytes per account
  };

  // Opens the databases and registers with `accounts`, so removing an account erases its mailbox
  // in the same transaction. `accounts` must outlive this object.
  static Result<std::unique_ptr<Mailbox>> open(store::Env& env, Accounts& accounts, Options options,
                                               const Clock& clock);

  // Delivers inside the caller's write transaction (a submission that also queues other copies
  // commits them all at once). A result other than ok means the caller must fail its work item,
  // so nothing of it is committed. Seals on the calling thread: call it from commit work.
  DeliveryResult deliver_in(store::Txn& txn, std::string_view account_id,
                            std::string_view message) const;

  using DeliverDone = std::function<void(DeliveryResult)>;
  void deliver(store::GroupCommitter& gc, std::string account_id, std::string message,
               DeliverDone done);

  Result<std::vector<MessageInfo>> list(std::string_view account_id);
  // Sealed bytes stored for the account (what the quota counts) and the message count.
  struct Usage {
    uint64_t stored_bytes = 0;
    uint64_t messages = 0;
  };
  Result<Usage> usage(std::string_view account_id);
  // The room a mailbox must have left to be offered new mail: 1 KiB of sealed bytes. Mail that
  // reaches a mailbox is never smaller than a few hundred octets (the edge's Received line, our
  // Return-Path and origin mark, the author's From, Date and Message-ID; most Internet mail also
  // carries DKIM or ARC fields of half a kilobyte) plus the seal's overhead, so below this
  // nothing real fits. Saying "full" then costs the sender nothing (452 4.2.2 at RCPT: it keeps
  // the message and tries later) while "exists" would make the edge take mail it can only hold.
  // Above it a given message may still not fit; the delivery finds that out (over_quota).
  static constexpr uint64_t kMinRoom = 1024;
  // True when less than kMinRoom is left under max_size (one read of the state record). Answers
  // VERIFY (`full`) and the submission session's RCPT, so both mean the same by "full".
  Result<bool> full(std::string_view account_id);
  Result<std::string> read(std::string_view account_id, uint64_t seq, const crypto::KeyPair& key);
  // The same with the mailbox key already derived (a POP3 session derives it once).
  Result<std::string> read(std::string_view account_id, uint64_t seq, const crypto::KeyPair& key,
                           const crypto::AeadKey& mailbox_key);
  // At login: re-encrypts the account's sealed messages under the mailbox key, in one synced
  // commit. Blocks (X25519 per message, commit_now): call it off the loop. Returns how many.
  Result<uint64_t> unseal_all(store::GroupCommitter& gc, std::string_view account_id,
                              const crypto::KeyPair& key);
  // The symmetric key a logged-in account's stored messages move to; derived from its secret
  // key, never stored.
  static crypto::AeadKey mailbox_key(const crypto::KeyPair& key);
  // Deletes the given messages in one synced commit (POP3 QUIT). Sequence numbers that are
  // already gone are skipped (a second session may have deleted them); `done` gets how many
  // were deleted.
  void remove(store::GroupCommitter& gc, std::string account_id, std::vector<uint64_t> seqs,
              std::function<void(Result<uint64_t>)> done);

  const Options& options() const { return options_; }

 private:
  Mailbox(store::Env& env, store::Dbi data, store::Dbi meta, Accounts& accounts, Options options,
          const Clock& clock)
      : env_(env),
        data_(data),
        meta_(meta),
        accounts_(accounts),
        options_(options),
        clock_(clock) {}
  // The account's whole mailbox, for Accounts::remove.
  static Status erase_all(store::Txn& txn, store::Dbi data, store::Dbi meta,
                          std::string_view account_id);

  store::Env& env_;
  store::Dbi data_, meta_;
  Accounts& accounts_;
  Options options_;
  const Clock& clock_;
};

}  // namespace nj::inner
