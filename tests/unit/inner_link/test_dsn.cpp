// make_dsn: the report a sender gets for recipients that failed with a remote reply, expired at
// the edge, or were bounced by the inner for a reason of its own; RFC 3464 fields, one line per
// reply, nothing of a remote reply outside its place, the original header section but no body.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "common/mail/sanitize.h"
#include "inner/link/dsn.h"

using namespace nj;
using namespace nj::inner;

namespace {

constexpr std::time_t kNow = 1'795'305'600;  // 2026-11-22 00:00 UTC

queue::Envelope original() {
  queue::Envelope e;
  e.id = "m1";
  e.received_at = kNow - 86400;
  e.mail_from = "alice@example.org";
  e.recipients = {"x@one.test", "y@two.test"};
  e.message = "From: <alice@example.org>\r\nSubject: the plan\r\n\r\nsecret body\r\n";
  return e;
}

std::string dsn(const std::vector<link::RecipientStatus>& failed, const LocalReason& local = {}) {
  return make_dsn(original(), failed, "mx.example.org", "alice@inner.example", kNow, "BOUND",
                  local);
}

// The delivery-status part's block for one recipient, its last CRLF included.
std::string block(const std::string& m, const std::string& rcpt) {
  size_t at = m.find("Final-Recipient: rfc822; " + rcpt + "\r\n");
  BOOST_REQUIRE(at != std::string::npos);
  return m.substr(at, m.find("\r\n\r\n", at) + 2 - at);
}

bool has(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dsn_report)

BOOST_AUTO_TEST_CASE(a_permanent_failure_carries_the_remote_reply_and_its_code) {
  auto m = dsn({{"x@one.test", link::RecipientOutcome::failed, "550 5.1.1 <x@one.test> unknown"},
                {"y@two.test", link::RecipientOutcome::failed, "554 no thanks"}});
  BOOST_TEST(has(m, "Content-Type: multipart/report; report-type=delivery-status;"));
  BOOST_TEST(has(m, "To: <alice@inner.example>\r\n"));
  BOOST_TEST(has(m, "Auto-Submitted: auto-replied\r\n"));
  BOOST_TEST(has(m, "Reporting-MTA: dns; mx.example.org\r\n"));
  BOOST_TEST(has(m, "Arrival-Date: " + mail::rfc5322_date(kNow - 86400) + "\r\n"));
  BOOST_TEST(has(m, "  <x@one.test>:\r\n    550 5.1.1 <x@one.test> unknown\r\n"));
  auto x = block(m, "x@one.test");
  BOOST_TEST(has(x, "Action: failed\r\n"));
  BOOST_TEST(has(x, "Status: 5.1.1\r\n"));
  BOOST_TEST(has(x, "Diagnostic-Code: smtp; 550 5.1.1 <x@one.test> unknown"));
  auto y = block(m, "y@two.test");
  BOOST_TEST(has(y, "Status: 5.0.0\r\n"));  // no enhanced code in the reply
  BOOST_TEST(has(y, "Diagnostic-Code: smtp; 554 no thanks"));
  // The original header section is quoted, the body never.
  BOOST_TEST(has(m,
                 "Content-Type: text/rfc822-headers\r\n\r\nFrom: <alice@example.org>\r\n"
                 "Subject: the plan\r\n"));
  BOOST_TEST(!has(m, "secret body"));
  BOOST_TEST(has(m, "\r\n--BOUND--\r\n"));
}

BOOST_AUTO_TEST_CASE(a_remote_reply_cannot_add_fields_or_lines) {
  // A reply whose "code" smuggles a line break: neither the Status nor anything else may carry
  // it; the code is taken only in RFC 3463's shape.
  auto m = dsn({{"x@one.test", link::RecipientOutcome::failed, "550 5.1\r\nX:1 text"},
                {"y@two.test", link::RecipientOutcome::failed, "550 5.1.1234 too long"}});
  BOOST_TEST(!has(m, "\r\nX:1"));
  BOOST_TEST(has(block(m, "x@one.test"), "Status: 5.0.0\r\n"));
  BOOST_TEST(has(block(m, "x@one.test"), "Diagnostic-Code: smtp; 550 5.1  X:1 text\r\n"));
  BOOST_TEST(has(block(m, "y@two.test"), "Status: 5.0.0\r\n"));
  auto z = dsn({{"x@one.test", link::RecipientOutcome::failed, "556 5.1.10 null MX"}});
  BOOST_TEST(has(block(z, "x@one.test"), "Status: 5.1.10\r\n"));
  auto two = dsn({{"x@one.test", link::RecipientOutcome::failed, "250 2.0.0 ok?"}});
  BOOST_TEST(has(block(two, "x@one.test"), "Status: 5.0.0\r\n"));  // not a failure code
}

BOOST_AUTO_TEST_CASE(an_expired_recipient_says_the_queue_lifetime_ran_out) {
  auto m = dsn({{"x@one.test", link::RecipientOutcome::expired, ""},
                {"y@two.test", link::RecipientOutcome::expired, "451 4.7.1 greylisted"}});
  BOOST_TEST(has(m,
                 "  <x@one.test>:\r\n    not delivered: the receiving server kept deferring "
                 "it or could not be reached until the message's time in the queue ran out"
                 "\r\n"));
  auto x = block(m, "x@one.test");
  BOOST_TEST(has(x, "Action: failed\r\n"));
  BOOST_TEST(has(x, "Status: 4.4.7\r\n"));
  BOOST_TEST(!has(x, "Diagnostic-Code"));  // no reply, no diagnostic
  // With the last reply the edge had, it is named, and it is the diagnostic; the status stays
  // "delivery time expired".
  auto y = block(m, "y@two.test");
  BOOST_TEST(has(y, "Status: 4.4.7\r\n"));
  BOOST_TEST(has(y, "Diagnostic-Code: smtp; 451 4.7.1 greylisted\r\n"));
  BOOST_TEST(has(m, "\r\n    last reply: 451 4.7.1 greylisted\r\n"));
}

BOOST_AUTO_TEST_CASE(a_local_reason_bounces_every_remaining_recipient_alike) {
  std::vector<link::RecipientStatus> rest{{"x@one.test", link::RecipientOutcome::failed, ""},
                                          {"y@two.test", link::RecipientOutcome::failed, ""}};
  auto big = dsn(rest, kTooLargeForLink);
  for (const char* r : {"x@one.test", "y@two.test"}) {
    auto b = block(big, r);
    BOOST_TEST(has(b, "Action: failed\r\n"));
    BOOST_TEST(has(b, "Status: 5.3.4\r\n"));
    BOOST_TEST(!has(b, "Diagnostic-Code"));  // no remote server said anything
    BOOST_TEST(has(big, std::string("  <") + r +
                            ">:\r\n    the message is larger than the link can carry\r\n"));
  }
  auto refused = dsn(rest, kRefusedByEdge);
  BOOST_TEST(has(block(refused, "y@two.test"), "Status: 5.0.0\r\n"));
  BOOST_TEST(has(refused, "  <y@two.test>:\r\n    the message was refused by the edge\r\n"));
  // A remote reply, where there is one, still wins over the local reason.
  auto mixed = dsn({{"x@one.test", link::RecipientOutcome::failed, "550 5.1.1 unknown"},
                    {"y@two.test", link::RecipientOutcome::failed, ""}},
                   kTooLargeForLink);
  BOOST_TEST(has(block(mixed, "x@one.test"), "Status: 5.1.1\r\n"));
  BOOST_TEST(has(block(mixed, "y@two.test"), "Status: 5.3.4\r\n"));
  // Without a reason given, the default one.
  auto plain = dsn({{"x@one.test", link::RecipientOutcome::failed, ""}});
  BOOST_TEST(has(block(plain, "x@one.test"), "Status: 5.0.0\r\n"));
  BOOST_TEST(has(plain, "    the message could not be sent\r\n"));
}

BOOST_AUTO_TEST_SUITE_END()
