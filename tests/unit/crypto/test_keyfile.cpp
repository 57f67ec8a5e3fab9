#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/crypto/crypto.h"
#include "common/crypto/keyfile.h"

namespace c = nj::crypto;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nj-crypto-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void spit(const std::string& p, const std::string& text, mode_t mode) {
  ::unlink(p.c_str());
  std::ofstream(p) << text;
  ::chmod(p.c_str(), mode);
}

mode_t mode_of(const std::string& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

}  // namespace

BOOST_AUTO_TEST_CASE(write_and_load_round_trip) {
  TempDir t;
  auto kp = c::KeyPair::generate();
  const std::string prefix = t.path + "/edge";
  auto st = c::write_keypair(prefix, kp);
  BOOST_REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error()));
  BOOST_CHECK_EQUAL(mode_of(prefix + ".secret"), 0600u);
  BOOST_CHECK_EQUAL(mode_of(prefix + ".pub"), 0644u);
  auto sec_text = slurp(prefix + ".secret");
  BOOST_CHECK(sec_text.rfind("nightjar-secret-key-v1 x25519 ", 0) == 0);
  BOOST_CHECK_EQUAL(sec_text.back(), '\n');
  auto pub_text = slurp(prefix + ".pub");
  BOOST_CHECK_EQUAL(pub_text, c::public_key_line(kp.pub) + "\n");
  BOOST_CHECK(pub_text.rfind("nightjar-public-key-v1 x25519 ", 0) == 0);

  auto loaded = c::load_secret_key(prefix + ".secret");
  BOOST_REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? std::string() : loaded.error()));
  BOOST_CHECK(loaded->pub == kp.pub);
  auto pub = c::load_public_key(prefix + ".pub");
  BOOST_REQUIRE(pub.ok());
  BOOST_CHECK(*pub == kp.pub);
  // The loaded pair actually works.
  auto opened = c::open_sealed(*loaded, c::seal(*pub, "m"));
  BOOST_REQUIRE(opened.ok());
  BOOST_CHECK_EQUAL(*opened, "m");
}

BOOST_AUTO_TEST_CASE(existing_keys_are_never_overwritten) {
  TempDir t;
  const std::string prefix = t.path + "/k";
  auto first = c::KeyPair::generate();
  BOOST_REQUIRE(c::write_keypair(prefix, first).ok());
  auto st = c::write_keypair(prefix, c::KeyPair::generate());
  BOOST_REQUIRE(!st.ok());
  BOOST_CHECK(st.error().find(prefix + ".secret: already exists") == 0);
  BOOST_CHECK(c::load_secret_key(prefix + ".secret")->pub == first.pub);

  // Only the .pub exists: the secret written first is removed again, nothing is half-made.
  const std::string p2 = t.path + "/half";
  spit(p2 + ".pub", "occupied\n", 0644);
  st = c::write_keypair(p2, c::KeyPair::generate());
  BOOST_REQUIRE(!st.ok());
  BOOST_CHECK(st.error().find(p2 + ".pub: already exists") == 0);
  BOOST_CHECK(!std::filesystem::exists(p2 + ".secret"));
  BOOST_CHECK_EQUAL(slurp(p2 + ".pub"), "occupied\n");
}

BOOST_AUTO_TEST_CASE(secret_key_readable_by_others_is_refused) {
  TempDir t;
  const std::string prefix = t.path + "/k";
  BOOST_REQUIRE(c::write_keypair(prefix, c::KeyPair::generate()).ok());
  for (mode_t m : {0640u, 0604u, 0660u, 0644u, 0610u}) {
    ::chmod((prefix + ".secret").c_str(), m);
    auto r = c::load_secret_key(prefix + ".secret");
    BOOST_REQUIRE(!r.ok());
    BOOST_CHECK_MESSAGE(r.error().find(prefix + ".secret: ") == 0, r.error());
    BOOST_CHECK_MESSAGE(r.error().find("group or others") != std::string::npos, r.error());
  }
  ::chmod((prefix + ".secret").c_str(), 0400);
  BOOST_CHECK(c::load_secret_key(prefix + ".secret").ok());
  // The public key may be world-readable.
  BOOST_CHECK(c::load_public_key(prefix + ".pub").ok());
}

BOOST_AUTO_TEST_CASE(bad_formats_are_refused_with_path_and_problem) {
  TempDir t;
  const std::string p = t.path + "/bad.secret";
  const std::string good_b64 = c::to_base64(std::string(32, 'A'));
  struct Case {
    std::string text;
    std::string problem;
  } cases[] = {
      {"nightjar-public-key-v1 x25519 " + good_b64 + "\n", "wrong type tag"},
      {"nightjar-secret-key-v2 x25519 " + good_b64 + "\n", "wrong type tag"},
      {"nightjar-secret-key-v1 ed25519 " + good_b64 + "\n", "unsupported key type"},
      {"nightjar-secret-key-v1\n", "missing key type"},
      {"nightjar-secret-key-v1 x25519 " + c::to_base64(std::string(31, 'A')) + "\n",
       "bad key length"},
      {"nightjar-secret-key-v1 x25519 not*base64\n", "bad base64"},
      {"nightjar-secret-key-v1 x25519 " + good_b64 + "\nextra\n", "more than one line"},
      {"", "wrong type tag"},
      {std::string(600, 'x'), "too large"},
  };
  for (const auto& cs : cases) {
    spit(p, cs.text, 0600);
    auto r = c::load_secret_key(p);
    BOOST_REQUIRE(!r.ok());
    BOOST_CHECK_MESSAGE(r.error().find(p + ": ") == 0, r.error());
    BOOST_CHECK_MESSAGE(r.error().find(cs.problem) != std::string::npos,
                        "expected '" << cs.problem << "', got: " << r.error());
  }
  spit(p, "nightjar-secret-key-v1 x25519 " + good_b64 + "\n", 0600);
  BOOST_CHECK(c::load_secret_key(p).ok());
  spit(p, "nightjar-secret-key-v1 x25519 " + good_b64, 0600);  // no final newline: fine
  BOOST_CHECK(c::load_secret_key(p).ok());

  const std::string q = t.path + "/bad.pub";
  spit(q, "nightjar-secret-key-v1 x25519 " + good_b64 + "\n", 0644);
  auto r = c::load_public_key(q);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.error().find(q + ": wrong type tag") == 0);
  auto missing = c::load_public_key(t.path + "/none.pub");
  BOOST_REQUIRE(!missing.ok());
  BOOST_CHECK(missing.error().find(t.path + "/none.pub: cannot open") == 0);
}

BOOST_AUTO_TEST_CASE(symlinked_and_non_regular_key_files_are_refused) {
  TempDir t;
  const std::string prefix = t.path + "/k";
  BOOST_REQUIRE(c::write_keypair(prefix, c::KeyPair::generate()).ok());
  const std::string link = t.path + "/link.secret";
  BOOST_REQUIRE_EQUAL(::symlink((prefix + ".secret").c_str(), link.c_str()), 0);
  BOOST_CHECK(!c::load_secret_key(link).ok());
  BOOST_CHECK(!c::load_secret_key(t.path).ok());
  // Nor is a symlink followed when writing.
  BOOST_REQUIRE_EQUAL(::symlink((t.path + "/target").c_str(), (t.path + "/s.secret").c_str()), 0);
  BOOST_CHECK(!c::write_keypair(t.path + "/s", c::KeyPair::generate()).ok());
  BOOST_CHECK(!std::filesystem::exists(t.path + "/target"));
}
