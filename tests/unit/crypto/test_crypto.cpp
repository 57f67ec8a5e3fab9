#define BOOST_TEST_MODULE crypto
#include <boost/test/unit_test.hpp>
#include <set>
#include <string>

#include "common/crypto/crypto.h"

namespace c = nj::crypto;

BOOST_AUTO_TEST_CASE(secure_bytes_are_zeroed_and_move_only) {
  c::SecureBytes a(32);
  BOOST_CHECK_EQUAL(a.size(), 32u);
  for (size_t i = 0; i < a.size(); ++i) BOOST_CHECK_EQUAL(a.data()[i], 0);
  a.data()[0] = 7;
  c::SecureBytes b = std::move(a);
  BOOST_CHECK_EQUAL(a.size(), 0u);
  BOOST_CHECK(a.data() == nullptr);
  BOOST_CHECK_EQUAL(b.data()[0], 7);
  auto e = c::SecureBytes::copy_of("");
  BOOST_CHECK(e.empty());
  BOOST_CHECK(e.data() != nullptr);
  BOOST_CHECK_EQUAL(c::SecureBytes::copy_of("abc").view(), "abc");
}

BOOST_AUTO_TEST_CASE(seal_and_open_round_trip) {
  auto kp = c::KeyPair::generate();
  const std::string msg = std::string("Subject: hi\r\n\r\nbody\0with nul", 28);
  auto sealed = c::seal(kp.pub, msg);
  BOOST_CHECK_EQUAL(sealed.size(), msg.size() + c::kSealOverhead);
  BOOST_CHECK(sealed.find("body") == std::string::npos);
  BOOST_CHECK_NE(c::seal(kp.pub, msg), sealed);  // ephemeral key: never the same twice
  auto opened = c::open_sealed(kp, sealed);
  BOOST_REQUIRE(opened.ok());
  BOOST_CHECK_EQUAL(*opened, msg);
  auto empty = c::open_sealed(kp, c::seal(kp.pub, ""));
  BOOST_REQUIRE(empty.ok());
  BOOST_CHECK(empty->empty());
}

BOOST_AUTO_TEST_CASE(open_with_wrong_key_or_tampered_fails) {
  auto kp = c::KeyPair::generate();
  auto other = c::KeyPair::generate();
  auto sealed = c::seal(kp.pub, "secret mail");
  BOOST_CHECK(!c::open_sealed(other, sealed).ok());
  for (size_t i : {size_t{0}, size_t{31}, size_t{40}, sealed.size() - 1}) {
    std::string bad = sealed;
    bad[i] ^= 1;
    BOOST_CHECK_MESSAGE(!c::open_sealed(kp, bad).ok(), "flip at " << i);
  }
  BOOST_CHECK(!c::open_sealed(kp, sealed.substr(0, sealed.size() - 1)).ok());
  BOOST_CHECK(!c::open_sealed(kp, "").ok());
  BOOST_CHECK(!c::open_sealed(kp, std::string(47, 'a')).ok());
}

BOOST_AUTO_TEST_CASE(keypair_from_secret_derives_the_public_key) {
  auto kp = c::KeyPair::generate();
  auto again = c::KeyPair::from_secret(c::SecretKey(c::SecureBytes::copy_of(
      std::string_view(reinterpret_cast<const char*>(kp.sec.data()), kp.sec.size()))));
  BOOST_REQUIRE(again.ok());
  BOOST_CHECK(again->pub == kp.pub);
  BOOST_CHECK(!c::PublicKey::from_bytes("short").ok());
}

BOOST_AUTO_TEST_CASE(aead_round_trip_and_failures) {
  auto key = c::AeadKey::generate();
  auto boxed = c::aead_encrypt(key, "outbound message", "id-1");
  BOOST_CHECK_EQUAL(boxed.size(), 16 + c::kAeadOverhead);
  BOOST_CHECK_NE(c::aead_encrypt(key, "outbound message", "id-1"), boxed);  // random nonce
  auto pt = c::aead_decrypt(key, boxed, "id-1");
  BOOST_REQUIRE(pt.ok());
  BOOST_CHECK_EQUAL(*pt, "outbound message");
  BOOST_CHECK(!c::aead_decrypt(key, boxed, "id-2").ok());                     // other record id
  BOOST_CHECK(!c::aead_decrypt(c::AeadKey::generate(), boxed, "id-1").ok());  // other key
  std::string bad = boxed;
  bad[30] ^= 0x80;
  BOOST_CHECK(!c::aead_decrypt(key, bad, "id-1").ok());
  BOOST_CHECK(!c::aead_decrypt(key, boxed.substr(0, 39), "id-1").ok());
  auto e = c::aead_decrypt(key, c::aead_encrypt(key, ""));
  BOOST_REQUIRE(e.ok());
  BOOST_CHECK(e->empty());
  BOOST_CHECK(!c::AeadKey::from_bytes("x").ok());
  auto k2 = c::AeadKey::from_bytes(std::string(32, 'k'));
  BOOST_REQUIRE(k2.ok());
  BOOST_CHECK(c::aead_decrypt(*k2, c::aead_encrypt(*k2, "z")).ok());
}

BOOST_AUTO_TEST_CASE(derived_aead_keys_are_fixed_and_separated) {
  auto hex_of = [](const c::AeadKey& k) {
    return c::to_hex(std::string_view(reinterpret_cast<const char*>(k.data()), c::kKeyBytes));
  };
  std::string raw;
  for (int i = 0; i < 32; ++i) raw.push_back(static_cast<char>(i));
  c::SecretKey sec(c::SecureBytes::copy_of(raw));
  // Known answers: BLAKE2b-256 keyed with the secret key over the empty message, salt =
  // le64(subkey id) || 8 zero bytes, personal = context || 8 zero bytes (computed with Python's
  // hashlib.blake2b). A change here would make every stored record unreadable.
  auto k = c::derive_aead_key(sec, "njoutq01");
  BOOST_REQUIRE(k.ok());
  BOOST_CHECK_EQUAL(hex_of(*k), "b60cd1dc48f23665f62576eec66b1f8480d04497abf44f7caedb1bd8b1bd37b7");
  auto k2 = c::derive_aead_key(sec, "njoutq01", 2);
  BOOST_REQUIRE(k2.ok());
  BOOST_CHECK_EQUAL(hex_of(*k2),
                    "1cbe41371c78d50cfddc7b13c1bab2e81c431df937cde8d5374e5ae81a67e3d7");
  auto other_ctx = c::derive_aead_key(sec, "njoutq02");
  BOOST_REQUIRE(other_ctx.ok());
  BOOST_CHECK_EQUAL(hex_of(*other_ctx),
                    "c892892a06a5f3004b344b14b80cf2faf747af13582afc359fd74ecf5541128b");

  // Deterministic: a key derived again opens what the first sealed; another secret key does not.
  auto again = c::derive_aead_key(sec, "njoutq01");
  BOOST_REQUIRE(again.ok());
  auto boxed = c::aead_encrypt(*k, "record", "id-1");
  BOOST_CHECK(c::aead_decrypt(*again, boxed, "id-1").ok());
  BOOST_CHECK(!c::aead_decrypt(*other_ctx, boxed, "id-1").ok());
  auto kp = c::KeyPair::generate();
  auto theirs = c::derive_aead_key(kp.sec, "njoutq01");
  BOOST_REQUIRE(theirs.ok());
  BOOST_CHECK(!c::aead_decrypt(*theirs, boxed, "id-1").ok());
  BOOST_CHECK_NE(hex_of(*theirs), hex_of(*k));

  BOOST_CHECK(!c::derive_aead_key(sec, "short").ok());
  BOOST_CHECK(!c::derive_aead_key(sec, "njoutq012").ok());
  BOOST_CHECK(!c::derive_aead_key(sec, "").ok());
}

BOOST_AUTO_TEST_CASE(keyed_hash_depends_on_key_and_framing) {
  auto k1 = c::HashKey::generate();
  auto k2 = c::HashKey::generate();
  BOOST_CHECK(c::keyed_hash(k1, "192.0.2.1") == c::keyed_hash(k1, "192.0.2.1"));
  BOOST_CHECK(c::keyed_hash(k1, "192.0.2.1") != c::keyed_hash(k2, "192.0.2.1"));
  BOOST_CHECK(c::keyed_hash(k1, "192.0.2.1") != c::keyed_hash(k1, "192.0.2.2"));
  BOOST_CHECK(c::keyed_hash(k1, {"ab", "c"}) != c::keyed_hash(k1, {"a", "bc"}));
  BOOST_CHECK(c::keyed_hash(k1, {"a", "b"}) == c::keyed_hash(k1, {"a", "b"}));
  // Known answer: BLAKE2b-256 keyed with 32 zero bytes over "" (RFC 7693 reference code).
  auto zero = c::HashKey::from_bytes(std::string(32, '\0'));
  BOOST_REQUIRE(zero.ok());
  BOOST_CHECK_EQUAL(c::digest_view(c::keyed_hash(*zero, "")).size(), 32u);
}

BOOST_AUTO_TEST_CASE(random_ids_are_unambiguous_and_distinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    auto id = c::random_id();
    BOOST_REQUIRE_EQUAL(id.size(), 16u);
    for (char ch : id) {
      BOOST_CHECK_MESSAGE((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z'), id);
      BOOST_CHECK(ch != 'i' && ch != 'l' && ch != 'o' && ch != 'u');
    }
    seen.insert(id);
  }
  BOOST_CHECK_EQUAL(seen.size(), 2000u);
  BOOST_CHECK_EQUAL(c::random_bytes(33).size(), 33u);
  BOOST_CHECK_NE(c::random_bytes(16), c::random_bytes(16));
  for (int i = 0; i < 100; ++i) BOOST_CHECK_LT(c::random_uniform(7), 7u);
}

BOOST_AUTO_TEST_CASE(constant_time_compare) {
  BOOST_CHECK(c::equal_ct("abc", "abc"));
  BOOST_CHECK(!c::equal_ct("abc", "abd"));
  BOOST_CHECK(!c::equal_ct("abc", "ab"));
  BOOST_CHECK(c::equal_ct("", ""));
}

BOOST_AUTO_TEST_CASE(hex_and_base64) {
  BOOST_CHECK_EQUAL(c::to_hex(std::string("\x00\xff\x10", 3)), "00ff10");
  BOOST_CHECK_EQUAL(*c::from_hex("00ff10"), std::string("\x00\xff\x10", 3));
  BOOST_CHECK_EQUAL(*c::from_hex("00FF10"), std::string("\x00\xff\x10", 3));
  BOOST_CHECK(!c::from_hex("0").ok());
  BOOST_CHECK(!c::from_hex("zz").ok());
  BOOST_CHECK(!c::from_hex("00 1").ok());
  BOOST_CHECK_EQUAL(c::to_base64("foobar"), "Zm9vYmFy");
  BOOST_CHECK_EQUAL(c::to_base64("fo"), "Zm8=");
  BOOST_CHECK_EQUAL(c::to_base64(""), "");
  BOOST_CHECK_EQUAL(*c::from_base64("Zm8="), "fo");
  BOOST_CHECK(!c::from_base64("Zm8").ok());    // missing padding
  BOOST_CHECK(!c::from_base64("Zm8=x").ok());  // trailing garbage
  BOOST_CHECK(!c::from_base64("Z!8=").ok());
  auto s = c::from_base64_secure("Zm9vYmFy");
  BOOST_REQUIRE(s.ok());
  BOOST_CHECK_EQUAL(s->view(), "foobar");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  BOOST_CHECK_EQUAL(*c::from_base64(c::to_base64(all)), all);
  BOOST_CHECK_EQUAL(*c::from_hex(c::to_hex(all)), all);
}

BOOST_AUTO_TEST_CASE(argon2id_derive_key) {
  const std::string salt(16, 's');
  auto lim = c::PwhashLimits::minimum();
  auto a = c::derive_key("correct horse", salt, lim);
  auto b = c::derive_key("correct horse", salt, lim);
  auto other_pw = c::derive_key("correct horsf", salt, lim);
  auto other_salt = c::derive_key("correct horse", std::string(16, 't'), lim);
  BOOST_REQUIRE(a.ok() && b.ok() && other_pw.ok() && other_salt.ok());
  BOOST_CHECK_EQUAL(a->size(), 32u);
  BOOST_CHECK(a->view() == b->view());
  BOOST_CHECK(a->view() != other_pw->view());
  BOOST_CHECK(a->view() != other_salt->view());
  BOOST_CHECK(!c::derive_key("pw", "short salt", lim).ok());
  BOOST_CHECK(!c::derive_key(std::string(c::kMaxPasswordBytes + 1, 'p'), salt, lim).ok());
}

BOOST_AUTO_TEST_CASE(argon2id_password_strings) {
  auto lim = c::PwhashLimits::minimum();
  auto h = c::hash_password("hunter2", lim);
  BOOST_REQUIRE(h.ok());
  BOOST_CHECK(h->rfind("$argon2id$", 0) == 0);
  BOOST_CHECK(c::verify_password(*h, "hunter2"));
  BOOST_CHECK(!c::verify_password(*h, "hunter3"));
  BOOST_CHECK(!c::verify_password("garbage", "hunter2"));
  BOOST_CHECK(!c::verify_password(std::string(1000, '$'), "hunter2"));
  BOOST_CHECK(!c::password_needs_rehash(*h, lim));
  BOOST_CHECK(c::password_needs_rehash(*h, c::PwhashLimits::interactive()));
  BOOST_CHECK_NE(*h, *c::hash_password("hunter2", lim));  // random salt
}
