#include <boost/test/unit_test.hpp>

#include "common/mail/headers.h"
#include "common/mail/message.h"
#include "edge/content/body_clean.h"
#include "edge/content/transfer.h"

using namespace nj::edge::content;

namespace {

BodyCleaned must_clean(std::string_view msg) {
  auto r = clean_body(msg);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  return std::move(*r);
}

bool has(const std::string& s, std::string_view needle) {
  return s.find(needle) != std::string::npos;
}

const std::string kPlain = "Hello =3D not decoded\r\nline two \r\n";

std::string alternative(std::string_view html_headers, std::string_view html_body) {
  return "From: a@example.org\r\nX-Nightjar-Content: forged\r\nSubject: s\r\n"
         "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
         "preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
         kPlain + "\r\n--b1\r\n" + std::string(html_headers) + "\r\n" + std::string(html_body) +
         "\r\n--b1--\r\nepilogue\r\n";
}

// The decoded body of the first text/html part of a message.
std::string html_of(const std::string& msg) {
  auto tree = nj::mail::parse_mime(msg);
  BOOST_REQUIRE(tree.ok());
  for (const auto& p : tree->parts) {
    if (!p.type.is("text", "html")) continue;
    std::string_view body = p.body(msg);
    for (const auto& f : p.headers) {
      if (!f.is("Content-Transfer-Encoding")) continue;
      if (f.unfolded() == "base64") return *decode_base64_body(body);
      if (f.unfolded() == "quoted-printable") return decode_quoted_printable(body);
    }
    return std::string(body);
  }
  return {};
}

}  // namespace

BOOST_AUTO_TEST_CASE(single_part_html_message) {
  std::string msg =
      "From: a@example.org\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
      "<p>Hi</p><img src=\"http://t/p.gif\"><a href=\"https://x/\">go</a>\r\n";
  auto r = must_clean(msg);
  BOOST_TEST(r.message.rfind("X-Nightjar-Content: html cleaned; removed img=1\r\n", 0) == 0,
             r.message);
  BOOST_TEST(!has(r.message, "http://t"), r.message);
  BOOST_TEST(has(r.message, "rel=\"noreferrer noopener\""), r.message);
  BOOST_TEST(has(r.message, "From: a@example.org\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"));
  BOOST_TEST(r.message.substr(r.message.size() - 2) == "\r\n");
  BOOST_TEST(r.html_parts == 1u);
}

BOOST_AUTO_TEST_CASE(plain_parts_and_structure_stay_byte_identical) {
  std::string msg = alternative("Content-Type: text/html; charset=utf-8\r\n",
                                "<p>x</p><img src=http://a>");
  auto r = must_clean(msg);
  BOOST_TEST(has(r.message, "preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
                                kPlain + "\r\n--b1\r\n"),
             r.message);
  BOOST_TEST(has(r.message, "\r\n--b1--\r\nepilogue\r\n"));
  BOOST_TEST(!has(r.message, "http://a"));
  // The sender's copy of our field is gone; ours is the only one.
  auto hs = nj::mail::parse_headers(r.message);
  BOOST_REQUIRE(hs.ok());
  BOOST_TEST(hs->count(kContentField) == 1u);
  BOOST_TEST(!has(r.message, "forged"));
}

BOOST_AUTO_TEST_CASE(no_html_still_gets_the_field) {
  std::string msg = "From: a@example.org\r\nSubject: s\r\n\r\nplain <img src=http://x>\r\n";
  auto r = must_clean(msg);
  BOOST_TEST(r.message == "X-Nightjar-Content: no html\r\n" + msg);
}

BOOST_AUTO_TEST_CASE(html_part_without_body_stays_as_is) {
  // Found by fuzzing: a header section without the empty line has no body to put HTML after.
  std::string msg = "Content-Type: text/html\r\nSubject: s\r\n";
  auto r = must_clean(msg);
  BOOST_TEST(r.message == "X-Nightjar-Content: html cleaned; nothing removed\r\n" + msg);
}

BOOST_AUTO_TEST_CASE(cleaning_never_writes_a_delimiter_line) {
  // Found by fuzzing: "\n--b1" is not a delimiter (no CR), but the parser reads the LF as a
  // line end and we write CRLF; the part must be encoded instead.
  std::string msg = alternative("Content-Type: text/html\r\n", "<p>a\n--b1\nb</p>");
  auto before = nj::mail::parse_mime(msg);
  auto r = must_clean(msg);
  auto after = nj::mail::parse_mime(r.message);
  BOOST_REQUIRE(before.ok() && after.ok());
  BOOST_TEST(before->parts.size() == after->parts.size());
  BOOST_TEST(has(r.message, "=2D-b1"), r.message);
  BOOST_TEST(has(html_of(r.message), "--b1"));
}

BOOST_AUTO_TEST_CASE(nothing_removed) {
  auto r = must_clean(alternative("Content-Type: text/html\r\n", "<p>fine</p>"));
  BOOST_TEST(r.field_value == "html cleaned; nothing removed");
}

BOOST_AUTO_TEST_CASE(quoted_printable_is_decoded_and_reencoded) {
  // A soft line break inside the attribute name and the URL: only decoding sees the image.
  std::string body = "<p>caf=C3=A9</p><img sr=\r\nc=3D\"http://tr=\r\nack/p.gif\" alt=3D\"A\">";
  auto r = must_clean(alternative(
      "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
      body));
  BOOST_TEST(r.removed.count(Removed::img) == 1u);
  std::string html = html_of(r.message);
  BOOST_TEST(!has(html, "track"), html);
  BOOST_TEST(has(html, "<p>caf\xc3\xa9</p>A"), html);
  BOOST_TEST(has(r.message, "Content-Transfer-Encoding: quoted-printable\r\n"));
}

BOOST_AUTO_TEST_CASE(base64_is_decoded_and_reencoded_in_76_column_lines) {
  std::string html = "<p>" + std::string(300, 'x') + "</p><img src=\"http://b64/p.gif\">";
  std::string b64 = nj::edge::content::encode_base64_body(html);
  auto r = must_clean(alternative(
      "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n", b64));
  BOOST_TEST(r.removed.count(Removed::img) == 1u);
  std::string out = html_of(r.message);
  BOOST_TEST(!has(out, "b64/p.gif"), out);
  BOOST_TEST(has(out, std::string(300, 'x')));
  auto tree = nj::mail::parse_mime(r.message);
  BOOST_REQUIRE(tree.ok());
  for (const auto& p : tree->parts) {
    if (!p.type.is("text", "html")) continue;
    std::string_view body = p.body(r.message);
    size_t start = 0;
    while (start < body.size()) {
      size_t eol = body.find("\r\n", start);
      size_t len = (eol == std::string_view::npos ? body.size() : eol) - start;
      BOOST_TEST(len <= 76u);
      if (eol == std::string_view::npos) break;
      start = eol + 2;
    }
  }
}

BOOST_AUTO_TEST_CASE(long_lines_switch_identity_to_quoted_printable) {
  std::string html = "<p>" + std::string(1500, 'y') + "</p>";
  auto r = must_clean(alternative("Content-Type: text/html\r\nContent-Transfer-Encoding: 7bit\r\n",
                                  html));
  BOOST_TEST(has(r.message, "Content-Transfer-Encoding: quoted-printable\r\n"), r.message);
  BOOST_TEST(!has(r.message, "Content-Transfer-Encoding: 7bit"));
  BOOST_TEST(has(html_of(r.message), std::string(1500, 'y')));
}

BOOST_AUTO_TEST_CASE(nested_multiparts_and_attached_messages) {
  std::string msg =
      "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"
      "--outer\r\nContent-Type: multipart/related; boundary=rel\r\n\r\n"
      "--rel\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n"
      "--alt\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
      "--alt\r\nContent-Type: text/html\r\n\r\n<img src=http://one><img src=cid:logo>\r\n"
      "--alt--\r\n"
      "--rel\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n\r\nPNGDATA\r\n--rel--\r\n"
      "--outer\r\nContent-Type: message/rfc822\r\n\r\n"
      "Subject: inner\r\nContent-Type: text/html\r\n\r\n<p onclick=x>in</p>\r\n"
      "--outer--\r\n";
  auto r = must_clean(msg);
  BOOST_TEST(r.html_parts == 2u);
  BOOST_TEST(!has(r.message, "http://one"));
  BOOST_TEST(has(r.message, "<img src=\"cid:logo\">"));
  BOOST_TEST(!has(r.message, "onclick"));
  BOOST_TEST(has(r.message, "PNGDATA"));
  BOOST_TEST(r.field_value == "html cleaned; removed img=1 handler=1");
}

BOOST_AUTO_TEST_CASE(signed_and_encrypted_parts_are_untouched) {
  std::string signed_part =
      "--s\r\nContent-Type: text/html\r\n\r\n<img src=http://signed>\r\n"
      "--s\r\nContent-Type: application/pgp-signature\r\n\r\nSIG\r\n--s--";
  std::string msg = "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
                    "--m\r\nContent-Type: multipart/signed; boundary=s; protocol=\"application/"
                    "pgp-signature\"\r\n\r\n" +
                    signed_part +
                    "\r\n--m\r\nContent-Type: multipart/encrypted; boundary=e; protocol=\"applic"
                    "ation/pgp-encrypted\"\r\n\r\n--e\r\nContent-Type: application/pgp-encrypted"
                    "\r\n\r\nVersion: 1\r\n--e--\r\n--m--\r\n";
  auto r = must_clean(msg);
  BOOST_TEST(has(r.message, signed_part));
  BOOST_TEST(r.field_value == "no html; signed part not cleaned; encrypted part not cleaned");
  // The field is folded at 78 columns; the message after it is the input, byte for byte.
  BOOST_TEST(r.message.substr(r.message.find("From:")) == msg);
  auto hs = nj::mail::parse_headers(r.message);
  BOOST_REQUIRE(hs.ok());
  BOOST_TEST(hs->fields[0].unfolded() == r.field_value);
}

BOOST_AUTO_TEST_CASE(charsets) {
  std::string latin = "<p>caf\xe9</p><img src=http://x>";
  auto r = must_clean(alternative("Content-Type: text/html; charset=ISO-8859-1\r\n"
                                  "Content-Transfer-Encoding: 8bit\r\n",
                                  latin));
  BOOST_TEST(has(r.message, "<p>caf\xe9</p>"));
  BOOST_TEST(has(r.message, "charset=ISO-8859-1"));
  auto bad = clean_body(alternative("Content-Type: text/html; charset=utf-7\r\n",
                                    "+ADw-img src=http://x+AD4-"));
  BOOST_TEST(!bad.ok());
  BOOST_TEST(!octets_for_charset("utf-16").has_value());
  BOOST_TEST(!octets_for_charset("iso-2022-jp").has_value());
  BOOST_TEST(octets_for_charset("windows-1252").has_value());
}

BOOST_AUTO_TEST_CASE(errors_change_nothing) {
  BOOST_TEST(!clean_body("no colon line\r\n\r\nbody").ok());
  BOOST_TEST(!clean_body(alternative("Content-Type: text/html\r\nContent-Transfer-Encoding: "
                                     "x-uuencode\r\n",
                                     "<p>x</p>"))
                  .ok());
  BOOST_TEST(!clean_body(alternative("Content-Type: text/html\r\nContent-Transfer-Encoding: "
                                     "base64\r\n",
                                     "!!!notbase64"))
                  .ok());
  std::string deep;
  for (int i = 0; i < 300; ++i) deep += "<div>";
  BOOST_TEST(!clean_body(alternative("Content-Type: text/html\r\n", deep)).ok());
}

BOOST_AUTO_TEST_CASE(transfer_codecs) {
  BOOST_TEST(decode_quoted_printable("a=\r\nb=3d=3D c  \r\nd") == "ab== c\r\nd");
  BOOST_TEST(decode_quoted_printable("bad =ZZ =4") == "bad =ZZ =4");
  std::string long_line(200, 'z');
  std::string qp = encode_quoted_printable(long_line + " \r\n=\xff");
  BOOST_TEST(decode_quoted_printable(qp) == long_line + " \r\n=\xff");
  size_t start = 0;
  while (true) {
    size_t eol = qp.find("\r\n", start);
    BOOST_TEST(((eol == std::string::npos ? qp.size() : eol) - start) <= 76u);
    if (eol == std::string::npos) break;
    start = eol + 2;
  }
  BOOST_TEST(has(qp, "=20\r\n"));  // trailing space before a line end is encoded
  BOOST_TEST(*decode_base64_body("aGVs\r\nbG8=\r\n") == "hello");
}
