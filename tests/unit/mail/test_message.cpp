#include <boost/test/unit_test.hpp>
#include <string>

#include "common/mail/message.h"

using namespace nj::mail;

namespace {

bool contains(const std::string& s, std::string_view what) {
  return s.find(what) != std::string::npos;
}

std::string mime_error(std::string_view m, const MimeLimits& l = {}) {
  auto r = parse_mime(m, l);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted: " << m);
  return r.error();
}

// A multipart message with one nesting level and an attached message.
const std::string kMixed =
    "From: a@x.example\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed;\r\n"
    " boundary=\"outer (b=q)\"\r\n"
    "\r\n"
    "This is the preamble.\r\n"
    "--outer (b=q)\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "plain text\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>html</p>\r\n"
    "--inner--\r\n"
    "--outer (b=q)\r\n"
    "Content-Type: message/rfc822\r\n"
    "Content-Disposition: attachment; filename=\"fwd.eml\"\r\n"
    "\r\n"
    "From: c@y.example\r\n"
    "Subject: forwarded\r\n"
    "\r\n"
    "inner body\r\n"
    "--outer (b=q)--  \r\n"
    "This is the epilogue.\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(mime)

BOOST_AUTO_TEST_CASE(content_type_basic) {
  auto t = parse_content_type("Text/HTML; Charset=\"UTF-8\"; format=flowed");
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(t->type == "text");
  BOOST_TEST(t->subtype == "html");
  BOOST_REQUIRE(t->param("charset"));
  BOOST_TEST(t->param("charset")->value == "UTF-8");
  BOOST_TEST(t->param("format")->value == "flowed");
  BOOST_TEST(t->param("missing") == nullptr);
}

BOOST_AUTO_TEST_CASE(content_type_comments_and_quotes) {
  auto t = parse_content_type(
      "multipart/mixed (a (nested) comment); (c) boundary = \"a;b=\\\"c\\\" (not a comment)\" ;");
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(t->is("multipart", "mixed"));
  BOOST_TEST(t->param("boundary")->value == "a;b=\"c\" (not a comment)");
  BOOST_TEST(!parse_content_type("text/plain; x=\"open").ok());
  BOOST_TEST(!parse_content_type("text/plain (open").ok());
  BOOST_TEST(!parse_content_type("text").ok());
  BOOST_TEST(!parse_content_type("/plain").ok());
  BOOST_TEST(!parse_content_type("text/plain; charset").ok());
  BOOST_TEST(!parse_content_type("text/plain; charset=").ok());
  BOOST_TEST(!parse_content_type("text/plain charset=x").ok());
  BOOST_TEST(!parse_content_type("text/plain; a=1; A=2").ok());  // given twice
  std::string deep = "text/plain " + std::string(17, '(') + std::string(17, ')');
  BOOST_TEST(!parse_content_type(deep).ok());
}

BOOST_AUTO_TEST_CASE(rfc2231_continuations) {
  auto t = parse_content_type(
      "application/pdf; name*0=\"very long \"; name*1=\"file\"; name*2=name.pdf");
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(t->param("name")->value == "very long filename.pdf");
  // Extended with charset and language, mixed with plain sections, out of order.
  auto d = parse_content_disposition(
      "attachment; filename*1=\"-Stra\"; filename*2*=%C3%9Fe.txt; "
      "filename*0*=utf-8'de'Gr%C3%BC%C3%9Fe");
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(d->kind == "attachment");
  const MimeParam* f = d->param("filename");
  BOOST_REQUIRE(f);
  BOOST_TEST(f->value ==
             "Gr\xc3\xbc\xc3\x9f"
             "e-Stra\xc3\x9f"
             "e.txt");
  BOOST_TEST(f->charset == "utf-8");
  BOOST_TEST(f->language == "de");
  // Single extended value; it wins over a plain fallback of the same name.
  auto s =
      parse_content_disposition("inline; filename=\"fallback\"; filename*=UTF-8''%E2%82%AC.txt");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s->param("filename")->value == "\xe2\x82\xac.txt");
  // Gaps, bad escapes, duplicates and absurd section numbers are refused.
  BOOST_TEST(!parse_content_type("a/b; n*0=x; n*2=y").ok());
  BOOST_TEST(!parse_content_type("a/b; n*1=x").ok());
  BOOST_TEST(!parse_content_type("a/b; n*0=x; n*0=y").ok());
  BOOST_TEST(!parse_content_type("a/b; n*=utf-8''x; n*0=y").ok());
  BOOST_TEST(!parse_content_type("a/b; n*0*=x%4").ok());
  BOOST_TEST(!parse_content_type("a/b; n*0*=utf-8''%zz").ok());
  BOOST_TEST(!parse_content_type("a/b; n*0*=nocharset").ok());
  BOOST_TEST(!parse_content_type("a/b; n*01=x").ok());
  BOOST_TEST(!parse_content_type("a/b; n*64=x").ok());
  BOOST_TEST(!parse_content_type("a/b; n*x=x").ok());
}

BOOST_AUTO_TEST_CASE(nested_multipart_and_rfc822) {
  auto r = parse_mime(kMixed);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
  const auto& p = r->parts;
  // message, alternative, plain, html, rfc822, embedded message
  BOOST_REQUIRE_EQUAL(p.size(), 6u);
  BOOST_TEST(p[0].type.is("multipart", "mixed"));
  BOOST_TEST(p[0].boundary == "outer (b=q)");
  BOOST_TEST(p[0].closed);
  BOOST_TEST(kMixed.substr(p[0].body_offset, p[0].preamble_end - p[0].body_offset) ==
             "This is the preamble.");
  BOOST_TEST(kMixed.substr(p[0].epilogue_start, p[0].end - p[0].epilogue_start) ==
             "This is the epilogue.\r\n");
  BOOST_TEST((p[0].children == std::vector<size_t>{1, 4}));
  BOOST_TEST(p[1].type.is("multipart", "alternative"));
  BOOST_TEST(p[1].depth == 1u);
  BOOST_TEST((p[1].children == std::vector<size_t>{2, 3}));
  BOOST_TEST(p[2].body(kMixed) == "plain text");
  BOOST_TEST(p[3].body(kMixed) == "<p>html</p>");
  BOOST_TEST(p[3].depth == 2u);
  BOOST_TEST(*p[3].parent == 1u);
  // The alternative part ends at the CRLF before the outer delimiter.
  BOOST_TEST(kMixed.substr(p[1].end, 4) == "\r\n--");
  BOOST_TEST(p[4].type.is("message", "rfc822"));
  BOOST_TEST((p[4].children == std::vector<size_t>{5}));
  BOOST_TEST(p[5].depth == 2u);
  BOOST_REQUIRE_EQUAL(p[5].headers.size(), 2u);
  BOOST_TEST(p[5].headers[1].unfolded() == "forwarded");
  BOOST_TEST(p[5].body(kMixed) == "inner body");
  // Header offsets are absolute.
  for (const auto& part : p) {
    BOOST_TEST(part.start <= part.body_offset);
    BOOST_TEST(part.body_offset <= part.end);
    for (const auto& f : part.headers) BOOST_TEST(kMixed.substr(f.offset, f.raw.size()) == f.raw);
  }
  BOOST_TEST(p[2].headers[0].offset == kMixed.find("Content-Type: text/plain"));
}

BOOST_AUTO_TEST_CASE(default_types) {
  std::string m =
      "Content-Type: multipart/digest; boundary=d\r\n\r\n"
      "--d\r\n\r\nSubject: one\r\n\r\nfirst\r\n"
      "--d\r\nContent-Type: text/plain\r\n\r\nsecond\r\n"
      "--d--\r\n";
  auto r = parse_mime(m);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->parts[1].type.is("message", "rfc822"));  // digest default
  BOOST_TEST(!r->parts[1].type_explicit);
  BOOST_TEST(r->parts[2].headers[0].unfolded() == "one");
  BOOST_TEST(r->parts[3].type.is("text", "plain"));
  auto plain = parse_mime("Subject: x\r\n\r\nbody");
  BOOST_REQUIRE(plain.ok());
  BOOST_REQUIRE_EQUAL(plain->parts.size(), 1u);
  BOOST_TEST(plain->root().type.is("text", "plain"));
  BOOST_TEST(plain->root().type.param("charset")->value == "us-ascii");
}

BOOST_AUTO_TEST_CASE(missing_close_delimiter) {
  std::string m =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
      "--b\r\n\r\ntruncated here";
  auto r = parse_mime(m);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(!r->root().closed);
  BOOST_REQUIRE_EQUAL(r->parts.size(), 3u);
  BOOST_TEST(r->parts[2].body(m) == "truncated here");
  BOOST_TEST(r->root().epilogue_start == m.size());
}

BOOST_AUTO_TEST_CASE(boundary_text_that_is_not_a_delimiter) {
  // "--b" inside a quoted parameter, mid-line, or as a longer word is not a delimiter.
  std::string m =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\n"
      "Content-Type: text/plain; name=\"\r\n"
      " --b\"\r\n"
      "\r\n"
      "text with --b inside\r\n"
      "--bb is longer\r\n"
      "--b-- trailing junk\r\n"
      "--b--\r\n";
  auto r = parse_mime(m);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
  BOOST_REQUIRE_EQUAL(r->parts.size(), 2u);
  BOOST_TEST(r->parts[1].type.param("name")->value == " --b");
  BOOST_TEST(r->parts[1].body(m) ==
             "text with --b inside\r\n--bb is longer\r\n--b-- trailing junk");
  BOOST_TEST(r->root().closed);
}

BOOST_AUTO_TEST_CASE(transport_padding_and_empty_parts) {
  std::string m =
      "Content-Type: multipart/mixed; boundary=\"with space\"\r\n\r\n"
      "--with space \t\r\n"
      "--with space\r\n"
      "\r\n"
      "x\r\n"
      "--with space--";
  auto r = parse_mime(m);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
  BOOST_REQUIRE_EQUAL(r->parts.size(), 3u);
  BOOST_TEST(r->parts[1].body(m) == "");
  BOOST_TEST(r->parts[1].headers.empty());
  BOOST_TEST(r->parts[2].body(m) == "x");
  BOOST_TEST(r->root().closed);
}

BOOST_AUTO_TEST_CASE(opaque_parts_are_not_descended) {
  std::string signed_part =
      "Content-Type: multipart/signed; protocol=\"application/pgp-signature\";\r\n"
      " micalg=pgp-sha256; boundary=s\r\n"
      "\r\n"
      "--s\r\nContent-Type: text/plain\r\n\r\nsigned text\r\n"
      "--s\r\nContent-Type: application/pgp-signature\r\n\r\nSIG\r\n--s--";
  std::string m = "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n" + signed_part +
                  "\r\n--o\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
                  "\r\nMIAGCSqGSIb3DQEHA6CAMIACAQ\r\n--o--\r\n";
  auto r = parse_mime(m);
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE_EQUAL(r->parts.size(), 3u);
  BOOST_TEST(r->parts[1].opaque);
  BOOST_TEST(r->parts[1].children.empty());
  BOOST_TEST(m.substr(r->parts[1].start, r->parts[1].end - r->parts[1].start) == signed_part);
  BOOST_TEST(r->parts[2].opaque);
}

BOOST_AUTO_TEST_CASE(multipart_errors) {
  BOOST_TEST(contains(mime_error("Content-Type: multipart/mixed\r\n\r\nx\r\n"), "boundary"));
  BOOST_TEST(
      contains(mime_error("Content-Type: multipart/mixed; boundary=b\r\n\r\nno delimiters\r\n"),
               "without any boundary delimiter"));
  std::string b71(71, 'b');
  BOOST_TEST(contains(mime_error("Content-Type: multipart/mixed; boundary=" + b71 + "\r\n\r\n--" +
                                 b71 + "\r\n\r\n--" + b71 + "--\r\n"),
                      "70"));
  std::string b70(70, 'b');
  BOOST_TEST(parse_mime("Content-Type: multipart/mixed; boundary=" + b70 + "\r\n\r\n--" + b70 +
                        "\r\n\r\nx\r\n--" + b70 + "--\r\n")
                 .ok());
  BOOST_TEST(
      contains(mime_error("Content-Type: multipart/mixed; boundary=\"a\\\\b\"\r\n\r\n--a\\b\r\n"),
               "invalid character"));
  BOOST_TEST(contains(mime_error("Content-Type: multipart/mixed; boundary=\"b \"\r\n\r\n--b \r\n"),
                      "invalid character"));
  BOOST_TEST(contains(mime_error("Content-Type: text/plain\r\nContent-type: text/html\r\n\r\nx"),
                      "more than one Content-Type"));
  BOOST_TEST(
      contains(mime_error("Content-Type: multipart/mixed; boundary=b\r\n"
                          "Content-Transfer-Encoding: base64\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"),
               "RFC 2045 6.4"));
  BOOST_TEST(contains(mime_error("Content-Type: text/plain; =x\r\n\r\nx"), "Content-Type"));
  // A part whose header section is broken makes the message an error.
  BOOST_TEST(!parse_mime("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nnot a header\r\n"
                         "\r\nx\r\n--b--\r\n")
                  .ok());
}

BOOST_AUTO_TEST_CASE(depth_limit) {
  auto nested = [](int levels) {
    std::string m;
    for (int i = 0; i < levels; ++i) m += "Content-Type: message/rfc822\r\n\r\n";
    return m + "Subject: bottom\r\n\r\nbody\r\n";
  };
  MimeLimits l;
  l.max_depth = 32;
  BOOST_TEST(parse_mime(nested(32), l).ok());
  BOOST_TEST(contains(mime_error(nested(33), l), "deeper"));
  auto mp = [](int levels) {
    std::string head, tail;
    for (int i = 0; i < levels; ++i) {
      std::string b = "b" + std::to_string(i);
      head += "Content-Type: multipart/mixed; boundary=" + b + "\r\n\r\n--" + b + "\r\n";
      tail = "\r\n--" + b + "--" + tail;
    }
    return head + "\r\nleaf" + tail + "\r\n";
  };
  auto ok = parse_mime(mp(32), l);
  BOOST_REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error()));
  BOOST_TEST(ok->parts.size() == 33u);
  BOOST_TEST(ok->parts.back().body(mp(32)) == "leaf");
  BOOST_TEST(contains(mime_error(mp(33), l), "deeper"));
}

BOOST_AUTO_TEST_CASE(part_and_field_limits) {
  auto many = [](int n) {
    std::string m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
    for (int i = 0; i < n; ++i) m += "--b\r\nX: 1\r\nY: 2\r\n\r\nx\r\n";
    return m + "--b--\r\n";
  };
  MimeLimits l;
  l.max_parts = 10;
  BOOST_TEST(parse_mime(many(9), l).ok());
  BOOST_TEST(contains(mime_error(many(10), l), "parts"));
  BOOST_TEST(parse_mime(many(999)).ok());
  BOOST_TEST(!parse_mime(many(1000)).ok());  // 1000 parts plus the message itself
  MimeLimits f;
  f.max_total_fields = 20;
  BOOST_TEST(parse_mime(many(9), f).ok());  // 1 + 9 * 2 = 19 fields
  BOOST_TEST(contains(mime_error(many(10), f), "header fields"));
}

BOOST_AUTO_TEST_SUITE_END()
