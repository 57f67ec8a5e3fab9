// store: a thin RAII layer over LMDB, the only store nightjar has. Env, Txn, Dbi and Cursor own
// their LMDB handles; a transaction that is not committed is aborted when it goes away. The env
// is opened with MDB_NOTLS (read transactions may live on the loop thread while the writer
// thread writes) and never with MDB_NOSYNC / MDB_NOMETASYNC: a commit is on disk when it returns.
// Trust: the store's directory belongs to this daemon (created 0700); keys and values read back
// are our own bytes, but callers still length-check what they decode (see read_be64).
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::store {

struct Options {
  size_t map_size = size_t{64} << 20;      // initial map size (bytes)
  size_t max_map_size = size_t{16} << 30;  // the GroupCommitter grows the map up to this
  unsigned max_dbs = 16;
  unsigned max_readers = 126;
};

class Txn;
class Env;

// A named database handle. Cheap to copy; valid as long as its Env.
struct Dbi {
  MDB_dbi id = 0;
};

namespace detail {
struct EnvState;
}

// Migration from version v to v + 1, keyed by v. Runs inside the schema write transaction.
using Migrations = std::map<uint32_t, std::function<Status(Txn&)>>;

class Env {
 public:
  // Creates `dir` (mode 0700) if missing and opens the environment in it.
  static Result<Env> open(const std::string& dir, const Options& options = {});

  Env(Env&&) noexcept;
  Env& operator=(Env&&) noexcept;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  ~Env();

  Result<Txn> begin_read();
  Result<Txn> begin_write();

  // Opens (creating if asked) a named database in its own write transaction. Do this at start-up:
  // LMDB forbids opening databases from concurrent transactions of one process.
  Result<Dbi> open_dbi(std::string_view name, bool create = true);

  // Stores `version` for `name` in the `meta` database on a fresh store; refuses a store whose
  // stored version is newer; runs migrations[v] for each step v -> v+1 otherwise, all inside one
  // write transaction (a failing step leaves the store as it was).
  Status ensure_schema(std::string_view name, uint32_t version, const Migrations& migrations = {});
  // The stored version of `name`, or nullopt when none is stored.
  Result<std::optional<uint32_t>> schema_version(std::string_view name);

  // Grows the map to `new_size`. Waits (up to `wait_ms`) until no transaction of this process is
  // open, since remapping would pull the pages from under a live reader; if readers stay, fails
  // with a temporary error instead.
  Status grow_map(size_t new_size, unsigned wait_ms = 2000);
  size_t map_size() const;
  const Options& options() const;
  const std::string& path() const;
  MDB_env* raw() const;

 private:
  explicit Env(std::unique_ptr<detail::EnvState> s);
  std::unique_ptr<detail::EnvState> s_;
};

// A read or write transaction (or a child of a write transaction). Move-only; aborts in its
// destructor unless committed. Views returned by get() and cursors point into the map and are
// valid until the transaction ends or (for write transactions) the next write.
class Txn {
 public:
  Txn(Txn&&) noexcept;
  Txn& operator=(Txn&&) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn();

  bool read_only() const { return read_only_; }
  bool live() const { return txn_ != nullptr; }

  // A nested write transaction: committing it merges into this one; aborting it undoes only its
  // own changes. This transaction must not be used while the child is live.
  Result<Txn> child();

  // Opens a database inside this (write) transaction, for migrations that create databases.
  Result<Dbi> open_dbi(std::string_view name, bool create = true);

  Result<std::optional<std::string_view>> get(Dbi db, std::string_view key);
  Status put(Dbi db, std::string_view key, std::string_view value);
  // Inserts only if absent: false (and nothing written) when the key exists.
  Result<bool> insert(Dbi db, std::string_view key, std::string_view value);
  // False when the key was absent.
  Result<bool> del(Dbi db, std::string_view key);

  Status commit();
  void abort();

  // True once an operation of this transaction failed with MDB_MAP_FULL; the transaction is then
  // unusable and the GroupCommitter grows the map and retries.
  bool hit_map_full() const { return map_full_; }

  MDB_txn* raw() const { return txn_; }

 private:
  friend class Env;
  Txn(MDB_txn* t, bool read_only, detail::EnvState* env, bool holds_gate);
  Status fail(int rc, const char* what);
  void release();

  MDB_txn* txn_ = nullptr;
  bool read_only_ = true;
  bool map_full_ = false;
  bool holds_gate_ = false;  // top-level transactions hold the env's shared "no remap" gate
  detail::EnvState* env_ = nullptr;
};

// A cursor over one database within a transaction. Positioning calls return false when there is
// no such entry; key()/value() are then empty.
class Cursor {
 public:
  static Result<Cursor> open(Txn& txn, Dbi db);
  Cursor(Cursor&&) noexcept;
  Cursor& operator=(Cursor&&) noexcept;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor();

  Result<bool> first();
  Result<bool> last();
  Result<bool> next();
  Result<bool> prev();
  // First entry whose key is >= `key`.
  Result<bool> seek(std::string_view key);
  // Deletes the current entry; the cursor then sits on the following one (use current()).
  Status del();
  Result<bool> current();

  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }

 private:
  explicit Cursor(MDB_cursor* c) : c_(c) {}
  Result<bool> move(MDB_cursor_op op, std::string_view seek_key = {});
  MDB_cursor* c_ = nullptr;
  std::string_view key_, value_;
};

// Visitor for scans: return false to stop early.
using Visitor = std::function<bool(std::string_view key, std::string_view value)>;

// Every entry whose key starts with `prefix`, in key order.
Status scan_prefix(Txn& txn, Dbi db, std::string_view prefix, const Visitor& visit);
// Every entry with from <= key < to, in key order (an empty `to` means "to the end").
Status scan_range(Txn& txn, Dbi db, std::string_view from, std::string_view to,
                  const Visitor& visit);

// Big-endian integer keys, so byte order is numeric order: "deferred/" + be64(due) + "/" + id.
std::string be64(uint64_t v);
void append_be64(std::string& out, uint64_t v);
// Reads 8 bytes at `offset`; nullopt when the input is too short.
std::optional<uint64_t> read_be64(std::string_view in, size_t offset = 0);

}  // namespace nj::store
