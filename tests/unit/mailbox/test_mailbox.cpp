#define BOOST_TEST_MODULE mailbox
#include <boost/test/unit_test.hpp>

#include "inner/accounts/scrub.h"
#include "inner/mailbox/mailbox.h"
#include "tests/unit/accounts/fixture.h"

using namespace nj;
using namespace nj::inner;

namespace {

const std::string kAlice = std::string("alice@") + test::kDomain;

// A message whose header and body each carry a marker that must never reach the disk in clear.
std::string message_with(const std::string& marker) {
  return "From: <bob@example.org>\r\nSubject: header-" + marker + "\r\n\r\nbody-" + marker +
         "\r\n" + std::string(300, 'x') + "\r\n";
}

struct MailboxFixture : test::StoreFixture {
  std::unique_ptr<Mailbox> mailbox;

  MailboxFixture() { open_mailbox(); }
  void open_mailbox(Mailbox::Options o = {}) {
    auto m = Mailbox::open(*env, *accounts, o, clock);
    BOOST_REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error()));
    mailbox = std::move(*m);
  }

  DeliveryResult deliver(const std::string& id, std::string msg) {
    std::optional<DeliveryResult> out;
    mailbox->deliver(*gc, id, std::move(msg), [&](DeliveryResult r) { out = std::move(r); });
    uv.run_until([&] { return out.has_value(); });
    return *out;
  }
  uint64_t remove(const std::string& id, std::vector<uint64_t> seqs) {
    std::optional<Result<uint64_t>> out;
    mailbox->remove(*gc, id, std::move(seqs), [&](Result<uint64_t> r) { out = std::move(r); });
    uv.run_until([&] { return out.has_value(); });
    BOOST_REQUIRE_MESSAGE(out->ok(), (out->ok() ? "" : out->error()));
    return **out;
  }
  Session login(const std::string& addr, const std::string& pw) {
    auto v = accounts->verify(addr, pw);
    BOOST_REQUIRE_MESSAGE(v.status == VerifyStatus::ok, "verify: " << v.error);
    return std::move(*v.session);
  }
  std::string account_id(const std::string& addr) {
    auto r = accounts->recipient(addr);
    BOOST_REQUIRE(r.ok() && r->has_value());
    return (*r)->id;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(mailbox, MailboxFixture)

BOOST_AUTO_TEST_CASE(delivered_mail_is_sealed_at_rest_and_reads_back) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  const std::string id = account_id(kAlice);
  const std::string msg = message_with("Zq7marker");
  auto r = deliver(id, msg);
  BOOST_REQUIRE_MESSAGE(r.status == DeliveryStatus::ok, to_string(r.status) << r.error);
  BOOST_CHECK_EQUAL(r.seq, 1u);
  BOOST_CHECK_EQUAL(deliver(id, message_with("second")).seq, 2u);

  BOOST_CHECK(!file_contains("header-Zq7marker"));
  BOOST_CHECK(!file_contains("body-Zq7marker"));
  BOOST_CHECK(!file_contains("Zq7marker"));
  BOOST_CHECK(!file_contains(std::string(300, 'x')));

  // LIST/UIDL/STAT need no key.
  auto list = mailbox->list(id);
  BOOST_REQUIRE(list.ok());
  BOOST_REQUIRE_EQUAL(list->size(), 2u);
  BOOST_CHECK_EQUAL((*list)[0].seq, 1u);
  BOOST_CHECK_EQUAL((*list)[0].size, msg.size());
  BOOST_CHECK_EQUAL((*list)[0].received, clock.now());
  BOOST_CHECK_EQUAL((*list)[0].uidl.size(), 16u);
  BOOST_CHECK((*list)[0].uidl != (*list)[1].uidl);
  auto use = mailbox->usage(id);
  BOOST_REQUIRE(use.ok());
  BOOST_CHECK_EQUAL(use->messages, 2u);
  BOOST_CHECK_EQUAL(use->stored_bytes,
                    msg.size() + message_with("second").size() + 2 * crypto::kSealOverhead);

  auto s = login(kAlice, "pw");
  auto plain = mailbox->read(id, 1, s.keys);
  BOOST_REQUIRE(plain.ok());
  BOOST_CHECK_EQUAL(*plain, msg);
  BOOST_CHECK(!mailbox->read(id, 3, s.keys).ok());
}

BOOST_AUTO_TEST_CASE(login_moves_sealed_mail_to_the_mailbox_key_once) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  BOOST_REQUIRE(accounts->create(*gc, std::string("bob@") + test::kDomain, "bobpw").ok());
  const std::string id = account_id(kAlice);
  BOOST_REQUIRE(deliver(id, message_with("Mk1one")).status == DeliveryStatus::ok);
  BOOST_REQUIRE(deliver(id, message_with("Mk1two")).status == DeliveryStatus::ok);
  auto s = login(kAlice, "pw");
  auto n = mailbox->unseal_all(*gc, id, s.keys);
  BOOST_REQUIRE(n.ok());
  BOOST_CHECK_EQUAL(*n, 2u);
  BOOST_CHECK_EQUAL(*mailbox->unseal_all(*gc, id, s.keys), 0u);  // nothing left to move
  // Still nothing readable at rest, still readable with the key, with or without the cached
  // mailbox key, and still nothing for another user's keys.
  BOOST_CHECK(!file_contains("Mk1one"));
  BOOST_CHECK(!file_contains(std::string(300, 'x')));
  BOOST_CHECK_EQUAL(*mailbox->read(id, 1, s.keys), message_with("Mk1one"));
  BOOST_CHECK_EQUAL(*mailbox->read(id, 2, s.keys, Mailbox::mailbox_key(s.keys)),
                    message_with("Mk1two"));
  auto bob = login(std::string("bob@") + test::kDomain, "bobpw");
  BOOST_CHECK(!mailbox->read(id, 1, bob.keys).ok());
  // Mail delivered after the login is sealed again until the next one; both forms read.
  BOOST_REQUIRE(deliver(id, message_with("Mk1three")).status == DeliveryStatus::ok);
  BOOST_CHECK_EQUAL(*mailbox->read(id, 3, s.keys), message_with("Mk1three"));
  // A password change keeps the key pair, so the moved mail stays readable.
  BOOST_REQUIRE(accounts->change_password(*gc, kAlice, "pw", "pw2").status == VerifyStatus::ok);
  auto s2 = login(kAlice, "pw2");
  BOOST_CHECK_EQUAL(*mailbox->read(id, 1, s2.keys), message_with("Mk1one"));
}

BOOST_AUTO_TEST_CASE(a_wrong_password_reads_nothing) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  BOOST_REQUIRE(accounts->create(*gc, std::string("bob@") + test::kDomain, "bobpw").ok());
  const std::string id = account_id(kAlice);
  BOOST_REQUIRE(deliver(id, message_with("m")).status == DeliveryStatus::ok);
  auto v = accounts->verify(kAlice, "wrong");
  BOOST_CHECK(v.status == VerifyStatus::bad_password);
  BOOST_CHECK(!v.session.has_value());
  // Another user's keys do not open alice's mail either.
  auto bob = login(std::string("bob@") + test::kDomain, "bobpw");
  BOOST_CHECK(!mailbox->read(id, 1, bob.keys).ok());
}

BOOST_AUTO_TEST_CASE(change_password_keeps_old_mail_readable) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "old").ok());
  const std::string id = account_id(kAlice);
  BOOST_REQUIRE(deliver(id, message_with("before")).status == DeliveryStatus::ok);
  BOOST_REQUIRE(accounts->change_password(*gc, kAlice, "old", "new").status == VerifyStatus::ok);
  BOOST_REQUIRE(deliver(id, message_with("after")).status == DeliveryStatus::ok);
  auto s = login(kAlice, "new");
  auto one = mailbox->read(id, 1, s.keys);
  BOOST_REQUIRE(one.ok());
  BOOST_CHECK_EQUAL(*one, message_with("before"));
  BOOST_CHECK(mailbox->read(id, 2, s.keys).ok());
}

BOOST_AUTO_TEST_CASE(reset_password_makes_old_mail_unreadable_and_says_so) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "old").ok());
  const std::string id = account_id(kAlice);
  BOOST_REQUIRE(deliver(id, message_with("before")).status == DeliveryStatus::ok);
  auto r = accounts->reset_password(*gc, kAlice, "new");
  BOOST_REQUIRE(r.ok());
  BOOST_CHECK(r->old_mail_unreadable);
  BOOST_REQUIRE(deliver(id, message_with("after")).status == DeliveryStatus::ok);
  auto s = login(kAlice, "new");
  BOOST_CHECK(!mailbox->read(id, 1, s.keys).ok());  // sealed to the old key
  auto two = mailbox->read(id, 2, s.keys);          // sealed to the new one
  BOOST_REQUIRE(two.ok());
  BOOST_CHECK_EQUAL(*two, message_with("after"));
}

BOOST_AUTO_TEST_CASE(delivery_seals_to_the_key_at_commit_time) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "old").ok());
  const std::string id = account_id(kAlice);
  // The recipient was looked up (RCPT) before the reset; the delivery (DATA) comes after.
  BOOST_REQUIRE(accounts->reset_password(*gc, kAlice, "new").ok());
  BOOST_REQUIRE(deliver(id, message_with("late")).status == DeliveryStatus::ok);
  auto s = login(kAlice, "new");
  BOOST_CHECK(mailbox->read(id, 1, s.keys).ok());
}

BOOST_AUTO_TEST_CASE(quota_is_enforced_with_a_distinct_status) {
  Mailbox::Options o;
  o.max_size = 2000;
  open_mailbox(o);
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  const std::string id = account_id(kAlice);
  const std::string msg(900, 'm');
  BOOST_CHECK(deliver(id, msg).status == DeliveryStatus::ok);
  BOOST_CHECK(deliver(id, msg).status == DeliveryStatus::ok);  // 2 * 948 = 1896
  auto full = deliver(id, msg);
  BOOST_CHECK(full.status == DeliveryStatus::over_quota);
  BOOST_CHECK(deliver(id, std::string(2000, 'b')).status == DeliveryStatus::too_large);
  BOOST_CHECK(deliver(id, std::string(2000 - 48 - 1896, 's')).status == DeliveryStatus::ok);
  auto use = mailbox->usage(id);
  BOOST_REQUIRE(use.ok());
  BOOST_CHECK_EQUAL(use->stored_bytes, 2000u);
  BOOST_CHECK_EQUAL(use->messages, 3u);
  // Deleting frees quota.
  BOOST_CHECK_EQUAL(remove(id, {1}), 1u);
  BOOST_CHECK(deliver(id, msg).status == DeliveryStatus::ok);
}

BOOST_AUTO_TEST_CASE(concurrent_deliveries_cannot_overshoot_the_quota) {
  Mailbox::Options o;
  o.max_size = 10 * (100 + crypto::kSealOverhead);
  open_mailbox(o);
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  const std::string id = account_id(kAlice);
  int ok = 0, full = 0, done = 0;
  for (int i = 0; i < 25; ++i) {
    mailbox->deliver(*gc, id, std::string(100, 'c'), [&](DeliveryResult r) {
      ++done;
      if (r.status == DeliveryStatus::ok) ++ok;
      if (r.status == DeliveryStatus::over_quota) ++full;
    });
  }
  uv.run_until([&] { return done == 25; });
  BOOST_CHECK_EQUAL(ok, 10);
  BOOST_CHECK_EQUAL(full, 15);
}

BOOST_AUTO_TEST_CASE(many_deliveries_share_commits) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  const std::string id = account_id(kAlice);
  const auto before = gc->stats();
  int done = 0, ok = 0;
  for (int i = 0; i < 200; ++i) {
    mailbox->deliver(*gc, id, message_with(std::to_string(i)), [&](DeliveryResult r) {
      ++done;
      if (r.status == DeliveryStatus::ok) ++ok;
    });
  }
  uv.run_until([&] { return done == 200; });
  BOOST_CHECK_EQUAL(ok, 200);
  const auto after = gc->stats();
  BOOST_CHECK_EQUAL(after.items - before.items, 200u);
  BOOST_TEST_MESSAGE("200 deliveries in " << after.batches - before.batches << " commits");
  BOOST_CHECK_LT(after.batches - before.batches, 20u);
  auto list = mailbox->list(id);
  BOOST_REQUIRE(list.ok());
  BOOST_CHECK_EQUAL(list->size(), 200u);
  BOOST_CHECK_EQUAL(list->back().seq, 200u);
}

BOOST_AUTO_TEST_CASE(delete_in_one_commit_skips_missing) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  const std::string id = account_id(kAlice);
  for (int i = 0; i < 5; ++i)
    BOOST_REQUIRE(deliver(id, message_with("d")).status == DeliveryStatus::ok);
  const auto batches = gc->stats().batches;
  BOOST_CHECK_EQUAL(remove(id, {2, 4, 9}), 2u);
  BOOST_CHECK_EQUAL(gc->stats().batches, batches + 1);
  BOOST_CHECK_EQUAL(remove(id, {2}), 0u);
  auto list = mailbox->list(id);
  BOOST_REQUIRE(list.ok());
  std::vector<uint64_t> seqs;
  for (const auto& m : *list) seqs.push_back(m.seq);
  BOOST_CHECK((seqs == std::vector<uint64_t>{1, 3, 5}));
  BOOST_CHECK_EQUAL(mailbox->usage(id)->messages, 3u);
  // Sequence numbers are never reused.
  BOOST_CHECK_EQUAL(deliver(id, message_with("e")).seq, 6u);
}

BOOST_AUTO_TEST_CASE(remove_leaves_no_trace) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  BOOST_REQUIRE(accounts->create(*gc, std::string("bob@") + test::kDomain, "pw").ok());
  const std::string id = account_id(kAlice);
  const std::string bob_id = account_id(std::string("bob@") + test::kDomain);
  for (int i = 0; i < 20; ++i) {
    BOOST_REQUIRE(deliver(id, message_with("gone" + std::to_string(i))).status ==
                  DeliveryStatus::ok);
  }
  BOOST_REQUIRE(deliver(bob_id, message_with("kept")).status == DeliveryStatus::ok);
  BOOST_REQUIRE(accounts->change_password(*gc, kAlice, "pw", "pw2").status == VerifyStatus::ok);
  // Remember bytes that only alice's account and mail hold: a sealed message and her wrapped key.
  std::string sealed_sample, record_sample;
  {
    auto txn = env->begin_read();
    BOOST_REQUIRE(txn.ok());
    auto data = env->open_dbi("mailbox", false);
    auto v = txn->get(*data, id + "/" + store::be64(5));
    BOOST_REQUIRE(v.ok() && v->has_value());
    sealed_sample = std::string((*v)->substr(100, 64));
  }
  BOOST_REQUIRE(file_contains(sealed_sample));

  BOOST_REQUIRE(accounts->remove(*gc, kAlice).ok());
  BOOST_CHECK(accounts->verify(kAlice, "pw2").status == VerifyStatus::no_such_account);
  BOOST_CHECK(!accounts->public_key(kAlice).ok());
  auto list = mailbox->list(id);
  BOOST_REQUIRE(list.ok());
  BOOST_CHECK(list->empty());
  BOOST_CHECK_EQUAL(mailbox->usage(id)->stored_bytes, 0u);
  // No key in any database mentions the account id.
  for (const char* name : {"accounts", "mailbox", "mailbox_meta"}) {
    auto db = env->open_dbi(name, false);
    BOOST_REQUIRE(db.ok());
    auto txn = env->begin_read();
    BOOST_REQUIRE(txn.ok());
    BOOST_REQUIRE(store::scan_prefix(*txn, *db, "", [&](std::string_view k, std::string_view v) {
                    BOOST_CHECK_MESSAGE(k.find(id) == std::string_view::npos, name);
                    BOOST_CHECK(v.find(id) == std::string_view::npos);
                    return true;
                  }).ok());
  }
  // Freed pages still hold the old bytes until they are overwritten: scrub them.
  BOOST_CHECK(file_contains(sealed_sample));
  auto scrubber = FreePageScrubber::open(*env);
  BOOST_REQUIRE(scrubber.ok());
  auto report = (*scrubber)->scrub(*gc);
  BOOST_REQUIRE_MESSAGE(report.ok(), (report.ok() ? "" : report.error()));
  BOOST_CHECK_GT(report->free_pages_before, 0u);
  BOOST_CHECK(!file_contains(sealed_sample));
  BOOST_CHECK(!file_contains("alice"));
  // Not checked: the random account id itself. LMDB leaves bytes of deleted keys in the unused
  // middle of live leaf pages, which no API rewrites; the id names nobody once the record that
  // tied it to an address is gone (and that record was zeroed in place before deletion).
  // Bob is untouched.
  auto bob = login(std::string("bob@") + test::kDomain, "pw");
  auto kept = mailbox->read(bob_id, 1, bob.keys);
  BOOST_REQUIRE(kept.ok());
  BOOST_CHECK_EQUAL(*kept, message_with("kept"));
  // A delivery still queued for the removed account is refused, not stored as an orphan.
  BOOST_CHECK(deliver(id, message_with("late")).status == DeliveryStatus::no_such_account);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(meta_round_trip_and_limits) {
  MessageMeta m{1234, 1700000000, "ABCDEFGH23456789"};
  auto enc = encode_meta(m);
  auto d = decode_meta(enc);
  BOOST_REQUIRE(d.ok());
  BOOST_CHECK_EQUAL(d->size, 1234u);
  BOOST_CHECK_EQUAL(d->uidl, m.uidl);
  BOOST_CHECK(encode_meta(*d) == enc);
  for (size_t cut = 0; cut < enc.size(); ++cut) BOOST_CHECK(!decode_meta(enc.substr(0, cut)).ok());
  BOOST_CHECK(!decode_meta(enc + "x").ok());
  BOOST_CHECK(!decode_meta(encode_meta(MessageMeta{1, 1, "has space"})).ok());
  BOOST_CHECK(!decode_meta(encode_meta(MessageMeta{1, 1, ""})).ok());
}
