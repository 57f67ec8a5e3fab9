// accounts: the inner's user accounts, in LMDB (one named database in the inner's store).
//
// An account is an address on the internal domain, an Argon2id password hash, and an X25519 key
// pair for its sealed mailbox. The secret half of the key pair is stored only wrapped
// (XChaCha20-Poly1305) by a key derived from the password (Argon2id, per-account random salt), so
// the inner cannot open stored mail unless the user has just given the password. An operator
// reset therefore has to mint a new key pair: the old mail stays sealed to a key nobody can
// unwrap any more, and the API says so (ResetResult::old_mail_unreadable).
//
// Layout (database "accounts"):
//   "dirkey"                   32 random bytes, made on first open (the directory key)
//   "i/" + H(dirkey, address)  -> account id      (index: no address in any LMDB key)
//   "a/" + account id          -> account record  (see encode_record)
// The account id is 16 random characters (crypto::random_id), the prefix of the account's
// mailbox keys, so no mailbox key holds the address. The address inside the record is
// AEAD-encrypted under the directory key: the address is never written to a page in the clear,
// so stale copies of pages (LMDB frees pages without clearing them) cannot leak it as plain text.
// That is not secrecy against whoever holds the live store (the directory key is in it); it is
// what lets remove() leave nothing readable behind: the record is overwritten in place before it
// is deleted, and scrub_free_pages() (scrub.h) then overwrites every free page of the file.
//
// Writes are synced commits through the GroupCommitter (commit_now: these are operator and
// login-time actions, never on the message path). Argon2id runs on the calling thread before the
// commit, so callers on the libuv loop must hand verify() and friends to a worker thread.
// Trust: addresses and passwords are untrusted input (validated, length-limited); records read
// back are our own bytes but are decoded with limits anyway (decode_record is fuzzed).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"

namespace nj::inner {

// ---- settings: a small validated key=value map (e.g. delay=defer) ----

using Settings = std::map<std::string, std::string>;

inline constexpr size_t kMaxSettings = 32;
inline constexpr size_t kMaxSettingKey = 32;     // [a-z][a-z0-9_.-]*
inline constexpr size_t kMaxSettingValue = 256;  // printable ASCII, no spaces

Status validate_setting(std::string_view key, std::string_view value);
// "key=value" as typed by an operator.
Result<std::pair<std::string, std::string>> parse_setting(std::string_view key_eq_value);

// ---- the stored record ----

struct AccountRecord {
  std::string address_box;  // AEAD(dirkey, address, ad = "addr/" + id)
  std::string pwhash;       // crypto::hash_password string
  std::string salt;         // crypto::kSaltBytes, for derive_key
  uint64_t kdf_ops = 0;     // the limits the wrapping key was derived with
  uint64_t kdf_mem = 0;
  crypto::PublicKey pub;
  std::string wrapped_secret;   // AEAD(derive_key(password, salt), secret, ad = "sk/" + id)
  int64_t created = 0;          // unix seconds
  int64_t key_created = 0;      // when the current key pair was made (create or reset)
  uint32_t key_generation = 1;  // 1 at creation, +1 per operator reset
  Settings settings;
};

inline constexpr size_t kMaxRecordBytes = 16 * 1024;
std::string encode_record(const AccountRecord& r);
// Strict: version byte, bounded fields, exact sizes where known, valid settings, nothing left over.
Result<AccountRecord> decode_record(std::string_view in);

// ---- the account store ----

// What show() and list() give: never a secret.
struct AccountInfo {
  std::string address;
  std::string id;
  int64_t created = 0;
  int64_t key_created = 0;
  uint32_t key_generation = 1;
  crypto::PublicKey pub;
  uint64_t kdf_ops = 0, kdf_mem = 0;
  Settings settings;
};

// The account a delivery goes to (no password needed).
struct Recipient {
  std::string id;
  crypto::PublicKey pub;
};

// A logged-in user: the unwrapped key pair lives in locked memory (SecureBytes) until this goes.
struct Session {
  std::string id;
  std::string address;
  crypto::KeyPair keys;
};

enum class VerifyStatus { ok, no_such_account, bad_password, store_error };

struct VerifyResult {
  VerifyStatus status = VerifyStatus::store_error;
  std::optional<Session> session;  // set when ok
  std::string error;               // for store_error (no address in it)
};

struct ResetResult {
  // Always true today: a reset cannot unwrap the old key, so mail sealed to it is lost. Kept as
  // a field so every caller has to look at it (and the CLI prints it).
  bool old_mail_unreadable = true;
  uint64_t messages_sealed_to_old_key = 0;  // filled by callers that know the mailbox
  crypto::PublicKey new_pub;
};

class Accounts {
 public:
  static constexpr const char* kSchemaName = "inner.accounts";
  static constexpr uint32_t kSchemaVersion = 1;
  static constexpr size_t kMaxPasswordBytes = 1024;

  struct Options {
    std::string internal_domain;  // lowercase; addresses on any other domain are refused
    crypto::PwhashLimits limits = crypto::PwhashLimits::interactive();
  };

  // Something else keyed by the account id (the mailbox) that must go in the same transaction
  // as the account. Runs inside remove()'s work item; must only touch `txn`.
  using Eraser = std::function<Status(store::Txn& txn, std::string_view account_id)>;

  // Opens (creating on first use) the database in `env`. Call at start-up, before the
  // GroupCommitter runs work, since LMDB databases are opened in their own transaction.
  static Result<std::unique_ptr<Accounts>> open(store::Env& env, Options options,
                                                const Clock& clock);

  // Validates an address on the internal domain: parsed with common/mail's RFC 5321 parser,
  // dot-atom local part only (no quoted strings), lowercased. Errors never repeat the address.
  Result<std::string> canonical_address(std::string_view address) const;

  Status create(store::GroupCommitter& gc, std::string_view address, std::string_view password);
  VerifyResult verify(std::string_view address, std::string_view password);
  // For delivery: id and public key, no password.
  Result<std::optional<Recipient>> recipient(std::string_view address);
  Result<crypto::PublicKey> public_key(std::string_view address);
  // Re-wraps the same key pair under the new password: old mail stays readable. The result is
  // that of verifying the old password; when ok, its session holds the (unchanged) key pair.
  VerifyResult change_password(store::GroupCommitter& gc, std::string_view address,
                               std::string_view old_password, std::string_view new_password);
  // Operator reset: a NEW key pair; mail sealed to the old one becomes unreadable.
  Result<ResetResult> reset_password(store::GroupCommitter& gc, std::string_view address,
                                     std::string_view new_password);
  // Erases the account, its keys, and (through the erasers) its mailbox, in one synced commit.
  // The record is zeroed in place before it is deleted; call scrub_free_pages() afterwards to
  // overwrite the freed pages.
  Status remove(store::GroupCommitter& gc, std::string_view address);
  Result<std::vector<AccountInfo>> list();
  Result<std::optional<AccountInfo>> show(std::string_view address);
  Status set_setting(store::GroupCommitter& gc, std::string_view address, std::string_view key,
                     std::string_view value);
  Status clear_setting(store::GroupCommitter& gc, std::string_view address, std::string_view key);

  void add_eraser(Eraser e) { erasers_.push_back(std::move(e)); }

  // For other stores in the same transaction (the mailbox checks the account still exists, and
  // seals to the key it has at commit time, not the one it had when delivery started).
  Result<std::optional<crypto::PublicKey>> public_key_in(store::Txn& txn,
                                                         std::string_view account_id);

  const Options& options() const { return options_; }
  store::Env& env() { return env_; }

 private:
  Accounts(store::Env& env, store::Dbi db, Options options, const Clock& clock,
           crypto::AeadKey dirkey, crypto::HashKey index_key);
  std::string index_key(std::string_view canonical) const;
  // Reads "i/" then "a/" for a canonical address inside `txn`.
  Result<std::optional<std::pair<std::string, AccountRecord>>> lookup(store::Txn& txn,
                                                                      std::string_view canonical);
  Result<AccountInfo> info_of(const std::string& id, const AccountRecord& r) const;
  // Wraps `secret` under a fresh salt; fills pwhash, salt, limits, wrapped_secret.
  Status set_password(AccountRecord& r, const std::string& id, std::string_view password,
                      const crypto::SecretKey& secret) const;
  Result<crypto::KeyPair> unwrap(const AccountRecord& r, const std::string& id,
                                 std::string_view password) const;
  Status update(store::GroupCommitter& gc, std::string_view canonical,
                const std::function<Status(const std::string& id, AccountRecord& r)>& edit);

  store::Env& env_;
  store::Dbi db_;
  Options options_;
  const Clock& clock_;
  crypto::AeadKey dirkey_;
  crypto::HashKey index_hash_key_;
  std::vector<Eraser> erasers_;
};

// Overwrites a value in place with zeros of the same size, then deletes it. LMDB writes a
// same-size value over the old bytes of the (copied-on-write) page, so the deleted bytes do not
// linger in the page's free gap; the superseded page copy itself is overwritten by
// scrub_free_pages().
Status zero_then_delete(store::Txn& txn, store::Dbi db, std::string_view key);

}  // namespace nj::inner
