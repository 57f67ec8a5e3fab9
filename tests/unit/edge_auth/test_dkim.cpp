#include <boost/test/unit_test.hpp>

#include "edge/auth/dkim_verify.h"
#include "fixture.h"

using namespace nj::edge::auth;
using namespace nj::edge::auth::test;
using nj::dns::Answer;
using nj::dns::Status;

namespace {

Answer txt(const std::string& t) {
  Answer a;
  a.status = Status::ok;
  a.txt = {t};
  return a;
}

Answer status(Status s) {
  Answer a;
  a.status = s;
  return a;
}

std::vector<DkimReport> verify(const std::shared_ptr<const DkimLibrary>& lib,
                               const std::string& msg, Answer rs, Answer ed) {
  auto m = DkimMessage::start(lib, msg, "test");
  for (const auto& n : m->key_names()) m->set_key(n, n.rfind("rs.", 0) == 0 ? rs : ed);
  return m->finish(msg);
}

}  // namespace

BOOST_AUTO_TEST_CASE(key_names_and_good_signatures) {
  auto lib = DkimLibrary::create();
  BOOST_TEST_REQUIRE(lib.ok(), (lib.ok() ? std::string() : lib.error()));
  std::string msg = data_file("signed.eml");
  BOOST_TEST_REQUIRE(!msg.empty());
  auto m = DkimMessage::start(*lib, msg, "test");
  BOOST_TEST(m->key_names().size() == 2u);
  BOOST_TEST(m->key_names()[0] == "rs._domainkey.signed.test");
  BOOST_TEST(m->key_names()[1] == "ed._domainkey.signed.test");

  auto r = verify(*lib, msg, txt(key_record("rs")), txt(key_record("ed")));
  BOOST_TEST_REQUIRE(r.size() == 2u);
  BOOST_TEST((r[0].result == DkimResult::pass));
  BOOST_TEST(r[0].algorithm == "rsa-sha256");
  BOOST_TEST(r[0].selector == "rs");
  BOOST_TEST(r[0].domain == "signed.test");
  BOOST_TEST(r[0].b_prefix.size() == 8u);
  BOOST_TEST((r[1].result == DkimResult::pass));
  BOOST_TEST(r[1].algorithm == "ed25519-sha256");
}

BOOST_AUTO_TEST_CASE(altered_body_and_headers_fail) {
  auto lib = DkimLibrary::create();
  BOOST_TEST_REQUIRE(lib.ok());
  std::string msg = data_file("signed.eml");
  std::string body_changed = msg;
  body_changed.replace(body_changed.find("signed.\r\n"), 7, "SIGNED.");
  auto r = verify(*lib, body_changed, txt(key_record("rs")), txt(key_record("ed")));
  BOOST_TEST_REQUIRE(r.size() == 2u);
  BOOST_TEST((r[0].result == DkimResult::fail));
  BOOST_TEST(r[0].comment == "body hash mismatch");
  BOOST_TEST((r[1].result == DkimResult::fail));

  std::string subject_changed = msg;
  subject_changed.replace(subject_changed.find("Subject: fixture"), 16, "Subject: fixturE");
  r = verify(*lib, subject_changed, txt(key_record("rs")), txt(key_record("ed")));
  BOOST_TEST((r[0].result == DkimResult::fail));
  BOOST_TEST(r[0].comment == "bad signature");
}

BOOST_AUTO_TEST_CASE(keys_missing_wrong_or_unreachable) {
  auto lib = DkimLibrary::create();
  BOOST_TEST_REQUIRE(lib.ok());
  std::string msg = data_file("signed.eml");
  auto r = verify(*lib, msg, status(Status::nxdomain), status(Status::servfail));
  BOOST_TEST_REQUIRE(r.size() == 2u);
  BOOST_TEST((r[0].result == DkimResult::permerror));
  BOOST_TEST((r[1].result == DkimResult::temperror));
  // The keys swapped: each signature meets a key of the wrong type.
  r = verify(*lib, msg, txt(key_record("ed")), txt(key_record("rs")));
  BOOST_TEST((r[0].result != DkimResult::pass));
  BOOST_TEST((r[1].result != DkimResult::pass));
  // An oversized record is refused, not truncated.
  r = verify(*lib, msg, txt("v=DKIM1; p=" + std::string(kMaxKeyRecord + 10, 'A')),
             txt(key_record("ed")));
  BOOST_TEST((r[0].result != DkimResult::pass));
  BOOST_TEST((r[1].result == DkimResult::pass));
}

BOOST_AUTO_TEST_CASE(unsigned_and_many_signatures) {
  auto lib = DkimLibrary::create();
  BOOST_TEST_REQUIRE(lib.ok());
  std::string plain = "From: a@b.test\r\nSubject: x\r\n\r\nbody\r\n";
  auto m = DkimMessage::start(*lib, plain, "t");
  BOOST_TEST(m->key_names().empty());
  BOOST_TEST(m->finish(plain).empty());

  std::string many;
  for (int i = 0; i < 8; ++i)
    many += "DKIM-Signature: v=1; a=rsa-sha256; d=d" + std::to_string(i) +
            ".test; s=s; h=from; bh=AAAA; b=BBBB\r\n";
  many += plain;
  m = DkimMessage::start(*lib, many, "t");
  BOOST_TEST(m->key_names().size() <= kMaxSignatures);
  auto r = m->finish(many);
  BOOST_TEST(r.size() == kMaxSignatures);
  for (const auto& x : r) BOOST_TEST((x.result != DkimResult::pass));

  BOOST_TEST(dkim_key_name("s1", "Example.ORG") == "s1._domainkey.example.org");
  BOOST_TEST(dkim_key_name("a b", "example.org").empty());
  BOOST_TEST(dkim_key_name("s", "example..org").empty());
  BOOST_TEST(dkim_key_name(std::string(64, 'a'), "example.org").empty());
}
