#include <boost/test/unit_test.hpp>

#include "common/link/payloads.h"

using namespace nj::link;

BOOST_AUTO_TEST_CASE(deliver_and_submit_round_trip) {
  DeliverPayload d{"4kq7yhn2bx8wzv3m", std::string("sealed\0bytes", 12)};
  auto e = encode(d);
  BOOST_REQUIRE(e.ok());
  auto back = decode_deliver(*e);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((*back == d));
  SubmitPayload s{"id-1", "envelope"};
  auto es = encode(s);
  BOOST_REQUIRE(es.ok());
  BOOST_TEST((*decode_submit(*es) == s));

  BOOST_TEST(!encode(DeliverPayload{"", "x"}).ok());
  BOOST_TEST(!encode(DeliverPayload{std::string(65, 'a'), "x"}).ok());
  BOOST_TEST(!encode(DeliverPayload{"with space", "x"}).ok());
  BOOST_TEST(!encode(SubmitPayload{"id", ""}).ok());
  BOOST_TEST(!decode_deliver("").ok());
  BOOST_TEST(!decode_deliver(std::string("\x05"
                                         "abc",
                                         4))
                  .ok());  // id runs past the end
  BOOST_TEST(!decode_deliver(std::string("\x02"
                                         "ab\x00",
                                         4))
                  .ok());  // no envelope
  BOOST_TEST(!decode_deliver(std::string("\x02"
                                         "ab",
                                         3))
                  .ok());  // no flags
  BOOST_TEST(!decode_deliver(std::string("\x02"
                                         "ab\x02x",
                                         5))
                  .ok());  // unknown flag
  DeliverPayload last{"id-2", "sealed", kDeliverLastAttempt};
  auto el = encode(last);
  BOOST_REQUIRE(el.ok());
  BOOST_TEST(el->substr(0, 6) == std::string("\x04id-2\x01s", 6));
  BOOST_TEST((*decode_deliver(*el) == last));
  BOOST_TEST(!encode(DeliverPayload{"id", "x", 0x80}).ok());
  BOOST_TEST(!decode_submit(std::string("\x00"
                                        "x",
                                        2))
                  .ok());  // empty id
}

BOOST_AUTO_TEST_CASE(nack_round_trip_and_limits) {
  for (auto kind : {NackKind::temporary, NackKind::permanent}) {
    NackPayload n{kind, "mailbox full"};
    BOOST_TEST((*decode_nack(*encode(n)) == n));
  }
  BOOST_TEST(encode(NackPayload{NackKind::temporary, ""}).ok());
  BOOST_TEST(!encode(NackPayload{NackKind::temporary, std::string(513, 'r')}).ok());
  BOOST_TEST(!encode(NackPayload{static_cast<NackKind>(3), "x"}).ok());
  BOOST_TEST(!decode_nack(std::string("\x03\x00\x00", 3)).ok());
  BOOST_TEST(!decode_nack(std::string("\x01\x00\x02x", 4)).ok());   // truncated
  BOOST_TEST(!decode_nack(std::string("\x01\x00\x01xy", 5)).ok());  // trailing
  std::string big("\x01\x02\x01", 3);                               // 513 bytes claimed and present
  big += std::string(513, 'r');
  BOOST_TEST(!decode_nack(big).ok());
}

BOOST_AUTO_TEST_CASE(verify_and_result) {
  VerifyPayload v{"alice@example.org"};
  BOOST_TEST((*decode_verify(*encode(v)) == v));
  BOOST_TEST(!encode(VerifyPayload{""}).ok());
  BOOST_TEST(!encode(VerifyPayload{std::string(513, 'a')}).ok());
  BOOST_TEST(!decode_verify(std::string("\x00\x00", 2)).ok());
  BOOST_TEST(!decode_verify(std::string("\x00\x03"
                                        "ab",
                                        4))
                  .ok());
  for (auto o : {VerifyOutcome::exists, VerifyOutcome::unknown, VerifyOutcome::temporary,
                 VerifyOutcome::full}) {
    VerifyResultPayload r{o};
    BOOST_TEST((*decode_verify_result(*encode(r)) == r));
  }
  BOOST_TEST(!decode_verify_result("").ok());
  BOOST_TEST(!decode_verify_result(std::string(1, '\0')).ok());
  BOOST_TEST(!decode_verify_result("\x05").ok());
  BOOST_TEST(!decode_verify_result("\x01\x01").ok());
}

BOOST_AUTO_TEST_CASE(status_round_trip_and_limits) {
  StatusPayload s{"m1",
                  {{"a@x.example", RecipientOutcome::delivered, ""},
                   {"b@y.example", RecipientOutcome::failed, "550 5.1.1 no such user"},
                   {"c@z.example", RecipientOutcome::expired, ""}}};
  auto e = encode(s);
  BOOST_REQUIRE(e.ok());
  auto back = decode_status(*e);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((*back == s));
  // Every strict prefix is refused, and so is anything appended.
  for (size_t n = 0; n < e->size(); ++n) BOOST_TEST(!decode_status(e->substr(0, n)).ok());
  BOOST_TEST(!decode_status(*e + "x").ok());

  BOOST_TEST(!encode(StatusPayload{"m1", {}}).ok());
  StatusPayload many{"m1",
                     std::vector<RecipientStatus>(1001, {"a@b", RecipientOutcome::expired, ""})};
  BOOST_TEST(!encode(many).ok());
  many.recipients.resize(1000);
  BOOST_TEST(decode_status(*encode(many)).ok());
  BOOST_TEST(
      !encode(StatusPayload{"m1", {{"a@b", RecipientOutcome::failed, std::string(2049, 'r')}}})
           .ok());
  BOOST_TEST(!encode(StatusPayload{"m1", {{"a@b", static_cast<RecipientOutcome>(0), ""}}}).ok());
  std::string bad = *encode(StatusPayload{"m1", {{"a@b", RecipientOutcome::delivered, ""}}});
  bad[bad.size() - 3] = 9;  // the outcome byte
  BOOST_TEST(!decode_status(bad).ok());
}

BOOST_AUTO_TEST_CASE(empty_payloads) {
  BOOST_TEST(decode_empty("").ok());
  BOOST_TEST(!decode_empty("x").ok());
}

BOOST_AUTO_TEST_CASE(withdraw_round_trip_and_limits) {
  WithdrawPayload w{"4kq7yhn2bx8wzv3m"};
  auto e = encode(w);
  BOOST_REQUIRE(e.ok());
  // The id as in SUBMIT (length byte, then the id) and nothing else.
  BOOST_TEST(*e == std::string("\x10") + "4kq7yhn2bx8wzv3m");
  BOOST_TEST((*decode_withdraw(*e) == w));
  BOOST_TEST(encode(WithdrawPayload{std::string(64, 'a')}).ok());
  BOOST_TEST(!encode(WithdrawPayload{std::string(65, 'a')}).ok());
  BOOST_TEST(!encode(WithdrawPayload{""}).ok());
  BOOST_TEST(!encode(WithdrawPayload{"with space"}).ok());
  BOOST_TEST(!decode_withdraw("").ok());
  BOOST_TEST(!decode_withdraw(std::string(1, '\0')).ok());              // empty id
  BOOST_TEST(!decode_withdraw(std::string(1, '\x05') + "abc").ok());    // id runs past the end
  BOOST_TEST(!decode_withdraw(std::string(1, '\x02') + "abc").ok());    // trailing bytes
  BOOST_TEST(!decode_withdraw(std::string(1, '\x02') + "a\x7f").ok());  // not printable
  std::string long_id(1, static_cast<char>(65));
  long_id += std::string(65, 'a');
  BOOST_TEST(!decode_withdraw(long_id).ok());  // over 64 bytes
  // A SUBMIT's payload is not a WITHDRAW (the envelope would be trailing bytes).
  BOOST_TEST(!decode_withdraw(*encode(SubmitPayload{"id-1", "envelope"})).ok());
}
