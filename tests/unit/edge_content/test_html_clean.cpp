#include <boost/test/unit_test.hpp>

#include "edge/content/html_clean.h"

using namespace nj::edge::content;

namespace {

struct Out {
  std::string html;
  Removals removed;
};

Out clean(std::string_view in, HtmlOctets o = HtmlOctets::utf8) {
  auto r = clean_html(in, o);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  return {r->html, r->removed};
}

bool has(const std::string& s, std::string_view needle) {
  return s.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(remote_images_go_alt_text_stays) {
  auto o = clean("<p>Hi</p><IMG SRC=\"http://t.example/p.gif\" ALT=\"Logo &amp; name\">"
                 "<img src=' https://x/y.png '>");
  BOOST_TEST(!has(o.html, "http"), o.html);
  BOOST_TEST(!has(o.html, "<img"), o.html);
  BOOST_TEST(has(o.html, "Logo &amp; name"), o.html);
  BOOST_TEST(has(o.html, "<p>Hi</p>"), o.html);
  BOOST_TEST(o.removed.count(Removed::img) == 2u);
}

BOOST_AUTO_TEST_CASE(cid_images_stay_without_srcset) {
  auto o = clean("<img src=\"CID:part1@x\" srcset=\"http://a 1x, http://b 2x\" lowsrc=http://l "
                 "dynsrc=http://d alt=chart>");
  BOOST_TEST(has(o.html, "<img src=\"CID:part1@x\" alt=\"chart\">"), o.html);
  BOOST_TEST(o.removed.count(Removed::srcset) == 3u);
}

BOOST_AUTO_TEST_CASE(media_and_picture) {
  auto o = clean("<picture><source srcset=http://a><img src=http://b alt=A></picture>"
                 "<video poster=http://p src=http://v><source src=http://s><track src=http://t>"
                 "Fallback</video><audio src=http://au></audio>");
  BOOST_TEST(!has(o.html, "http"), o.html);
  BOOST_TEST(has(o.html, "Fallback"), o.html);
  BOOST_TEST(o.removed.count(Removed::media) >= 5u);
}

BOOST_AUTO_TEST_CASE(every_link_rel_goes) {
  for (std::string_view rel : {"stylesheet", "prefetch", "preconnect", "dns-prefetch", "preload",
                               "icon", "STYLESHEET", "modulepreload"}) {
    auto o = clean("<head><link rel=\"" + std::string(rel) + "\" href=\"http://x\"></head><p>t");
    BOOST_TEST(!has(o.html, "<link"), rel);
    BOOST_TEST(o.removed.count(Removed::link) == 1u, rel);
  }
}

BOOST_AUTO_TEST_CASE(frames_objects_and_portals_go_with_their_content) {
  auto o = clean("<iframe src=http://f>inner</iframe><frameset><frame src=http://g></frameset>"
                 "<object data=http://o><param name=m value=http://p>obj</object>"
                 "<embed src=http://e><applet code=A codebase=http://c></applet>"
                 "<portal src=http://po></portal><p>text</p>");
  BOOST_TEST(!has(o.html, "http"), o.html);
  BOOST_TEST(has(o.html, "text"), o.html);
  BOOST_TEST(o.removed.count(Removed::frame) >= 2u);
  BOOST_TEST(o.removed.count(Removed::object) >= 3u);
}

BOOST_AUTO_TEST_CASE(forms_go_their_text_stays) {
  auto o = clean("<form action=http://f><label>Name</label><input formaction=http://g name=n>"
                 "<button formaction=http://h>Send</button></form>");
  BOOST_TEST(!has(o.html, "http"), o.html);
  BOOST_TEST(!has(o.html, "<form"), o.html);
  BOOST_TEST(has(o.html, "Name"), o.html);
  BOOST_TEST(has(o.html, ">Send</button>"), o.html);
  BOOST_TEST(o.removed.count(Removed::form) == 3u);
}

BOOST_AUTO_TEST_CASE(meta_http_equiv_and_base) {
  auto o = clean("<head><meta http-equiv=Refresh content=\"0;url=http://r\">"
                 "<META HTTP-EQUIV=\"set-cookie\" content=\"a=b\"><meta name=viewport "
                 "content=\"width=device-width\"><base href=http://b/></head>");
  BOOST_TEST(!has(o.html, "http-equiv"), o.html);
  BOOST_TEST(!has(o.html, "<base"), o.html);
  BOOST_TEST(has(o.html, "name=\"viewport\""), o.html);
  BOOST_TEST(o.removed.count(Removed::meta) == 2u);
  BOOST_TEST(o.removed.count(Removed::base) == 1u);
}

BOOST_AUTO_TEST_CASE(scripts_handlers_and_noscript) {
  auto o = clean("<script>alert('x')</script><ScRiPt src=http://s></ScRiPt>"
                 "<body onload=a() ONCLICK=b><p OnMouseOver=c>t</p>"
                 "<noscript>Enable JavaScript</noscript>"
                 "<svg><script>alert(2)</script></svg>");
  BOOST_TEST(!has(o.html, "alert"), o.html);
  BOOST_TEST(!has(o.html, "on"), o.html);  // no attribute starting with on survives
  BOOST_TEST(!has(o.html, "script"), o.html);
  BOOST_TEST(has(o.html, "Enable JavaScript"), o.html);
  BOOST_TEST(o.removed.count(Removed::script) == 3u);
  BOOST_TEST(o.removed.count(Removed::handler) == 3u);
}

BOOST_AUTO_TEST_CASE(background_and_ping) {
  auto o = clean("<body background=http://b><table BACKGROUND=\"http://t\"><tr><td>x</td></tr>"
                 "</table><a href=https://ok/ ping=http://p>l</a></body>");
  BOOST_TEST(!has(o.html, "background"), o.html);
  BOOST_TEST(!has(o.html, "ping"), o.html);
  BOOST_TEST(o.removed.count(Removed::background) == 2u);
  BOOST_TEST(o.removed.count(Removed::ping) == 1u);
}

BOOST_AUTO_TEST_CASE(links_stay_with_noreferrer) {
  auto o = clean("<a href=\"https://shop.example/x?a=1&amp;b=2\" rel=opener target=_blank>Shop</a>"
                 "<a name=top>anchor</a>");
  BOOST_TEST(has(o.html, "<a href=\"https://shop.example/x?a=1&amp;b=2\" target=\"_blank\" "
                         "rel=\"noreferrer noopener\">Shop</a>"),
             o.html);
  BOOST_TEST(has(o.html, "<a name=\"top\">anchor</a>"), o.html);
  BOOST_TEST(o.removed.empty());
}

BOOST_AUTO_TEST_CASE(script_urls_are_removed_however_written) {
  for (std::string_view href : {
           "javascript:alert(1)", "JAVASCRIPT:alert(1)", "java&#x09;script&#58;alert(1)",
           "&#106;avascript:alert(1)", "  javascript:alert(1)", "java\nscript:alert(1)",
           "\x0cjavascript:alert(1)", "vbscript:msgbox(1)", "data:text/html,<script>x</script>",
           "javascript&colon;alert(1)", "livescript:x", "file:///etc/passwd",
       }) {
    auto o = clean("<a href=\"" + std::string(href) + "\">x</a>");
    BOOST_TEST(!has(o.html, "href"), href << " -> " << o.html);
    BOOST_TEST(o.removed.count(Removed::bad_url) == 1u, href);
  }
  auto o = clean("<blockquote cite=\"javascript:x\">q</blockquote>");
  BOOST_TEST(!has(o.html, "cite"), o.html);
}

BOOST_AUTO_TEST_CASE(styles_are_cleaned_in_attributes_and_elements) {
  auto o = clean("<style>p{color:red;background:url(http://a)}</style>"
                 "<p style=\"color:blue;background:u\\72l(http://b)\">t</p>"
                 "<p style=\"background:url(http://c)\">u</p>");
  BOOST_TEST(!has(o.html, "http"), o.html);
  BOOST_TEST(has(o.html, "<style>p{color:red}\n</style>"), o.html);
  BOOST_TEST(has(o.html, "<p style=\"color:blue\">t</p>"), o.html);
  BOOST_TEST(has(o.html, "<p>u</p>"), o.html);
  BOOST_TEST(o.removed.count(Removed::css_url) == 3u);
}

BOOST_AUTO_TEST_CASE(svg_references) {
  auto o = clean("<svg viewBox=\"0 0 10 10\"><defs><linearGradient id=\"g\"/></defs>"
                 "<image href=http://i /><use xlink:href=\"http://u#a\"/><use href=\"#g\"/>"
                 "<filter><feImage href=http://f /></filter>"
                 "<rect fill=\"url(#g)\" stroke=\"url(http://s#x)\"/>"
                 "<a href=\"https://ok/\"><text>t</text></a>"
                 "<animate attributeName=href to=http://a /><set attributeName=href to=http://b />"
                 "<pattern xlink:href=\"http://p\"/></svg>");
  BOOST_TEST(!has(o.html, "http://"), o.html);
  BOOST_TEST(has(o.html, "viewBox=\"0 0 10 10\""), o.html);
  BOOST_TEST(has(o.html, "<linearGradient id=\"g\"/>"), o.html);
  BOOST_TEST(has(o.html, "<use href=\"#g\"/>"), o.html);
  BOOST_TEST(has(o.html, "fill=\"url(#g)\""), o.html);
  BOOST_TEST(has(o.html, "<a href=\"https://ok/\" rel=\"noreferrer noopener\">"), o.html);
  BOOST_TEST(o.removed.count(Removed::svg) >= 7u);
}

BOOST_AUTO_TEST_CASE(comments_including_conditional_ones_go) {
  auto o = clean("<p>a</p><!--[if mso]><img src=http://m><![endif]--><!-- x --><p>b</p>"
                 "<!--[if !mso]><!--><p>c</p><!--<![endif]-->");
  BOOST_TEST(!has(o.html, "<!--"), o.html);
  BOOST_TEST(!has(o.html, "http"), o.html);
  BOOST_TEST(has(o.html, "<p>c</p>"), o.html);
  BOOST_TEST(o.removed.count(Removed::comment) == 4u);
}

BOOST_AUTO_TEST_CASE(text_and_structure_survive_with_escaping) {
  auto o = clean("<h1>T&lt;i&gt;tle</h1><table><tr><td>1 &amp; 2</td></tr></table>"
                 "<ul><li>one<li>two</ul><br><hr><p title='a\"b'>x</p>"
                 "<xmp><img src=http://x></xmp><textarea></textarea><img src=y></textarea>");
  BOOST_TEST(has(o.html, "<h1>T&lt;i&gt;tle</h1>"), o.html);
  BOOST_TEST(has(o.html, "<td>1 &amp; 2</td>"), o.html);
  BOOST_TEST(has(o.html, "<li>one</li><li>two</li>"), o.html);
  BOOST_TEST(has(o.html, "<br><hr>"), o.html);
  BOOST_TEST(has(o.html, "title=\"a&quot;b\""), o.html);
  BOOST_TEST(has(o.html, "&lt;img src=http://x&gt;"), o.html);  // xmp text stays text
  BOOST_TEST(!has(o.html, "</br>"));
}

BOOST_AUTO_TEST_CASE(unsafe_names_are_not_written) {
  auto o = clean("<p a\"b=1 c<d=2 ok=3>t</p><x\"y>inner</x\"y>");
  BOOST_TEST(has(o.html, "<p ok=\"3\">t</p>"), o.html);
  BOOST_TEST(has(o.html, "inner"), o.html);
  BOOST_TEST(!has(o.html, "x\""), o.html);
}

BOOST_AUTO_TEST_CASE(octets_mode_keeps_bytes) {
  // ISO-8859-1 "café" and an entity that has no octet of its own there.
  auto o = clean("<p>caf\xe9 &euro; &eacute;</p>", HtmlOctets::octets);
  BOOST_TEST(has(o.html, "<p>caf\xe9 &#8364; &#233;</p>"), o.html);
  auto u = clean("<p>caf\xc3\xa9 &euro;</p>");
  BOOST_TEST(has(u.html, "<p>caf\xc3\xa9 \xe2\x82\xac</p>"), u.html);
}

BOOST_AUTO_TEST_CASE(limits) {
  HtmlLimits l;
  l.max_input = 100;
  BOOST_TEST(!clean_html(std::string(101, 'a'), HtmlOctets::utf8, l).ok());
  l = {};
  l.max_tags = 10;
  std::string tags;
  for (int i = 0; i < 11; ++i) tags += "<b>x";
  BOOST_TEST(!clean_html(tags, HtmlOctets::utf8, l).ok());
  BOOST_TEST(clean_html(tags.substr(4), HtmlOctets::utf8, l).ok());
  l = {};
  l.max_depth = 50;
  std::string deep;
  for (int i = 0; i < 60; ++i) deep += "<div>";
  auto r = clean_html(deep, HtmlOctets::utf8, l);
  BOOST_TEST(!r.ok());
  l = {};
  l.max_output = 20;
  BOOST_TEST(!clean_html("<p>" + std::string(100, '&') + "</p>", HtmlOctets::utf8, l).ok());
}

BOOST_AUTO_TEST_CASE(scheme_parsing) {
  BOOST_TEST(url_scheme(" Java\tScript:x") == "javascript");
  BOOST_TEST(url_scheme("/relative:x").empty());
  BOOST_TEST(url_scheme("cid:a@b") == "cid");
  BOOST_TEST(url_scheme("1http:x").empty());
}
