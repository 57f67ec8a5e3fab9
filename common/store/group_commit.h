// GroupCommitter: the durability engine. Work submitted from the libuv loop thread is run on one
// dedicated writer thread, each item inside its own child transaction of one parent write
// transaction (a failing item is rolled back alone); the parent is committed once per batch (one
// sync for all of it), and only then are the completions handed back to the loop, where each
// `done` runs with its own status. A `done` that says ok means: the item's writes are on disk.
// Trust: work items are our own code; they must touch only the transaction they are given,
// because an item may run more than once (a batch is re-run after the map is grown).
#pragma once

#include <uv.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/base/result.h"
#include "common/store/lmdb.h"

namespace nj::store {

class GroupCommitter {
 public:
  using Work = std::function<Status(Txn&)>;
  using Done = std::function<void(Status)>;

  struct Options {
    size_t max_batch = 1024;  // items per parent transaction
  };

  // Upper bounds of the batch-size buckets (items per committed batch), for Stats::batch_sizes.
  static constexpr std::array<uint64_t, 11> kBatchBounds = {1,  2,  4,   8,   16,  32,
                                                            64, 128, 256, 512, 1024};

  struct Stats {
    uint64_t batches = 0;       // parent commits that succeeded (one sync each)
    uint64_t items = 0;         // items committed
    uint64_t failed_items = 0;  // items whose work (or whose batch's commit) failed
    uint64_t map_grows = 0;
    // How many items each successful parent commit held (its own failed items included: they
    // shared the sync), as per-bucket counts: entry i counts batches of more than
    // kBatchBounds[i-1] and at most kBatchBounds[i] items; the last entry, batches above every
    // bound. Not cumulative; the entries add up to `batches`.
    std::array<uint64_t, kBatchBounds.size() + 1> batch_sizes{};
    uint64_t batched_items = 0;  // the sum of those sizes
  };

  // `loop` may be null for tools that only use commit_now(). The env must outlive this object
  // and must not be moved while it exists. Destroy it (or call shutdown()) on the loop thread
  // before the loop is closed; the async handle is freed by the loop's next iteration.
  GroupCommitter(Env& env, uv_loop_t* loop, Options options);
  GroupCommitter(Env& env, uv_loop_t* loop) : GroupCommitter(env, loop, Options{}) {}
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;
  ~GroupCommitter();  // shutdown()

  // Loop thread only. `done` runs later on the loop thread, after the batch holding the work
  // committed (or with the error that kept it from committing). After shutdown() `done` runs at
  // once with an error.
  void submit(Work work, Done done);

  // Blocking: runs `work` in the next batch and returns once it is committed. Any thread but the
  // writer (never from inside a work item: it would wait for itself); from the loop thread it
  // blocks the loop, so daemons use submit().
  Status commit_now(Work work);

  // Stops taking work, lets the writer finish and commit everything already queued, joins it,
  // then (on the loop thread) runs the completions still waiting and closes the async handle.
  void shutdown();

  Stats stats() const;

 private:
  struct Item {
    Work work;
    Done done;                           // for submit()
    std::function<void(Status)> notify;  // for commit_now(), called on the writer thread
    Status status;
  };
  struct AsyncBox;  // the uv_async_t, freed in its close callback

  void writer_main();
  void run_batch(std::vector<Item>& batch);
  void run_completions();

  Env& env_;
  uv_loop_t* loop_;
  Options options_;
  AsyncBox* async_ = nullptr;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> pending_;
  std::vector<Item> completed_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread writer_;

  std::atomic<uint64_t> batches_{0}, items_{0}, failed_{0}, grows_{0}, batched_items_{0};
  std::array<std::atomic<uint64_t>, kBatchBounds.size() + 1> batch_sizes_{};
};

}  // namespace nj::store
