// The inner's outbound queue: its records (encrypted under the queue key, bound to their id;
// records of schema version 1, sealed boxes, still read), its due times (written by the
// submission session from the delay class) and the release step that re-dates a message to the
// time it leaves, and the per-recipient settling of the edge's STATUS (the record keeps the
// recipients still unfinished, and goes with the last).
#include <boost/test/unit_test.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/link/payloads.h"
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
  void add(const std::string& id, int64_t due, bool with_due = true,
           std::vector<std::string> rcpts = {}) {
    auto e = envelope(id);
    if (!rcpts.empty()) e.recipients = std::move(rcpts);
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

namespace {

link::RecipientStatus result(const std::string& rcpt, link::RecipientOutcome o,
                             const std::string& reply = {}) {
  return link::RecipientStatus{rcpt, o, reply};
}

// settle_in in its own committed write transaction, as the GroupCommitter runs it.
inner::OutboundQueue::Settled settle(OutboundFixture& f, const std::string& id,
                                     const std::vector<link::RecipientStatus>& results) {
  auto t = f.env->begin_write();
  BOOST_REQUIRE(t.ok());
  auto s = f.q->settle_in(*t, f.key, id, results);
  BOOST_REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error()));
  BOOST_REQUIRE(t->commit().ok());
  return std::move(*s);
}

std::vector<std::string> recipients_of(const std::vector<link::RecipientStatus>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.recipient);
  return out;
}

const std::string kA = "a@one.test", kB = "b@two.test", kC = "c@three.test";

}  // namespace

BOOST_AUTO_TEST_CASE(a_partial_status_keeps_the_unfinished_recipients) {
  OutboundFixture f;
  f.add("m1", kT, true, {kA, kB, kC});
  // b delivered, a failed; c still pending at the edge (greylisted) and not in the STATUS.
  auto s = settle(f, "m1",
                  {result(kB, link::RecipientOutcome::delivered),
                   result(kA, link::RecipientOutcome::failed, "550 5.1.1 no such user")});
  BOOST_TEST(s.found);
  BOOST_TEST(!s.removed);
  BOOST_TEST((s.before.recipients == std::vector<std::string>{kA, kB, kC}));
  BOOST_TEST(s.before.message == OutboundFixture::envelope("m1").message);
  // In the record's order, whatever the STATUS's order; the reply kept for the DSN.
  BOOST_TEST((recipients_of(s.newly_final) == std::vector<std::string>{kA, kB}));
  BOOST_TEST(s.newly_final[0].remote_reply == "550 5.1.1 no such user");
  BOOST_TEST((s.newly_final[1].outcome == link::RecipientOutcome::delivered));

  auto e = f.q->open_one(f.key, "m1");
  BOOST_REQUIRE(e.ok());
  BOOST_TEST((e->recipients == std::vector<std::string>{kC}));
  BOOST_TEST(e->id == "m1");
  BOOST_TEST(e->mail_from == "alice@example.org");
  BOOST_TEST(e->message == OutboundFixture::envelope("m1").message);
  // The next edge gets only c.
  auto l = f.q->leaving(f.key, "m1", kT + 10);
  BOOST_REQUIRE(l.ok());
  BOOST_TEST((l->recipients == std::vector<std::string>{kC}));
  auto list = f.q->list();
  BOOST_REQUIRE(list.ok());
  BOOST_REQUIRE(list->size() == 1u);
  BOOST_TEST(list->front().recipients == 1u);  // the clear count says what is left
  auto raw = raw_get(*f.env, "r/m1");
  BOOST_REQUIRE(raw.has_value());
  BOOST_TEST(raw->substr(8, 4) == std::string("\0\0\0\1", 4));
  BOOST_TEST(raw->find("three.test") == std::string::npos);  // still encrypted
}

BOOST_AUTO_TEST_CASE(a_repeated_or_overlapping_status_settles_nothing_twice) {
  OutboundFixture f;
  f.add("m1", kT, true, {kA, kB, kC});
  auto first = settle(f, "m1", {result(kA, link::RecipientOutcome::failed, "550 5.1.1 no")});
  BOOST_TEST((recipients_of(first.newly_final) == std::vector<std::string>{kA}));
  auto raw = raw_get(*f.env, "r/m1");

  auto again = settle(f, "m1", {result(kA, link::RecipientOutcome::failed, "550 5.1.1 no")});
  BOOST_TEST(again.found);
  BOOST_TEST(again.newly_final.empty());  // no second DSN
  BOOST_TEST(!again.removed);
  BOOST_TEST((raw_get(*f.env, "r/m1") == raw));  // not even rewritten

  // a again (ignored), b new, and an address the message never had (ignored).
  auto overlap = settle(f, "m1",
                        {result(kA, link::RecipientOutcome::failed, "550 5.1.1 no"),
                         result(kB, link::RecipientOutcome::expired),
                         result("stranger@four.test", link::RecipientOutcome::failed, "550")});
  BOOST_TEST((recipients_of(overlap.newly_final) == std::vector<std::string>{kB}));
  BOOST_TEST((overlap.before.recipients == std::vector<std::string>{kB, kC}));
  BOOST_TEST((f.q->open_one(f.key, "m1")->recipients == std::vector<std::string>{kC}));

  // Exact match: the edge echoes the stored strings; another spelling is not this recipient.
  auto other_case = settle(f, "m1", {result("C@three.test", link::RecipientOutcome::delivered)});
  BOOST_TEST(other_case.newly_final.empty());
  BOOST_TEST((f.q->open_one(f.key, "m1")->recipients == std::vector<std::string>{kC}));
}

BOOST_AUTO_TEST_CASE(the_last_recipient_removes_the_record_and_its_due_time) {
  OutboundFixture f;
  f.add("m1", kT + 100, true, {kA, kB});
  BOOST_REQUIRE(raw_get(*f.env, "i/m1").has_value());
  settle(f, "m1", {result(kA, link::RecipientOutcome::delivered)});
  BOOST_TEST(raw_get(*f.env, "i/m1").has_value());
  auto last = settle(f, "m1", {result(kB, link::RecipientOutcome::delivered)});
  BOOST_TEST(last.found);
  BOOST_TEST(last.removed);
  BOOST_TEST((recipients_of(last.newly_final) == std::vector<std::string>{kB}));
  BOOST_TEST(!raw_get(*f.env, "r/m1").has_value());
  BOOST_TEST(!raw_get(*f.env, "i/m1").has_value());
  BOOST_TEST(f.q->due_before(kT + 9999)->empty());  // the d/ key went too
  BOOST_TEST(f.q->list()->empty());

  // The STATUS again after the last recipient: nothing there, nothing to do.
  auto after = settle(f, "m1", {result(kB, link::RecipientOutcome::delivered)});
  BOOST_TEST(!after.found);
  BOOST_TEST(after.newly_final.empty());
  BOOST_TEST(!after.removed);
}

BOOST_AUTO_TEST_CASE(a_rewrite_keeps_the_queue_time_and_the_due_or_released_state) {
  OutboundFixture f;
  f.add("out", kT + 100, true, {kA, kB});   // handed to an edge
  f.add("held", kT + 500, true, {kA, kB});  // still held by its delay class
  {
    auto t = f.env->begin_write();
    BOOST_REQUIRE(f.q->release_in(*t, "out").ok());
    BOOST_REQUIRE(t->commit().ok());
  }
  settle(f, "out", {result(kA, link::RecipientOutcome::delivered)});
  settle(f, "held", {result(kB, link::RecipientOutcome::delivered)});
  auto list = f.q->list();
  BOOST_REQUIRE(list.ok());
  BOOST_REQUIRE(list->size() == 2u);
  const auto& held = (*list)[0];
  const auto& out = (*list)[1];
  BOOST_TEST(out.id == "out");
  BOOST_TEST(out.released);  // a message handed to an edge stays released
  BOOST_TEST(out.queued_at == kT);
  BOOST_TEST(out.due == kT + 100);
  BOOST_TEST(out.recipients == 1u);
  BOOST_TEST(held.id == "held");
  BOOST_TEST(!held.released);
  BOOST_TEST(held.due == kT + 500);
  BOOST_TEST(held.queued_at == kT);
  BOOST_TEST((*f.q->due_before(kT + 9999) == std::vector<std::string>{"held"}));
  BOOST_TEST((f.q->open_one(f.key, "held")->recipients == std::vector<std::string>{kA}));
}

BOOST_AUTO_TEST_CASE(a_rewritten_record_is_still_bound_to_its_id_and_header) {
  OutboundFixture f;
  f.add("m1", kT, true, {kA, kB});
  settle(f, "m1", {result(kA, link::RecipientOutcome::delivered)});
  auto raw = raw_get(*f.env, "r/m1");
  BOOST_REQUIRE(raw.has_value());
  raw_put(*f.env, "r/m9", *raw);
  BOOST_TEST(!f.q->open_one(f.key, "m9").ok());  // moved
  std::string hdr = *raw;
  hdr[11] = 2;  // claims the old count back
  raw_put(*f.env, "r/m1", hdr);
  BOOST_TEST(!f.q->open_one(f.key, "m1").ok());
  // A record that does not open is not settled (nor removed) on anyone's word.
  auto t = f.env->begin_write();
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(
      !f.q->settle_in(*t, f.key, "m1", {result(kB, link::RecipientOutcome::delivered)}).ok());
  t->abort();
  BOOST_TEST((raw_get(*f.env, "r/m1") == hdr));
  raw_put(*f.env, "r/m1", *raw);
  BOOST_TEST((f.q->open_one(f.key, "m1")->recipients == std::vector<std::string>{kB}));
}

BOOST_AUTO_TEST_CASE(a_schema_1_record_is_settled_into_an_r_record) {
  store::test::TempDir dir;
  crypto::init();
  auto key = crypto::KeyPair::generate();
  auto opened = store::Env::open(dir.sub("store"));
  BOOST_REQUIRE(opened.ok());
  auto env = std::make_unique<store::Env>(std::move(*opened));
  BOOST_REQUIRE(env->ensure_schema(inner::OutboundQueue::kSchemaName, 1).ok());
  auto e = OutboundFixture::envelope("old1");
  e.recipients = {kA, kB, kC};
  const int64_t queued = kT - 3600;  // the header's time, not the envelope's
  std::string v = store::be64(static_cast<uint64_t>(queued));
  v += std::string("\0\0\0\3", 4);
  v += crypto::seal(key.pub, queue::encode(e));
  raw_put(*env, "q/old1", v);
  raw_put(*env, "d/" + store::be64(static_cast<uint64_t>(kT + 100)) + "/old1", "");
  raw_put(*env, "i/old1", store::be64(static_cast<uint64_t>(kT + 100)));
  auto o = inner::OutboundQueue::open(*env, key);
  BOOST_REQUIRE(o.ok());
  auto& q = *o;
  {
    auto t = env->begin_write();
    BOOST_REQUIRE(q->release_in(*t, "old1").ok());
    BOOST_REQUIRE(t->commit().ok());
  }

  auto t = env->begin_write();
  BOOST_REQUIRE(t.ok());
  auto s = q->settle_in(*t, key, "old1", {result(kB, link::RecipientOutcome::delivered)});
  BOOST_REQUIRE(s.ok());
  BOOST_REQUIRE(t->commit().ok());
  BOOST_TEST(s->found);
  BOOST_TEST(!s->removed);
  BOOST_TEST((s->before.recipients == std::vector<std::string>{kA, kB, kC}));
  BOOST_TEST((recipients_of(s->newly_final) == std::vector<std::string>{kB}));
  BOOST_TEST(!raw_get(*env, "q/old1").has_value());
  auto r = raw_get(*env, "r/old1");
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(static_cast<int>((*r)[12]) == 1);  // the current format
  BOOST_TEST(r->find("three.test") == std::string::npos);
  auto back = q->open_one(key, "old1");
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back->recipients == std::vector<std::string>{kA, kC}));
  auto list = q->list();
  BOOST_REQUIRE(list.ok());
  BOOST_REQUIRE(list->size() == 1u);
  BOOST_TEST(list->front().queued_at == queued);
  BOOST_TEST(list->front().recipients == 2u);
  BOOST_TEST(list->front().released);
  BOOST_TEST(list->front().due == kT + 100);

  // Settled completely: gone with its due time.
  auto t2 = env->begin_write();
  BOOST_REQUIRE(t2.ok());
  auto s2 = q->settle_in(
      *t2, key, "old1",
      {result(kA, link::RecipientOutcome::delivered), result(kC, link::RecipientOutcome::expired)});
  BOOST_REQUIRE(s2.ok());
  BOOST_REQUIRE(t2->commit().ok());
  BOOST_TEST(s2->removed);
  BOOST_TEST((recipients_of(s2->newly_final) == std::vector<std::string>{kA, kC}));
  BOOST_TEST(q->list()->empty());
  BOOST_TEST(!raw_get(*env, "i/old1").has_value());

  // A schema-1 record settled at once by its only STATUS: removed without a rewrite.
  auto e2 = OutboundFixture::envelope("old2");
  std::string v2 = store::be64(static_cast<uint64_t>(queued));
  v2 += std::string("\0\0\0\1", 4);
  v2 += crypto::seal(key.pub, queue::encode(e2));
  raw_put(*env, "q/old2", v2);
  auto t3 = env->begin_write();
  BOOST_REQUIRE(t3.ok());
  auto s3 =
      q->settle_in(*t3, key, "old2", {result(e2.recipients[0], link::RecipientOutcome::delivered)});
  BOOST_REQUIRE(s3.ok());
  BOOST_REQUIRE(t3->commit().ok());
  BOOST_TEST(s3->removed);
  BOOST_TEST(!raw_get(*env, "q/old2").has_value());
  BOOST_TEST(!raw_get(*env, "r/old2").has_value());
}

BOOST_AUTO_TEST_CASE(a_bounce_of_the_rest_removes_whatever_is_left) {
  // The edge refused the message for good, or the link cannot carry it: the DSN names every
  // recipient still queued (open_one), then remove_in takes the record whatever it holds.
  OutboundFixture f;
  f.add("m1", kT, true, {kA, kB, kC});
  settle(f, "m1", {result(kA, link::RecipientOutcome::delivered)});
  auto e = f.q->open_one(f.key, "m1");
  BOOST_REQUIRE(e.ok());
  BOOST_TEST((e->recipients == std::vector<std::string>{kB, kC}));
  auto t = f.env->begin_write();
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(*f.q->remove_in(*t, "m1"));
  BOOST_REQUIRE(t->commit().ok());
  BOOST_TEST(f.q->list()->empty());
  BOOST_TEST(f.q->due_before(kT + 9999)->empty());
  BOOST_TEST(!settle(f, "m1", {result(kB, link::RecipientOutcome::delivered)}).found);
}
