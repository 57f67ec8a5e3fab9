// LmdbGreylistStore: the greylist's entries in an LMDB database of the edge's store, so 35 days
// of triplets need not fit in memory. Keys are the greylist's keyed hashes; values are the
// 20-byte records of encode_greylist_record(). Since the hash key lives only in memory, entries
// left by an earlier run can never match again; start-up therefore clears the database.
// Trust: the database is ours; records of the wrong size are treated as absent.
#pragma once

#include <string_view>

#include "common/store/lmdb.h"
#include "edge/checks/greylist_store.h"

namespace nj::checks {

class LmdbGreylistStore final : public GreylistStore {
 public:
  // Opens (creating) the "greylist" database and empties it. Call at start-up, before other
  // transactions run (LMDB's rule for opening databases). The env must outlive the store.
  static Result<LmdbGreylistStore> open(store::Env& env);

  // Each write is its own committed transaction (one sync): greylist writes happen once per
  // RCPT, not per message byte, and the edge's store is otherwise idle at that point.
  Result<std::optional<GreylistRecord>> get(std::string_view key) override;
  Status put(std::string_view key, const GreylistRecord& r) override;
  Status erase(std::string_view key) override;
  Result<size_t> purge_older_than(int64_t cutoff) override;
  Result<size_t> size();

 private:
  LmdbGreylistStore(store::Env& env, store::Dbi db) : env_(&env), db_(db) {}
  store::Env* env_;
  store::Dbi db_;
};

}  // namespace nj::checks
