#include <boost/test/unit_test.hpp>
#include <string>

#include "common/mail/headers.h"
#include "common/mail/message.h"
#include "common/mail/sanitize.h"

using namespace nj::mail;

namespace {

InboundPolicy policy() {
  InboundPolicy p;
  p.our_hostname = "mx.ours.example";
  return p;
}

std::string sanitize(std::string_view m) {
  auto r = sanitize_inbound(m, policy());
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
  return *r;
}

const std::string kBody = "\r\nBody line 1\r\nReturn-Path: <in-body@x.example>\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(sanitize_suite)

BOOST_AUTO_TEST_CASE(nothing_to_drop_is_identity) {
  std::string m =
      "Received: from a.example by b.example; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
      "Authentication-Results: mx.sender.example; spf=pass smtp.mailfrom=x.example\r\n"
      "From: Alice <alice@x.example>\r\n"
      "Subject: folded\r\n"
      "  over two lines\r\n"
      "X-Other-Thing: keep\r\n" +
      kBody;
  BOOST_TEST(sanitize(m) == m);
  BOOST_TEST(sanitize("Subject: no body\r\n") == "Subject: no body\r\n");
  BOOST_TEST(sanitize("\r\nonly body") == "\r\nonly body");
}

BOOST_AUTO_TEST_CASE(delivery_fields_dropped) {
  std::string m =
      "Return-Path: <forged@x.example>\r\n"
      "From: a@x.example\r\n"
      "delivered-to: bob@ours.example\r\n"
      "X-Original-To: bob@ours.example\r\n"
      "RETURN-PATH: <second@x.example>\r\n"
      "To: bob@ours.example\r\n" +
      kBody;
  BOOST_TEST(sanitize(m) == "From: a@x.example\r\nTo: bob@ours.example\r\n" + kBody);
}

BOOST_AUTO_TEST_CASE(own_prefix_dropped_with_folding) {
  std::string m =
      "X-Nightjar-Spam: no\r\n"
      "Subject: s\r\n"
      "x-nightjar-greylist: passed\r\n"
      "\tafter 300 seconds\r\n"
      " more folding\r\n"
      "X-Nightjarish: kept, not our prefix\r\n" +
      kBody;
  BOOST_TEST(sanitize(m) == "Subject: s\r\nX-Nightjarish: kept, not our prefix\r\n" + kBody);
  InboundPolicy p = policy();
  p.drop_prefixes = {"X-Spam-", "X-Nightjar-"};
  auto r = sanitize_inbound("X-Spam-Score: 99\r\nX-Nightjar-A: 1\r\nA: 1\r\n\r\n", p);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(*r == "A: 1\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(our_authentication_results_dropped) {
  std::string m =
      "Authentication-Results: mx.ours.example; dkim=pass header.d=bank.example\r\n"
      "Authentication-Results: (forged) MX.OURS.EXAMPLE 1;\r\n"
      " spf=pass smtp.mailfrom=bank.example\r\n"
      "Authentication-Results: \"mx.ours.example\"; dmarc=pass\r\n"
      "Authentication-Results: mx.ours.example.; dmarc=pass\r\n"
      "Authentication-Results: mx.sender.example; spf=fail\r\n"
      "Authentication-Results: mx.ours.example.evil.example; spf=pass\r\n"
      "ARC-Authentication-Results: i=1; mx.ours.example; dkim=pass\r\n"
      "ARC-Authentication-Results: i = 2 ; (c) mx.relay.example; dkim=pass\r\n"
      "Authentication-Results: (unterminated comment\r\n"
      "ARC-Authentication-Results: mx.ours.example; no instance tag\r\n"
      "Subject: s\r\n" +
      kBody;
  BOOST_TEST(sanitize(m) ==
             "Authentication-Results: mx.sender.example; spf=fail\r\n"
             "Authentication-Results: mx.ours.example.evil.example; spf=pass\r\n"
             "ARC-Authentication-Results: i = 2 ; (c) mx.relay.example; dkim=pass\r\n"
             "Subject: s\r\n" +
                 kBody);
}

BOOST_AUTO_TEST_CASE(authserv_id_parsing) {
  BOOST_TEST(*authserv_id("mx.a.example; spf=pass", false) == "mx.a.example");
  BOOST_TEST(*authserv_id("  (c) mx.a.example 1; none", false) == "mx.a.example");
  BOOST_TEST(*authserv_id("mx.a.example;none", false) == "mx.a.example");
  BOOST_TEST(*authserv_id("\"quoted\\\".id\"; none", false) == "quoted\".id");
  BOOST_TEST(*authserv_id("i=12; mx.b.example; dkim=pass", true) == "mx.b.example");
  BOOST_TEST(!authserv_id("", false).ok());
  BOOST_TEST(!authserv_id("; spf=pass", false).ok());
  BOOST_TEST(!authserv_id("i=x; mx.b.example", true).ok());
  BOOST_TEST(!authserv_id("mx.b.example; dkim=pass", true).ok());
}

BOOST_AUTO_TEST_CASE(realistic_forwarded_message) {
  const std::string kept_top =
      "ARC-Seal: i=1; a=rsa-sha256; t=1700000000; cv=none; d=google.example; s=arc-20160816;\r\n"
      "        b=Zm9vYmFy\r\n"
      "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=google.example;\r\n"
      "        h=to:subject:message-id:date:from:mime-version; bh=YmFy; b=YmF6\r\n"
      "ARC-Authentication-Results: i=1; mx.google.example;\r\n"
      "       dkim=pass header.i=@sender.example header.s=s1;\r\n"
      "       spf=pass (google.example: domain of a@sender.example designates 192.0.2.1)\r\n"
      "Received: from mail-sor-f41.google.example (mail-sor-f41.google.example. [192.0.2.41])\r\n"
      "        by mx.google.example with SMTPS id x;\r\n"
      "        Tue, 14 Nov 2023 22:13:20 -0800 (PST)\r\n";
  const std::string forged =
      "Authentication-Results: mx.ours.example;\r\n"
      "\tdkim=pass header.d=bank.example;\r\n"
      "\tdmarc=pass\r\n"
      "X-Nightjar-Verdict: clean\r\n"
      "Return-Path: <a@sender.example>\r\n";
  const std::string kept_bottom =
      "DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=s1; h=from:to:subject;\r\n"
      "        bh=YmFy; b=YmF6\r\n"
      "MIME-Version: 1.0\r\n"
      "From: Alice <a@sender.example>\r\n"
      "Date: Tue, 14 Nov 2023 22:13:19 -0800\r\n"
      "Message-ID: <CAF=abc@mail.sender.example>\r\n"
      "Subject: Lunch?\r\n"
      "To: bob@ours.example\r\n"
      "Content-Type: multipart/alternative; boundary=\"000000000000a1b2c3\"\r\n";
  const std::string body =
      "\r\n"
      "--000000000000a1b2c3\r\n"
      "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
      "\r\n"
      "Noon?\r\n"
      "\r\n"
      "--000000000000a1b2c3\r\n"
      "Content-Type: text/html; charset=\"UTF-8\"\r\n"
      "\r\n"
      "<div dir=\"ltr\">Noon?</div>\r\n"
      "\r\n"
      "--000000000000a1b2c3--\r\n";
  const std::string m = kept_top + forged + kept_bottom + body;
  const std::string clean = sanitize(m);
  BOOST_TEST(clean == kept_top + kept_bottom + body);
  // The MIME structure and every part's body come through unchanged.
  auto before = parse_mime(m);
  auto after = parse_mime(clean);
  BOOST_REQUIRE(before.ok());
  BOOST_REQUIRE(after.ok());
  BOOST_REQUIRE_EQUAL(after->parts.size(), 3u);
  BOOST_REQUIRE_EQUAL(before->parts.size(), after->parts.size());
  for (size_t i = 0; i < after->parts.size(); ++i) {
    BOOST_TEST(before->parts[i].body(m) == after->parts[i].body(clean));
  }
  BOOST_TEST(after->parts[2].body(clean) == "<div dir=\"ltr\">Noon?</div>\r\n");
  // Sanitizing again changes nothing.
  BOOST_TEST(sanitize(clean) == clean);
}

BOOST_AUTO_TEST_CASE(malformed_header_is_an_error) {
  BOOST_TEST(!sanitize_inbound("Subject: x\nTo: y\r\n\r\n", policy()).ok());
  BOOST_TEST(!sanitize_inbound("no colon\r\n\r\n", policy()).ok());
  InboundPolicy p = policy();
  p.limits.max_fields = 1;
  BOOST_TEST(!sanitize_inbound("A: 1\r\nB: 2\r\n\r\n", p).ok());
}

BOOST_AUTO_TEST_CASE(kept_fields_are_byte_identical) {
  // Odd but valid spacing, 8-bit values and long folded lines survive untouched.
  std::string odd =
      "sUbJeCt:no-space\r\nX-8bit: Gr\xc3\xbc\xc3\x9f"
      "e\r\nX-Fold:\r\n \r\n\tx\r\n";
  std::string m = "Return-Path: <a@x.example>\r\n" + odd + kBody;
  BOOST_TEST(sanitize(m) == odd + kBody);
}

BOOST_AUTO_TEST_CASE(dates) {
  BOOST_TEST(rfc5322_date(0) == "Thu, 1 Jan 1970 00:00:00 +0000");
  BOOST_TEST(rfc5322_date(1700000000) == "Tue, 14 Nov 2023 22:13:20 +0000");
  BOOST_TEST(rfc5322_date(951782400) == "Tue, 29 Feb 2000 00:00:00 +0000");
}

BOOST_AUTO_TEST_CASE(protocol_names) {
  BOOST_TEST(with_protocol(false, false, false, false) == "SMTP");
  BOOST_TEST(with_protocol(true, false, false, false) == "ESMTP");
  BOOST_TEST(with_protocol(true, true, false, false) == "ESMTPS");
  BOOST_TEST(with_protocol(true, false, true, false) == "ESMTPA");
  BOOST_TEST(with_protocol(true, true, true, false) == "ESMTPSA");
  BOOST_TEST(with_protocol(true, false, false, true) == "UTF8SMTP");
  BOOST_TEST(with_protocol(true, true, true, true) == "UTF8SMTPSA");
}

BOOST_AUTO_TEST_CASE(received_line_is_redacted) {
  ReceivedInfo info;
  info.helo = "mail.sender.example";
  info.our_hostname = "mx.ours.example";
  info.tls = true;
  info.id = "a1B2c3";
  info.when = 1700000000;
  std::string r = received_line(info);
  BOOST_TEST(r ==
             "Received: from mail.sender.example by mx.ours.example with ESMTPS id a1B2c3;\r\n"
             "\tTue, 14 Nov 2023 22:13:20 +0000\r\n");
  // It parses as exactly one header field.
  const std::string section = r + "\r\n";  // the fields are views into it
  auto hs = parse_headers(section);
  BOOST_REQUIRE(hs.ok());
  BOOST_TEST(hs->fields.size() == 1u);
  BOOST_TEST(r.find(" for ") == std::string::npos);
  BOOST_TEST(r.find('[') == std::string::npos);  // no client address
}

BOOST_AUTO_TEST_CASE(received_line_sanitizes_helo_and_folds) {
  ReceivedInfo info;
  info.helo = "evil\r\nX-Injected: yes (x) [192.0.2.1]; by";
  info.our_hostname = "mx.ours.example";
  info.id = "id-with;junk";
  info.when = 0;
  std::string r = received_line(info);
  BOOST_TEST(r.find("X-Injected:") == std::string::npos);
  BOOST_TEST(r.find("from evil__X-Injected__yes__x___192.0.2.1___by by") != std::string::npos);
  BOOST_TEST(r.find("id idwithjunk;") != std::string::npos);
  // Long names are folded so that no line passes 78 columns.
  const std::string long_helo = std::string(60, 'a') + ".example";
  const std::string long_host = std::string(60, 'm') + ".example";
  info.helo = long_helo;
  info.our_hostname = long_host;
  r = received_line(info);
  size_t start = 0;
  while (start < r.size()) {
    size_t eol = r.find("\r\n", start);
    BOOST_REQUIRE(eol != std::string::npos);
    BOOST_TEST(eol - start <= 78u);
    start = eol + 2;
  }
  const std::string section = r + "\r\n";  // the fields are views into it
  auto hs = parse_headers(section);
  BOOST_REQUIRE(hs.ok());
  BOOST_TEST(hs->fields.size() == 1u);
  BOOST_TEST(hs->fields[0].unfolded().find("from\t" + long_helo + "\tby\t" + long_host) == 0u);
  // An address literal is a valid HELO and is kept as given.
  info.helo = "[IPv6:2001:db8::1]";
  BOOST_TEST(received_line(info).find("from [IPv6:2001:db8::1] by") != std::string::npos);
  info.helo = "";
  BOOST_TEST(received_line(info).find("from unknown by") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
