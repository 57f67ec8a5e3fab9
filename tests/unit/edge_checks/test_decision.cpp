#include <boost/test/unit_test.hpp>

#include "edge/checks/decision.h"

using nj::checks::Completion;
using nj::checks::Decision;
using nj::checks::Pending;

BOOST_AUTO_TEST_SUITE(decision)

BOOST_AUTO_TEST_CASE(reply_line_and_kind) {
  Decision d = Decision::reply(451, "4.4.3", "Try later", "why");
  BOOST_CHECK(!d.accept);
  BOOST_CHECK(d.temporary());
  BOOST_CHECK_EQUAL(d.smtp_line(), "451 4.4.3 Try later");
  Decision p = Decision::pass("fine");
  BOOST_CHECK(p.accept);
  BOOST_CHECK(!p.temporary());
  BOOST_CHECK_EQUAL(p.smtp_line(), "");
  BOOST_CHECK(!Decision::reply(550, "5.7.1", "No", "").temporary());
}

BOOST_AUTO_TEST_CASE(completion_fires_once) {
  int calls = 0;
  Completion c([&](Decision) { ++calls; });
  Pending p = c.pending();
  BOOST_CHECK(p.active());
  c.fire(Decision::pass());
  c.fire(Decision::pass());
  BOOST_CHECK_EQUAL(calls, 1);
  BOOST_CHECK(!p.active());
}

BOOST_AUTO_TEST_CASE(dropped_pending_is_never_called) {
  int calls = 0;
  Completion c([&](Decision) { ++calls; });
  { Pending p = c.pending(); }
  c.fire(Decision::pass());
  BOOST_CHECK_EQUAL(calls, 0);
}

BOOST_AUTO_TEST_CASE(callback_may_drop_its_own_pending) {
  int calls = 0;
  Pending p;
  Completion c([&](Decision) {
    ++calls;
    p.cancel();
  });
  p = c.pending();
  c.fire(Decision::pass());
  BOOST_CHECK_EQUAL(calls, 1);
}

BOOST_AUTO_TEST_SUITE_END()
