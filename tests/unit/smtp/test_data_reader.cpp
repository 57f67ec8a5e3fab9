#include <boost/test/unit_test.hpp>
#include <string>

#include "common/smtp/data_reader.h"

using nj::smtp::DataReader;

namespace {

struct Run {
  std::string message;
  uint32_t problems = 0;
  size_t consumed = 0;
  bool done = false;
};

// Feeds `in` in pieces of `chunk` bytes (0 = all at once).
Run run(const std::string& in, size_t chunk = 0, DataReader::Limits l = {}) {
  DataReader r(l);
  Run out;
  size_t pos = 0;
  while (pos < in.size() && !r.done()) {
    const size_t n = chunk ? std::min(chunk, in.size() - pos) : in.size() - pos;
    const size_t used = r.feed(std::string_view(in).substr(pos, n));
    BOOST_REQUIRE(used <= n);
    if (!r.done()) BOOST_REQUIRE_EQUAL(used, n);
    pos += used;
  }
  out.message = r.message();
  out.problems = r.problems();
  out.consumed = pos;
  out.done = r.done();
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_reader)

BOOST_AUTO_TEST_CASE(unstuffs_and_stops_at_end_marker_in_any_chunking) {
  const std::string in = "Subject: x\r\n\r\n..leading dot\r\n...\r\n.x\r\n.\r\nQUIT\r\n";
  for (size_t chunk : {0, 1, 2, 3, 7}) {
    Run r = run(in, chunk);
    BOOST_CHECK(r.done);
    BOOST_CHECK_EQUAL(r.message, "Subject: x\r\n\r\n.leading dot\r\n..\r\nx\r\n");
    BOOST_CHECK_EQUAL(r.problems, 0u);
    BOOST_CHECK_EQUAL(in.substr(r.consumed), "QUIT\r\n");
  }
}

BOOST_AUTO_TEST_CASE(empty_message) {
  Run r = run(".\r\n");
  BOOST_CHECK(r.done);
  BOOST_CHECK(r.message.empty());
  BOOST_CHECK_EQUAL(r.consumed, 3u);
}

BOOST_AUTO_TEST_CASE(bare_lf_dot_lf_is_not_an_end_marker) {
  for (size_t chunk : {0, 1}) {
    // The classic smuggling payload: "\n.\n" and "\n.\r\n" would end the message for a lax
    // reader; here both are data and the message is refused at the real end.
    Run r = run("a\n.\nMAIL FROM:<x>\n.\r\nRCPT\r\n.\r\nNEXT", chunk);
    BOOST_CHECK(r.done);
    BOOST_CHECK(r.problems & DataReader::kBareLf);
    BOOST_CHECK_EQUAL(r.consumed, std::string("a\n.\nMAIL FROM:<x>\n.\r\nRCPT\r\n.\r\n").size());
  }
}

BOOST_AUTO_TEST_CASE(bare_cr_dot_cr_is_not_an_end_marker) {
  for (size_t chunk : {0, 1}) {
    Run r = run("a\r.\rb\r\n.\r\n", chunk);
    BOOST_CHECK(r.done);
    BOOST_CHECK(r.problems & DataReader::kBareCr);
    BOOST_CHECK_EQUAL(r.consumed, 10u);
  }
  Run r = run(".\rx\r\n.\r\n");  // ".\r" at line start followed by something else
  BOOST_CHECK(r.done);
  BOOST_CHECK(r.problems & DataReader::kBareCr);
}

BOOST_AUTO_TEST_CASE(verdicts) {
  DataReader d;
  d.feed("a\nb\r\n.\r\n");
  BOOST_CHECK_EQUAL(d.verdict()->code, 554);
  BOOST_CHECK_EQUAL(d.verdict()->enhanced, "5.5.2");
  DataReader ok;
  ok.feed("fine\r\n.\r\n");
  BOOST_CHECK(!ok.verdict());
}

BOOST_AUTO_TEST_CASE(size_limit_stops_storing_but_keeps_reading) {
  DataReader::Limits l;
  l.max_size = 100;
  const std::string big = std::string(50, 'a') + "\r\n" + std::string(200, 'b') + "\r\n.\r\nX";
  for (size_t chunk : {0, 1, 13}) {
    Run r = run(big, chunk, l);
    BOOST_CHECK(r.done);
    BOOST_CHECK(r.problems & DataReader::kTooBig);
    BOOST_CHECK(r.message.empty());
    BOOST_CHECK_EQUAL(big.substr(r.consumed), "X");
  }
  DataReader d(l);
  d.feed(big);
  BOOST_CHECK_EQUAL(d.verdict()->code, 552);
  BOOST_CHECK_EQUAL(d.verdict()->enhanced, "5.3.4");
  BOOST_CHECK_EQUAL(d.size(), 50u + 2 + 200 + 2);
  // Exactly at the limit is fine.
  l.max_size = 12;
  Run exact = run("0123456789\r\n.\r\n", 0, l);
  BOOST_CHECK_EQUAL(exact.problems, 0u);
}

BOOST_AUTO_TEST_CASE(line_length_limit) {
  Run ok = run(std::string(998, 'x') + "\r\n.\r\n");
  BOOST_CHECK_EQUAL(ok.problems, 0u);
  Run r = run(std::string(999, 'x') + "\r\n.\r\n", 100);
  BOOST_CHECK(r.problems & DataReader::kLineTooLong);
  DataReader d;
  d.feed(std::string(2000, 'x') + "\r\n.\r\n");
  BOOST_CHECK_EQUAL(d.verdict()->enhanced, "5.6.0");
}

BOOST_AUTO_TEST_CASE(reset_reuses_reader) {
  DataReader d;
  d.feed("a\nb\r\n.\r\n");
  BOOST_CHECK(d.done());
  d.reset();
  BOOST_CHECK(!d.done());
  BOOST_CHECK_EQUAL(d.feed("c\r\n.\r\n"), 6u);
  BOOST_CHECK_EQUAL(d.message(), "c\r\n");
  BOOST_CHECK_EQUAL(d.problems(), 0u);
}

BOOST_AUTO_TEST_CASE(large_message_is_linear) {
  std::string line(78, 'z');
  line += "\r\n";
  std::string in;
  for (int i = 0; i < 200000; ++i) in += line;  // ~16 MB
  in += ".\r\n";
  DataReader d;
  size_t pos = 0;
  while (!d.done()) pos += d.feed(std::string_view(in).substr(pos, 65536));
  BOOST_CHECK_EQUAL(d.message().size(), in.size() - 3);
  BOOST_CHECK_EQUAL(d.problems(), 0u);
}

BOOST_AUTO_TEST_SUITE_END()
