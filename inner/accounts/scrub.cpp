#include "inner/accounts/scrub.h"

#include <lmdb.h>

#include <string>

namespace nj::inner {
namespace {

constexpr MDB_dbi kFreeDbi = 0;       // LMDB's own free-page database
constexpr size_t kPageHeader = 16;    // PAGEHDRSZ on 64-bit builds: a value of psize - 16 bytes
                                      // fills exactly one overflow page
constexpr uint64_t kSlackPages = 16;  // branch/leaf pages the filler itself copies on write
constexpr unsigned kRounds = 2;

}  // namespace

Result<std::unique_ptr<FreePageScrubber>> FreePageScrubber::open(store::Env& env) {
  auto db = env.open_dbi("scrub");
  if (!db) return make_error(db.error());
  return std::unique_ptr<FreePageScrubber>(new FreePageScrubber(env, *db));
}

Result<uint64_t> FreePageScrubber::free_pages() {
  // LMDB refuses cursors on the free database in write transactions, so this reads.
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  MDB_cursor* c = nullptr;
  if (int rc = mdb_cursor_open(txn->raw(), kFreeDbi, &c); rc != 0) {
    return make_error(std::string("scrub: free list: ") + mdb_strerror(rc));
  }
  uint64_t pages = 0;
  MDB_val k, v;
  int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
  while (rc == 0) {
    // Each record is an ID list: a count followed by that many page numbers.
    if (v.mv_size >= sizeof(size_t)) pages += v.mv_size / sizeof(size_t) - 1;
    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(c);
  if (rc != MDB_NOTFOUND) return make_error(std::string("scrub: free list: ") + mdb_strerror(rc));
  return pages;
}

Result<FreePageScrubber::Report> FreePageScrubber::scrub(store::GroupCommitter& gc) {
  MDB_stat st{};
  if (int rc = mdb_env_stat(env_.raw(), &st); rc != 0) {
    return make_error(std::string("scrub: ") + mdb_strerror(rc));
  }
  const std::string filler(st.ms_psize - kPageHeader, '\0');
  Report report;
  for (unsigned round = 0; round < kRounds; ++round) {
    auto free_now = free_pages();
    if (!free_now) return make_error(free_now.error());
    if (round == 0) report.free_pages_before = *free_now;
    const uint64_t n = *free_now + kSlackPages;
    auto db = db_;
    // One-page values are allocated from the free list before the file is extended, so writing
    // at least as many as there are free pages rewrites all of them.
    auto fill = gc.commit_now([db, n, &filler](store::Txn& txn) -> Status {
      for (uint64_t i = 0; i < n; ++i) {
        if (auto s = txn.put(db, store::be64(i), filler); !s) return s;
      }
      return {};
    });
    if (!fill) return make_error("scrub: fill: " + fill.error());
    auto drop = gc.commit_now([db](store::Txn& txn) -> Status {
      if (int rc = mdb_drop(txn.raw(), db.id, 0); rc != 0) {
        return make_error(std::string("scrub: drop: ") + mdb_strerror(rc));
      }
      return {};
    });
    if (!drop) return make_error(drop.error());
    report.pages_written += n;
    report.rounds++;
  }
  return report;
}

}  // namespace nj::inner
