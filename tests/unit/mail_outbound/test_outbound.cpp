#define BOOST_TEST_MODULE mail_outbound
#include <boost/test/unit_test.hpp>
#include <string>

#include "common/crypto/crypto.h"
#include "common/mail/sanitize.h"
#include "tests/unit/mail_outbound/helpers.h"

using namespace nj::mail;
using namespace nj::mail::test;

namespace {

const MimePart& part(const MimeTree& t, size_t i) {
  BOOST_REQUIRE_LT(i, t.parts.size());
  return t.parts[i];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(outbound)

BOOST_AUTO_TEST_CASE(top_level_allowlist_date_and_message_id) {
  std::string out = sanitize(
      crlf("Received: from laptop (localhost [127.0.0.1]) by mail.example.i2p; Tue, 14 Nov 2023\n"
           "From: Alice <alice@mail.example.i2p>\n"
           "Date: Wed, 15 Nov 2023 07:13:20 +0900\n"
           "Date: Wed, 15 Nov 2023 07:13:21 +0900\n"
           "X-Mailer: Something 1.0\n"
           "Subject: Hi\n"
           "  folded\n"
           "Bcc: secret@example.com\n"
           "Message-ID: <1234.5678@laptop.local>\n"
           "User-Agent: x\n"
           "\n"
           "Body\n"));
  std::string mid = out.substr(out.find("Message-ID: <") + 13, 32);
  BOOST_TEST(out == crlf("From: Alice <alice@example.org>\n"
                         "Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
                         "Subject: Hi\n"
                         "  folded\n"
                         "Message-ID: <" +
                         mid + "@example.org>\n\nBody\n"));
}

BOOST_AUTO_TEST_CASE(missing_date_and_message_id_are_added) {
  std::string out = sanitize(crlf("From: a@example.org\nSubject: s\n"));
  BOOST_TEST(out.starts_with(crlf("From: a@example.org\nSubject: s\nDate: ") + kSendDate));
  BOOST_TEST(out.find("\r\nMessage-ID: <") != std::string::npos);
  BOOST_TEST(out.ends_with("@example.org>\r\n"));
}

BOOST_AUTO_TEST_CASE(message_id_is_fresh_each_time) {
  std::string m = crlf("From: a@example.org\n\nx\n");
  BOOST_TEST(sanitize(m) != sanitize(m));
  BOOST_TEST(without_message_id(sanitize(m)) == without_message_id(sanitize(m)));
}

BOOST_AUTO_TEST_CASE(domain_rewrite_only_whole_names) {
  std::string out = sanitize(
      crlf("From: \"alice@mail.example.i2p\" <alice@MAIL.Example.I2P>\n"
           "To: x@mail.example.i2p.evil.example, y@notmail.example.i2p, z@sub.mail.example.i2p\n"
           "Cc: w@mail.example.i2p.\n"
           "References: <a@mail.example.i2p> <b@example.net>\n"
           "Subject: about mail.example.i2p\n\n"
           "mail.example.i2p in the body stays\n"));
  BOOST_TEST(out.find("From: \"alice@example.org\" <alice@example.org>\r\n") == 0);
  BOOST_TEST(out.find("To: x@mail.example.i2p.evil.example, y@notmail.example.i2p, "
                      "z@sub.example.org\r\n") != std::string::npos);
  BOOST_TEST(out.find("Cc: w@example.org.\r\n") != std::string::npos);
  BOOST_TEST(out.find("References: <a@example.org> <b@example.net>\r\n") != std::string::npos);
  // The subject and the body are the user's text.
  BOOST_TEST(out.find("Subject: about mail.example.i2p\r\n") != std::string::npos);
  BOOST_TEST(out.ends_with("\r\nmail.example.i2p in the body stays\r\n"));
}

BOOST_AUTO_TEST_CASE(mime_version_comment_removed) {
  std::string out = sanitize(crlf("MIME-Version: 1.0 (Mac OS X Mail 16.0 \\(3774\\))\n\nx\n"));
  BOOST_TEST(out.starts_with("MIME-Version: 1.0\r\nDate: "));
}

BOOST_AUTO_TEST_CASE(strip_directory_forms) {
  BOOST_TEST(strip_directory("C:\\Users\\alice\\Desktop\\x.pdf") == "x.pdf");
  BOOST_TEST(strip_directory("/home/alice/x y.pdf") == "x y.pdf");
  BOOST_TEST(strip_directory("C:x.pdf") == "x.pdf");
  BOOST_TEST(strip_directory("Macintosh HD:Users:alice:x.pdf") == "x.pdf");
  BOOST_TEST(strip_directory("..\\..\\x.pdf") == "x.pdf");
  BOOST_TEST(strip_directory("dir/") == "attachment");
  BOOST_TEST(strip_directory("plain.txt") == "plain.txt");
  BOOST_TEST(strip_directory("") == "");
}

BOOST_AUTO_TEST_CASE(part_headers_cleaned) {
  std::string m = crlf(
      "From: a@example.org\n"
      "Content-Type: multipart/mixed; boundary=\"=_0123456789abcdefghjkmnpqrstvwxyz\"\n"
      "\n"
      "preamble text\n"
      "--=_0123456789abcdefghjkmnpqrstvwxyz\n"
      "Content-Type: text/plain; charset=utf-8\n"
      "Content-Language: de-DE\n"
      "X-Attachment-Id: f_lp1\n"
      "\n"
      "hello\n"
      "--=_0123456789abcdefghjkmnpqrstvwxyz\n"
      "Content-Type: application/octet-stream; x-mac-creator=\"4D4F5353\";\n"
      " name*0*=utf-8'de'%2Fhome%2Falice%2F; name*1*=Gr%C3%BC%C3%9Fe.bin\n"
      "Content-Description: /home/alice/Grüße.bin\n"
      "Content-Location: file:///home/alice/Gr%C3%BC%C3%9Fe.bin\n"
      "Content-Disposition: attachment; filename=\"/home/alice/Gr\xC3\xBC\xC3\x9F"
      "e.bin\";\n"
      " read-date=\"Tue, 14 Nov 2023 22:13:20 +0100\"; size=3\n"
      "Content-Transfer-Encoding: base64\n"
      "\n"
      "AAAA\n"
      "--=_0123456789abcdefghjkmnpqrstvwxyz--\n"
      "epilogue\n");
  std::string out = sanitize(m);
  MimeTree t = tree(out);
  BOOST_REQUIRE_EQUAL(t.parts.size(), 3u);
  // Our own boundary shape is kept; the preamble and epilogue go.
  BOOST_TEST(part(t, 0).boundary == "=_0123456789abcdefghjkmnpqrstvwxyz");
  BOOST_TEST(out.find("preamble") == std::string::npos);
  BOOST_TEST(out.find("epilogue") == std::string::npos);
  BOOST_TEST(header_names(part(t, 1)) == std::vector<std::string>{"Content-Type"});
  BOOST_TEST(part(t, 1).body(out) == "hello");
  const MimePart& att = part(t, 2);
  BOOST_TEST(header_names(att) == (std::vector<std::string>{"Content-Type", "Content-Disposition",
                                                            "Content-Transfer-Encoding"}));
  const MimeParam* name = att.type.param("name");
  BOOST_REQUIRE(name);
  BOOST_TEST(name->value ==
             "Gr\xC3\xBC\xC3\x9F"
             "e.bin");
  BOOST_TEST(name->charset == "utf-8");
  BOOST_TEST(name->language == "");  // the user's locale does not leave
  BOOST_TEST(att.type.param("x-mac-creator") == nullptr);
  auto d = parse_content_disposition(header(att, "Content-Disposition"));
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(d->param("filename")->value ==
             "Gr\xC3\xBC\xC3\x9F"
             "e.bin");
  BOOST_TEST(d->param("size")->value == "3");
  BOOST_TEST(d->param("read-date") == nullptr);
  BOOST_TEST(att.body(out) == "AAAA");
}

BOOST_AUTO_TEST_CASE(long_file_name_uses_continuations) {
  std::string longname(300, 'n');
  std::string m = crlf(
      "Content-Type: application/pdf\nContent-Disposition: attachment;\n"
      " filename*0=\"/home/a/" +
      longname.substr(0, 150) + "\";\n" + " filename*1=\"" + longname.substr(150) +
      ".pdf\"\n\nx\n");
  std::string out = sanitize(m);
  auto d = parse_content_disposition(header(tree(out).root(), "Content-Disposition"));
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(d->param("filename")->value == longname + ".pdf");
  BOOST_TEST(out.find("filename*5=") != std::string::npos);
  BOOST_TEST(without_message_id(sanitize(out)) == without_message_id(out));
}

BOOST_AUTO_TEST_CASE(file_name_over_limit_is_refused) {
  std::string m = crlf("Content-Type: application/pdf\nContent-Disposition: attachment;\n" +
                       std::string(" filename*0=\"/a/") + std::string(600, 'n') + "\";\n" +
                       " filename*1=\"" + std::string(600, 'n') + "\"\n\nx\n");
  auto r = sanitize_outbound(m, policy());
  BOOST_TEST(!r.ok());
}

BOOST_AUTO_TEST_CASE(content_id_renamed_with_references) {
  // QP with the reference split by a soft line break, base64 HTML, and the start parameter.
  std::string html = "<img src=\"cid:img1@laptop.local\"><img src='CID:img%31@laptop.local'>";
  std::string b64 =
      "PGltZyBzcmM9ImNpZDppbWcxQGxhcHRvcC5sb2NhbCI+";  // <img src="cid:img1@laptop.local">
  std::string m = crlf(
      "Content-Type: multipart/related; type=\"text/html\"; start=\"<root@laptop.local>\";\n"
      " boundary=\"b1\"\n\n"
      "--b1\n"
      "Content-Type: text/html\nContent-ID: <root@laptop.local>\n"
      "Content-Transfer-Encoding: quoted-printable\n\n"
      "<p>x</p><img src=3D\"cid:img1@lap=\ntop.local\">\n"
      "--b1\n"
      "Content-Type: text/html\nContent-Transfer-Encoding: base64\n\n" +
      b64 +
      "\n"
      "--b1\n"
      "Content-Type: text/html\n\n" +
      html +
      "\n"
      "--b1\n"
      "Content-Type: image/png\nContent-ID: <img1@laptop.local>\n\npng\n"
      "--b1--\n");
  std::string out = sanitize(m);
  BOOST_TEST(out.find("laptop") == std::string::npos);
  MimeTree t = tree(out);
  std::string root_id = header(part(t, 1), "Content-ID");
  std::string img_id = header(part(t, 4), "Content-ID");
  BOOST_TEST(is_generated_content_id(img_id.substr(1, img_id.size() - 2), "example.org"));
  BOOST_TEST(t.root().type.param("start")->value == root_id);
  std::string img = img_id.substr(1, img_id.size() - 2);
  BOOST_TEST(part(t, 1).body(out) == "<p>x</p><img src=3D\"cid:" + img + "\">");
  BOOST_TEST(part(t, 3).body(out) == "<img src=\"cid:" + img + "\"><img src='cid:" + img + "'>");
  auto decoded = nj::crypto::from_base64(part(t, 2).body(out));
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(*decoded == "<img src=\"cid:" + img + "\">");
  BOOST_TEST(part(t, 4).body(out) == "png");
  BOOST_TEST(without_message_id(sanitize(out)) == without_message_id(out));
}

BOOST_AUTO_TEST_CASE(content_id_referenced_from_undecodable_html_is_kept) {
  std::string m = crlf(
      "Content-Type: multipart/related; boundary=\"b1\"\n\n"
      "--b1\nContent-Type: text/html\nContent-Transfer-Encoding: x-uuencode\n\n"
      "<img src=\"cid:img1@laptop.local\">\n"
      "--b1\nContent-Type: image/png\nContent-ID: <img1@laptop.local>\n\npng\n"
      "--b1\nContent-Type: image/png\nContent-ID: <img2@laptop.local>\n\npng\n"
      "--b1--\n");
  std::string out = sanitize(m);
  BOOST_TEST(out.find("Content-ID: <img1@laptop.local>") != std::string::npos);
  BOOST_TEST(out.find("img2@laptop.local") == std::string::npos);
  BOOST_TEST(out.find("cid:img1@laptop.local") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(nested_close_delimiter_shapes_kept) {
  // The inner close delimiter is directly followed by the outer delimiter (no CRLF of its own).
  std::string m = crlf(
      "Content-Type: multipart/mixed; boundary=\"outer\"\n\n"
      "--outer\nContent-Type: multipart/alternative; boundary=\"inner\"\n\n"
      "--inner\n\none\n--inner--\n"
      "--outer\n\ntwo\n--outer--");
  std::string out = sanitize(m);
  MimeTree t = tree(out);
  BOOST_REQUIRE_EQUAL(t.parts.size(), 4u);
  BOOST_TEST(part(t, 2).body(out) == "one");
  BOOST_TEST(part(t, 3).body(out) == "two");
  BOOST_TEST(part(t, 1).closed);
  BOOST_TEST(t.root().closed);
  BOOST_TEST(out.find("outer") == std::string::npos);
  BOOST_TEST(!out.ends_with("\r\n"));
}

BOOST_AUTO_TEST_CASE(nested_signed_part_byte_identical) {
  std::string signed_part = crlf(
      "Content-Type: multipart/signed; boundary=\"Apple-Mail=_SIG\"; protocol=\"application/"
      "pkcs7-signature\"; micalg=sha-256\nX-Whatever: kept inside\n\n"
      "--Apple-Mail=_SIG\nContent-Type: text/plain\nX-Inner: signed\n\nsigned text\n"
      "--Apple-Mail=_SIG\nContent-Type: application/pkcs7-signature; name=smime.p7s\n\nMIIB\n"
      "--Apple-Mail=_SIG--\n");
  std::string m = crlf(
                      "Content-Type: multipart/mixed; boundary=\"Apple-Mail=_OUT\"\n\n"
                      "--Apple-Mail=_OUT\n") +
                  signed_part + crlf("--Apple-Mail=_OUT--\n");
  std::string out = sanitize(m);
  // The part ends before the CRLF that precedes the next delimiter.
  BOOST_TEST(out.find(signed_part.substr(0, signed_part.size() - 2)) != std::string::npos);
  BOOST_TEST(out.find("Apple-Mail=_OUT") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(errors) {
  auto p = policy();
  p.public_domain = "not a domain";
  BOOST_TEST(!sanitize_outbound(crlf("From: a@b.example\n\nx\n"), p).ok());
  p = policy();
  p.rewrites.push_back({"", "example.org"});
  BOOST_TEST(!sanitize_outbound(crlf("From: a@b.example\n\nx\n"), p).ok());
  // Does not parse: bare LF, broken Content-Type, broken Content-Disposition.
  BOOST_TEST(!sanitize_outbound("From: a@b.example\n\nx\n", policy()).ok());
  BOOST_TEST(!sanitize_outbound(crlf("Content-Type: multipart/mixed\n\nx\n"), policy()).ok());
  BOOST_TEST(
      !sanitize_outbound(
           crlf("Content-Type: text/plain\nContent-Disposition: attachment; x\n\nx\n"), policy())
           .ok());
  // A rewrite that pushes a line over 998 octets is refused, not sent broken.
  p = policy();
  p.rewrites = {{"a.example", std::string(60, 'b') + ".example"}};
  std::string to = "To: ";
  for (int i = 0; i < 60; ++i) to += "x@a.example,";
  BOOST_TEST(!sanitize_outbound(crlf(to + "\n\nx\n"), p).ok());
}

BOOST_AUTO_TEST_CASE(generated_shapes) {
  BOOST_TEST(is_generated_boundary("=_0123456789abcdefghjkmnpqrstvwxyz"));
  BOOST_TEST(!is_generated_boundary("=_0123456789abcdefghjkmnpqrstvwxyZ"));
  BOOST_TEST(!is_generated_boundary("------------0HQkM1eSa7wn4X3rL8yFvBpT"));
  BOOST_TEST(is_generated_content_id("0123456789abcdef@example.org", "example.org"));
  BOOST_TEST(!is_generated_content_id("0123456789abcdef@laptop.local", "example.org"));
  BOOST_TEST(!is_generated_content_id("image001.png@01DA1736.5E2B8F40", "example.org"));
}

BOOST_AUTO_TEST_SUITE_END()
