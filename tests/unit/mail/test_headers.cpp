#include <boost/test/unit_test.hpp>
#include <string>

#include "common/mail/headers.h"

using namespace nj::mail;

namespace {

const std::string kRealistic =
    "Received: from mx.sender.example (mx.sender.example [192.0.2.10])\r\n"
    "\tby mx.ours.example with ESMTPS id 4Q2x; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.example;\r\n"
    " s=s1; h=from:to:subject:date; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
    " b=dGVzdA==\r\n"
    "From: Alice <alice@sender.example>\r\n"
    "To: bob@ours.example\r\n"
    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
    "Date: Tue, 14 Nov 2023 22:13:19 +0000\r\n"
    "Message-ID: <1@sender.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "From: not a header\r\n";

std::string error_of(std::string_view m, const HeaderLimits& l = {}) {
  auto r = parse_headers(m, l);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted: " << m);
  return r.error();
}

bool contains(const std::string& s, std::string_view what) {
  return s.find(what) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(headers)

BOOST_AUTO_TEST_CASE(realistic_message) {
  auto r = parse_headers(kRealistic);
  BOOST_REQUIRE(r.ok());
  const auto& hs = *r;
  BOOST_REQUIRE_EQUAL(hs.fields.size(), 9u);
  BOOST_TEST(hs.fields[0].name == "Received");
  BOOST_TEST(hs.fields[1].name == "DKIM-Signature");
  BOOST_TEST(hs.has_separator);
  BOOST_TEST(kRealistic.substr(hs.body_offset) == "Hello Bob,\r\n\r\nFrom: not a header\r\n");
  // Offsets and raw views point into the input.
  for (const auto& f : hs.fields) {
    BOOST_TEST(kRealistic.substr(f.offset, f.raw.size()) == f.raw);
    BOOST_TEST(f.raw.substr(f.raw.size() - 2) == "\r\n");
  }
  BOOST_TEST(hs.fields[0].unfolded() ==
             "from mx.sender.example (mx.sender.example [192.0.2.10])\tby mx.ours.example with "
             "ESMTPS id 4Q2x; Tue, 14 Nov 2023 22:13:20 +0000");
  // Re-serializing every field and the rest gives the input back byte for byte.
  std::string again = serialize_fields(hs.fields) + "\r\n" + kRealistic.substr(hs.body_offset);
  BOOST_TEST(again == kRealistic);
}

BOOST_AUTO_TEST_CASE(lookup_is_case_insensitive) {
  auto r = parse_headers("subject: a\r\nSUBJECT: b\r\nTo: c\r\n\r\n");
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE(r->find("Subject"));
  BOOST_TEST(r->find("Subject")->unfolded() == "a");
  BOOST_TEST(r->count("sUbJeCt") == 2u);
  BOOST_TEST(r->find_all("SUBJECT").size() == 2u);
  BOOST_TEST(r->find("Cc") == nullptr);
}

BOOST_AUTO_TEST_CASE(unfolding) {
  auto r = parse_headers("Subject: one\r\n two\r\n\tthree  \r\n\r\n");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->fields[0].value == " one\r\n two\r\n\tthree  ");
  BOOST_TEST(r->fields[0].unfolded() == "one two\tthree");
  auto empty = parse_headers("X-Empty:\r\n\r\n");
  BOOST_REQUIRE(empty.ok());
  BOOST_TEST(empty->fields[0].value == "");
}

BOOST_AUTO_TEST_CASE(message_without_body) {
  auto r = parse_headers("Subject: x\r\n");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(!r->has_separator);
  BOOST_TEST(r->body_offset == 12u);
  auto nohdr = parse_headers("\r\nbody");
  BOOST_REQUIRE(nohdr.ok());
  BOOST_TEST(nohdr->fields.empty());
  BOOST_TEST(nohdr->body_offset == 2u);
}

BOOST_AUTO_TEST_CASE(malformed_sections) {
  BOOST_TEST(contains(error_of("Subject: x"), "ends inside"));
  BOOST_TEST(contains(error_of("Subject: x\r"), "ends inside"));
  BOOST_TEST(contains(error_of("Subject: x\nTo: y\r\n\r\n"), "bare LF"));
  BOOST_TEST(contains(error_of("Subject: x\ry\r\n\r\n"), "bare CR"));
  BOOST_TEST(contains(error_of(std::string_view("Subject: \0\r\n\r\n", 13)), "NUL"));
  BOOST_TEST(contains(error_of(" folded first\r\n\r\n"), "continuation"));
  BOOST_TEST(contains(error_of("no colon here\r\n\r\n"), "invalid header field name"));
  BOOST_TEST(contains(error_of("NoColon\r\n\r\n"), "without colon"));
  BOOST_TEST(contains(error_of(": empty name\r\n\r\n"), "empty header field name"));
  BOOST_TEST(contains(error_of("Subject : spaced\r\n\r\n"), "invalid header field name"));
  BOOST_TEST(contains(error_of("From alice Tue Nov 14\r\n\r\n"), "invalid header field name"));
  BOOST_TEST(contains(error_of("X-\xc3\xa4: 8bit name\r\n\r\n"), "invalid header field name"));
  // The error names the line, not the content.
  BOOST_TEST(contains(error_of("A: 1\r\nB: 2\r\nbroken\r\n\r\n"), "line 3"));
}

BOOST_AUTO_TEST_CASE(line_length_limit) {
  std::string ok = "X: " + std::string(995, 'a') + "\r\n\r\n";  // 998 octets before CRLF
  BOOST_TEST(parse_headers(ok).ok());
  std::string too_long = "X: " + std::string(996, 'a') + "\r\n\r\n";
  BOOST_TEST(contains(error_of(too_long), "longer than the limit"));
  std::string unterminated_long = "X: " + std::string(5000, 'a');
  BOOST_TEST(contains(error_of(unterminated_long), "longer than the limit"));
  // A folded field may be long as a whole as long as each line fits.
  std::string folded = "X: a";
  for (int i = 0; i < 20; ++i) folded += "\r\n " + std::string(900, 'b');
  folded += "\r\n\r\n";
  BOOST_TEST(parse_headers(folded).ok());
  HeaderLimits small;
  small.max_line = 10;
  BOOST_TEST(parse_headers("X: 1234567\r\n\r\n", small).ok());
  BOOST_TEST(!parse_headers("X: 12345678\r\n\r\n", small).ok());
}

BOOST_AUTO_TEST_CASE(field_count_limit) {
  HeaderLimits l;
  l.max_fields = 3;
  BOOST_TEST(parse_headers("A: 1\r\nB: 2\r\nC: 3\r\n\r\n", l).ok());
  BOOST_TEST(contains(error_of("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", l), "too many"));
  BOOST_TEST(contains(error_of("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n", l), "too many"));
  std::string many;
  for (int i = 0; i < 1001; ++i) many += "X: 1\r\n";
  many += "\r\n";
  BOOST_TEST(contains(error_of(many), "too many"));
}

BOOST_AUTO_TEST_CASE(section_size_limit) {
  HeaderLimits l;
  l.max_section = 20;
  BOOST_TEST(parse_headers("A: 1234567890123\r\n\r\n", l).ok());  // exactly 20
  BOOST_TEST(contains(error_of("A: 12345678901234\r\n\r\n", l), "larger than the limit"));
  // The default: 1 MiB.
  std::string big = "X: a\r\n";
  while (big.size() < 1024 * 1024) big += " " + std::string(900, 'z') + "\r\n";
  big += "\r\n";
  BOOST_TEST(contains(error_of(big), "larger than the limit"));
}

BOOST_AUTO_TEST_SUITE_END()
