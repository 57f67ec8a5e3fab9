// The inner's outbound queue: its records (encrypted under the queue key, bound to their id;
// records of schema version 1, sealed boxes, still read), its due times (written by the
// submission session from the delay class) and the release step that re-dates a message to the
// time it leaves.
#include <boost/test/unit_test.hpp>
#include <memory>
#include <optional>
#include <string>

#include "common/mail/sanitize.h"
#include "common/store/lmdb.h"
#include "inner/outbound/outbound_queue.h"
#include "tests/unit/store/temp_dir.h"

using namespace nj;

namespace {

constexpr int64_t kT = 1'795'305'600;  // 2026-11-22 00:00 UTC

struct OutboundFixture {
  store::test::TempDir dir;
  std::unique_ptr<store::Env> env;
  crypto::KeyPair key = fresh_key();
  std::unique_ptr<inner::OutboundQueue> q;

  static crypto::KeyPair fresh_key() {
    crypto::init();  // before the first key
    return crypto::KeyPair::generate();
  }
  OutboundFixture() {
    auto e = store::Env::open(dir.sub("store"));
    BOOST_REQUIRE(e.ok());
    env = std::make_unique<store::Env>(std::move(*e));
    auto o = inner::OutboundQueue::open(*env, key);
    BOOST_REQUIRE(o.ok());
    q = std::move(*o);
  }
  static queue::Envelope envelope(const std::string& id) {
    queue::Envelope e;
    e.id = id;
    e.received_at = kT;
    e.mail_from = "alice@example.org";
    e.recipients = {"x@elsewhere.test"};
    e.message =
        "From: <alice@example.org>\r\nDate: Sun, 22 Nov 2026 00:00:00 +0000\r\n"
        "Subject: s\r\n\r\nbody\r\n";
    return e;
  }
  void add(const std::string& id, int64_t due, bool with_due = true) {
    auto e = envelope(id);
    auto t = env->begin_write();
    BOOST_REQUIRE(t.ok());
    BOOST_REQUIRE((with_due ? q->add_in(*t, e, due) : q->add_in(*t, e)).ok());
    BOOST_REQUIRE(t->commit().ok());
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(only_due_messages_are_released_soonest_first) {
  OutboundFixture f;
  f.add("late", kT + 3000);
  f.add("soon", kT + 2000);
  f.add("old", 0, false);  // written without a due time: due at its queue time
  auto ids = f.q->due_before(kT + 1999);
  BOOST_REQUIRE(ids.ok());
  BOOST_TEST(ids->empty());  // the record without a due time is never in the scan
  ids = f.q->due_before(kT + 2000);
  BOOST_TEST((*ids == std::vector<std::string>{"soon"}));
  ids = f.q->due_before(kT + 5000);
  BOOST_TEST((*ids == std::vector<std::string>{"soon", "late"}));
  auto list = f.q->list();
  BOOST_REQUIRE(list.ok());
  for (const auto& it : *list) {
    if (it.id == "old") BOOST_TEST(it.due == kT);
    if (it.id == "late") BOOST_TEST(it.due == kT + 3000);
  }
}

BOOST_AUTO_TEST_CASE(released_messages_carry_the_release_time_in_utc) {
  OutboundFixture f;
  f.add("m1", kT + 2500);
  auto r = f.q->released(f.key, kT + 2600);
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE(r->size() == 1u);
  const std::string& m = r->front().message;
  std::string want = "Date: " + mail::rfc5322_date(kT + 2600) + "\r\n";
  BOOST_TEST(m.find(want) != std::string::npos);
  BOOST_TEST(m.find("00:00:00 +0000") == std::string::npos);  // the old Date is gone
  BOOST_TEST(m.find("Subject: s\r\n\r\nbody\r\n") != std::string::npos);
  BOOST_TEST(m.find("+0000") != std::string::npos);  // UTC

  // Handed to the link: no longer due, still queued, shown as released; removal clears it all.
  auto t = f.env->begin_write();
  BOOST_REQUIRE(f.q->release_in(*t, "m1").ok());
  BOOST_REQUIRE(t->commit().ok());
  BOOST_TEST(f.q->due_before(kT + 9999)->empty());
  auto list = f.q->list();
  BOOST_REQUIRE(list->size() == 1u);
  BOOST_TEST(list->front().released);
  auto t2 = f.env->begin_write();
  BOOST_TEST(*f.q->remove_in(*t2, "m1"));
  BOOST_REQUIRE(t2->commit().ok());
  BOOST_TEST(f.q->list()->empty());
}

namespace {

// The raw records, for tests that move or alter them as someone with the store's files could.
std::optional<std::string> raw_get(store::Env& env, const std::string& key) {
  auto db = env.open_dbi("outbound");
  BOOST_REQUIRE(db.ok());
  auto t = env.begin_read();
  BOOST_REQUIRE(t.ok());
  auto v = t->get(*db, key);
  BOOST_REQUIRE(v.ok());
  if (!*v) return std::nullopt;
  return std::string(**v);
}

void raw_put(store::Env& env, const std::string& key, const std::string& value) {
  auto db = env.open_dbi("outbound");
  BOOST_REQUIRE(db.ok());
  auto t = env.begin_write();
  BOOST_REQUIRE(t.ok());
  BOOST_REQUIRE(t->put(*db, key, value).ok());
  BOOST_REQUIRE(t->commit().ok());
}

void check_same(const queue::Envelope& got, const queue::Envelope& want) {
  BOOST_TEST(got.id == want.id);
  BOOST_TEST(got.received_at == want.received_at);
  BOOST_TEST(got.mail_from == want.mail_from);
  BOOST_TEST(got.recipients == want.recipients);
  BOOST_TEST(got.message == want.message);
}

}  // namespace

BOOST_AUTO_TEST_CASE(records_round_trip_encrypted_under_the_queue_key) {
  OutboundFixture f;
  f.add("m1", kT);
  auto e = f.q->open_one(f.key, "m1");
  BOOST_REQUIRE(e.ok());
  check_same(*e, OutboundFixture::envelope("m1"));

  // On disk: the clear header, format byte 1, then nonce || ciphertext || tag; no plaintext.
  auto raw = raw_get(*f.env, "r/m1");
  BOOST_REQUIRE(raw.has_value());
  BOOST_TEST(!raw_get(*f.env, "q/m1").has_value());
  BOOST_REQUIRE(raw->size() > 13 + crypto::kAeadOverhead);
  BOOST_TEST(store::read_be64(*raw, 0).value() == static_cast<uint64_t>(kT));
  BOOST_TEST(raw->substr(8, 4) == std::string("\0\0\0\1", 4));  // one recipient
  BOOST_TEST(static_cast<int>((*raw)[12]) == 1);
  BOOST_TEST(raw->find("body") == std::string::npos);
  BOOST_TEST(raw->find("alice") == std::string::npos);
  BOOST_TEST(raw->size() ==
             13 + queue::encode(OutboundFixture::envelope("m1")).size() + crypto::kAeadOverhead);

  // The key is derived, not stored: a queue opened again with the same key pair reads it.
  auto again = inner::OutboundQueue::open(*f.env, f.key);
  BOOST_REQUIRE(again.ok());
  auto e2 = (*again)->open_one(f.key, "m1");
  BOOST_REQUIRE(e2.ok());
  check_same(*e2, OutboundFixture::envelope("m1"));

  auto list = f.q->list();
  BOOST_REQUIRE(list.ok());
  BOOST_REQUIRE(list->size() == 1u);
  BOOST_TEST(list->front().id == "m1");
  BOOST_TEST(list->front().queued_at == kT);
  BOOST_TEST(list->front().recipients == 1u);
  BOOST_TEST(list->front().encrypted_size == raw->size() - 13);
  BOOST_TEST(!f.q->open_one(f.key, "nope").ok());
}

BOOST_AUTO_TEST_CASE(another_inner_key_cannot_read_a_record) {
  OutboundFixture f;
  f.add("m1", kT);
  auto other = crypto::KeyPair::generate();
  auto q2 = inner::OutboundQueue::open(*f.env, other);
  BOOST_REQUIRE(q2.ok());
  auto e = (*q2)->open_one(other, "m1");
  BOOST_TEST(!e.ok());
  BOOST_TEST(!(*q2)->released(other, kT + 1).ok());
  // Listing needs no key: the other queue still sees the clear header.
  auto list = (*q2)->list();
  BOOST_REQUIRE(list.ok());
  BOOST_TEST(list->size() == 1u);
  BOOST_TEST(f.q->open_one(f.key, "m1").ok());
}

BOOST_AUTO_TEST_CASE(a_record_moved_to_another_id_or_altered_is_refused) {
  OutboundFixture f;
  f.add("m1", kT);
  auto raw = raw_get(*f.env, "r/m1");
  BOOST_REQUIRE(raw.has_value());
  // Moved under another id (the associated data names the id).
  raw_put(*f.env, "r/m2", *raw);
  auto moved = f.q->open_one(f.key, "m2");
  BOOST_REQUIRE(!moved.ok());
  BOOST_TEST(moved.error().find("cannot open") != std::string::npos);
  BOOST_TEST(f.q->open_one(f.key, "m1").ok());  // the original is untouched
  // A clear header changed (recipient count), and a format byte nobody writes.
  std::string hdr = *raw;
  hdr[11] = 7;
  raw_put(*f.env, "r/m1", hdr);
  BOOST_TEST(!f.q->open_one(f.key, "m1").ok());
  std::string fmt = *raw;
  fmt[12] = 2;
  raw_put(*f.env, "r/m1", fmt);
  auto e = f.q->open_one(f.key, "m1");
  BOOST_REQUIRE(!e.ok());
  BOOST_TEST(e.error().find("unknown format") != std::string::npos);
  BOOST_TEST(!f.q->list().ok());  // list reports the record it cannot parse
  raw_put(*f.env, "r/m1", *raw);
  BOOST_TEST(f.q->open_one(f.key, "m1").ok());
  raw_put(*f.env, "r/m1", raw->substr(0, 13 + crypto::kAeadOverhead - 1));
  BOOST_TEST(!f.q->open_one(f.key, "m1").ok());
}

BOOST_AUTO_TEST_CASE(records_of_schema_version_1_are_still_read) {
  store::test::TempDir dir;
  crypto::init();
  auto key = crypto::KeyPair::generate();
  auto opened = store::Env::open(dir.sub("store"));
  BOOST_REQUIRE(opened.ok());
  auto env = std::make_unique<store::Env>(std::move(*opened));
  // A store as version 1 left it: "q/<id>" -> be64 queued_at | be32 recipients | sealed box,
  // one record with a due time (d/ and i/), one written before due times.
  BOOST_REQUIRE(env->ensure_schema(inner::OutboundQueue::kSchemaName, 1).ok());
  auto old_record = [&](const std::string& id) {
    auto e = OutboundFixture::envelope(id);
    std::string v = store::be64(static_cast<uint64_t>(e.received_at));
    v += std::string("\0\0\0\1", 4);
    v += crypto::seal(key.pub, queue::encode(e));
    raw_put(*env, "q/" + id, v);
    return v;
  };
  std::string v1 = old_record("old1");
  old_record("old2");
  raw_put(*env, "d/" + store::be64(static_cast<uint64_t>(kT + 100)) + "/old1", "");
  raw_put(*env, "i/old1", store::be64(static_cast<uint64_t>(kT + 100)));

  auto o = inner::OutboundQueue::open(*env, key);
  BOOST_REQUIRE(o.ok());
  auto& q = *o;
  BOOST_TEST(env->schema_version(inner::OutboundQueue::kSchemaName).value().value() == 2u);
  BOOST_TEST(raw_get(*env, "q/old1").value() == v1);  // nothing rewritten
  // A program that knows only version 1 now refuses the store instead of missing r/ records.
  BOOST_TEST(!env->ensure_schema(inner::OutboundQueue::kSchemaName, 1).ok());

  auto e = q->open_one(key, "old1");
  BOOST_REQUIRE(e.ok());
  check_same(*e, OutboundFixture::envelope("old1"));
  BOOST_TEST(!q->open_one(crypto::KeyPair::generate(), "old1").ok());  // still the key pair's

  // New records beside the old ones; list shows both, by id.
  auto t = env->begin_write();
  BOOST_REQUIRE(t.ok());
  BOOST_REQUIRE(q->add_in(*t, OutboundFixture::envelope("new1"), kT + 50).ok());
  BOOST_TEST(!q->add_in(*t, OutboundFixture::envelope("old2")).ok());  // id taken by version 1
  BOOST_REQUIRE(t->commit().ok());
  auto list = q->list();
  BOOST_REQUIRE(list.ok());
  BOOST_REQUIRE(list->size() == 3u);
  BOOST_TEST((*list)[0].id == "new1");
  BOOST_TEST((*list)[1].id == "old1");
  BOOST_TEST((*list)[1].encrypted_size == v1.size() - 12);
  BOOST_TEST((*list)[1].due == kT + 100);
  BOOST_TEST((*list)[2].id == "old2");
  BOOST_TEST((*list)[2].due == kT);  // no due time: due at its queue time

  // Released in due order whatever the format, re-dated like any other.
  auto r = q->released(key, kT + 200);
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE(r->size() == 2u);
  BOOST_TEST((*r)[0].id == "new1");
  BOOST_TEST((*r)[1].id == "old1");
  BOOST_TEST((*r)[1].message.find("Date: " + mail::rfc5322_date(kT + 200)) != std::string::npos);

  // Removal takes the old record and its due time.
  auto t2 = env->begin_write();
  BOOST_REQUIRE(t2.ok());
  BOOST_TEST(*q->remove_in(*t2, "old1"));
  BOOST_TEST(*q->remove_in(*t2, "new1"));
  BOOST_TEST(!*q->remove_in(*t2, "old1"));
  BOOST_REQUIRE(t2->commit().ok());
  BOOST_TEST(!raw_get(*env, "q/old1").has_value());
  BOOST_TEST(!raw_get(*env, "i/old1").has_value());
  BOOST_TEST(q->due_before(kT + 9999)->empty());
  list = q->list();
  BOOST_REQUIRE(list.ok());
  BOOST_REQUIRE(list->size() == 1u);
  BOOST_TEST(list->front().id == "old2");
}
