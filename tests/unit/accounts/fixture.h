// Shared set-up for the accounts and mailbox tests: a scratch store, a group committer, a
// manual clock, and Accounts with Argon2id at its minimum cost (the real limits are exercised by
// common/crypto's tests; here only the logic matters).
#pragma once

#include <uv.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "common/base/clock.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"
#include "inner/accounts/accounts.h"
#include "tests/unit/store/temp_dir.h"

namespace nj::inner::test {

inline constexpr const char* kDomain = "users.nightjar.test";

struct UvLoop {
  uv_loop_t loop;
  UvLoop() { uv_loop_init(&loop); }
  ~UvLoop() {
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
  }
  template <class Pred>
  void run_until(Pred done) {
    while (!done()) uv_run(&loop, UV_RUN_ONCE);
  }
};

struct StoreFixture {
  store::test::TempDir dir;
  ManualClock clock;
  UvLoop uv;
  std::unique_ptr<store::Env> env;
  std::unique_ptr<store::GroupCommitter> gc;
  std::unique_ptr<Accounts> accounts;

  StoreFixture() { open(); }
  ~StoreFixture() { close(); }

  std::string store_dir() const { return dir.sub("store"); }

  void open() {
    auto e = store::Env::open(store_dir());
    BOOST_REQUIRE_MESSAGE(e.ok(), (e.ok() ? "" : e.error()));
    env = std::make_unique<store::Env>(std::move(*e));
    Accounts::Options o;
    o.internal_domain = kDomain;
    o.limits = crypto::PwhashLimits::minimum();
    auto a = Accounts::open(*env, o, clock);
    BOOST_REQUIRE_MESSAGE(a.ok(), (a.ok() ? "" : a.error()));
    accounts = std::move(*a);
    gc = std::make_unique<store::GroupCommitter>(*env, &uv.loop);
  }
  void close() {
    if (gc) gc->shutdown();
    uv_run(&uv.loop, UV_RUN_NOWAIT);
    gc.reset();
    accounts.reset();
    env.reset();
  }

  // The raw bytes of the store's data file, for at-rest checks.
  std::string file_bytes() const {
    std::ifstream in(store_dir() + "/data.mdb", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  bool file_contains(std::string_view needle) const {
    return file_bytes().find(needle) != std::string::npos;
  }
};

}  // namespace nj::inner::test
