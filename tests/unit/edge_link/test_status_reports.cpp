#define BOOST_TEST_MODULE edge_link
// StatusReports: every report kept until the ACK of a STATUS that carried it; later reports merge
// into earlier ones and are never lost to an ACK of a frame that did not carry them.
#include <boost/test/unit_test.hpp>

#include "edge/link/status_reports.h"

using namespace nj;
using link::RecipientOutcome;
using link::RecipientStatus;

namespace {
RecipientStatus st(const std::string& r, RecipientOutcome o, const std::string& reply = "") {
  return RecipientStatus{r, o, reply};
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_later_report_is_never_lost_to_the_ack_of_an_earlier_one) {
  edge::StatusReports reps;
  reps.add("m1", {st("a@x.example", RecipientOutcome::delivered)});
  BOOST_REQUIRE(reps.unsent().size() == 1u);
  auto p1 = reps.take("m1", 10);
  BOOST_REQUIRE(p1.has_value());
  BOOST_TEST(p1->recipients.size() == 1u);
  // The second recipient bounces before the inner has answered the first STATUS.
  reps.add("m1", {st("b@y.example", RecipientOutcome::failed, "550 5.1.1 no such user")});
  BOOST_TEST(reps.unsent() == std::vector<std::string>{"m1"});
  auto p2 = reps.take("m1", 11);
  BOOST_REQUIRE(p2.has_value());
  BOOST_TEST(p2->recipients.size() == 1u);  // only what frame 10 does not carry
  BOOST_TEST(p2->recipients[0].recipient == "b@y.example");
  reps.acked(10);
  BOOST_TEST(reps.results() == 1u);  // b's result waits for frame 11's ACK
  BOOST_TEST(reps.owns(11));
  BOOST_TEST(!reps.owns(10));
  reps.acked(11);
  BOOST_TEST(reps.messages() == 0u);
}

BOOST_AUTO_TEST_CASE(a_lost_link_sends_everything_unacknowledged_again) {
  edge::StatusReports reps;
  reps.add("m1", {st("a@x.example", RecipientOutcome::delivered),
                  st("b@x.example", RecipientOutcome::expired)});
  reps.add("m2", {st("c@x.example", RecipientOutcome::delivered)});
  BOOST_TEST((reps.unsent() == std::vector<std::string>{"m1", "m2"}));  // in arrival order
  BOOST_REQUIRE(reps.take("m1", 1).has_value());
  BOOST_REQUIRE(reps.take("m2", 2).has_value());
  BOOST_TEST(reps.unsent().empty());
  BOOST_TEST(!reps.take("m1", 3).has_value());  // nothing unsent left for it
  reps.link_lost();
  BOOST_TEST(!reps.owns(1));
  reps.acked(1);  // an ACK for the old link's frame changes nothing
  BOOST_TEST(reps.results() == 3u);
  auto again = reps.take("m1", 4);
  BOOST_REQUIRE(again.has_value());
  BOOST_TEST(again->recipients.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_newer_result_for_a_recipient_replaces_the_older_and_is_sent_again) {
  edge::StatusReports reps;
  reps.add("m1", {st("a@x.example", RecipientOutcome::expired)});
  BOOST_REQUIRE(reps.take("m1", 1).has_value());
  reps.add("m1", {st("a@x.example", RecipientOutcome::failed, "550 5.7.1 refused")});
  auto p = reps.take("m1", 2);
  BOOST_REQUIRE(p.has_value());
  BOOST_TEST((p->recipients[0].outcome == RecipientOutcome::failed));
  reps.acked(1);  // the older frame's ACK does not remove the newer result
  BOOST_TEST(reps.results() == 1u);
  reps.acked(2);
  BOOST_TEST(reps.results() == 0u);
}

BOOST_AUTO_TEST_CASE(one_status_carries_at_most_the_payload_limit) {
  edge::StatusReports reps;
  std::vector<RecipientStatus> many;
  for (size_t i = 0; i < link::kMaxStatusRecipients + 5; ++i)
    many.push_back(st("r" + std::to_string(i) + "@x.example", RecipientOutcome::delivered));
  reps.add("m1", many);
  auto p = reps.take("m1", 1);
  BOOST_REQUIRE(p.has_value());
  BOOST_TEST(p->recipients.size() == link::kMaxStatusRecipients);
  BOOST_TEST(link::encode(*p).ok());
  auto rest = reps.take("m1", 2);
  BOOST_REQUIRE(rest.has_value());
  BOOST_TEST(rest->recipients.size() == 5u);
}
