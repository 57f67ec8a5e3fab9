// Messages shaped like those of eight real mail clients (data/*.eml, with the identifying
// fields each really writes): after sanitizing, nothing identifying survives, every text and
// attachment body and every signed part is byte-identical, and a second run changes only the
// Message-ID.
#include <boost/test/unit_test.hpp>
#include <map>
#include <set>

#include "tests/unit/mail_outbound/helpers.h"

using namespace nj::mail;
using namespace nj::mail::test;

namespace {

bool contains_ci(std::string_view hay, std::string_view needle) {
  return to_lower(hay).find(to_lower(needle)) != std::string::npos;
}

std::vector<std::string> content_ids(const MimeTree& t) {
  std::vector<std::string> out;
  for (size_t i = 1; i < t.parts.size(); ++i) {
    std::string id = header(t.parts[i], "Content-ID");
    if (!id.empty()) out.push_back(id.substr(1, id.size() - 2));
  }
  return out;
}

// What must arrive intact, in order: leaf bodies (text decoded, renamed cids mapped back),
// signed parts (whole when they sit in a multipart, their body when they are the message or an
// attached message, whose header section is not covered by the signature).
std::vector<std::string> payloads(std::string_view m, const MimeTree& t,
                                  const std::map<std::string, std::string>& back) {
  std::vector<std::string> out;
  for (const auto& p : t.parts) {
    bool in_multipart = p.parent && t.parts[*p.parent].type.is_multipart();
    if (p.opaque) {
      out.emplace_back(in_multipart ? m.substr(p.start, p.end - p.start) : p.body(m));
    } else if (!p.type.is_multipart() && p.children.empty()) {
      std::string body(p.body(m));
      if (p.type.type == "text") {
        if (to_lower(header(p, "Content-Transfer-Encoding")) == "quoted-printable") {
          body = qp_decode(body);
        }
        for (const auto& [from, to] : back) {
          for (size_t at; (at = body.find("cid:" + from)) != std::string::npos;) {
            body.replace(at + 4, from.size(), to);
          }
        }
      }
      out.push_back(body);
    }
  }
  return out;
}

std::string check_client(const std::string& file, std::vector<std::string> forbidden,
                         std::vector<std::string> required = {}) {
  BOOST_TEST_CONTEXT(file) {
    std::string in = load(file);
    std::string out = sanitize(in);
    MimeTree tin = tree(in), tout = tree(out);

    static const std::set<std::string> kTop = {"from",
                                               "sender",
                                               "reply-to",
                                               "to",
                                               "cc",
                                               "subject",
                                               "date",
                                               "message-id",
                                               "in-reply-to",
                                               "references",
                                               "mime-version",
                                               "content-type",
                                               "content-transfer-encoding",
                                               "content-disposition"};
    for (const auto& n : header_names(tout.root())) {
      BOOST_TEST(kTop.count(to_lower(n)) == 1, "top-level field kept: " << n);
    }
    BOOST_TEST(header(tout.root(), "Date") == kSendDate);
    std::string mid = header(tout.root(), "Message-ID");
    BOOST_TEST(mid.size() == 1 + 32 + 1 + 11 + 1);
    BOOST_TEST(mid.ends_with("@example.org>"));
    BOOST_TEST(header(tout.root(), "MIME-Version") == "1.0");
    BOOST_TEST(tout.root().type.is(tin.root().type.type, tin.root().type.subtype));

    // Every Content-ID regenerated, references renamed with it.
    auto cin = content_ids(tin), cout = content_ids(tout);
    BOOST_REQUIRE_EQUAL(cin.size(), cout.size());
    std::map<std::string, std::string> back;
    for (size_t i = 0; i < cin.size(); ++i) {
      BOOST_TEST(is_generated_content_id(cout[i], "example.org"));
      back[cout[i]] = cin[i];
    }
    BOOST_TEST(payloads(in, tin, {}) == payloads(out, tout, back),
               boost::test_tools::per_element());

    // Every boundary outside signed parts replaced; the old ones appear nowhere.
    BOOST_REQUIRE_EQUAL(tin.parts.size(), tout.parts.size());
    for (size_t i = 0; i < tin.parts.size(); ++i) {
      const auto& pi = tin.parts[i];
      const auto& po = tout.parts[i];
      BOOST_TEST(pi.type.type == po.type.type);
      BOOST_TEST(pi.type.subtype == po.type.subtype);
      if (pi.type.is_multipart() && !pi.opaque) {
        BOOST_TEST(is_generated_boundary(po.boundary));
        BOOST_TEST(out.find(pi.boundary) == std::string::npos, pi.boundary);
      } else if (pi.opaque) {
        BOOST_TEST(po.boundary == pi.boundary);
      }
    }

    BOOST_TEST(!contains_ci(out, "i2p"));
    BOOST_TEST(!contains_ci(out, "Bcc:"));
    for (const auto& s : forbidden) BOOST_TEST(!contains_ci(out, s), "survived: " << s);
    for (const auto& s : required) BOOST_TEST(contains_ci(out, s), "missing: " << s);

    std::string twice = sanitize(out);
    BOOST_TEST(without_message_id(twice) == without_message_id(out));
    BOOST_TEST(twice != out);  // the Message-ID is fresh each time
    return out;
  }
  return "";
}

const MimePart* part_with_filename(const MimeTree& t, std::string_view m, std::string& name) {
  for (const auto& p : t.parts) {
    for (const auto& f : p.headers) {
      if (!f.is("Content-Disposition")) continue;
      auto d = parse_content_disposition(f.unfolded());
      BOOST_REQUIRE(d.ok());
      if (const auto* fn = d->param("filename"); fn && fn->value.starts_with("Budget")) {
        name = fn->value;
        return &p;
      }
    }
  }
  (void)m;
  return nullptr;
}

std::string attachment_name(const std::string& out) {
  std::string name;
  MimeTree t = tree(out);
  (void)part_with_filename(t, out, name);
  return name;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(clients)

BOOST_AUTO_TEST_CASE(thunderbird) {
  std::string out = check_client(
      "thunderbird.eml",
      {"Thunderbird", "Mozilla", "Content-Language", "en-US", "+0100", "8a5f3c2e", "part1.",
       "Autocrypt", "keydata", "-------------", "multi-part message", "dave@"},
      {"From: Alice <alice@example.org>", "Cc: carol@example.org", "To: Bob <bob@example.net>",
       "Subject: Report draft", "filename=\"report.pdf\"", "format=flowed"});
  // Fields without anything to clean stay byte-identical.
  BOOST_TEST(out.find("Content-Type: text/plain; charset=UTF-8; format=flowed\r\n") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(outlook) {
  std::string out = check_client(
      "outlook.eml",
      {"Received",
       "namprd",
       "DM6PR11MB4657",
       "Thread-Topic",
       "Thread-Index",
       "X-MS",
       "Microsoft Outlook",
       "outlook.com",
       "Accept-Language",
       "Content-Language",
       "-0500",
       "01DA1736",
       "creation-date",
       "modification-date",
       "C:",
       "Users",
       "Desktop",
       "%5C",
       "Content-Description",
       "Importance",
       "X-Priority",
       "Organization",
       "_000_",
       "_003_",
       "_004_",
       "image001.png@"},
      {"In-Reply-To: <CAF=xyz123@mail.gmail.com>", "References: <CAF=xyz123@mail.gmail.com>",
       "filename=\"image001.png\"", "size=\"512\""});
  BOOST_TEST(attachment_name(out) == "Budget 2024 \xE2\x80\x93 Q1.xlsx");
  // The encoded-word name with a path became an RFC 2231 name without it.
  MimeTree t = tree(out);
  bool found = false;
  for (const auto& p : t.parts) {
    if (const auto* n = p.type.param("name"); n && n->value.starts_with("Budget")) {
      BOOST_TEST(n->value == "Budget 2024 \xE2\x80\x93 Q1.xlsx");
      BOOST_TEST(n->charset == "utf-8");
      found = true;
    }
  }
  BOOST_TEST(found);
  // multipart/related's type parameter is kept.
  BOOST_TEST(t.parts[1].type.param("type")->value == "multipart/alternative");
}

BOOST_AUTO_TEST_CASE(apple_mail) {
  std::string out = check_client(
      "apple_mail.eml",
      {"Apple-Mail", "Apple Mail", "Mac OS", "X-Universally", "C3A1B2D4", "-0800", "home.lan",
       "A7F3C2B1", "x-unix-mode", "X-Mailer", "3774"},
      {"Reply-To: alice@example.org", "name=\"IMG_0042.jpeg\"", "filename=IMG_0042.jpeg"});
  (void)out;
}

BOOST_AUTO_TEST_CASE(mutt_pgp_mime) {
  std::string out = check_client(
      "mutt.eml",
      {"Mutt", "X-Operating-System", "laptop.alice.home", "+0100", "Mail-Followup-To", "ZVOyYH3k"},
      // The signed part is the user's client's to clean: its path stays, byte for byte.
      {"boundary=\"k3s7GxqPLhD5mYcN\"", "micalg=pgp-sha512",
       "filename=\"/home/alice/notes/meeting.pdf\""});
  std::string in = load("mutt.eml");
  MimeTree tin = tree(in), tout = tree(out);
  BOOST_TEST(tout.root().opaque);
  BOOST_TEST(tout.root().body(out) == tin.root().body(in));
  // The multipart/signed Content-Type field is the original one, folding included.
  BOOST_TEST(out.find(std::string(tin.root().headers[7].raw)) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(evolution_smime) {
  std::string out =
      check_client("evolution.eml", {"Evolution", "camel", "Organization", "+0100", "6f1d2c3b"},
                   {"smime-type=\"signed-data\"", "filename=\"smime.p7m\""});
  std::string in = load("evolution.eml");
  BOOST_TEST(tree(out).root().body(out) == tree(in).root().body(in));
}

BOOST_AUTO_TEST_CASE(kmail) {
  std::string out =
      check_client("kmail.eml",
                   {"KMail", "KDE", "Linux", "laptop", "Organization", "nextPart", "/home/alice",
                    "Documents", "2277853", "+0100", "multi-part message"},
                   {"filename=\"minutes 2023-11-14.odt\"", "name=\"minutes 2023-11-14.odt\""});
  (void)out;
}

BOOST_AUTO_TEST_CASE(claws_forwarded_signed_message) {
  std::string out = check_client(
      "claws.eml",
      {"Claws", "GTK", "X-Face", "Face:", "Multipart=_", "23_13_20", "laptop.alice.home",
       "20231114231320", "/home/alice", ".claws-mail"},
      // The attached message is content: its fields stay, only the internal domain goes.
      {"filename=\"announcement.eml\"", "Received: from mx.example.org by example.org with",
       "To: alice@example.org", "Date: Tue, 14 Nov 2023 20:59:58 +0100",
       "boundary=\"nextPart9917236.Qw3ErTy\"", "Content-Description: This is a digitally"});
  (void)out;
}

BOOST_AUTO_TEST_CASE(k9) {
  std::string out = check_client(
      "k9.eml",
      {"K-9 Mail for", "User-Agent", "X-Android", "e0b7c1a2", "/storage", "DCIM", "----ZP7X",
       "+0100"},
      {"filename=\"IMG_20231114_231005.jpg\"", "size=\"270\"", "name=IMG_20231114_231005.jpg"});
  (void)out;
}

BOOST_AUTO_TEST_SUITE_END()
