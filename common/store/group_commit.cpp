#include "common/store/group_commit.h"

#include <cstdlib>
#include <future>

#include "common/base/log.h"

namespace nj::store {

struct GroupCommitter::AsyncBox {
  uv_async_t handle;
  GroupCommitter* owner;
};

GroupCommitter::GroupCommitter(Env& env, uv_loop_t* loop, Options options)
    : env_(env), loop_(loop), options_(options) {
  if (options_.max_batch == 0) options_.max_batch = 1;
  if (loop_) {
    async_ = new AsyncBox{};
    async_->owner = this;
    async_->handle.data = async_;
    int rc = uv_async_init(loop_, &async_->handle, [](uv_async_t* h) {
      auto* box = static_cast<AsyncBox*>(h->data);
      if (box->owner) box->owner->run_completions();
    });
    if (rc != 0) {
      NJ_LOG_ERROR("store: uv_async_init failed: %s", uv_strerror(rc));
      std::abort();
    }
  }
  writer_ = std::thread([this] { writer_main(); });
}

GroupCommitter::~GroupCommitter() {
  shutdown();
}

void GroupCommitter::submit(Work work, Done done) {
  if (!loop_) {
    NJ_LOG_ERROR("store: GroupCommitter::submit without a loop");
    std::abort();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      pending_.push_back(Item{std::move(work), std::move(done), nullptr, {}});
      cv_.notify_one();
      return;
    }
  }
  done(make_error("store: shutting down"));
}

Status GroupCommitter::commit_now(Work work) {
  std::promise<Status> promise;
  auto fut = promise.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return make_error("store: shutting down");
    pending_.push_back(Item{
        std::move(work), nullptr, [&promise](Status st) { promise.set_value(std::move(st)); }, {}});
    cv_.notify_one();
  }
  return fut.get();
}

void GroupCommitter::writer_main() {
  for (;;) {
    std::vector<Item> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping and drained
      while (!pending_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    run_batch(batch);
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& it : batch) {
        if (it.notify) {
          it.notify(std::move(it.status));
        } else {
          completed_.push_back(std::move(it));
          wake = true;
        }
      }
    }
    if (wake && async_) uv_async_send(&async_->handle);
  }
}

void GroupCommitter::run_batch(std::vector<Item>& batch) {
  for (;;) {
    bool map_full = false;
    Status batch_error;
    {
      auto parent = env_.begin_write();
      if (!parent) {
        batch_error = make_error(parent.error());
      } else {
        for (auto& it : batch) {
          auto child = parent->child();
          if (!child) {
            if (parent->hit_map_full()) map_full = true;
            it.status = make_error(child.error());
            if (map_full) break;
            continue;
          }
          it.status = it.work(*child);
          if (child->hit_map_full()) {
            map_full = true;
            break;
          }
          if (it.status) {
            it.status = child->commit();
            if (child->hit_map_full()) {
              map_full = true;
              break;
            }
          }
          // A failed item's child aborts here, undoing only its own writes.
        }
        if (!map_full) {
          auto st = parent->commit();
          if (parent->hit_map_full()) {
            map_full = true;
          } else if (!st) {
            batch_error = st;
          }
        }
      }
    }  // parent aborted here if not committed; no transaction of the writer is open below
    if (map_full) {
      size_t size = env_.map_size();
      size_t max = env_.options().max_map_size;
      Status grown = make_error("store: temporarily full: map is at its maximum size");
      if (size < max) {
        size_t next = size > max / 2 ? max : size * 2;
        grown = env_.grow_map(next);
        if (grown) {
          ++grows_;
          NJ_LOG_INFO("store: map grown to %zu KiB", next >> 10);
          continue;  // re-run the whole batch in a fresh parent
        }
      }
      NJ_LOG_WARN("%s", grown.error().c_str());
      batch_error = grown;
    }
    if (!batch_error) {
      for (auto& it : batch) it.status = batch_error;
      failed_ += batch.size();
      return;
    }
    ++batches_;
    batched_items_ += batch.size();
    size_t bucket = 0;
    while (bucket < kBatchBounds.size() && batch.size() > kBatchBounds[bucket]) ++bucket;
    ++batch_sizes_[bucket];
    for (auto& it : batch) {
      if (it.status) {
        ++items_;
      } else {
        ++failed_;
      }
    }
    return;
  }
}

void GroupCommitter::run_completions() {
  std::vector<Item> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ready.swap(completed_);
  }
  for (auto& it : ready) it.done(std::move(it.status));
}

void GroupCommitter::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  if (async_) {
    // The writer is gone, so the completions it left are final; run them here on the loop thread.
    run_completions();
    async_->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&async_->handle),
             [](uv_handle_t* h) { delete static_cast<AsyncBox*>(h->data); });
    async_ = nullptr;
  }
}

GroupCommitter::Stats GroupCommitter::stats() const {
  Stats s;
  s.batches = batches_.load();
  s.items = items_.load();
  s.failed_items = failed_.load();
  s.map_grows = grows_.load();
  for (size_t i = 0; i < batch_sizes_.size(); ++i) s.batch_sizes[i] = batch_sizes_[i].load();
  s.batched_items = batched_items_.load();
  return s;
}

}  // namespace nj::store
