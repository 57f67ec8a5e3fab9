// EdgeOutboundQueue and its schedule: backoff with jitter, lifetime, encryption at rest,
// discard on restart, withdraw. Real LMDB and GroupCommitter; the delivery function is a fake
// (the seam).
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>

#include "common/crypto/crypto.h"
#include "common/store/group_commit.h"
#include "common/uv/loop.h"
#include "edge/outbound/edge_outbound_queue.h"
#include "tests/unit/store/temp_dir.h"

using namespace nj;
using namespace nj::edge::outbound;

namespace {

const std::string kMarker = "PLAINTEXT-MARKER-7f3a";

struct Call {
  queue::Envelope env;
  std::vector<std::string> recipients;
  std::function<void(std::vector<RcptResult>)> done;
};

struct Fixture {
  store::test::TempDir dir;
  ManualClock clock;
  uv::Loop loop;
  std::optional<store::Env> env;
  std::unique_ptr<store::GroupCommitter> gc;
  std::unique_ptr<EdgeOutboundQueue> q;
  std::vector<Call> calls;
  std::vector<std::pair<std::string, std::vector<RcptResult>>> reports;
  QueueOptions options;

  Fixture() {
    crypto::init();
    auto e = store::Env::open(dir.sub("db"));
    BOOST_REQUIRE(e.ok());
    env.emplace(std::move(*e));
    gc = std::make_unique<store::GroupCommitter>(*env, loop.raw());
    open();
  }
  ~Fixture() {
    q.reset();
    gc->shutdown();
    loop.run_nowait();
  }
  void open() {
    q.reset();
    // Middle of the jitter range: the nominal delay exactly.
    auto mid = [](uint32_t upper) { return upper / 2; };
    auto r = EdgeOutboundQueue::open(
        *env, *gc, loop, clock, options,
        [this](const queue::Envelope& e, std::vector<std::string> rcpts,
               std::function<void(std::vector<RcptResult>)> done) {
          calls.push_back({e, std::move(rcpts), std::move(done)});
        },
        [this](const std::string& id, const std::vector<RcptResult>& results) {
          reports.emplace_back(id, results);
        },
        mid);
    BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
    q = std::move(*r);
  }
  template <class P>
  void run_until(P pred) {
    for (int i = 0; i < 100000 && !pred(); ++i) loop.run_once();
    BOOST_REQUIRE(pred());
  }
  void flush() {
    // An empty work item commits after everything submitted before it.
    bool done = false;
    gc->submit([](store::Txn&) -> Status { return {}; }, [&](Status) { done = true; });
    run_until([&] { return done; });
  }
  queue::Envelope envelope(const std::string& id, std::vector<std::string> rcpts) {
    queue::Envelope e;
    e.id = id;
    e.received_at = clock.now();
    e.mail_from = kMarker + "@example.org";
    e.recipients = std::move(rcpts);
    e.message = "From: <a@example.org>\r\nSubject: " + kMarker + "\r\n\r\nbody " + kMarker + "\r\n";
    return e;
  }
  void enqueue(queue::Envelope e) {
    std::optional<Status> st;
    q->enqueue(std::move(e), [&](Status s) { st = s; });
    run_until([&] { return st.has_value(); });
    BOOST_REQUIRE(st->ok());
  }
  std::string db_bytes() {
    std::string all;
    for (const auto& f : std::filesystem::directory_iterator(dir.sub("db"))) {
      std::ifstream in(f.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
  }
};

RcptResult res(const std::string& a, RcptStatus s, const std::string& reply) {
  return {a, s, reply};
}

}  // namespace

BOOST_AUTO_TEST_CASE(backoff_doubles_caps_and_jitters) {
  BackoffPolicy p;  // 5m, cap 4h, +-20%
  auto mid = [](uint32_t upper) { return upper / 2; };
  BOOST_CHECK_EQUAL(backoff_delay(p, 1, mid), 300);
  BOOST_CHECK_EQUAL(backoff_delay(p, 2, mid), 600);
  BOOST_CHECK_EQUAL(backoff_delay(p, 3, mid), 1200);
  BOOST_CHECK_EQUAL(backoff_delay(p, 6, mid), 9600);
  BOOST_CHECK_EQUAL(backoff_delay(p, 7, mid), 14400);
  BOOST_CHECK_EQUAL(backoff_delay(p, 1000, mid), 14400);
  auto low = [](uint32_t) { return 0u; };
  auto high = [](uint32_t upper) { return upper - 1; };
  BOOST_CHECK_EQUAL(backoff_delay(p, 1, low), 240);
  BOOST_CHECK_EQUAL(backoff_delay(p, 1, high), 360);
  BOOST_CHECK_EQUAL(backoff_delay(p, 50, high), 17280);
  // With the real generator, spread within the band and not constant.
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) {
    int64_t d = backoff_delay(p, 2, [](uint32_t u) { return crypto::random_uniform(u); });
    BOOST_CHECK_GE(d, 480);
    BOOST_CHECK_LE(d, 720);
    seen.insert(d);
  }
  BOOST_CHECK_GT(seen.size(), 20u);
}

BOOST_FIXTURE_TEST_CASE(records_are_encrypted_at_rest, Fixture) {
  enqueue(envelope("MSG1", {"x@dest.test"}));
  BOOST_CHECK_EQUAL(*q->stored_records(), 2u);
  flush();
  std::string bytes = db_bytes();
  BOOST_CHECK(bytes.size() > 0);
  BOOST_CHECK(bytes.find(kMarker) == std::string::npos);
  BOOST_CHECK(bytes.find("x@dest.test") == std::string::npos);
  // The marker does reach the deliverer: the record decrypts in this process.
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 1u);
  BOOST_CHECK(calls[0].env.message.find(kMarker) != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(restart_discards_the_queue, Fixture) {
  enqueue(envelope("MSG1", {"x@dest.test"}));
  enqueue(envelope("MSG2", {"y@dest.test"}));
  BOOST_CHECK_EQUAL(*q->stored_records(), 4u);
  open();  // a new process: a new key; the old records are dropped
  BOOST_CHECK_EQUAL(q->size(), 0u);
  BOOST_CHECK_EQUAL(*q->stored_records(), 0u);
  q->run_due();
  BOOST_CHECK(calls.empty());
  // The inner resubmits: accepted afresh.
  enqueue(envelope("MSG1", {"x@dest.test"}));
  BOOST_CHECK_EQUAL(q->size(), 1u);
}

BOOST_FIXTURE_TEST_CASE(retransmit_is_idempotent, Fixture) {
  enqueue(envelope("MSG1", {"x@dest.test"}));
  enqueue(envelope("MSG1", {"x@dest.test"}));
  BOOST_CHECK_EQUAL(q->size(), 1u);
  BOOST_CHECK_EQUAL(*q->stored_records(), 2u);
}

BOOST_FIXTURE_TEST_CASE(partial_results_retry_only_pending_with_backoff, Fixture) {
  enqueue(envelope("MSG1", {"a@one.test", "b@two.test", "c@three.test"}));
  int64_t t0 = clock.now();
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 1u);
  BOOST_CHECK_EQUAL(calls[0].recipients.size(), 3u);
  calls[0].done({res("a@one.test", RcptStatus::delivered, "250 2.0.0 ok"),
                 res("b@two.test", RcptStatus::permanent, "550 5.1.1 no such user"),
                 res("c@three.test", RcptStatus::pending, "451 4.3.0 later")});
  BOOST_REQUIRE_EQUAL(reports.size(), 1u);
  BOOST_CHECK_EQUAL(reports[0].first, "MSG1");
  BOOST_REQUIRE_EQUAL(reports[0].second.size(), 2u);
  BOOST_CHECK(reports[0].second[0].status == RcptStatus::delivered);
  BOOST_CHECK(reports[0].second[1].status == RcptStatus::permanent);
  BOOST_CHECK_EQUAL(reports[0].second[1].reply, "550 5.1.1 no such user");
  const QueueEntry* e = q->find("MSG1");
  BOOST_REQUIRE(e);
  BOOST_CHECK_EQUAL(e->attempts, 1u);
  BOOST_CHECK_EQUAL(e->next_attempt, t0 + 300);
  // Not due yet.
  clock.advance(299);
  q->run_due();
  BOOST_CHECK_EQUAL(calls.size(), 1u);
  clock.advance(1);
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 2u);
  BOOST_REQUIRE_EQUAL(calls[1].recipients.size(), 1u);
  BOOST_CHECK_EQUAL(calls[1].recipients[0], "c@three.test");
  // While in flight it is not attempted twice.
  clock.advance(10000);
  q->run_due();
  BOOST_CHECK_EQUAL(calls.size(), 2u);
  calls[1].done({res("c@three.test", RcptStatus::pending, "421 4.4.2 timeout")});
  BOOST_CHECK_EQUAL(q->find("MSG1")->attempts, 2u);
  BOOST_CHECK_EQUAL(q->find("MSG1")->next_attempt, clock.now() + 600);
  clock.advance(600);
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 3u);
  calls[2].done({res("c@three.test", RcptStatus::delivered, "250 ok")});
  BOOST_REQUIRE_EQUAL(reports.size(), 2u);
  BOOST_CHECK(reports[1].second[0].status == RcptStatus::delivered);
  BOOST_CHECK_EQUAL(q->size(), 0u);
  flush();
  BOOST_CHECK_EQUAL(*q->stored_records(), 0u);
}

BOOST_FIXTURE_TEST_CASE(lifetime_expires_pending_recipients, Fixture) {
  enqueue(envelope("OLD", {"a@one.test", "b@one.test"}));
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 1u);
  calls[0].done({res("a@one.test", RcptStatus::delivered, "250 ok"),
                 res("b@one.test", RcptStatus::pending, "451 4.4.1 connection failed")});
  // Keep failing until just before five days, then cross it.
  int64_t start = clock.now();
  while (clock.now() - start < 5 * 86400 - 1) {
    const QueueEntry* e = q->find("OLD");
    BOOST_REQUIRE(e);
    clock.set(std::min(e->next_attempt, start + 5 * 86400 - 1));
    size_t before = calls.size();
    q->run_due();
    if (calls.size() > before) {
      calls.back().done({res("b@one.test", RcptStatus::pending, "451 4.4.1 connection failed")});
    }
  }
  BOOST_CHECK_EQUAL(reports.size(), 1u);  // only the delivered one so far
  BOOST_CHECK(q->find("OLD"));
  clock.set(start + 5 * 86400);
  q->run_due();
  BOOST_REQUIRE_EQUAL(reports.size(), 2u);
  BOOST_REQUIRE_EQUAL(reports[1].second.size(), 1u);
  BOOST_CHECK(reports[1].second[0].status == RcptStatus::expired);
  BOOST_CHECK_EQUAL(reports[1].second[0].address, "b@one.test");
  BOOST_CHECK_EQUAL(reports[1].second[0].reply, "451 4.4.1 connection failed");
  BOOST_CHECK(!q->find("OLD"));
  flush();
  BOOST_CHECK_EQUAL(*q->stored_records(), 0u);
}

BOOST_FIXTURE_TEST_CASE(transient_result_after_lifetime_expires_at_once, Fixture) {
  enqueue(envelope("LATE", {"a@one.test"}));
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 1u);
  clock.advance(5 * 86400 + 1);  // the attempt took past the end of the lifetime
  calls[0].done({res("a@one.test", RcptStatus::pending, "451 4.3.0 later")});
  BOOST_REQUIRE_EQUAL(reports.size(), 1u);
  BOOST_CHECK(reports[0].second[0].status == RcptStatus::expired);
  BOOST_CHECK_EQUAL(q->size(), 0u);
}

BOOST_FIXTURE_TEST_CASE(in_flight_limit_holds_back_the_rest, Fixture) {
  options.max_in_flight = 2;
  open();
  for (int i = 0; i < 5; ++i) enqueue(envelope("M" + std::to_string(i), {"a@one.test"}));
  q->run_due();
  BOOST_CHECK_EQUAL(calls.size(), 2u);
  calls[0].done({res("a@one.test", RcptStatus::delivered, "250 ok")});
  q->run_due();
  BOOST_CHECK_EQUAL(calls.size(), 3u);
}

BOOST_FIXTURE_TEST_CASE(scheduler_timer_runs_due_messages, Fixture) {
  options.tick_ms = 10;
  open();
  enqueue(envelope("T1", {"a@one.test"}));
  q->start();
  run_until([&] { return !calls.empty(); });
  q->stop();
}

BOOST_FIXTURE_TEST_CASE(soonest_due_goes_first_and_backlog_waits, Fixture) {
  options.max_in_flight = 1;
  open();
  // A backlog that failed once and waits for its retry time.
  for (int i = 0; i < 50; ++i) enqueue(envelope("W" + std::to_string(i), {"a@slow.test"}));
  for (int i = 0; i < 50; ++i) {
    q->run_due();
    BOOST_REQUIRE_EQUAL(calls.size(), static_cast<size_t>(i + 1));
    calls.back().done({res("a@slow.test", RcptStatus::pending, "451 4.4.1 connection failed")});
  }
  // Queued in the order Z, then A (ids sort the other way): Z is due first and goes first.
  clock.advance(1);
  enqueue(envelope("Z", {"a@one.test"}));
  clock.advance(1);
  enqueue(envelope("A", {"a@one.test"}));
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 51u);
  BOOST_CHECK_EQUAL(calls[50].env.id, "Z");
  calls[50].done({res("a@one.test", RcptStatus::delivered, "250 ok")});
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 52u);
  BOOST_CHECK_EQUAL(calls[51].env.id, "A");
  calls[51].done({res("a@one.test", RcptStatus::delivered, "250 ok")});
  q->run_due();
  BOOST_CHECK_EQUAL(calls.size(), 52u);  // the backlog is not due yet
  clock.advance(300);
  q->run_due();
  BOOST_CHECK_EQUAL(calls.size(), 53u);  // now it is, one at a time
}

// ---- withdraw: the inner gave the message to another edge ----

namespace {

// Holds the GroupCommitter's writer thread inside a work item until opened (or destroyed), so no
// commit submitted after it can complete meanwhile.
// The flag is shared with the work item, which may still be reading it after the gate is gone.
struct WriterGate {
  std::shared_ptr<std::atomic<bool>> flag = std::make_shared<std::atomic<bool>>(false);
  explicit WriterGate(store::GroupCommitter& gc) {
    gc.submit(
        [flag = flag](store::Txn&) -> Status {
          while (!flag->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
          return {};
        },
        [](Status) {});
  }
  ~WriterGate() { open(); }
  void open() { *flag = true; }
};

// The answer to one withdraw() (or enqueue()); shared, so a test that stops early leaves no
// dangling callback.
struct Withdrawal {
  std::shared_ptr<std::optional<Status>> slot = std::make_shared<std::optional<Status>>();
  std::optional<Status>& result = *slot;
  std::function<void(Status)> done() {
    return [slot = slot](Status s) { *slot = s; };
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(withdraw_removes_the_message_and_its_records, Fixture) {
  enqueue(envelope("W1", {"a@one.test", "b@two.test"}));
  enqueue(envelope("KEEP", {"c@one.test"}));
  BOOST_CHECK_EQUAL(*q->stored_records(), 4u);
  Withdrawal w;
  q->withdraw("W1", w.done());
  BOOST_CHECK(!q->find("W1"));  // out of the schedule at once
  run_until([&] { return w.result.has_value(); });
  BOOST_CHECK(w.result->ok());
  BOOST_CHECK_EQUAL(*q->stored_records(), 2u);  // KEEP's two records only
  BOOST_CHECK_EQUAL(q->size(), 1u);
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 1u);
  BOOST_CHECK_EQUAL(calls[0].env.id, "KEEP");
  BOOST_CHECK(reports.empty());
}

BOOST_FIXTURE_TEST_CASE(withdraw_twice_or_of_an_unknown_id_is_ok, Fixture) {
  enqueue(envelope("W1", {"a@one.test"}));
  Withdrawal w1, w2, w3;
  q->withdraw("W1", w1.done());
  q->withdraw("W1", w2.done());
  q->withdraw("NEVER-SEEN", w3.done());
  run_until([&] { return w1.result && w2.result && w3.result; });
  BOOST_CHECK(w1.result->ok());
  BOOST_CHECK(w2.result->ok());
  BOOST_CHECK(w3.result->ok());
  BOOST_CHECK_EQUAL(q->size(), 0u);
  BOOST_CHECK_EQUAL(*q->stored_records(), 0u);
  // A message that finished before the withdraw: ok too, and nothing is reported again.
  enqueue(envelope("DONE", {"a@one.test"}));
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 1u);
  calls[0].done({res("a@one.test", RcptStatus::delivered, "250 ok")});
  BOOST_CHECK_EQUAL(reports.size(), 1u);
  Withdrawal w4;
  q->withdraw("DONE", w4.done());
  run_until([&] { return w4.result.has_value(); });
  BOOST_CHECK(w4.result->ok());
  BOOST_CHECK_EQUAL(reports.size(), 1u);
  BOOST_CHECK_EQUAL(*q->stored_records(), 0u);
}

BOOST_FIXTURE_TEST_CASE(withdraw_answers_only_after_the_commit, Fixture) {
  enqueue(envelope("W1", {"a@one.test"}));
  Withdrawal w;
  {
    WriterGate gate(*gc);
    q->withdraw("W1", w.done());
    for (int i = 0; i < 200; ++i) {
      loop.run_nowait();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    BOOST_CHECK(!w.result.has_value());
    BOOST_CHECK_EQUAL(*q->stored_records(), 2u);  // still on disk: not answered yet
    gate.open();
    run_until([&] { return w.result.has_value(); });
    // Once answered, nothing is left.
    BOOST_CHECK_EQUAL(*q->stored_records(), 0u);
  }
  BOOST_CHECK(w.result->ok());
}

BOOST_FIXTURE_TEST_CASE(an_attempt_in_flight_is_cancelled_and_its_result_dropped, Fixture) {
  options.max_in_flight = 1;
  open();
  std::vector<std::string> cancelled;
  q->set_cancel([&](const std::string& id) { cancelled.push_back(id); });
  enqueue(envelope("W1", {"a@one.test", "b@two.test"}));
  clock.advance(1);
  enqueue(envelope("NEXT", {"c@one.test"}));
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 1u);  // W1 in flight, NEXT waits for the slot
  BOOST_CHECK_EQUAL(calls[0].env.id, "W1");
  Withdrawal w;
  q->withdraw("W1", w.done());
  BOOST_REQUIRE_EQUAL(cancelled.size(), 1u);
  BOOST_CHECK_EQUAL(cancelled[0], "W1");
  run_until([&] { return w.result.has_value(); });
  BOOST_CHECK(w.result->ok());
  // The remote server had said 250 before the withdraw (the duplicate window): the result
  // arrives late and is dropped, neither reported nor stored.
  calls[0].done({res("a@one.test", RcptStatus::delivered, "250 ok"),
                 res("b@two.test", RcptStatus::pending, "451 later")});
  BOOST_CHECK(reports.empty());
  BOOST_CHECK(!q->find("W1"));
  flush();
  BOOST_CHECK_EQUAL(*q->stored_records(), 2u);  // NEXT's only
  // Its slot was given back: NEXT goes.
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 2u);
  BOOST_CHECK_EQUAL(calls[1].env.id, "NEXT");
  // A message not in flight has nothing to cancel.
  calls[1].done({res("c@one.test", RcptStatus::pending, "451 later")});
  Withdrawal w2;
  q->withdraw("NEXT", w2.done());
  BOOST_CHECK_EQUAL(cancelled.size(), 1u);
  run_until([&] { return w2.result.has_value(); });
  BOOST_CHECK_EQUAL(*q->stored_records(), 0u);
}

BOOST_FIXTURE_TEST_CASE(a_message_submitted_again_after_a_withdraw_ignores_the_old_attempt,
                        Fixture) {
  enqueue(envelope("W1", {"a@one.test", "b@two.test"}));
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 1u);
  Withdrawal w;
  q->withdraw("W1", w.done());
  run_until([&] { return w.result.has_value(); });
  // The inner gives it back to this edge later: a new copy, attempted while the old attempt
  // (whose cancel did not stop it) is still out.
  enqueue(envelope("W1", {"a@one.test", "b@two.test"}));
  BOOST_REQUIRE(q->find("W1"));
  BOOST_CHECK_EQUAL(q->find("W1")->attempts, 0u);
  q->run_due();
  BOOST_REQUIRE_EQUAL(calls.size(), 2u);
  BOOST_CHECK_EQUAL(calls[1].recipients.size(), 2u);
  // The old attempt's result must not settle the new copy's recipients.
  calls[0].done({res("a@one.test", RcptStatus::delivered, "250 ok"),
                 res("b@two.test", RcptStatus::permanent, "550 no")});
  BOOST_CHECK(reports.empty());
  const QueueEntry* e = q->find("W1");
  BOOST_REQUIRE(e);
  BOOST_CHECK(e->in_flight);
  for (const auto& r : e->recipients) BOOST_CHECK(r.status == RcptStatus::pending);
  // The new attempt's result does.
  calls[1].done({res("a@one.test", RcptStatus::delivered, "250 ok"),
                 res("b@two.test", RcptStatus::pending, "451 later")});
  BOOST_REQUIRE_EQUAL(reports.size(), 1u);
  BOOST_REQUIRE_EQUAL(reports[0].second.size(), 1u);
  BOOST_CHECK_EQUAL(reports[0].second[0].address, "a@one.test");
  BOOST_CHECK(!q->find("W1")->in_flight);
  flush();
  BOOST_CHECK_EQUAL(*q->stored_records(), 2u);
}

BOOST_FIXTURE_TEST_CASE(withdraw_while_the_enqueue_commit_is_under_way, Fixture) {
  Withdrawal queued, w;  // the enqueue's answer and the withdraw's
  q->enqueue(envelope("W1", {"a@one.test"}), queued.done());
  q->withdraw("W1", w.done());
  run_until([&] { return queued.result.has_value() && w.result.has_value(); });
  BOOST_CHECK(queued.result->ok());
  BOOST_CHECK(w.result->ok());
  BOOST_CHECK_EQUAL(q->size(), 0u);
  BOOST_CHECK_EQUAL(*q->stored_records(), 0u);
  q->run_due();
  BOOST_CHECK(calls.empty());
  // Submitted again afterwards: held as a new message.
  enqueue(envelope("W1", {"a@one.test"}));
  BOOST_CHECK_EQUAL(q->size(), 1u);
  BOOST_CHECK_EQUAL(*q->stored_records(), 2u);
}
