#include <boost/test/unit_test.hpp>
#include <string>

#include "common/mail/address.h"

using namespace nj::mail;

namespace {

std::string fwd_error(std::string_view arg, bool utf8 = false) {
  auto r = parse_forward_path(arg, utf8);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted: " << arg);
  return r.error();
}

bool contains(const std::string& s, std::string_view what) {
  return s.find(what) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(address)

BOOST_AUTO_TEST_CASE(plain_mailbox) {
  auto r = parse_forward_path("<John.Doe@Example.ORG>", false);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->local == "John.Doe");  // local part kept as sent
  BOOST_TEST(r->domain == "example.org");
  BOOST_TEST(!r->null_path);
  BOOST_TEST(!r->quoted);
  BOOST_TEST(r->address() == "John.Doe@example.org");
}

BOOST_AUTO_TEST_CASE(null_reverse_path) {
  auto r = parse_reverse_path("<>", false);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->null_path);
  BOOST_TEST(r->address() == "");
  BOOST_TEST(contains(fwd_error("<>"), "null path"));
}

BOOST_AUTO_TEST_CASE(postmaster_without_domain) {
  for (const char* p : {"<postmaster>", "<Postmaster>", "<POSTMASTER>"}) {
    auto r = parse_forward_path(p, false);
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->is_postmaster_only());
  }
  // Only for RCPT, and only that name.
  BOOST_TEST(!parse_reverse_path("<postmaster>", false).ok());
  BOOST_TEST(contains(fwd_error("<abuse>"), "no domain"));
  BOOST_TEST(!parse_forward_path("<\"postmaster\">", false).ok());
}

BOOST_AUTO_TEST_CASE(relay_tricks_refused) {
  BOOST_TEST(contains(fwd_error("<user%other.example@ours.example>"), "'%'"));
  BOOST_TEST(contains(fwd_error("<other.example!user@ours.example>"), "'!'"));
  BOOST_TEST(contains(fwd_error("<@a.example,@b.example:user@c.example>"), "source route"));
  BOOST_TEST(contains(fwd_error("<@a.example:user@c.example>"), "source route"));
  BOOST_TEST(contains(fwd_error("<user@other.example@ours.example>"), "more than one '@'"));
  BOOST_TEST(contains(fwd_error("<\"user@other.example\"@ours.example>"), "address syntax"));
  BOOST_TEST(contains(fwd_error("<\"user%other\"@ours.example>"), "'%'"));
  BOOST_TEST(contains(fwd_error("<\"a!b\"@ours.example>"), "'!'"));
  BOOST_TEST(contains(fwd_error("<@ours.example>"), "source route"));
  BOOST_TEST(contains(fwd_error("<\"\"@ours.example>"), "empty local part"));
  BOOST_TEST(contains(fwd_error(std::string_view("<us\0er@ours.example>", 21)), "control"));
  BOOST_TEST(contains(fwd_error("<us\ter@ours.example>"), "control"));
  BOOST_TEST(contains(fwd_error("<user@ours.example\x7f>"), "control"));
}

BOOST_AUTO_TEST_CASE(local_part_syntax) {
  BOOST_TEST(!parse_forward_path("<.user@x.example>", false).ok());
  BOOST_TEST(!parse_forward_path("<user.@x.example>", false).ok());
  BOOST_TEST(!parse_forward_path("<us..er@x.example>", false).ok());
  BOOST_TEST(!parse_forward_path("<us er@x.example>", false).ok());
  BOOST_TEST(!parse_forward_path("<us\"er@x.example>", false).ok());
  BOOST_TEST(parse_forward_path("<o'brien+tag=x/y@x.example>", false).ok());
  // A harmless quoted local part is accepted and normalized.
  auto q = parse_forward_path("<\"john.doe\"@x.example>", false);
  BOOST_REQUIRE(q.ok());
  BOOST_TEST(q->quoted);
  BOOST_TEST(q->local == "\"john.doe\"");
  BOOST_TEST(q->normalized_local() == "john.doe");
  auto s = parse_forward_path("<\"john \\\"jd\\\" doe\"@x.example>", false);
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s->normalized_local() == "\"john \\\"jd\\\" doe\"");
  BOOST_TEST(!parse_forward_path("<\"unterminated@x.example>", false).ok());
}

BOOST_AUTO_TEST_CASE(limits) {
  std::string local64(64, 'a'), local65(65, 'a');
  BOOST_TEST(parse_forward_path("<" + local64 + "@x.example>", false).ok());
  BOOST_TEST(contains(fwd_error("<" + local65 + "@x.example>"), "64"));
  // A 253-octet name made of 63-octet labels.
  std::string l63(63, 'b');
  std::string dom = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'c');
  BOOST_REQUIRE_EQUAL(dom.size(), 253u);
  BOOST_TEST(is_valid_domain(dom));
  BOOST_TEST(!is_valid_domain(dom + "c"));
  BOOST_TEST(!is_valid_domain(std::string(64, 'a') + ".example"));
  // Path limit counts the brackets: 256 octets in total.
  std::string path = "<" + local64 + "@" + dom + ">";
  BOOST_TEST(path.size() > 256u);
  BOOST_TEST(contains(fwd_error(path), "256"));
}

BOOST_AUTO_TEST_CASE(domains) {
  BOOST_TEST(is_valid_domain("example.org"));
  BOOST_TEST(is_valid_domain("localhost"));
  BOOST_TEST(is_valid_domain("a-b.x1.example"));
  BOOST_TEST(is_valid_domain("123.example"));
  BOOST_TEST(!is_valid_domain("-a.example"));
  BOOST_TEST(!is_valid_domain("a-.example"));
  BOOST_TEST(!is_valid_domain("a_b.example"));
  BOOST_TEST(!is_valid_domain("example.org."));
  BOOST_TEST(!is_valid_domain(".example.org"));
  BOOST_TEST(!is_valid_domain("a..example"));
  BOOST_TEST(!is_valid_domain(""));
  BOOST_TEST(!is_valid_domain("192.0.2.1"));  // all-digit top-level label
  BOOST_TEST(!is_valid_domain("bücher.example"));
  BOOST_TEST(is_valid_domain("bücher.example", true));
  BOOST_TEST(!is_valid_domain("b\xc3.example", true));  // truncated UTF-8
}

BOOST_AUTO_TEST_CASE(address_literals) {
  BOOST_TEST(is_address_literal("[192.0.2.1]"));
  BOOST_TEST(is_address_literal("[IPv6:2001:db8::1]"));
  BOOST_TEST(is_address_literal("[ipv6:::1]"));
  BOOST_TEST(!is_address_literal("[192.0.2.256]"));
  BOOST_TEST(!is_address_literal("[192.0.2]"));
  BOOST_TEST(!is_address_literal("[2001:db8::1]"));  // IPv6 needs its tag
  BOOST_TEST(!is_address_literal("[IPv6:2001:db8::g]"));
  BOOST_TEST(!is_address_literal("[x-tag:whatever]"));
  BOOST_TEST(!is_address_literal("192.0.2.1"));
  auto r = parse_forward_path("<user@[IPv6:2001:DB8::1]>", false);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->domain == "[IPv6:2001:db8::1]");
  BOOST_TEST(!parse_forward_path("<user@[300.1.1.1]>", false).ok());
}

BOOST_AUTO_TEST_CASE(smtputf8) {
  const char* a =
      "<j\xc3\xbcrgen@b\xc3\xbc"
      "cher.example>";
  BOOST_TEST(contains(fwd_error(a, false), "SMTPUTF8"));
  auto r = parse_forward_path(a, true);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->local == "j\xc3\xbcrgen");
  BOOST_TEST(contains(fwd_error("<j\xc3rgen@x.example>", true), "UTF-8"));
  BOOST_TEST(contains(fwd_error("<j\xed\xa0\x80@x.example>", true), "UTF-8"));  // surrogate
  BOOST_TEST(contains(fwd_error("<j\xc0\xafx@x.example>", true), "UTF-8"));     // overlong
  BOOST_TEST(is_valid_utf8("\xf0\x9f\x93\xa7"));
  BOOST_TEST(!is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

BOOST_AUTO_TEST_CASE(angle_brackets_required) {
  BOOST_TEST(contains(fwd_error("user@x.example"), "<>"));
  BOOST_TEST(contains(fwd_error("<user@x.example"), "<>"));
  BOOST_TEST(!parse_forward_path("", false).ok());
}

BOOST_AUTO_TEST_CASE(split_params) {
  auto r = split_path_and_params("<a@x.example> SIZE=1000 BODY=8BITMIME smtputf8", false);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->path == "<a@x.example>");
  BOOST_REQUIRE_EQUAL(r->params.size(), 3u);
  BOOST_TEST(r->params[0].keyword == "SIZE");
  BOOST_TEST(*r->params[0].value == "1000");
  BOOST_TEST(r->params[2].keyword == "SMTPUTF8");
  BOOST_TEST(!r->params[2].value.has_value());

  auto lead = split_path_and_params(" <> ", false);
  BOOST_REQUIRE(lead.ok());
  BOOST_TEST(lead->path == "<>");
  BOOST_TEST(lead->params.empty());

  // A '>' inside a quoted local part does not end the path.
  auto q = split_path_and_params("<\"a>b\"@x.example> SIZE=1", false);
  BOOST_REQUIRE(q.ok());
  BOOST_TEST(q->path == "<\"a>b\"@x.example>");

  auto auth = split_path_and_params("<a@x.example> AUTH=user+2Bx+3Dy@x.example", false);
  BOOST_REQUIRE(auth.ok());
  BOOST_TEST(*auth->params[0].value == "user+x=y@x.example");

  BOOST_TEST(!split_path_and_params("<a@x.example> AUTH=bad+zz", false).ok());
  BOOST_TEST(!split_path_and_params("<a@x.example> AUTH=bad+2b", false).ok());  // lowercase hex
  BOOST_TEST(!split_path_and_params("<a@x.example> AUTH=trunc+2", false).ok());
  BOOST_TEST(!split_path_and_params("<a@x.example>SIZE=1", false).ok());
  BOOST_TEST(!split_path_and_params("<a@x.example> SIZE=1 size=2", false).ok());
  BOOST_TEST(!split_path_and_params("<a@x.example> =1", false).ok());
  BOOST_TEST(!split_path_and_params("<a@x.example> SI_ZE=1", false).ok());
  BOOST_TEST(!split_path_and_params("<a@x.example> SIZE=", false).ok());
  BOOST_TEST(!split_path_and_params("<a@x.example> X=a=b", false).ok());
  BOOST_TEST(!split_path_and_params("<a@x.example", false).ok());
  BOOST_TEST(!split_path_and_params("a@x.example", false).ok());
  BOOST_TEST(!split_path_and_params("<a@x.example> X=\xc3\xbc", false).ok());
  BOOST_TEST(split_path_and_params("<a@x.example> X=\xc3\xbc", true).ok());
  std::string many = "<a@x.example>";
  for (int i = 0; i < 17; ++i) many += " K" + std::to_string(i);
  BOOST_TEST(!split_path_and_params(many, false).ok());
  BOOST_TEST(!split_path_and_params("<a@x.example> " + std::string(33, 'K'), false).ok());
}

BOOST_AUTO_TEST_CASE(helo_names) {
  auto d = parse_helo_name("Mail.Example.ORG");
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(d->name == "mail.example.org");
  BOOST_TEST(!d->is_literal);
  auto l = parse_helo_name("[192.0.2.7]");
  BOOST_REQUIRE(l.ok());
  BOOST_TEST(l->is_literal);
  BOOST_TEST(!parse_helo_name("192.0.2.7").ok());
  BOOST_TEST(!parse_helo_name("").ok());
  BOOST_TEST(!parse_helo_name("mail example").ok());
  BOOST_TEST(!parse_helo_name("[192.0.2.7").ok());
  BOOST_TEST(!parse_helo_name(std::string(256, 'a')).ok());
}

BOOST_AUTO_TEST_CASE(greylist_normalization) {
  auto norm = [](std::string_view path) {
    auto r = parse_reverse_path(path, false);
    BOOST_REQUIRE_MESSAGE(r.ok(), path);
    return normalize_for_greylist(*r);
  };
  BOOST_TEST(norm("<John.Doe@Example.ORG>") == "john.doe@example.org");
  BOOST_TEST(norm("<list+bounces-123@lists.example>") == "list@lists.example");
  BOOST_TEST(norm("<bounce-12345-67@lists.example>") == "bounce-#-#@lists.example");
  BOOST_TEST(norm("<user123@x.example>") == "user123@x.example");  // not standalone
  BOOST_TEST(norm("<first-last@x.example>") == "first-last@x.example");
  // BATV: standard order and the swapped order seen in the wild.
  BOOST_TEST(norm("<prvs=1234abcdef=user@x.example>") == "user@x.example");
  BOOST_TEST(norm("<prvs=user=1234abcdef@x.example>") == "user@x.example");
  BOOST_TEST(norm("<prvs=0123456789=user@x.example>") == "user@x.example");
  // Two messages from the same list with different VERP tokens share one key.
  BOOST_TEST(norm("<announce-return-4711-alice=y.example@lists.example>") ==
             norm("<announce-return-4712-alice=y.example@lists.example>"));
  // SRS0 and SRS1: hash and timestamp fold, forwarder and original sender stay.
  BOOST_TEST(norm("<SRS0=HHH+/=TT=orig.example=alice@fwd.example>") ==
             "srs0=#=#=orig.example=alice@fwd.example");
  BOOST_TEST(norm("<SRS0=abc=T1=orig.example=alice@fwd.example>") ==
             norm("<SRS0=xyz=T2=orig.example=alice@fwd.example>"));
  BOOST_TEST(norm("<SRS1=h1=fwd1.example==h2=t2=orig.example=bob@fwd2.example>") ==
             "srs1=#=fwd1.example==#=#=orig.example=bob@fwd2.example");
  // Found by fuzzing: empty SRS fields are not tokens, and the key never outgrows the address.
  BOOST_TEST(norm("<srs1=======b=s=2p=x@g.example>") == "srs1=======b=s=2p=x@g.example");
  BOOST_TEST(norm("<>") == "");
  auto pm = parse_forward_path("<postmaster>", false);
  BOOST_REQUIRE(pm.ok());
  BOOST_TEST(normalize_for_greylist(*pm) == "postmaster");
}

BOOST_AUTO_TEST_SUITE_END()
