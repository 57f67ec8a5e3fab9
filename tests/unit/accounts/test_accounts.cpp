#define BOOST_TEST_MODULE accounts
#include <boost/test/unit_test.hpp>

#include "inner/accounts/accounts.h"
#include "tests/unit/accounts/fixture.h"

using namespace nj;
using namespace nj::inner;
using nj::inner::test::StoreFixture;

namespace {

const std::string kAlice = std::string("alice@") + test::kDomain;

Session must_verify(Accounts& a, std::string_view addr, std::string_view pw) {
  auto v = a.verify(addr, pw);
  BOOST_REQUIRE_MESSAGE(v.status == VerifyStatus::ok, "verify failed: " << v.error);
  BOOST_REQUIRE(v.session.has_value());
  return std::move(*v.session);
}

// Every key of every named database the inner's store holds.
std::vector<std::string> all_keys(store::Env& env, std::initializer_list<const char*> dbs) {
  std::vector<std::string> out;
  for (const char* name : dbs) {
    auto db = env.open_dbi(name, false);
    if (!db) continue;
    auto txn = env.begin_read();
    BOOST_REQUIRE(txn.ok());
    auto s = store::scan_prefix(*txn, *db, "", [&](std::string_view k, std::string_view) {
      out.emplace_back(k);
      return true;
    });
    BOOST_REQUIRE(s.ok());
  }
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(accounts, StoreFixture)

BOOST_AUTO_TEST_CASE(create_then_verify) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "correct horse").ok());
  auto s = must_verify(*accounts, kAlice, "correct horse");
  BOOST_CHECK_EQUAL(s.address, kAlice);
  BOOST_CHECK_EQUAL(s.id.size(), 16u);
  // The unwrapped pair opens what is sealed to the stored public key.
  auto pub = accounts->public_key(kAlice);
  BOOST_REQUIRE(pub.ok());
  BOOST_CHECK(*pub == s.keys.pub);
  auto opened = crypto::open_sealed(s.keys, crypto::seal(*pub, "hello"));
  BOOST_REQUIRE(opened.ok());
  BOOST_CHECK_EQUAL(*opened, "hello");

  BOOST_CHECK(accounts->verify(kAlice, "correct horsE").status == VerifyStatus::bad_password);
  BOOST_CHECK(accounts->verify(kAlice, "").status == VerifyStatus::bad_password);
  BOOST_CHECK(accounts->verify(std::string("bob@") + test::kDomain, "x").status ==
              VerifyStatus::no_such_account);
  BOOST_CHECK(accounts->verify("not an address", "x").status == VerifyStatus::no_such_account);
}

BOOST_AUTO_TEST_CASE(addresses_are_canonical_and_validated) {
  BOOST_REQUIRE(accounts->create(*gc, std::string("Alice@USERS.nightjar.test"), "pw").ok());
  // Same account whatever the case of the local part.
  must_verify(*accounts, kAlice, "pw");
  must_verify(*accounts, std::string("ALICE@") + test::kDomain, "pw");
  auto again = accounts->create(*gc, kAlice, "other");
  BOOST_REQUIRE(!again.ok());
  BOOST_CHECK_EQUAL(again.error(), "account exists");

  for (const char* bad : {"alice@example.org", "alice", "\"a b\"@users.nightjar.test",
                          "a..b@users.nightjar.test", "@users.nightjar.test", "postmaster", ""}) {
    auto r = accounts->create(*gc, bad, "pw");
    BOOST_CHECK_MESSAGE(!r.ok(), "accepted: " << bad);
  }
  auto list = accounts->list();
  BOOST_REQUIRE(list.ok());
  BOOST_REQUIRE_EQUAL(list->size(), 1u);
  BOOST_CHECK_EQUAL((*list)[0].address, kAlice);
}

BOOST_AUTO_TEST_CASE(passwords_are_checked) {
  BOOST_CHECK(!accounts->create(*gc, kAlice, "").ok());
  BOOST_CHECK(
      !accounts->create(*gc, kAlice, std::string(Accounts::kMaxPasswordBytes + 1, 'x')).ok());
  BOOST_CHECK(accounts->create(*gc, kAlice, std::string(Accounts::kMaxPasswordBytes, 'x')).ok());
}

BOOST_AUTO_TEST_CASE(secrets_and_address_are_not_stored_in_the_clear) {
  const std::string pw = "Passw0rd-marker-4711";
  BOOST_REQUIRE(accounts->create(*gc, kAlice, pw).ok());
  auto s = must_verify(*accounts, kAlice, pw);
  std::string secret(reinterpret_cast<const char*>(s.keys.sec.data()), s.keys.sec.size());
  BOOST_CHECK(!file_contains(pw));
  BOOST_CHECK(!file_contains(secret));
  BOOST_CHECK(!file_contains("alice"));  // the address is AEAD-sealed under the directory key
  BOOST_CHECK(file_contains(std::string(s.keys.pub.view())));  // the public half is plain
}

BOOST_AUTO_TEST_CASE(survives_reopening_the_store) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  auto before = must_verify(*accounts, kAlice, "pw");
  close();
  open();
  auto after = must_verify(*accounts, kAlice, "pw");
  BOOST_CHECK(after.keys.pub == before.keys.pub);
  BOOST_CHECK_EQUAL(after.id, before.id);
}

BOOST_AUTO_TEST_CASE(change_password_keeps_the_key_pair) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "old").ok());
  auto before = must_verify(*accounts, kAlice, "old");
  auto wrong = accounts->change_password(*gc, kAlice, "not old", "new");
  BOOST_CHECK(wrong.status == VerifyStatus::bad_password);
  must_verify(*accounts, kAlice, "old");  // unchanged by the failed attempt

  auto ch = accounts->change_password(*gc, kAlice, "old", "new");
  BOOST_REQUIRE_MESSAGE(ch.status == VerifyStatus::ok, ch.error);
  BOOST_CHECK(accounts->verify(kAlice, "old").status == VerifyStatus::bad_password);
  auto after = must_verify(*accounts, kAlice, "new");
  BOOST_CHECK(after.keys.pub == before.keys.pub);
  BOOST_CHECK(std::equal(after.keys.sec.data(), after.keys.sec.data() + crypto::kKeyBytes,
                         before.keys.sec.data()));
  BOOST_CHECK(
      accounts->change_password(*gc, std::string("nobody@") + test::kDomain, "a", "b").status ==
      VerifyStatus::no_such_account);
}

BOOST_AUTO_TEST_CASE(reset_password_makes_a_new_key_pair_and_says_so) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "old").ok());
  auto before = must_verify(*accounts, kAlice, "old");
  std::string sealed = crypto::seal(before.keys.pub, "old mail");
  clock.advance(3600);
  auto r = accounts->reset_password(*gc, kAlice, "fresh");
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
  BOOST_CHECK(r->old_mail_unreadable);
  BOOST_CHECK(!(r->new_pub == before.keys.pub));
  BOOST_CHECK(accounts->verify(kAlice, "old").status == VerifyStatus::bad_password);
  auto after = must_verify(*accounts, kAlice, "fresh");
  BOOST_CHECK(after.keys.pub == r->new_pub);
  BOOST_CHECK_EQUAL(after.id, before.id);  // same mailbox, new key
  BOOST_CHECK(!crypto::open_sealed(after.keys, sealed).ok());
  auto info = accounts->show(kAlice);
  BOOST_REQUIRE(info.ok() && info->has_value());
  BOOST_CHECK_EQUAL((*info)->key_generation, 2u);
  BOOST_CHECK_EQUAL((*info)->key_created, clock.now());
  BOOST_CHECK(!accounts->reset_password(*gc, std::string("nobody@") + test::kDomain, "x").ok());
}

BOOST_AUTO_TEST_CASE(show_and_list_hold_no_secrets) {
  BOOST_REQUIRE(accounts->create(*gc, std::string("bob@") + test::kDomain, "pw").ok());
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  auto list = accounts->list();
  BOOST_REQUIRE(list.ok());
  BOOST_REQUIRE_EQUAL(list->size(), 2u);
  BOOST_CHECK_EQUAL((*list)[0].address, kAlice);  // sorted
  BOOST_CHECK_EQUAL((*list)[0].created, clock.now());
  auto none = accounts->show(std::string("carol@") + test::kDomain);
  BOOST_REQUIRE(none.ok());
  BOOST_CHECK(!none->has_value());
}

BOOST_AUTO_TEST_CASE(settings_are_validated) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  BOOST_REQUIRE(accounts->set_setting(*gc, kAlice, "delay", "defer").ok());
  auto info = accounts->show(kAlice);
  BOOST_REQUIRE(info.ok() && info->has_value());
  BOOST_CHECK_EQUAL((*info)->settings.at("delay"), "defer");
  BOOST_CHECK(!accounts->set_setting(*gc, kAlice, "Delay", "x").ok());
  BOOST_CHECK(!accounts->set_setting(*gc, kAlice, "delay", "two words").ok());
  BOOST_CHECK(!accounts->set_setting(*gc, kAlice, "delay", "").ok());
  BOOST_CHECK(!accounts->set_setting(*gc, kAlice, std::string(kMaxSettingKey + 1, 'a'), "x").ok());
  for (size_t i = 1; i < kMaxSettings; ++i) {
    BOOST_REQUIRE(accounts->set_setting(*gc, kAlice, "k" + std::to_string(i), "v").ok());
  }
  BOOST_CHECK(!accounts->set_setting(*gc, kAlice, "onemore", "v").ok());
  BOOST_CHECK(accounts->set_setting(*gc, kAlice, "delay", "now").ok());  // replacing is fine
  BOOST_CHECK(accounts->clear_setting(*gc, kAlice, "delay").ok());
  BOOST_CHECK(!accounts->clear_setting(*gc, kAlice, "delay").ok());
  // Password changes keep the settings.
  BOOST_REQUIRE(accounts->change_password(*gc, kAlice, "pw", "pw2").status == VerifyStatus::ok);
  info = accounts->show(kAlice);
  BOOST_CHECK_EQUAL((*info)->settings.size(), kMaxSettings - 1);

  auto kv = parse_setting("delay=defer");
  BOOST_REQUIRE(kv.ok());
  BOOST_CHECK_EQUAL(kv->first, "delay");
  BOOST_CHECK(!parse_setting("delay").ok());
  BOOST_CHECK(!parse_setting("=x").ok());
}

BOOST_AUTO_TEST_CASE(remove_erases_record_index_and_runs_erasers) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  BOOST_REQUIRE(accounts->create(*gc, std::string("bob@") + test::kDomain, "pw").ok());
  auto s = must_verify(*accounts, kAlice, "pw");
  std::string erased_id;
  accounts->add_eraser([&](store::Txn&, std::string_view id) -> Status {
    erased_id = std::string(id);
    return {};
  });
  BOOST_REQUIRE(accounts->remove(*gc, kAlice).ok());
  BOOST_CHECK_EQUAL(erased_id, s.id);
  BOOST_CHECK(accounts->verify(kAlice, "pw").status == VerifyStatus::no_such_account);
  BOOST_CHECK(!accounts->remove(*gc, kAlice).ok());
  for (const auto& k : all_keys(*env, {"accounts"})) {
    BOOST_CHECK(k.find(s.id) == std::string::npos);
  }
  auto list = accounts->list();
  BOOST_REQUIRE(list.ok());
  BOOST_CHECK_EQUAL(list->size(), 1u);
  // The address can be created again, as a new account.
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  BOOST_CHECK(must_verify(*accounts, kAlice, "pw").id != s.id);
}

BOOST_AUTO_TEST_CASE(a_failing_eraser_keeps_the_account) {
  BOOST_REQUIRE(accounts->create(*gc, kAlice, "pw").ok());
  accounts->add_eraser(
      [](store::Txn&, std::string_view) -> Status { return make_error("mailbox store failed"); });
  BOOST_CHECK(!accounts->remove(*gc, kAlice).ok());
  must_verify(*accounts, kAlice, "pw");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(record_round_trip_and_limits) {
  AccountRecord r;
  r.address_box = std::string(60, 'a');
  r.pwhash = "$argon2id$v=19$m=8,t=1,p=1$x$y";
  r.salt = std::string(crypto::kSaltBytes, 's');
  r.kdf_ops = 3;
  r.kdf_mem = 1 << 20;
  r.wrapped_secret = std::string(crypto::kKeyBytes + crypto::kAeadOverhead, 'w');
  r.created = 1700000000;
  r.key_created = 1700000001;
  r.key_generation = 3;
  r.settings = {{"delay", "defer"}, {"x.y", "1"}};
  auto enc = encode_record(r);
  auto d = decode_record(enc);
  BOOST_REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error()));
  BOOST_CHECK(encode_record(*d) == enc);
  BOOST_CHECK_EQUAL(d->key_generation, 3u);
  BOOST_CHECK(d->settings == r.settings);

  for (size_t cut = 0; cut < enc.size(); ++cut) {
    BOOST_CHECK_MESSAGE(!decode_record(enc.substr(0, cut)).ok(), "accepted prefix " << cut);
  }
  BOOST_CHECK(!decode_record(enc + "x").ok());
  std::string v2 = enc;
  v2[0] = 2;
  BOOST_CHECK(!decode_record(v2).ok());
  AccountRecord bad = r;
  bad.settings = {{"Bad Key", "v"}};
  BOOST_CHECK(!decode_record(encode_record(bad)).ok());
  bad = r;
  bad.salt = "short";
  BOOST_CHECK(!decode_record(encode_record(bad)).ok());
}
