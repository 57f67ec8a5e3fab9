#define BOOST_TEST_MODULE socks
#include <boost/test/unit_test.hpp>

#include "common/socks/client.h"

using nj::socks::Client;
using nj::socks::Credentials;
using nj::socks::Request;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

const std::string kOnion = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv.onion";

Client make(std::optional<Credentials> c = std::nullopt, std::string host = kOnion) {
  auto r = Client::create(Request{host, 2525, std::move(c)});
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
  return std::move(*r);
}

std::string connect_request(const std::string& host, uint16_t port) {
  std::string s = bytes({5, 1, 0, 3, static_cast<int>(host.size())}) + host;
  s.push_back(static_cast<char>(port >> 8));
  s.push_back(static_cast<char>(port & 0xff));
  return s;
}

// Method "no auth" accepted; returns the client waiting for the CONNECT reply.
Client at_reply() {
  Client c = make();
  BOOST_TEST(c.take_output() == bytes({5, 1, 0}));
  c.feed(bytes({5, 0}));
  BOOST_TEST(c.take_output() == connect_request(kOnion, 2525));
  BOOST_TEST((c.state() == Client::State::negotiating));
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(no_auth_connect_with_domain_name) {
  Client c = at_reply();
  c.feed(bytes({5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90}));
  BOOST_TEST((c.state() == Client::State::connected));
  BOOST_TEST(*c.reply_code() == 0);
  BOOST_TEST(c.take_remainder().empty());
}

BOOST_AUTO_TEST_CASE(bound_address_types_and_split_reads) {
  for (std::string reply :
       {bytes({5, 0, 0, 1, 1, 2, 3, 4, 0, 1}),
        bytes({5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1}),
        bytes({5, 0, 0, 3, 3}) + "a.b" + bytes({0, 25})}) {
    Client c = at_reply();
    // One byte at a time: no state may depend on how reads are split.
    for (size_t i = 0; i < reply.size(); ++i) {
      BOOST_TEST((c.state() == Client::State::negotiating));
      c.feed(reply.substr(i, 1));
    }
    BOOST_TEST((c.state() == Client::State::connected));
  }
}

BOOST_AUTO_TEST_CASE(bytes_after_the_reply_belong_to_the_application) {
  Client c = at_reply();
  c.feed(bytes({5, 0, 0, 1, 0, 0, 0, 0, 0, 0}) + "NJL\x02 early");
  BOOST_TEST((c.state() == Client::State::connected));
  c.feed("more");
  BOOST_TEST(c.take_remainder() == "NJL\x02 earlymore");
  BOOST_TEST(c.take_remainder().empty());
}

BOOST_AUTO_TEST_CASE(every_reply_code_is_named) {
  const char* names[] = {nullptr,
                         "general SOCKS server failure",
                         "connection not allowed by ruleset",
                         "network unreachable",
                         "host unreachable",
                         "connection refused",
                         "TTL expired",
                         "command not supported",
                         "address type not supported"};
  for (int code = 1; code <= 0xff; ++code) {
    Client c = at_reply();
    c.feed(bytes({5, code, 0, 1, 0, 0, 0, 0, 0, 0}));
    BOOST_TEST((c.state() == Client::State::failed));
    BOOST_TEST(*c.reply_code() == code);
    BOOST_TEST(c.error().find("reply code " + std::to_string(code)) != std::string::npos);
    std::string want = code <= 8 ? names[code]
                       : code == 0xF0 ? "descriptor not found"
                       : code == 0xF4 ? "needs client authorization"
                       : code >= 0xF0 && code <= 0xF7 ? "onion"
                                                      : "unassigned reply code";
    BOOST_TEST(c.error().find(want) != std::string::npos, c.error());
    BOOST_TEST(c.take_remainder().empty());
  }
}

BOOST_AUTO_TEST_CASE(refusal_without_the_address_still_fails_at_once) {
  Client c = at_reply();
  c.feed(bytes({5, 4}));  // Tor may close right after the code
  BOOST_TEST((c.state() == Client::State::failed));
  BOOST_TEST(c.error().find("host unreachable") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(username_password_for_isolation) {
  Client c = make(Credentials{"link-1", "s3cret"});
  BOOST_TEST(c.take_output() == bytes({5, 1, 2}));  // only user/pass offered
  c.feed(bytes({5, 2}));
  BOOST_TEST(c.take_output() == bytes({1, 6}) + "link-1" + bytes({6}) + "s3cret");
  c.feed(bytes({1, 0}));
  BOOST_TEST(c.take_output() == connect_request(kOnion, 2525));
  c.feed(bytes({5, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
  BOOST_TEST((c.state() == Client::State::connected));
}

BOOST_AUTO_TEST_CASE(authentication_refusals) {
  {
    Client c = make(Credentials{"u", "p"});
    (void)c.take_output();
    c.feed(bytes({5, 1, 0}));
    BOOST_TEST(c.take_output().empty());
    c.feed(bytes({1, 1}));  // user/pass failure
    BOOST_TEST((c.state() == Client::State::failed));
  }
  {
    Client c = make(Credentials{"u", "p"});
    c.feed(bytes({5, 0}));  // proxy picks no-auth though we did not offer it: no isolation
    BOOST_TEST((c.state() == Client::State::failed));
    BOOST_TEST(c.error().find("not offered") != std::string::npos);
  }
  {
    Client c = make(Credentials{"u", "p"});
    c.feed(bytes({5, 0xff}));
    BOOST_TEST((c.state() == Client::State::failed));
  }
  {
    Client c = make();
    c.feed(bytes({5, 0xff}));
    BOOST_TEST(c.error().find("requires authentication") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(garbage_and_truncation) {
  {
    Client c = make();
    c.feed("HTTP/1.0 400 Bad Request\r\n");
    BOOST_TEST((c.state() == Client::State::failed));
    BOOST_TEST(c.error().find("not SOCKS5") != std::string::npos);
  }
  {
    Client c = make();
    c.feed(bytes({5, 0, 5, 0}));  // the proxy speaks before being asked
    BOOST_TEST((c.state() == Client::State::failed));
    BOOST_TEST(c.error().find("out of turn") != std::string::npos);
  }
  for (auto bad : {bytes({4, 0, 0, 1, 0, 0, 0, 0, 0, 0}), bytes({5, 0, 1, 1, 0, 0, 0, 0, 0, 0}),
                   bytes({5, 0, 0, 2, 0, 0, 0, 0, 0, 0}), bytes({5, 0, 0, 3, 0, 0, 0})}) {
    Client c = at_reply();
    c.feed(bad);
    BOOST_TEST((c.state() == Client::State::failed));
    BOOST_TEST(c.error().find("socks:") == 0);
  }
  {
    Client c = at_reply();
    c.feed(bytes({5, 0, 0, 3, 200}) + std::string(150, 'x'));  // truncated: waits, no overread
    BOOST_TEST((c.state() == Client::State::negotiating));
    c.feed(std::string(52, 'x'));
    BOOST_TEST((c.state() == Client::State::connected));
  }
  {
    Client c = at_reply();
    c.feed(bytes({5, 0, 0, 1, 1}));  // cut off: the caller's timeout or close ends it
    BOOST_TEST((c.state() == Client::State::negotiating));
  }
}

BOOST_AUTO_TEST_CASE(requests_are_checked) {
  BOOST_TEST(!Client::create(Request{"", 25, std::nullopt}).ok());
  BOOST_TEST(!Client::create(Request{std::string(256, 'a'), 25, std::nullopt}).ok());
  BOOST_TEST(Client::create(Request{std::string(255, 'a'), 25, std::nullopt}).ok());
  BOOST_TEST(!Client::create(Request{"a b", 25, std::nullopt}).ok());
  BOOST_TEST(!Client::create(Request{std::string("a\0b", 3), 25, std::nullopt}).ok());
  BOOST_TEST(!Client::create(Request{"x.onion", 0, std::nullopt}).ok());
  BOOST_TEST(!Client::create(Request{"x.onion", 25, Credentials{"", "p"}}).ok());
  BOOST_TEST(!Client::create(Request{"x.onion", 25, Credentials{"u", std::string(256, 'p')}}).ok());
}

BOOST_AUTO_TEST_CASE(after_failure_nothing_more_happens) {
  Client c = make();
  c.feed(bytes({6, 0}));
  BOOST_TEST((c.state() == Client::State::failed));
  std::string e = c.error();
  c.feed(bytes({5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
  BOOST_TEST((c.state() == Client::State::failed));
  BOOST_TEST(c.error() == e);
  BOOST_TEST(c.take_output().empty());
}
