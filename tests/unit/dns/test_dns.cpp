#define BOOST_TEST_MODULE dns
#include <boost/test/unit_test.hpp>
#include <optional>

#include "common/dns/address_class.h"
#include "common/dns/cares_resolver.h"
#include "tests/unit/dns/unbound_fixture.h"

namespace nj::dns {
std::ostream& operator<<(std::ostream& o, Status s) {
  return o << status_name(s);
}
}  // namespace nj::dns

using namespace nj::dns;
using nj::uv::Loop;

namespace {

nj::testing::Unbound& unbound() {
  static nj::testing::Unbound u;  // one server for the whole run
  BOOST_REQUIRE_MESSAGE(u.ready(), "unbound did not start");
  return u;
}

std::unique_ptr<CaresResolver> make(Loop& loop, std::vector<std::string> servers,
                                    int timeout_ms = 2000, int tries = 2) {
  CaresOptions o;
  o.servers = std::move(servers);
  o.timeout_ms = timeout_ms;
  o.tries = tries;
  auto r = CaresResolver::create(loop, o);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
  return std::move(*r);
}

// Runs one query to completion and checks the callback ran exactly once.
Answer ask(Loop& loop, Resolver& r, const std::string& name, Type t) {
  int calls = 0;
  Answer got;
  r.query(name, t, [&](const Answer& a) {
    ++calls;
    got = a;
  });
  BOOST_TEST(calls == 0);  // never synchronous
  while (calls == 0 && loop.run_once()) {
  }
  loop.run_nowait();
  BOOST_TEST(calls == 1);
  return got;
}

}  // namespace

BOOST_AUTO_TEST_CASE(record_types_against_unbound) {
  Loop loop;
  auto r = make(loop, {unbound().server()});

  auto a = ask(loop, *r, "mx.test", Type::A);
  BOOST_TEST(status_name(a.status) == std::string("ok"));
  std::sort(a.addresses.begin(), a.addresses.end());
  BOOST_TEST(a.addresses == (std::vector<std::string>{"192.0.2.10", "192.0.2.11"}),
             boost::test_tools::per_element());

  auto aaaa = ask(loop, *r, "mx.test.", Type::AAAA);
  BOOST_REQUIRE(aaaa.status == Status::ok);
  BOOST_TEST(aaaa.addresses == std::vector<std::string>{"2001:db8::10"},
             boost::test_tools::per_element());

  auto mx = ask(loop, *r, "test", Type::MX);
  BOOST_REQUIRE(mx.status == Status::ok);
  BOOST_REQUIRE_EQUAL(mx.mx.size(), 2u);
  std::sort(mx.mx.begin(), mx.mx.end(),
            [](const MxRecord& x, const MxRecord& y) { return x.preference < y.preference; });
  BOOST_TEST(mx.mx[0].preference == 10);
  BOOST_TEST(mx.mx[0].host == "mx.test");
  BOOST_TEST(mx.mx[1].host == "mx2.test");

  auto txt = ask(loop, *r, "test", Type::TXT);
  BOOST_REQUIRE(txt.status == Status::ok);
  BOOST_TEST(txt.txt == std::vector<std::string>{"v=spf1 -all"}, boost::test_tools::per_element());
  auto longtxt = ask(loop, *r, "long.test", Type::TXT);
  BOOST_TEST(longtxt.txt == std::vector<std::string>{"part one part two"},
             boost::test_tools::per_element());

  auto ns = ask(loop, *r, "test", Type::NS);
  BOOST_REQUIRE(ns.status == Status::ok);
  std::sort(ns.names.begin(), ns.names.end());
  BOOST_TEST(ns.names == (std::vector<std::string>{"ns1.test", "ns2.test"}),
             boost::test_tools::per_element());

  auto srv = ask(loop, *r, "_onion-mx._tcp.test", Type::SRV);
  BOOST_REQUIRE(srv.status == Status::ok);
  BOOST_REQUIRE_EQUAL(srv.srv.size(), 1u);
  BOOST_TEST(srv.srv[0].port == 2525);
  BOOST_TEST(srv.srv[0].weight == 5);
  BOOST_TEST(srv.srv[0].target == "abcdef.onion");

  auto ptr = ask(loop, *r, *reverse_name("192.0.2.10"), Type::PTR);
  BOOST_REQUIRE(ptr.status == Status::ok);
  BOOST_TEST(ptr.names == std::vector<std::string>{"mx.test"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(negative_answers) {
  Loop loop;
  auto r = make(loop, {unbound().server()});
  BOOST_TEST(ask(loop, *r, "nope.test", Type::A).status == Status::nxdomain);
  BOOST_TEST(ask(loop, *r, "mx.test", Type::MX).status == Status::nodata);
  auto refused = ask(loop, *r, "x.refused.test", Type::A);
  BOOST_TEST(refused.status == Status::servfail);
  BOOST_TEST(is_temporary(refused.status));
}

BOOST_AUTO_TEST_CASE(no_search_domains_are_appended) {
  // A single label must be asked as is ("mx." does not exist), never as "mx.<search>".
  // c-ares takes search domains from LOCALDOMAIN as well as resolv.conf.
  setenv("LOCALDOMAIN", "test", 1);
  Loop loop;
  auto r = make(loop, {unbound().server()});
  unsetenv("LOCALDOMAIN");
  auto a = ask(loop, *r, "mx", Type::A);
  BOOST_TEST(a.status != Status::ok);
  BOOST_TEST(a.addresses.empty());
}

BOOST_AUTO_TEST_CASE(silent_server_times_out) {
  // A UDP socket that never answers.
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  Loop loop;
  auto r = make(loop, {"127.0.0.1:" + std::to_string(ntohs(a.sin_port))}, 150, 2);
  auto start = loop.now_ms();
  auto ans = ask(loop, *r, "mx.test", Type::A);
  loop.run_nowait();
  BOOST_TEST(ans.status == Status::timeout);
  BOOST_TEST(is_temporary(ans.status));
  BOOST_TEST(loop.now_ms() - start < 3000u);
  BOOST_TEST(r->pending() == 0u);
  close(fd);
}

BOOST_AUTO_TEST_CASE(destruction_completes_pending_queries_with_error) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  Loop loop;
  auto r = make(loop, {"127.0.0.1:" + std::to_string(ntohs(a.sin_port))}, 5000, 1);
  int calls = 0;
  Status seen = Status::ok;
  CaresResolver* raw = r.get();  // r itself reads null while reset() runs
  r->query("mx.test", Type::A, [&, raw](const Answer& ans) {
    ++calls;
    seen = ans.status;
    // A query from inside a shutdown callback must not reach the dying channel.
    raw->query("again.test", Type::A,
               [&](const Answer& b) { calls += 10 * (b.status == Status::error); });
  });
  r->query("", Type::A, [&](const Answer& ans) { calls += 100 * (ans.status == Status::error); });
  for (int i = 0; i < 5; ++i) loop.run_nowait();
  BOOST_TEST(calls == 100);  // the bad name completed on the loop
  BOOST_TEST(r->pending() == 1u);
  r.reset();
  BOOST_TEST(calls == 111);
  BOOST_TEST(seen == Status::error);
  loop.run_nowait();
  BOOST_TEST(calls == 111);
  close(fd);
}

BOOST_AUTO_TEST_CASE(bad_names_and_servers) {
  Loop loop;
  auto r = make(loop, {unbound().server()});
  BOOST_TEST(ask(loop, *r, "", Type::A).status == Status::error);
  BOOST_TEST(ask(loop, *r, "a..b", Type::A).status == Status::error);
  BOOST_TEST(ask(loop, *r, std::string(64, 'a') + ".test", Type::A).status == Status::error);
  BOOST_TEST(ask(loop, *r, "sp ace.test", Type::A).status == Status::error);
  std::string huge;
  for (int i = 0; i < 60; ++i) huge += "abcd.";
  BOOST_TEST(ask(loop, *r, huge, Type::A).status == Status::error);

  CaresOptions o;
  o.servers = {"dns.example:53"};
  auto bad = CaresResolver::create(loop, o);
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().find("dns.example") != std::string::npos);
  o.servers = {"[::1]:5353", "127.0.0.1"};
  BOOST_TEST(CaresResolver::create(loop, o).ok());
  o.servers = {"[::1]:99999"};
  BOOST_TEST(!CaresResolver::create(loop, o).ok());
  o.servers = {"127.0.0.1:"};
  BOOST_TEST(!CaresResolver::create(loop, o).ok());
}

BOOST_AUTO_TEST_CASE(reverse_and_dnsbl_names) {
  BOOST_TEST(*reverse_name("192.0.2.1") == "1.2.0.192.in-addr.arpa");
  BOOST_TEST(*reverse_name("2001:db8::567:89ab") ==
             "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  BOOST_TEST(*dnsbl_name("192.0.2.99", "zen.example") == "99.2.0.192.zen.example");
  BOOST_TEST(*dnsbl_name("192.0.2.99", "zen.example.") == "99.2.0.192.zen.example");
  BOOST_TEST(*dnsbl_name("2001:db8::1", "bl.example") ==
             "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example");
  BOOST_TEST(!reverse_name("192.0.2").ok());
  BOOST_TEST(!reverse_name("mx.test").ok());
  BOOST_TEST(!dnsbl_name("192.0.2.1", "").ok());
  BOOST_TEST(!dnsbl_name("192.0.2.1", "bad zone").ok());
  BOOST_TEST(!dnsbl_name("192.0.2.1", "a..b").ok());
}

BOOST_AUTO_TEST_CASE(address_classes) {
  auto is = [](const char* ip, AddressClass c) {
    auto got = classify_address(ip);
    BOOST_TEST_CONTEXT(ip) {
      BOOST_REQUIRE(got.has_value());
      BOOST_TEST(address_class_name(*got) == address_class_name(c));
    }
  };
  is("8.8.8.8", AddressClass::global);
  is("1.1.1.1", AddressClass::global);
  is("0.1.2.3", AddressClass::unspecified);
  is("127.0.0.1", AddressClass::loopback);
  is("127.255.0.9", AddressClass::loopback);
  is("10.1.2.3", AddressClass::private_use);
  is("172.16.0.1", AddressClass::private_use);
  is("172.31.255.255", AddressClass::private_use);
  is("172.32.0.1", AddressClass::global);
  is("192.168.1.1", AddressClass::private_use);
  is("100.64.0.1", AddressClass::shared);
  is("100.127.255.254", AddressClass::shared);
  is("100.128.0.1", AddressClass::global);
  is("169.254.1.1", AddressClass::link_local);
  is("224.0.0.1", AddressClass::multicast);
  is("239.255.255.255", AddressClass::multicast);
  is("240.0.0.1", AddressClass::reserved);
  is("255.255.255.255", AddressClass::broadcast);
  is("192.0.2.1", AddressClass::documentation);
  is("198.51.100.1", AddressClass::documentation);
  is("203.0.113.1", AddressClass::documentation);
  is("198.18.0.1", AddressClass::reserved);
  is("192.0.0.8", AddressClass::reserved);
  is("2a00:1450::1", AddressClass::global);
  is("::", AddressClass::unspecified);
  is("::1", AddressClass::loopback);
  is("fc00::1", AddressClass::private_use);
  is("fd12:3456::1", AddressClass::private_use);
  is("fe80::1", AddressClass::link_local);
  is("febf::1", AddressClass::link_local);
  is("ff02::1", AddressClass::multicast);
  is("2001:db8::1", AddressClass::documentation);
  is("::ffff:10.0.0.1", AddressClass::private_use);
  is("::ffff:8.8.8.8", AddressClass::global);
  is("::ffff:127.0.0.1", AddressClass::loopback);
  is("64:ff9b::192.168.0.1", AddressClass::private_use);
  is("64:ff9b::8.8.8.8", AddressClass::global);
  is("2002:c0a8:0101::1", AddressClass::private_use);  // 6to4 of 192.168.1.1
  is("100::1", AddressClass::reserved);
  is("4000::1", AddressClass::reserved);
  BOOST_TEST(!classify_address("example.org").has_value());
  BOOST_TEST(!classify_address("").has_value());
  BOOST_TEST(!classify_address("1.2.3.4 ").has_value());
  BOOST_TEST(is_private_or_reserved("not an ip"));
  BOOST_TEST(is_private_or_reserved("127.0.0.1"));
  BOOST_TEST(!is_private_or_reserved("8.8.8.8"));
}

BOOST_AUTO_TEST_CASE(status_names) {
  BOOST_TEST(status_name(Status::nxdomain) == std::string("nxdomain"));
  BOOST_TEST(status_name(Status::timeout) == std::string("timeout"));
  BOOST_TEST(!is_temporary(Status::nxdomain));
}
