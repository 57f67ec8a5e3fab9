#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/store/group_commit.h"
#include "common/store/lmdb.h"
#include "tests/unit/store/temp_dir.h"

using nj::Status;
using nj::store::Dbi;
using nj::store::Env;
using nj::store::GroupCommitter;
using nj::store::Txn;
using nj::store::test::TempDir;

namespace {

struct Loop {
  uv_loop_t loop;
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_NOWAIT);  // let close callbacks run
    uv_loop_close(&loop);
  }
  template <class Pred>
  void run_until(Pred done) {
    while (!done()) uv_run(&loop, UV_RUN_ONCE);
  }
};

Env open_env(const std::string& dir, nj::store::Options o = {}) {
  auto env = Env::open(dir, o);
  BOOST_REQUIRE_MESSAGE(env.ok(), (env.ok() ? std::string() : env.error()));
  return std::move(env).value();
}

bool has_key(Env& env, Dbi db, const std::string& key) {
  auto txn = env.begin_read();
  if (!txn) return false;
  auto v = txn->get(db, key);
  return v.ok() && v->has_value();
}

GroupCommitter::Work put_work(Dbi db, std::string key, std::string value = "v") {
  return [db, key = std::move(key), value = std::move(value)](Txn& txn) {
    return txn.put(db, key, value);
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(concurrent_submissions_share_one_commit) {
  TempDir t;
  Loop l;
  auto env = open_env(t.sub("db"));
  auto db = env.open_dbi("kv");
  BOOST_REQUIRE(db.ok());
  GroupCommitter gc(env, &l.loop);

  // The first item holds the writer until all others are queued, so the rest must share a batch.
  std::promise<void> release, started;
  auto released = release.get_future().share();
  auto started_f = started.get_future();
  const auto loop_thread = std::this_thread::get_id();
  int done_count = 0, ok_count = 0, visible_in_done = 0, on_loop_thread = 0;
  for (int i = 0; i < 100; ++i) {
    std::string key = "k" + std::to_string(i);
    auto work = put_work(*db, key);
    if (i == 0) {
      work = [inner = work, released, &started](Txn& txn) {
        started.set_value();
        released.wait();
        return inner(txn);
      };
    }
    gc.submit(std::move(work), [&, key](Status st) {
      ++done_count;
      if (st.ok()) ++ok_count;
      if (std::this_thread::get_id() == loop_thread) ++on_loop_thread;
      // done runs only after the commit returned: a fresh reader already sees the write.
      if (has_key(env, *db, key)) ++visible_in_done;
    });
    if (i == 0) started_f.wait();  // the writer is now inside batch 1, holding item 0
  }
  BOOST_CHECK_EQUAL(done_count, 0);  // nothing completes synchronously
  release.set_value();
  l.run_until([&] { return done_count == 100; });
  BOOST_CHECK_EQUAL(ok_count, 100);
  BOOST_CHECK_EQUAL(on_loop_thread, 100);
  BOOST_CHECK_EQUAL(visible_in_done, 100);
  auto s = gc.stats();
  BOOST_CHECK_EQUAL(s.items, 100u);
  BOOST_CHECK_EQUAL(s.batches, 2u);  // item 0 alone, then the other 99 in one commit
  gc.shutdown();
}

BOOST_AUTO_TEST_CASE(failing_item_is_rolled_back_alone) {
  TempDir t;
  Loop l;
  auto env = open_env(t.sub("db"));
  auto db = env.open_dbi("kv");
  BOOST_REQUIRE(db.ok());
  GroupCommitter gc(env, &l.loop);
  std::promise<void> release, started;
  auto released = release.get_future().share();
  std::vector<std::string> results(4);
  int done = 0;
  gc.submit(
      [released, &started](Txn&) -> Status {
        started.set_value();
        released.wait();
        return {};
      },
      [&](Status st) {
        results[0] = st.ok() ? "ok" : st.error();
        ++done;
      });
  started.get_future().wait();
  gc.submit(put_work(*db, "a"), [&](Status st) {
    results[1] = st.ok() ? "ok" : st.error();
    ++done;
  });
  gc.submit(
      [d = *db](Txn& txn) -> Status {
        // Writes, then fails: its write must vanish with it.
        if (auto st = txn.put(d, "b", "partial"); !st) return st;
        return nj::make_error("item b refused");
      },
      [&](Status st) {
        results[2] = st.ok() ? "ok" : st.error();
        ++done;
      });
  gc.submit(put_work(*db, "c"), [&](Status st) {
    results[3] = st.ok() ? "ok" : st.error();
    ++done;
  });
  release.set_value();
  l.run_until([&] { return done == 4; });
  BOOST_CHECK_EQUAL(results[0], "ok");
  BOOST_CHECK_EQUAL(results[1], "ok");
  BOOST_CHECK_EQUAL(results[2], "item b refused");
  BOOST_CHECK_EQUAL(results[3], "ok");
  BOOST_CHECK(has_key(env, *db, "a"));
  BOOST_CHECK(!has_key(env, *db, "b"));
  BOOST_CHECK(has_key(env, *db, "c"));
  auto s = gc.stats();
  BOOST_CHECK_EQUAL(s.batches, 2u);
  BOOST_CHECK_EQUAL(s.items, 3u);
  BOOST_CHECK_EQUAL(s.failed_items, 1u);
}

BOOST_AUTO_TEST_CASE(batch_sizes_are_counted_per_bucket) {
  TempDir t;
  Loop l;
  auto env = open_env(t.sub("db"));
  auto db = env.open_dbi("kv");
  BOOST_REQUIRE(db.ok());
  GroupCommitter gc(env, &l.loop, GroupCommitter::Options{10});
  // Item 0 holds the writer alone (a batch of 1) while 26 more queue up; they then commit in
  // batches of 10, 10 and 6, one of which holds an item whose own work fails.
  std::promise<void> release, started;
  auto released = release.get_future().share();
  int done = 0;
  gc.submit(
      [released, &started](Txn&) -> Status {
        started.set_value();
        released.wait();
        return {};
      },
      [&](Status) { ++done; });
  started.get_future().wait();
  for (int i = 0; i < 26; ++i) {
    GroupCommitter::Work w = put_work(*db, "k" + std::to_string(i));
    if (i == 13) w = [](Txn&) -> Status { return nj::make_error("refused"); };
    gc.submit(std::move(w), [&](Status) { ++done; });
  }
  release.set_value();
  l.run_until([&] { return done == 27; });
  auto s = gc.stats();
  BOOST_CHECK_EQUAL(s.batches, 4u);
  BOOST_CHECK_EQUAL(s.items, 26u);
  BOOST_CHECK_EQUAL(s.failed_items, 1u);
  BOOST_CHECK_EQUAL(s.batched_items, 27u);
  // Bounds 1, 2, 4, 8, 16, ...: the batch of 1 in the first bucket, 6 in "<= 8", 10 and 10 in
  // "<= 16", nothing anywhere else.
  std::array<uint64_t, GroupCommitter::kBatchBounds.size() + 1> want{};
  want[0] = 1;
  want[3] = 1;
  want[4] = 2;
  for (size_t i = 0; i < want.size(); ++i) {
    BOOST_TEST_CONTEXT("bucket " << i) { BOOST_CHECK_EQUAL(s.batch_sizes[i], want[i]); }
  }
  uint64_t total = 0;
  for (auto n : s.batch_sizes) total += n;
  BOOST_CHECK_EQUAL(total, s.batches);
  gc.shutdown();
}

BOOST_AUTO_TEST_CASE(commit_now_from_threads_without_a_loop) {
  TempDir t;
  auto env = open_env(t.sub("db"));
  auto db = env.open_dbi("kv");
  BOOST_REQUIRE(db.ok());
  GroupCommitter gc(env, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int th = 0; th < 8; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < 25; ++i) {
        if (gc.commit_now(put_work(*db, "t" + std::to_string(th) + "/" + std::to_string(i))).ok())
          ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_CHECK_EQUAL(ok.load(), 200);
  for (int th = 0; th < 8; ++th) {
    for (int i = 0; i < 25; ++i) {
      BOOST_CHECK(has_key(env, *db, "t" + std::to_string(th) + "/" + std::to_string(i)));
    }
  }
  auto s = gc.stats();
  BOOST_CHECK_EQUAL(s.items, 200u);
  BOOST_CHECK_LE(s.batches, 200u);
  BOOST_CHECK(!gc.commit_now([](Txn&) -> Status { return nj::make_error("nope"); }).ok());
}

BOOST_AUTO_TEST_CASE(map_full_grows_the_map_and_retries) {
  TempDir t;
  nj::store::Options o;
  o.map_size = 256 << 10;
  o.max_map_size = 64 << 20;
  auto env = open_env(t.sub("db"), o);
  auto db = env.open_dbi("kv");
  BOOST_REQUIRE(db.ok());
  GroupCommitter gc(env, nullptr);
  const std::string big(4000, 'x');
  for (int i = 0; i < 400; ++i) {  // ~1.6 MB, several times the initial map
    auto st = gc.commit_now(put_work(*db, "big" + std::to_string(i), big));
    BOOST_REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error()));
  }
  BOOST_CHECK_GT(gc.stats().map_grows, 0u);
  BOOST_CHECK_GT(env.map_size(), size_t{256} << 10);
  BOOST_CHECK(has_key(env, *db, "big0"));
  BOOST_CHECK(has_key(env, *db, "big399"));
}

BOOST_AUTO_TEST_CASE(map_full_at_maximum_is_a_clear_temporary_error) {
  TempDir t;
  nj::store::Options o;
  o.map_size = 256 << 10;
  o.max_map_size = 256 << 10;
  auto env = open_env(t.sub("db"), o);
  auto db = env.open_dbi("kv");
  BOOST_REQUIRE(db.ok());
  GroupCommitter gc(env, nullptr);
  const std::string big(4000, 'x');
  Status last;
  int i = 0;
  for (; i < 400 && last.ok(); ++i)
    last = gc.commit_now(put_work(*db, "big" + std::to_string(i), big));
  BOOST_REQUIRE(!last.ok());
  BOOST_CHECK(last.error().find("temporarily full") != std::string::npos);
  // Earlier commits are intact; the store is usable for deletes.
  BOOST_CHECK(has_key(env, *db, "big0"));
  BOOST_CHECK(gc.commit_now([d = *db](Txn& txn) -> Status {
                  auto r = txn.del(d, "big0");
                  return r ? Status{} : nj::make_error(r.error());
                }).ok());
}

BOOST_AUTO_TEST_CASE(shutdown_drains_pending_work) {
  TempDir t;
  Loop l;
  auto env = open_env(t.sub("db"));
  auto db = env.open_dbi("kv");
  BOOST_REQUIRE(db.ok());
  int ok = 0, done = 0;
  {
    GroupCommitter gc(env, &l.loop);
    for (int i = 0; i < 50; ++i) {
      gc.submit(put_work(*db, "d" + std::to_string(i)), [&](Status st) {
        ++done;
        if (st.ok()) ++ok;
      });
    }
    gc.shutdown();  // without ever running the loop
    BOOST_CHECK_EQUAL(done, 50);
    bool late_ok = true;
    gc.submit(put_work(*db, "late"), [&](Status st) { late_ok = st.ok(); });
    BOOST_CHECK(!late_ok);
  }
  BOOST_CHECK_EQUAL(ok, 50);
  for (int i = 0; i < 50; ++i) BOOST_CHECK(has_key(env, *db, "d" + std::to_string(i)));
  BOOST_CHECK(!has_key(env, *db, "late"));
}

namespace {

// Child side of the crash test: an endless stream of submissions; each `done` writes its key
// to the pipe. Never returns; the parent kills it.
[[noreturn]] void crash_child(const std::string& dir, int out_fd) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto env = Env::open(dir);
  if (!env) _exit(3);
  auto db = env->open_dbi("kv");
  if (!db) _exit(4);
  GroupCommitter gc(*env, &loop);
  struct Feeder {
    GroupCommitter* gc;
    Dbi db;
    int fd;
    uint64_t next = 0;
    void one() {
      std::string key = "crash/" + std::to_string(next++);
      gc->submit(put_work(db, key, std::string(512, 'm')), [this, key](Status st) {
        if (!st.ok()) _exit(5);
        std::string line = key + "\n";
        if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(6);
        one();
      });
    }
  } feeder{&gc, *db, out_fd};
  for (int i = 0; i < 16; ++i) feeder.one();
  for (;;) uv_run(&loop, UV_RUN_DEFAULT);
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_key_reported_done_survives_sigkill) {
  TempDir t;
  const std::string dir = t.sub("db");
  int fds[2];
  BOOST_REQUIRE_EQUAL(::pipe(fds), 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    crash_child(dir, fds[1]);
  }
  ::close(fds[1]);
  std::string buf;
  size_t lines = 0;
  bool killed = false;
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    lines = static_cast<size_t>(std::count(buf.begin(), buf.end(), '\n'));
    if (!killed && lines >= 300) {
      ::kill(pid, SIGKILL);  // mid-stream: more work is queued and being committed
      killed = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  BOOST_REQUIRE_EQUAL(::waitpid(pid, &status, 0), pid);
  BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                        "child ended otherwise: status " << status);
  BOOST_REQUIRE_GE(lines, 300u);

  auto env = open_env(dir);
  auto db = env.open_dbi("kv", false);
  BOOST_REQUIRE(db.ok());
  size_t found = 0, checked = 0;
  size_t start = 0;
  while (start < buf.size()) {
    size_t nl = buf.find('\n', start);
    if (nl == std::string::npos) break;  // a partial line cannot happen (atomic pipe writes)
    std::string key = buf.substr(start, nl - start);
    ++checked;
    if (has_key(env, *db, key)) {
      ++found;
    } else {
      BOOST_ERROR("reported done but missing after SIGKILL: " << key);
    }
    start = nl + 1;
  }
  BOOST_CHECK_EQUAL(found, checked);
  BOOST_TEST_MESSAGE("crash test: " << checked << " keys reported and found");
}
