#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "check_capture.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "edge/checks/greylist.h"

using namespace nj::checks;
using namespace nj::checks::test;

namespace {

const std::string kGrey = "450 4.2.0 Greylisted, try again later";
constexpr int64_t kDay = 86400;

struct Fixture {
  MemoryGreylistStore store;
  nj::ManualClock clock;
  Greylist grey{store, clock, GreylistOptions{}};
  nj::mail::Mailbox from = sender("alice", "example.org");
  nj::mail::Mailbox to = sender("bob", "users.example");

  std::string check(std::string_view ip = "203.0.113.9") {
    auto d = grey.check(ip, from, to);
    BOOST_CHECK(d.reason.find("alice") == std::string::npos);
    BOOST_CHECK(d.reason.find("203.0") == std::string::npos);
    return d.accept ? "accept" : d.smtp_line();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(greylist)

BOOST_FIXTURE_TEST_CASE(first_attempt_then_early_then_in_window, Fixture) {
  BOOST_CHECK_EQUAL(check(), kGrey);
  clock.advance(299);
  BOOST_CHECK_EQUAL(check(), kGrey);  // too early: 300 s from the first sight, not the last
  clock.advance(1);
  BOOST_CHECK_EQUAL(check(), "accept");
  // A passed triplet keeps passing.
  clock.advance(10 * kDay);
  BOOST_CHECK_EQUAL(check(), "accept");
}

BOOST_FIXTURE_TEST_CASE(same_network_shares_the_triplet, Fixture) {
  BOOST_CHECK_EQUAL(check("203.0.113.9"), kGrey);
  clock.advance(600);
  BOOST_CHECK_EQUAL(check("203.0.113.200"), "accept");  // another host of the same /24
  BOOST_CHECK_EQUAL(check("203.0.114.9"), kGrey);       // another /24
}

BOOST_FIXTURE_TEST_CASE(ipv6_by_64, Fixture) {
  BOOST_CHECK_EQUAL(check("2001:db8:1:2::1"), kGrey);
  clock.advance(600);
  BOOST_CHECK_EQUAL(check("2001:db8:1:2:aaaa::9"), "accept");
  BOOST_CHECK_EQUAL(check("2001:db8:1:3::1"), kGrey);
}

BOOST_FIXTURE_TEST_CASE(retry_after_window_starts_over, Fixture) {
  BOOST_CHECK_EQUAL(check(), kGrey);
  clock.advance(2 * kDay + 1);
  BOOST_CHECK_EQUAL(check(), kGrey);  // too late: a new first sight
  clock.advance(100);
  BOOST_CHECK_EQUAL(check(), kGrey);
  clock.advance(200);
  BOOST_CHECK_EQUAL(check(), "accept");
}

BOOST_FIXTURE_TEST_CASE(max_age_expiry, Fixture) {
  BOOST_CHECK_EQUAL(check(), kGrey);
  clock.advance(300);
  BOOST_CHECK_EQUAL(check(), "accept");
  clock.advance(35 * kDay);
  BOOST_CHECK_EQUAL(check(), "accept");  // exactly max_age: still known
  clock.advance(35 * kDay + 1);
  BOOST_CHECK_EQUAL(check(), kGrey);  // not seen for longer than max_age
  // purge() removes what is older than max_age.
  clock.advance(36 * kDay);
  auto n = grey.purge();
  BOOST_REQUIRE(n.ok());
  BOOST_CHECK_EQUAL(*n, 2u);  // the triplet and the client network
  BOOST_CHECK_EQUAL(store.size(), 0u);
}

BOOST_FIXTURE_TEST_CASE(triplet_parts_matter_and_normalize, Fixture) {
  BOOST_CHECK_EQUAL(check(), kGrey);
  clock.advance(300);
  // Recipient compared lowercased.
  to = sender("BOB", "USERS.example");
  BOOST_CHECK_EQUAL(check(), "accept");
  // Sender normalized: +extensions and numeric VERP ids do not mint new triplets.
  from = sender("alice+list", "example.org");
  BOOST_CHECK_EQUAL(check(), "accept");
  // Another recipient is another triplet.
  to = sender("carol", "users.example");
  BOOST_CHECK_EQUAL(check(), kGrey);
  // The null sender is a triplet of its own.
  to = sender("bob", "users.example");
  from = null_sender();
  BOOST_CHECK_EQUAL(check(), kGrey);
}

BOOST_FIXTURE_TEST_CASE(auto_allowlist_after_five_passes, Fixture) {
  // Five passes, an hour apart, each from a new triplet of this network.
  for (int i = 0; i < 5; ++i) {
    to = sender("user" + std::to_string(i), "users.example");
    BOOST_CHECK_EQUAL(check(), kGrey);
    clock.advance(300);
    BOOST_CHECK_EQUAL(check(), "accept");
    clock.advance(3600);
  }
  // A new triplet from the same network now skips greylisting...
  to = sender("newcomer", "users.example");
  BOOST_CHECK_EQUAL(check("203.0.113.50"), "accept");
  auto d = grey.check("203.0.113.50", from, to);
  BOOST_CHECK(d.reason.find("auto-allowlisted") != std::string::npos);
  // ...but not for another network.
  BOOST_CHECK_EQUAL(check("198.51.100.1"), kGrey);
  // The allowlist expires like any entry.
  clock.advance(36 * kDay);
  to = sender("later", "users.example");
  BOOST_CHECK_EQUAL(check(), kGrey);
}

BOOST_FIXTURE_TEST_CASE(passes_count_once_per_hour, Fixture) {
  // Ten passes within one hour count once: no allowlist yet.
  BOOST_CHECK_EQUAL(check(), kGrey);
  clock.advance(300);
  for (int i = 0; i < 10; ++i) {
    BOOST_CHECK_EQUAL(check(), "accept");
    clock.advance(60);
  }
  to = sender("newcomer", "users.example");
  BOOST_CHECK_EQUAL(check(), kGrey);
}

BOOST_AUTO_TEST_CASE(auto_allowlist_can_be_off) {
  MemoryGreylistStore store;
  nj::ManualClock clock;
  GreylistOptions o;
  o.auto_allow_after = 0;
  Greylist g(store, clock, o);
  auto from = sender("alice", "example.org");
  for (int i = 0; i < 8; ++i) {
    auto to = sender("u" + std::to_string(i), "users.example");
    BOOST_CHECK(!g.check("203.0.113.9", from, to).accept);
    clock.advance(300);
    BOOST_CHECK(g.check("203.0.113.9", from, to).accept);
    clock.advance(3600);
  }
  BOOST_CHECK(!g.check("203.0.113.9", from, sender("new", "users.example")).accept);
}

BOOST_AUTO_TEST_CASE(store_holds_only_hashes) {
  MemoryGreylistStore store;
  nj::ManualClock clock;
  Greylist g(store, clock, GreylistOptions{});
  (void)g.check("203.0.113.9", sender("alice", "example.org"), sender("bob", "users.example"));
  BOOST_CHECK_EQUAL(store.size(), 1u);
  // Restart = new key: the same triplet is new again.
  Greylist restarted(store, clock, GreylistOptions{});
  clock.advance(600);
  BOOST_CHECK(
      !restarted
           .check("203.0.113.9", sender("alice", "example.org"), sender("bob", "users.example"))
           .accept);
  BOOST_CHECK(g.check("203.0.113.9", sender("alice", "example.org"), sender("bob", "users.example"))
                  .accept);
}

namespace {
class FailingStore final : public GreylistStore {
 public:
  nj::Result<std::optional<GreylistRecord>> get(std::string_view) override {
    return nj::make_error("disk on fire");
  }
  nj::Status put(std::string_view, const GreylistRecord&) override { return nj::make_error("x"); }
  nj::Status erase(std::string_view) override { return nj::make_error("x"); }
  nj::Result<size_t> purge_older_than(int64_t) override { return nj::make_error("x"); }
};
}  // namespace

namespace {
std::vector<std::string> g_logged;
void capture_log(nj::log::Level, std::string_view line) {
  g_logged.emplace_back(line);
}
}  // namespace

BOOST_AUTO_TEST_CASE(store_errors_fail_open_and_log_no_address) {
  FailingStore store;
  nj::ManualClock clock;
  Greylist g(store, clock, GreylistOptions{});
  g_logged.clear();
  nj::log::set_sink(capture_log);
  auto d = g.check("203.0.113.9", sender("alice", "example.org"), sender("bob", "users.example"));
  nj::log::set_sink(nullptr);
  BOOST_CHECK(d.accept);
  BOOST_CHECK(d.reason.find("store error") != std::string::npos);
  BOOST_REQUIRE_EQUAL(g_logged.size(), 1u);
  BOOST_CHECK(g_logged[0].find("disk on fire") != std::string::npos);
  for (const char* secret : {"203.0.113", "alice", "bob", "example.org"}) {
    BOOST_CHECK(g_logged[0].find(secret) == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(record_encoding_round_trips) {
  GreylistRecord r{1'700'000'000, 1'700'000'300, 7};
  auto bytes = encode_greylist_record(r);
  BOOST_CHECK_EQUAL(bytes.size(), 20u);
  auto back = decode_greylist_record(bytes);
  BOOST_REQUIRE(back);
  BOOST_CHECK(*back == r);
  BOOST_CHECK(!decode_greylist_record(bytes.substr(1)));
}

BOOST_AUTO_TEST_SUITE_END()
