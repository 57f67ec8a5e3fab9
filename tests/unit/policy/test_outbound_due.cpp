// The outbound queue's due times (written by the submission session from the delay class) and
// the release step that re-dates a message to the time it leaves.
#include <boost/test/unit_test.hpp>
#include <memory>

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
    auto o = inner::OutboundQueue::open(*env, key.pub);
    BOOST_REQUIRE(o.ok());
    q = std::move(*o);
  }
  void add(const std::string& id, int64_t due, bool with_due = true) {
    queue::Envelope e;
    e.id = id;
    e.received_at = kT;
    e.mail_from = "alice@example.org";
    e.recipients = {"x@elsewhere.test"};
    e.message =
        "From: <alice@example.org>\r\nDate: Sun, 22 Nov 2026 00:00:00 +0000\r\n"
        "Subject: s\r\n\r\nbody\r\n";
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
