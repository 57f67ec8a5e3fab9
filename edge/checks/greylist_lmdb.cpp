#include "edge/checks/greylist_lmdb.h"

#include <lmdb.h>

#include <string>

namespace nj::checks {

Result<LmdbGreylistStore> LmdbGreylistStore::open(store::Env& env) {
  if (Status s = env.ensure_schema("greylist", 1); !s.ok()) return make_error(s.error());
  auto db = env.open_dbi("greylist", true);
  if (!db.ok()) return make_error(db.error());
  auto txn = env.begin_write();
  if (!txn.ok()) return make_error(txn.error());
  // Empty, not delete: the handle stays valid (mdb_drop with del=0).
  if (int rc = mdb_drop(txn->raw(), db->id, 0); rc != 0) {
    return make_error(std::string("greylist: clear: ") + mdb_strerror(rc));
  }
  if (Status s = txn->commit(); !s.ok()) return make_error(s.error());
  return LmdbGreylistStore(env, *db);
}

Result<std::optional<GreylistRecord>> LmdbGreylistStore::get(std::string_view key) {
  auto txn = env_->begin_read();
  if (!txn.ok()) return make_error(txn.error());
  auto v = txn->get(db_, key);
  if (!v.ok()) return make_error(v.error());
  if (!*v) return std::optional<GreylistRecord>();
  return decode_greylist_record(**v);
}

Status LmdbGreylistStore::put(std::string_view key, const GreylistRecord& r) {
  auto txn = env_->begin_write();
  if (!txn.ok()) return make_error(txn.error());
  if (Status s = txn->put(db_, key, encode_greylist_record(r)); !s.ok()) return s;
  return txn->commit();
}

Status LmdbGreylistStore::erase(std::string_view key) {
  auto txn = env_->begin_write();
  if (!txn.ok()) return make_error(txn.error());
  auto gone = txn->del(db_, key);
  if (!gone.ok()) return make_error(gone.error());
  return txn->commit();
}

Result<size_t> LmdbGreylistStore::purge_older_than(int64_t cutoff) {
  auto txn = env_->begin_write();
  if (!txn.ok()) return make_error(txn.error());
  size_t removed = 0;
  {
    auto cur = store::Cursor::open(*txn, db_);
    if (!cur.ok()) return make_error(cur.error());
    auto at = cur->first();
    while (at.ok() && *at) {
      auto r = decode_greylist_record(cur->value());
      if (!r || r->last_seen < cutoff) {  // unreadable records go too
        std::string key(cur->key());
        if (Status s = cur->del(); !s.ok()) return make_error(s.error());
        ++removed;
        // Re-seek rather than Cursor::current(): after deleting the last entry LMDB's
        // MDB_GET_CURRENT fails with EINVAL instead of reporting the end.
        at = cur->seek(key);
      } else {
        at = cur->next();
      }
    }
    if (!at.ok()) return make_error(at.error());
  }
  if (Status s = txn->commit(); !s.ok()) return make_error(s.error());
  return removed;
}

Result<size_t> LmdbGreylistStore::size() {
  auto txn = env_->begin_read();
  if (!txn.ok()) return make_error(txn.error());
  MDB_stat st;
  if (int rc = mdb_stat(txn->raw(), db_.id, &st); rc != 0) return make_error(mdb_strerror(rc));
  return static_cast<size_t>(st.ms_entries);
}

}  // namespace nj::checks
