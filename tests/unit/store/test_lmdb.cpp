#define BOOST_TEST_MODULE store
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "common/store/lmdb.h"
#include "tests/unit/store/temp_dir.h"

using nj::Status;
using nj::store::Dbi;
using nj::store::Env;
using nj::store::Txn;
using nj::store::test::TempDir;

namespace {

Env open_env(const std::string& dir, nj::store::Options o = {}) {
  auto env = Env::open(dir, o);
  BOOST_REQUIRE_MESSAGE(env.ok(), (env.ok() ? std::string() : env.error()));
  return std::move(env).value();
}

std::string get_str(Env& env, Dbi db, std::string_view key) {
  auto txn = env.begin_read();
  BOOST_REQUIRE(txn.ok());
  auto v = txn->get(db, key);
  BOOST_REQUIRE(v.ok());
  return v->has_value() ? std::string(**v) : std::string("<absent>");
}

}  // namespace

BOOST_AUTO_TEST_CASE(open_creates_private_directory) {
  TempDir t;
  auto env = open_env(t.sub("db"));
  struct stat st;
  BOOST_REQUIRE_EQUAL(::stat(t.sub("db").c_str(), &st), 0);
  BOOST_CHECK(S_ISDIR(st.st_mode));
  BOOST_CHECK_EQUAL(st.st_mode & 0777, 0700u);
  BOOST_CHECK_EQUAL(::stat(t.sub("db/data.mdb").c_str(), &st), 0);
}

BOOST_AUTO_TEST_CASE(open_on_a_file_fails_cleanly) {
  TempDir t;
  FILE* f = std::fopen(t.sub("plain").c_str(), "w");
  BOOST_REQUIRE(f);
  std::fclose(f);
  auto env = Env::open(t.sub("plain"));
  BOOST_REQUIRE(!env.ok());
  BOOST_CHECK(env.error().find("not a directory") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(transaction_aborts_unless_committed) {
  TempDir t;
  auto env = open_env(t.path() + "/db");
  auto db = env.open_dbi("kv");
  BOOST_REQUIRE(db.ok());
  {
    auto txn = env.begin_write();
    BOOST_REQUIRE(txn.ok());
    BOOST_REQUIRE(txn->put(*db, "dropped", "1").ok());
    // goes out of scope without commit
  }
  BOOST_CHECK_EQUAL(get_str(env, *db, "dropped"), "<absent>");
  {
    auto txn = env.begin_write();
    BOOST_REQUIRE(txn.ok());
    BOOST_REQUIRE(txn->put(*db, "kept", "2").ok());
    Txn moved = std::move(*txn);  // moving must not abort or double-abort
    BOOST_CHECK(!txn->live());
    BOOST_REQUIRE(moved.commit().ok());
    BOOST_CHECK(!moved.commit().ok());  // no second commit
  }
  BOOST_CHECK_EQUAL(get_str(env, *db, "kept"), "2");
}

BOOST_AUTO_TEST_CASE(get_put_insert_del) {
  TempDir t;
  auto env = open_env(t.sub("db"));
  auto db = env.open_dbi("kv");
  BOOST_REQUIRE(db.ok());
  auto txn = env.begin_write();
  BOOST_REQUIRE(txn.ok());
  BOOST_REQUIRE(txn->put(*db, "a", std::string("x\0y", 3)).ok());
  auto ins = txn->insert(*db, "a", "other");
  BOOST_REQUIRE(ins.ok());
  BOOST_CHECK(!*ins);
  auto got = txn->get(*db, "a");
  BOOST_REQUIRE(got.ok() && got->has_value());
  BOOST_CHECK_EQUAL(std::string(**got), std::string("x\0y", 3));
  auto del = txn->del(*db, "a");
  BOOST_REQUIRE(del.ok());
  BOOST_CHECK(*del);
  del = txn->del(*db, "a");
  BOOST_REQUIRE(del.ok());
  BOOST_CHECK(!*del);
  BOOST_REQUIRE(txn->commit().ok());
  // A read transaction refuses writes.
  auto rd = env.begin_read();
  BOOST_REQUIRE(rd.ok());
  BOOST_CHECK(!rd->put(*db, "b", "1").ok());
}

BOOST_AUTO_TEST_CASE(child_transaction_rolls_back_alone) {
  TempDir t;
  auto env = open_env(t.sub("db"));
  auto db = env.open_dbi("kv");
  BOOST_REQUIRE(db.ok());
  auto parent = env.begin_write();
  BOOST_REQUIRE(parent.ok());
  {
    auto c = parent->child();
    BOOST_REQUIRE(c.ok());
    BOOST_REQUIRE(c->put(*db, "one", "1").ok());
    BOOST_REQUIRE(c->commit().ok());
  }
  {
    auto c = parent->child();
    BOOST_REQUIRE(c.ok());
    BOOST_REQUIRE(c->put(*db, "two", "2").ok());
  }
  BOOST_REQUIRE(parent->commit().ok());
  BOOST_CHECK_EQUAL(get_str(env, *db, "one"), "1");
  BOOST_CHECK_EQUAL(get_str(env, *db, "two"), "<absent>");
}

BOOST_AUTO_TEST_CASE(prefix_and_range_scans_in_numeric_order) {
  TempDir t;
  auto env = open_env(t.sub("db"));
  auto db = env.open_dbi("queue");
  BOOST_REQUIRE(db.ok());
  {
    auto txn = env.begin_write();
    BOOST_REQUIRE(txn.ok());
    // Inserted out of order, and with values whose decimal order differs from numeric order.
    for (uint64_t due : {300u, 5u, 70000u, 256u, 1u}) {
      std::string k = "deferred/";
      nj::store::append_be64(k, due);
      BOOST_REQUIRE(txn->put(*db, k + "/id", std::to_string(due)).ok());
    }
    BOOST_REQUIRE(txn->put(*db, "deferrec", "not in prefix").ok());
    BOOST_REQUIRE(txn->put(*db, "active/x", "not in prefix").ok());
    BOOST_REQUIRE(txn->commit().ok());
  }
  auto txn = env.begin_read();
  BOOST_REQUIRE(txn.ok());
  std::vector<std::string> seen;
  auto st = nj::store::scan_prefix(*txn, *db, "deferred/", [&](auto k, auto v) {
    auto due = nj::store::read_be64(k, 9);
    BOOST_REQUIRE(due.has_value());
    BOOST_CHECK_EQUAL(std::to_string(*due), std::string(v));
    seen.emplace_back(v);
    return true;
  });
  BOOST_REQUIRE(st.ok());
  BOOST_CHECK_EQUAL(seen.size(), 5u);
  BOOST_CHECK((seen == std::vector<std::string>{"1", "5", "256", "300", "70000"}));

  // Range: everything due before 300 (exclusive).
  seen.clear();
  st = nj::store::scan_range(*txn, *db, "deferred/" + nj::store::be64(0),
                             "deferred/" + nj::store::be64(300), [&](auto, auto v) {
                               seen.emplace_back(v);
                               return true;
                             });
  BOOST_REQUIRE(st.ok());
  BOOST_CHECK((seen == std::vector<std::string>{"1", "5", "256"}));

  // Stopping early.
  seen.clear();
  st = nj::store::scan_prefix(*txn, *db, "deferred/", [&](auto, auto v) {
    seen.emplace_back(v);
    return seen.size() < 2;
  });
  BOOST_REQUIRE(st.ok());
  BOOST_CHECK_EQUAL(seen.size(), 2u);

  // A prefix that matches nothing, past the last key.
  seen.clear();
  st = nj::store::scan_prefix(*txn, *db, "zzz", [&](auto, auto v) {
    seen.emplace_back(v);
    return true;
  });
  BOOST_REQUIRE(st.ok());
  BOOST_CHECK(seen.empty());
}

BOOST_AUTO_TEST_CASE(cursor_delete_while_iterating) {
  TempDir t;
  auto env = open_env(t.sub("db"));
  auto db = env.open_dbi("kv");
  BOOST_REQUIRE(db.ok());
  auto txn = env.begin_write();
  BOOST_REQUIRE(txn.ok());
  for (int i = 0; i < 6; ++i) BOOST_REQUIRE(txn->put(*db, nj::store::be64(i), "v").ok());
  auto c = nj::store::Cursor::open(*txn, *db);
  BOOST_REQUIRE(c.ok());
  // Delete the even keys.
  int visited = 0;
  for (auto r = c->first(); r.ok() && *r; r = c->next()) {
    ++visited;
    if (*nj::store::read_be64(c->key()) % 2 == 0) BOOST_REQUIRE(c->del().ok());
  }
  BOOST_CHECK_GE(visited, 3);
  std::vector<uint64_t> left;
  BOOST_REQUIRE(nj::store::scan_prefix(*txn, *db, "", [&](auto k, auto) {
                  left.push_back(*nj::store::read_be64(k));
                  return true;
                }).ok());
  BOOST_CHECK((left == std::vector<uint64_t>{1, 3, 5}));
}

BOOST_AUTO_TEST_CASE(be64_helpers) {
  BOOST_CHECK_EQUAL(nj::store::be64(0x0102030405060708ull), "\x01\x02\x03\x04\x05\x06\x07\x08");
  BOOST_CHECK(nj::store::be64(255) < nj::store::be64(256));
  BOOST_CHECK_EQUAL(*nj::store::read_be64(nj::store::be64(~0ull)), ~0ull);
  BOOST_CHECK(!nj::store::read_be64("short").has_value());
  BOOST_CHECK(!nj::store::read_be64(nj::store::be64(1), 1).has_value());
  BOOST_CHECK(!nj::store::read_be64(nj::store::be64(1), 100).has_value());
}

BOOST_AUTO_TEST_CASE(reopen_after_close_keeps_data) {
  TempDir t;
  {
    auto env = open_env(t.sub("db"));
    auto db = env.open_dbi("kv");
    BOOST_REQUIRE(db.ok());
    auto txn = env.begin_write();
    BOOST_REQUIRE(txn.ok());
    BOOST_REQUIRE(txn->put(*db, "k", "persisted").ok());
    BOOST_REQUIRE(txn->commit().ok());
  }
  auto env = open_env(t.sub("db"));
  auto db = env.open_dbi("kv", false);
  BOOST_REQUIRE(db.ok());
  BOOST_CHECK_EQUAL(get_str(env, *db, "k"), "persisted");
  BOOST_CHECK(!env.open_dbi("never-created", false).ok());
}

BOOST_AUTO_TEST_CASE(schema_written_on_fresh_store_and_newer_refused) {
  TempDir t;
  {
    auto env = open_env(t.sub("db"));
    BOOST_REQUIRE(env.ensure_schema("queue", 3).ok());
    auto v = env.schema_version("queue");
    BOOST_REQUIRE(v.ok());
    BOOST_CHECK_EQUAL(v->value(), 3u);
    BOOST_CHECK(env.ensure_schema("queue", 3).ok());  // same version: nothing to do
  }
  auto env = open_env(t.sub("db"));
  auto st = env.ensure_schema("queue", 2);
  BOOST_REQUIRE(!st.ok());
  BOOST_CHECK(st.error().find("newer") != std::string::npos);
  BOOST_CHECK(st.error().find("version 3") != std::string::npos);
  // Other schema names are independent.
  BOOST_CHECK(env.ensure_schema("greylist", 1).ok());
}

BOOST_AUTO_TEST_CASE(migrations_run_in_order_inside_one_transaction) {
  TempDir t;
  auto env = open_env(t.sub("db"));
  BOOST_REQUIRE(env.ensure_schema("mail", 1).ok());
  std::vector<int> order;
  nj::store::Migrations m;
  m[1] = [&](Txn& txn) -> Status {
    order.push_back(1);
    auto db = txn.open_dbi("v2-table");
    if (!db) return nj::make_error(db.error());
    return txn.put(*db, "made-by", "1->2");
  };
  m[2] = [&](Txn&) -> Status {
    order.push_back(2);
    return {};
  };
  BOOST_REQUIRE(env.ensure_schema("mail", 3, m).ok());
  BOOST_CHECK((order == std::vector<int>{1, 2}));
  BOOST_CHECK_EQUAL(env.schema_version("mail")->value(), 3u);
  auto db = env.open_dbi("v2-table", false);
  BOOST_REQUIRE(db.ok());
  BOOST_CHECK_EQUAL(get_str(env, *db, "made-by"), "1->2");
}

BOOST_AUTO_TEST_CASE(failing_migration_leaves_store_unchanged) {
  TempDir t;
  auto env = open_env(t.sub("db"));
  BOOST_REQUIRE(env.ensure_schema("mail", 1).ok());
  nj::store::Migrations m;
  m[1] = [](Txn& txn) -> Status {
    auto db = txn.open_dbi("half-done");
    if (!db) return nj::make_error(db.error());
    return txn.put(*db, "x", "y");
  };
  m[2] = [](Txn&) -> Status { return nj::make_error("cannot convert record 7"); };
  auto st = env.ensure_schema("mail", 3, m);
  BOOST_REQUIRE(!st.ok());
  BOOST_CHECK(st.error().find("2 -> 3") != std::string::npos);
  BOOST_CHECK(st.error().find("record 7") != std::string::npos);
  BOOST_CHECK_EQUAL(env.schema_version("mail")->value(), 1u);
  BOOST_CHECK(!env.open_dbi("half-done", false).ok());

  // A missing step is an error too, not a silent version bump.
  nj::store::Migrations gap;
  gap[1] = [](Txn&) -> Status { return {}; };
  st = env.ensure_schema("mail", 3, gap);
  BOOST_REQUIRE(!st.ok());
  BOOST_CHECK(st.error().find("no migration from version 2") != std::string::npos);
  BOOST_CHECK_EQUAL(env.schema_version("mail")->value(), 1u);
}

BOOST_AUTO_TEST_CASE(grow_map_waits_for_open_readers) {
  TempDir t;
  nj::store::Options o;
  o.map_size = 1 << 20;
  auto env = open_env(t.sub("db"), o);
  {
    auto rd = env.begin_read();
    BOOST_REQUIRE(rd.ok());
    auto st = env.grow_map(2 << 20, 50);
    BOOST_REQUIRE(!st.ok());
    BOOST_CHECK(st.error().find("temporarily") != std::string::npos);
  }
  BOOST_REQUIRE(env.grow_map(2 << 20, 50).ok());
  BOOST_CHECK_EQUAL(env.map_size(), size_t{2} << 20);
}
