#define BOOST_TEST_MODULE edge_queue
// InboundQueue: the record format (be64 queued_at, sealed envelope), the migration of version 1
// records, and the read-only opening the operator's tool uses. Real LMDB and GroupCommitter.
#include <boost/test/unit_test.hpp>
#include <memory>
#include <optional>
#include <string>

#include "common/crypto/crypto.h"
#include "common/queue/envelope.h"
#include "common/store/group_commit.h"
#include "common/uv/loop.h"
#include "edge/queue/inbound_queue.h"
#include "tests/unit/store/temp_dir.h"

using namespace nj;
using nj::edge::InboundQueue;

namespace {

constexpr int64_t kReceived = 1'700'000'000;

queue::Envelope envelope(const std::string& id, size_t body = 100) {
  queue::Envelope e;
  e.id = id;
  e.received_at = kReceived;
  e.mail_from = "bob@sender.test";
  e.recipients = {"alice@example.i2p"};
  e.message = "Subject: t\r\n\r\n" + std::string(body, 'x') + "\r\n";
  return e;
}

crypto::KeyPair fresh_pair() {
  crypto::init();
  return crypto::KeyPair::generate();
}

struct Fixture {
  store::test::TempDir dir;
  uv::Loop loop;
  crypto::KeyPair inner = fresh_pair();
  std::optional<store::Env> env;
  std::unique_ptr<store::GroupCommitter> gc;

  explicit Fixture(store::Options o = {}) {
    auto e = store::Env::open(dir.sub("queue"), o);
    BOOST_REQUIRE(e.ok());
    env.emplace(std::move(*e));
    gc = std::make_unique<store::GroupCommitter>(*env, loop.raw());
  }
  ~Fixture() {
    gc->shutdown();
    loop.run_nowait();
  }
  template <class P>
  void run_until(P pred) {
    for (int i = 0; i < 100000 && !pred(); ++i) loop.run_once();
    BOOST_REQUIRE(pred());
  }
  Status enqueue(InboundQueue& q, queue::Envelope e) {
    std::optional<Status> r;
    q.enqueue(*gc, std::move(e), [&](Status s) { r = std::move(s); });
    run_until([&] { return r.has_value(); });
    return *r;
  }
  // A store as version 1 of the program left it: in/<id> -> sealed blob, nothing else.
  void write_version_1(const std::vector<queue::Envelope>& es) {
    BOOST_REQUIRE(env->ensure_schema(InboundQueue::kSchemaName, 1).ok());
    auto txn = env->begin_write();
    BOOST_REQUIRE(txn.ok());
    auto db = txn->open_dbi(InboundQueue::kDbName, true);
    BOOST_REQUIRE(db.ok());
    for (const auto& e : es)
      BOOST_REQUIRE(txn->put(*db, "in/" + e.id, crypto::seal(inner.pub, queue::encode(e))).ok());
    BOOST_REQUIRE(txn->commit().ok());
  }
  std::string raw(const std::string& id) {
    auto db = env->open_dbi(InboundQueue::kDbName, false);
    BOOST_REQUIRE(db.ok());
    auto txn = env->begin_read();
    BOOST_REQUIRE(txn.ok());
    auto v = txn->get(*db, "in/" + id);
    BOOST_REQUIRE(v.ok() && v->has_value());
    return std::string(**v);
  }
  queue::Envelope open(InboundQueue& q, const std::string& id) {
    auto sealed = q.sealed(id);
    BOOST_REQUIRE_MESSAGE(sealed.ok(), (sealed.ok() ? std::string() : sealed.error()));
    auto plain = crypto::open_sealed(inner, *sealed);
    BOOST_REQUIRE(plain.ok());
    auto e = queue::decode(*plain);
    BOOST_REQUIRE(e.ok());
    return *e;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(records_carry_the_queued_time_before_the_sealed_envelope, Fixture) {
  auto q = InboundQueue::open(*env, inner.pub, kReceived + 99);
  BOOST_REQUIRE(q.ok());
  BOOST_REQUIRE(enqueue(**q, envelope("m1")).ok());
  auto e2 = envelope("m2");
  e2.received_at = kReceived + 5;
  BOOST_REQUIRE(enqueue(**q, e2).ok());

  auto items = (*q)->items();
  BOOST_REQUIRE(items.ok());
  BOOST_REQUIRE_EQUAL(items->size(), 2u);
  BOOST_CHECK_EQUAL((*items)[0].id, "m1");
  BOOST_CHECK_EQUAL((*items)[0].queued_at, kReceived);  // the end of DATA, not the open time
  BOOST_CHECK_EQUAL((*items)[1].id, "m2");
  BOOST_CHECK_EQUAL((*items)[1].queued_at, kReceived + 5);
  BOOST_CHECK_EQUAL(*(*q)->count(), 2u);
  BOOST_CHECK((*(*q)->list() == std::vector<std::string>{"m1", "m2"}));

  const std::string r = raw("m1");
  BOOST_CHECK_EQUAL(*store::read_be64(r, 0), static_cast<uint64_t>(kReceived));
  // sealed() is the record without its time: what the inner opens.
  BOOST_CHECK_EQUAL(*(*q)->sealed("m1"), r.substr(8));
  auto e = open(**q, "m1");
  BOOST_CHECK_EQUAL(e.id, "m1");
  BOOST_CHECK_EQUAL(e.mail_from, "bob@sender.test");
  BOOST_CHECK(r.find("bob@sender.test") == std::string::npos);  // sealed at rest

  bool removed = false;
  (*q)->remove(*gc, "m1", [&](Status s) { removed = s.ok(); });
  run_until([&] { return removed; });
  BOOST_CHECK_EQUAL(*(*q)->count(), 1u);
  BOOST_CHECK(!(*q)->sealed("m1").ok());
}

BOOST_FIXTURE_TEST_CASE(version_1_records_get_the_migration_time, Fixture) {
  write_version_1({envelope("old1"), envelope("old2")});
  const std::string before = raw("old1");
  const int64_t migrated = kReceived + 3600;
  auto q = InboundQueue::open(*env, inner.pub, migrated);
  BOOST_REQUIRE_MESSAGE(q.ok(), (q.ok() ? std::string() : q.error()));
  BOOST_CHECK_EQUAL(**env->schema_version(InboundQueue::kSchemaName), 2u);
  auto items = (*q)->items();
  BOOST_REQUIRE(items.ok());
  BOOST_REQUIRE_EQUAL(items->size(), 2u);
  for (const auto& it : *items) BOOST_CHECK_EQUAL(it.queued_at, migrated);
  BOOST_CHECK_EQUAL(raw("old1"), store::be64(static_cast<uint64_t>(migrated)) + before);
  BOOST_CHECK_EQUAL(open(**q, "old2").id, "old2");  // the sealed blob is untouched

  // Migrated once: opening again later changes nothing.
  q->reset();
  auto again = InboundQueue::open(*env, inner.pub, migrated + 86400);
  BOOST_REQUIRE(again.ok());
  BOOST_CHECK_EQUAL((*again)->items()->front().queued_at, migrated);
}

BOOST_AUTO_TEST_CASE(migration_grows_a_map_too_small_for_old_and_new_records) {
  // Three 200 KiB messages fill most of a 1 MiB map; rewriting them needs room for both copies
  // until the commit.
  store::Options small;
  small.map_size = size_t{1} << 20;
  small.max_map_size = size_t{16} << 20;
  Fixture f(small);
  f.write_version_1(
      {envelope("b1", 200 << 10), envelope("b2", 200 << 10), envelope("b3", 200 << 10)});
  auto q = InboundQueue::open(*f.env, f.inner.pub, kReceived);
  BOOST_REQUIRE_MESSAGE(q.ok(), (q.ok() ? std::string() : q.error()));
  BOOST_CHECK_GT(f.env->map_size(), small.map_size);
  BOOST_CHECK_EQUAL(*(*q)->count(), 3u);
  BOOST_CHECK_EQUAL(f.open(**q, "b3").message.size(), envelope("b3", 200 << 10).message.size());
}

BOOST_FIXTURE_TEST_CASE(tools_read_without_writing, Fixture) {
  BOOST_CHECK(!InboundQueue::open_existing(*env).ok());  // no queue at all

  write_version_1({envelope("old")});
  const std::string before = raw("old");
  auto refused = InboundQueue::open_existing(*env);
  BOOST_REQUIRE(!refused.ok());
  BOOST_CHECK_MESSAGE(refused.error().find("version 1") != std::string::npos, refused.error());
  BOOST_CHECK_EQUAL(**env->schema_version(InboundQueue::kSchemaName), 1u);  // not migrated
  BOOST_CHECK_EQUAL(raw("old"), before);

  BOOST_REQUIRE(InboundQueue::open(*env, inner.pub, kReceived).ok());
  auto ro = InboundQueue::open_existing(*env);
  BOOST_REQUIRE_MESSAGE(ro.ok(), (ro.ok() ? std::string() : ro.error()));
  BOOST_CHECK_EQUAL((*ro)->items()->front().queued_at, kReceived);
  BOOST_CHECK_EQUAL(open(**ro, "old").id, "old");
  BOOST_CHECK(!enqueue(**ro, envelope("new")).ok());
  std::optional<Status> removed;
  (*ro)->remove(*gc, "old", [&](Status s) { removed = std::move(s); });
  BOOST_REQUIRE(removed && !removed->ok());
  BOOST_CHECK_EQUAL(*(*ro)->count(), 1u);
}

BOOST_FIXTURE_TEST_CASE(a_newer_store_is_refused, Fixture) {
  BOOST_REQUIRE(env->ensure_schema(InboundQueue::kSchemaName, 3).ok());
  BOOST_CHECK(!InboundQueue::open(*env, inner.pub, kReceived).ok());
  BOOST_CHECK(!InboundQueue::open_existing(*env).ok());
}
