#include <boost/test/unit_test.hpp>
#include <string>

#include "common/pop3/multiline.h"

using nj::pop3::append_multiline;
using nj::pop3::wire_size;

namespace {

std::string retr(std::string_view m) {
  std::string out;
  append_multiline(out, m);
  return out;
}

std::string top(std::string_view m, uint64_t n) {
  std::string out;
  append_multiline(out, m, n);
  return out;
}

// What a client gets back after undoing the stuffing: the message with CRLF line ends.
std::string unstuff(std::string_view wire) {
  std::string m;
  size_t i = 0;
  while (i < wire.size()) {
    const size_t e = wire.find("\r\n", i);
    BOOST_REQUIRE(e != std::string_view::npos);
    std::string_view line = wire.substr(i, e - i);
    i = e + 2;
    if (line == ".") {
      BOOST_REQUIRE_EQUAL(i, wire.size());
      return m;
    }
    if (!line.empty() && line[0] == '.') line.remove_prefix(1);
    m.append(line).append("\r\n");
  }
  BOOST_FAIL("no terminating dot");
  return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(multiline)

BOOST_AUTO_TEST_CASE(crlf_message_is_sent_as_is) {
  const std::string m = "Subject: x\r\n\r\nbody\r\n";
  BOOST_TEST(retr(m) == m + ".\r\n");
  BOOST_TEST(wire_size(m) == m.size());
}

BOOST_AUTO_TEST_CASE(dot_stuffing) {
  const std::string m = "A: b\r\n\r\n.\r\n..two\r\n.x\r\nmid.dle\r\n";
  BOOST_TEST(retr(m) == "A: b\r\n\r\n..\r\n...two\r\n..x\r\nmid.dle\r\n.\r\n");
  // Stuffing is not counted (RFC 1939 LIST counts the message, not the transmission).
  BOOST_TEST(wire_size(m) == m.size());
  BOOST_TEST(unstuff(retr(m)) == m);
}

BOOST_AUTO_TEST_CASE(bare_lf_becomes_crlf_and_counts) {
  const std::string m = "A: b\n\n.\nline\n";
  BOOST_TEST(retr(m) == "A: b\r\n\r\n..\r\nline\r\n.\r\n");
  BOOST_TEST(wire_size(m) == std::string("A: b\r\n\r\n.\r\nline\r\n").size());
}

BOOST_AUTO_TEST_CASE(missing_final_line_end_is_added) {
  BOOST_TEST(retr("A: b\r\n\r\nlast") == "A: b\r\n\r\nlast\r\n.\r\n");
  BOOST_TEST(wire_size("A: b\r\n\r\nlast") == 14u);
  BOOST_TEST(retr(".") == "..\r\n.\r\n");
  BOOST_TEST(wire_size(".") == 3u);
}

BOOST_AUTO_TEST_CASE(empty_message) {
  BOOST_TEST(retr("") == ".\r\n");
  BOOST_TEST(wire_size("") == 0u);
}

BOOST_AUTO_TEST_CASE(wire_size_matches_what_retr_sends) {
  for (std::string_view m : {"a\r\nb", "a\n\r\n.b\r", "\r\n\r\n", "x\ry\n", ".\n.\n..\n", "\n"}) {
    const std::string w = retr(m);
    BOOST_TEST(unstuff(w).size() == wire_size(m), "message " << m);
  }
}

BOOST_AUTO_TEST_CASE(top_sends_headers_blank_line_and_n_lines) {
  const std::string m = "A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n";
  BOOST_TEST(top(m, 0) == "A: 1\r\nB: 2\r\n\r\n.\r\n");
  BOOST_TEST(top(m, 2) == "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n");
  BOOST_TEST(top(m, 3) == retr(m));
  BOOST_TEST(top(m, 1000000) == retr(m));
  BOOST_TEST(top(m, UINT64_MAX) == retr(m));
}

BOOST_AUTO_TEST_CASE(top_of_message_without_body) {
  BOOST_TEST(top("A: 1\r\nB: 2\r\n", 5) == "A: 1\r\nB: 2\r\n.\r\n");
  BOOST_TEST(top("A: 1\nB: 2", 0) == "A: 1\r\nB: 2\r\n.\r\n");
}

BOOST_AUTO_TEST_CASE(appends_to_existing_output) {
  std::string out = "+OK\r\n";
  append_multiline(out, "x\r\n");
  BOOST_TEST(out == "+OK\r\nx\r\n.\r\n");
}

BOOST_AUTO_TEST_CASE(large_message_round_trips) {
  std::string m;
  for (int i = 0; i < 20000; ++i) {
    m += (i % 7 == 0) ? ".dotted line " : "line ";
    m += std::to_string(i);
    m += (i % 3 == 0) ? "\n" : "\r\n";
  }
  const std::string w = retr(m);
  BOOST_TEST(unstuff(w).size() == wire_size(m));
}

BOOST_AUTO_TEST_SUITE_END()
