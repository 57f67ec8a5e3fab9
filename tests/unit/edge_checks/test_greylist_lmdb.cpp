#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "check_capture.h"
#include "common/base/clock.h"
#include "edge/checks/greylist.h"
#include "edge/checks/greylist_lmdb.h"

using namespace nj::checks;
using namespace nj::checks::test;

namespace {

struct Scratch {
  std::string path;
  Scratch() {
    std::string t = (std::filesystem::temp_directory_path() / "nj-greylist-XXXXXX").string();
    if (::mkdtemp(t.data())) path = t;
  }
  ~Scratch() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(greylist_lmdb)

BOOST_AUTO_TEST_CASE(get_put_erase_purge) {
  Scratch dir;
  auto env = nj::store::Env::open(dir.path + "/db");
  BOOST_REQUIRE(env.ok());
  auto st = LmdbGreylistStore::open(*env);
  BOOST_REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error()));
  auto none = st->get("k1");
  BOOST_REQUIRE(none.ok());
  BOOST_CHECK(!*none);
  BOOST_REQUIRE(st->put("k1", GreylistRecord{100, 200, 1}).ok());
  BOOST_REQUIRE(st->put("k2", GreylistRecord{100, 500, 0}).ok());
  BOOST_REQUIRE(st->put("k3", GreylistRecord{100, 150, 3}).ok());
  auto got = st->get("k1");
  BOOST_REQUIRE(got.ok() && *got);
  BOOST_CHECK((**got == GreylistRecord{100, 200, 1}));
  BOOST_REQUIRE(st->erase("k1").ok());
  BOOST_CHECK(!*st->get("k1"));
  auto purged = st->purge_older_than(400);
  BOOST_REQUIRE(purged.ok());
  BOOST_CHECK_EQUAL(*purged, 1u);  // k3
  BOOST_CHECK(*st->get("k2"));
  BOOST_CHECK(!*st->get("k3"));
  BOOST_CHECK_EQUAL(*st->size(), 1u);
}

BOOST_AUTO_TEST_CASE(reopening_forgets_entries_of_the_last_run) {
  Scratch dir;
  {
    auto env = nj::store::Env::open(dir.path + "/db");
    BOOST_REQUIRE(env.ok());
    auto st = LmdbGreylistStore::open(*env);
    BOOST_REQUIRE(st.ok());
    BOOST_REQUIRE(st->put("k", GreylistRecord{1, 2, 3}).ok());
  }
  auto env = nj::store::Env::open(dir.path + "/db");
  BOOST_REQUIRE(env.ok());
  auto st = LmdbGreylistStore::open(*env);
  BOOST_REQUIRE(st.ok());
  BOOST_CHECK_EQUAL(*st->size(), 0u);
}

BOOST_AUTO_TEST_CASE(greylist_over_lmdb) {
  Scratch dir;
  auto env = nj::store::Env::open(dir.path + "/db");
  BOOST_REQUIRE(env.ok());
  auto st = LmdbGreylistStore::open(*env);
  BOOST_REQUIRE(st.ok());
  nj::ManualClock clock;
  Greylist g(*st, clock, GreylistOptions{});
  auto from = sender("alice", "example.org");
  auto to = sender("bob", "users.example");
  BOOST_CHECK_EQUAL(g.check("2001:db8::7", from, to).smtp_line(),
                    "450 4.2.0 Greylisted, try again later");
  clock.advance(60);
  BOOST_CHECK(!g.check("2001:db8::7", from, to).accept);
  clock.advance(300);
  BOOST_CHECK(g.check("2001:db8::7", from, to).accept);
  BOOST_CHECK_EQUAL(*st->size(), 2u);  // triplet + client network
  clock.advance(36 * 86400);
  auto purged = g.purge();
  BOOST_REQUIRE_MESSAGE(purged.ok(), (purged.ok() ? std::string() : purged.error()));
  BOOST_CHECK_EQUAL(*purged, 2u);
}

BOOST_AUTO_TEST_SUITE_END()
