// Helpers shared by the SMTP engine tests.
#pragma once

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "common/smtp/reply.h"

namespace nj::smtp::testing {

// Parses everything a server wrote into replies; the test fails on malformed output.
inline std::vector<Reply> parse_replies(const std::string& out) {
  ReplyParser p;
  auto st = p.feed(out);
  BOOST_REQUIRE_MESSAGE(st.ok(), "server wrote a malformed reply: " << out);
  BOOST_REQUIRE_MESSAGE(!p.has_partial(), "server wrote a partial reply: " << out);
  std::vector<Reply> v;
  while (auto r = p.next()) v.push_back(*r);
  return v;
}

inline std::vector<int> codes(const std::string& out) {
  std::vector<int> c;
  for (const auto& r : parse_replies(out)) c.push_back(r.code);
  return c;
}

}  // namespace nj::smtp::testing
