// scrub: overwrite the free pages of an LMDB file, so data deleted from the store (a removed
// account, a mailbox's messages) does not stay on disk in pages LMDB has freed but not reused.
// LMDB copies a page on write and puts the old copy on its free list untouched; that old copy
// still holds whatever was deleted. Scrubbing fills the free list with zero-filled one-page
// values in a scratch database and then drops them, twice (pages freed by commit N are only
// reusable from commit N + 2), so every page that was free before is rewritten with zeros.
// Pages an open read transaction still references cannot be reused; run it when no long reader
// is open (the CLI after remove; the daemon from its maintenance timer).
// Trust: our own store; the free-list records are read with their lengths checked.
#pragma once

#include <cstdint>
#include <memory>

#include "common/base/result.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"

namespace nj::inner {

class FreePageScrubber {
 public:
  struct Report {
    uint64_t free_pages_before = 0;  // free pages found by the first round
    uint64_t pages_written = 0;      // zero-filled pages written over all rounds
    unsigned rounds = 0;
  };

  // Opens the scratch database; call at start-up with the other databases.
  static Result<std::unique_ptr<FreePageScrubber>> open(store::Env& env);

  // Runs the rounds as synced commits through `gc` (which also grows the map when the filler
  // needs it). Blocking: not from the loop thread.
  Result<Report> scrub(store::GroupCommitter& gc);

  // Pages on the free list now (read transaction).
  Result<uint64_t> free_pages();

 private:
  FreePageScrubber(store::Env& env, store::Dbi db) : env_(env), db_(db) {}
  store::Env& env_;
  store::Dbi db_;
};

}  // namespace nj::inner
