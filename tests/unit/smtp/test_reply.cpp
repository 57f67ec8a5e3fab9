#include <boost/test/unit_test.hpp>

#include "common/smtp/command.h"
#include "common/smtp/reply.h"

using nj::smtp::Reply;
using nj::smtp::ReplyParser;

BOOST_AUTO_TEST_SUITE(reply)

BOOST_AUTO_TEST_CASE(serializes_single_and_multi_line) {
  BOOST_CHECK_EQUAL(Reply::ok().serialize(), "250 2.0.0 Ok\r\n");
  Reply r = Reply::make(250, "", "mx.example");
  r.lines.push_back("PIPELINING");
  r.lines.push_back("SIZE 100");
  BOOST_CHECK_EQUAL(r.serialize(), "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n");
  Reply e = Reply::make(550, "5.1.1", "no");
  e.lines.push_back("really");
  BOOST_CHECK_EQUAL(e.serialize(), "550-5.1.1 no\r\n550 5.1.1 really\r\n");
}

BOOST_AUTO_TEST_CASE(text_cannot_inject_lines) {
  Reply r = Reply::make(250, "2.0.0", "a\r\n250 2.0.0 injected\nx");
  const std::string s = r.serialize();
  BOOST_CHECK_EQUAL(s.find('\n'), s.size() - 1);
  BOOST_CHECK_EQUAL(s.find('\r'), s.size() - 2);
}

BOOST_AUTO_TEST_CASE(parses_multi_line_with_enhanced_codes_across_feeds) {
  ReplyParser p;
  const std::string wire = "250-2.1.0 first\r\n250-2.1.0 second\r\n250 2.1.0 third\r\n220 hi\r\n";
  for (char c : wire) BOOST_REQUIRE(p.feed(std::string_view(&c, 1)).ok());
  auto r = p.next();
  BOOST_REQUIRE(r);
  BOOST_CHECK_EQUAL(r->code, 250);
  BOOST_CHECK_EQUAL(r->enhanced, "2.1.0");
  BOOST_REQUIRE_EQUAL(r->lines.size(), 3u);
  BOOST_CHECK_EQUAL(r->lines[2], "third");
  BOOST_CHECK_EQUAL(r->text(), "first second third");
  auto g = p.next();
  BOOST_REQUIRE(g);
  BOOST_CHECK_EQUAL(g->code, 220);
  BOOST_CHECK(g->enhanced.empty());
  BOOST_CHECK_EQUAL(g->lines[0], "hi");
  BOOST_CHECK(!p.next());
  BOOST_CHECK(!p.has_partial());
}

BOOST_AUTO_TEST_CASE(enhanced_code_class_must_match) {
  ReplyParser p;
  BOOST_REQUIRE(p.feed("250 5.0.0 odd\r\n354 go ahead\r\n250\r\n").ok());
  auto a = p.next();
  BOOST_CHECK(a->enhanced.empty());
  BOOST_CHECK_EQUAL(a->lines[0], "5.0.0 odd");
  auto b = p.next();
  BOOST_CHECK_EQUAL(b->code, 354);
  auto c = p.next();
  BOOST_CHECK_EQUAL(c->code, 250);
  BOOST_CHECK_EQUAL(c->lines.size(), 1u);
  BOOST_CHECK_EQUAL(c->lines[0], "");
}

BOOST_AUTO_TEST_CASE(tolerates_bare_lf_line_ends) {
  ReplyParser p;
  BOOST_REQUIRE(p.feed("220 old server\n").ok());
  BOOST_CHECK_EQUAL(p.next()->code, 220);
}

BOOST_AUTO_TEST_CASE(rejects_malformed_replies) {
  for (const char* bad : {"25 short\r\n", "abc x\r\n", "250x no separator\r\n",
                          "250-one\r\n251 two\r\n", "650 bad class\r\n", "250 a\rb\r\n"}) {
    ReplyParser p;
    BOOST_CHECK_MESSAGE(!p.feed(bad).ok(), bad);
    BOOST_CHECK(p.failed());
    // Sticky: later good input does not revive it.
    BOOST_CHECK(!p.feed("250 ok\r\n").ok());
    BOOST_CHECK(!p.next());
  }
}

BOOST_AUTO_TEST_CASE(enforces_line_and_count_limits) {
  ReplyParser::Limits l;
  l.max_line = 64;
  l.max_lines = 3;
  ReplyParser a(l);
  BOOST_CHECK(!a.feed("250 " + std::string(100, 'x')).ok());  // no line end needed to fail
  ReplyParser b(l);
  BOOST_CHECK(!b.feed("250-a\r\n250-b\r\n250-c\r\n250 d\r\n").ok());
  // The limit is on the text before CRLF, whether the line ends in CRLF or a bare LF.
  ReplyParser d(l);
  BOOST_CHECK(d.feed("250 " + std::string(60, 'x') + "\r\n").ok());
  BOOST_CHECK(d.feed("250 " + std::string(60, 'x') + "\n").ok());
  BOOST_CHECK(!d.feed("250 " + std::string(61, 'x') + "\n").ok());
  ReplyParser c(l);
  BOOST_CHECK(c.feed("250-a\r\n250-b\r\n250 c\r\n").ok());
  BOOST_CHECK_EQUAL(c.next()->lines.size(), 3u);
}

BOOST_AUTO_TEST_CASE(round_trips_through_serialize) {
  ReplyParser p;
  BOOST_REQUIRE(p.feed("550-5.1.1 a\r\n550 5.1.1 5.1.1 b\r\n").ok());
  auto r = *p.next();
  ReplyParser q;
  BOOST_REQUIRE(q.feed(r.serialize()).ok());
  BOOST_CHECK(*q.next() == r);
}

BOOST_AUTO_TEST_CASE(enhanced_code_syntax) {
  BOOST_CHECK(nj::smtp::is_enhanced_code("2.0.0"));
  BOOST_CHECK(nj::smtp::is_enhanced_code("5.123.456"));
  BOOST_CHECK(!nj::smtp::is_enhanced_code("3.0.0"));
  BOOST_CHECK(!nj::smtp::is_enhanced_code("5.1234.1"));
  BOOST_CHECK(!nj::smtp::is_enhanced_code("5.1."));
  BOOST_CHECK(!nj::smtp::is_enhanced_code("5..1"));
}

BOOST_AUTO_TEST_CASE(base64_strict) {
  using nj::smtp::base64_decode;
  using nj::smtp::base64_encode;
  BOOST_CHECK_EQUAL(base64_encode(""), "");
  BOOST_CHECK_EQUAL(base64_encode("f"), "Zg==");
  BOOST_CHECK_EQUAL(base64_encode("fo"), "Zm8=");
  BOOST_CHECK_EQUAL(base64_encode("foo"), "Zm9v");
  BOOST_CHECK_EQUAL(*base64_decode("Zm9vYmE="), "fooba");
  BOOST_CHECK_EQUAL(*base64_decode("AHVzZXIAcGFzcw=="), std::string("\0user\0pass", 10));
  BOOST_CHECK(!base64_decode("Zm9"));
  BOOST_CHECK(!base64_decode("Zm=v"));
  BOOST_CHECK(!base64_decode("Zg==Zg=="));
  BOOST_CHECK(!base64_decode("Z m9"));
  BOOST_CHECK(!base64_decode("===="));
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  BOOST_CHECK(*base64_decode(base64_encode(all)) == all);
}

BOOST_AUTO_TEST_CASE(command_split_and_paths) {
  using namespace nj::smtp;
  auto c = split_command("mail FROM:<a@b>  ");
  BOOST_CHECK_EQUAL(c.verb, "MAIL");
  BOOST_CHECK_EQUAL(c.arg, "FROM:<a@b>");
  BOOST_CHECK(split_command("GET/ HTTP").verb.empty());
  BOOST_CHECK(split_command("Host: x").verb.empty());
  BOOST_CHECK(split_command("\x16\x03\x01").verb.empty());

  auto p = parse_path_arg("FROM: <\"a>b\"@x.org> SIZE=10 body=8BITMIME SMTPUTF8", "FROM:");
  BOOST_REQUIRE(p.value);
  BOOST_CHECK_EQUAL(p.value->path, "<\"a>b\"@x.org>");
  BOOST_REQUIRE_EQUAL(p.value->params.size(), 3u);
  BOOST_CHECK_EQUAL(p.value->params[1].keyword, "BODY");
  BOOST_CHECK_EQUAL(*p.value->params[1].value, "8BITMIME");
  BOOST_CHECK(!p.value->params[2].value);

  BOOST_CHECK(parse_path_arg("TO:a@b", "TO:").error == PathError::bad_path);
  BOOST_CHECK(parse_path_arg("TO:<a@b", "TO:").error == PathError::bad_path);
  BOOST_CHECK(parse_path_arg("TO:<a\x01@b>", "TO:").error == PathError::bad_path);
  BOOST_CHECK(parse_path_arg("TO:<a@b>x", "TO:").error == PathError::bad_path);
  BOOST_CHECK(parse_path_arg("TO:<" + std::string(300, 'a') + ">", "TO:").error ==
              PathError::bad_path);
  BOOST_CHECK(parse_path_arg("TOO:<a@b>", "TO:").error == PathError::syntax);
  BOOST_CHECK(parse_path_arg("TO:<a@b> A=1 a=2", "TO:").error == PathError::bad_params);
  BOOST_CHECK(parse_path_arg("TO:<a@b> X=", "TO:").error == PathError::bad_params);
  BOOST_CHECK(parse_path_arg("TO:<a@b> -X", "TO:").error == PathError::bad_params);
  BOOST_CHECK(parse_path_arg("TO:<ü@b>", "TO:").value->eight_bit);
  BOOST_CHECK(parse_path_arg("FROM:<>", "FROM:").value);
}

BOOST_AUTO_TEST_SUITE_END()
