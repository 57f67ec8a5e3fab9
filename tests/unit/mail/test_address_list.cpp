#include <boost/test/unit_test.hpp>

#include "common/mail/address_list.h"

using nj::mail::parse_mailbox_list;

namespace {
std::vector<std::string> addrs(std::string_view v) {
  auto r = parse_mailbox_list(v);
  BOOST_REQUIRE_MESSAGE(r.ok(), std::string(v) + ": " + (r.ok() ? "" : r.error()));
  std::vector<std::string> out;
  for (const auto& m : *r) out.push_back(m.address());
  return out;
}
bool refused(std::string_view v) { return !parse_mailbox_list(v).ok(); }
}  // namespace

BOOST_AUTO_TEST_SUITE(address_list)

BOOST_AUTO_TEST_CASE(the_shapes_clients_write) {
  using V = std::vector<std::string>;
  BOOST_CHECK(addrs("alice@example.i2p") == V{"alice@example.i2p"});
  BOOST_CHECK(addrs("Alice <alice@example.i2p>") == V{"alice@example.i2p"});
  BOOST_CHECK(addrs(" \"Doe, Alice\" <alice@Example.I2P> ") == V{"alice@example.i2p"});
  BOOST_CHECK(addrs("alice@example.i2p (Alice Doe)") == V{"alice@example.i2p"});
  BOOST_CHECK(addrs("=?UTF-8?B?QWxpY2U=?= <alice@example.i2p>") == V{"alice@example.i2p"});
  BOOST_CHECK(addrs("Alice (the (real) one) < alice@example.i2p >") == V{"alice@example.i2p"});
  BOOST_CHECK(addrs("a@x.test, \"B, b\" <b@y.test>,,c@z.test") ==
              (V{"a@x.test", "b@y.test", "c@z.test"}));
  BOOST_CHECK(addrs("<\"odd local\"@x.test>").size() == 1);
  BOOST_CHECK(refused("<\"odd,local\"@x.test>"));  // the path parser refuses hidden syntax
}

BOOST_AUTO_TEST_CASE(what_is_refused) {
  BOOST_CHECK(refused(""));
  BOOST_CHECK(refused("   "));
  BOOST_CHECK(refused("Alice"));                       // no address at all
  BOOST_CHECK(refused("Alice <alice@example.i2p"));    // unterminated <
  BOOST_CHECK(refused("Alice alice@example.i2p>"));    // stray >
  BOOST_CHECK(refused("<a@x.test> <b@y.test>"));       // two angle addresses in one mailbox
  BOOST_CHECK(refused("<a@x.test> trailing"));         // text after the angle address
  BOOST_CHECK(refused("\"unterminated <a@x.test>"));
  BOOST_CHECK(refused("(unterminated a@x.test"));
  BOOST_CHECK(refused("a@x.test)"));
  BOOST_CHECK(refused("friends: a@x.test, b@y.test;"));  // groups
  BOOST_CHECK(refused("<@relay.test:a@x.test>"));        // source route
  BOOST_CHECK(refused("a%b@x.test"));                    // relay trick
  BOOST_CHECK(refused("postmaster"));
}

BOOST_AUTO_TEST_CASE(limits) {
  std::string deep = "a@x.test " + std::string(20, '(') + std::string(20, ')');
  BOOST_CHECK(refused(deep));
  std::string many;
  for (int i = 0; i < 101; ++i) many += "a@x.test,";
  BOOST_CHECK(refused(many));
  BOOST_CHECK(refused(std::string(20000, 'a') + "@x.test"));
}

BOOST_AUTO_TEST_SUITE_END()
