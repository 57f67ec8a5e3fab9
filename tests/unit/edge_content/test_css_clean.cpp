#include <boost/test/unit_test.hpp>

#include "edge/content/css_clean.h"

using namespace nj::edge::content;

namespace {

std::string decls(std::string_view css, Removals* out = nullptr) {
  Removals r;
  std::string s = clean_css_declarations(css, r);
  if (out) *out = r;
  return s;
}

std::string sheet(std::string_view css, Removals* out = nullptr) {
  Removals r;
  std::string s = clean_stylesheet(css, r);
  if (out) *out = r;
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(declarations_keep_harmless_and_drop_url) {
  Removals r;
  BOOST_TEST(decls("color:red; background:url(http://x/a.gif) no-repeat; font-weight:bold", &r) ==
             "color:red;font-weight:bold");
  BOOST_TEST(r.count(Removed::css_url) == 1u);
  BOOST_TEST(decls("color: red") == "color: red");
}

BOOST_AUTO_TEST_CASE(url_obfuscations_are_caught) {
  for (std::string_view css : {
           "background:URL(http://x)",
           "background:url( 'http://x' )",
           "background:url(\"http://x\")",
           "background:u\\72l(http://x)",
           "background:\\75 rl(http://x)",
           "background:\\000075rl(http://x)",
           "background:u\\rl(http://x)",
           "background:u/**/rl(http://x)",
           "b\\61ckground:url(http://x)",
           "background:image-set('a.png' 1x)",
           "background:-webkit-image-set(url(a.png) 1x)",
           "background:image('a.png')",
           "list-style:url(http://x",  // unterminated
           "background:url(http://x/a b)",  // bad url
       }) {
    Removals r;
    BOOST_TEST(decls(css, &r).empty(), css);
    BOOST_TEST(!r.empty(), css);
  }
}

BOOST_AUTO_TEST_CASE(code_in_css_is_dropped) {
  for (std::string_view css : {
           "width:expression(alert(1))",
           "width:expr/**/ession(alert(1))",
           "width:\\65xpression(alert(1))",
           "behavior:url(x.htc)",
           "behavior:x",
           "-moz-binding:url(x.xml#b)",
           "filter:progid:DXImageTransform.Microsoft.AlphaImageLoader(src='http://x')",
           "-ms-filter:\"progid:DXImageTransform.Microsoft.AlphaImageLoader(src='x')\"",
       }) {
    Removals r;
    BOOST_TEST(decls(css, &r).empty(), css);
    BOOST_TEST(r.count(Removed::css_expr) + r.count(Removed::css_url) >= 1u, css);
  }
}

BOOST_AUTO_TEST_CASE(malformed_declarations_are_dropped) {
  BOOST_TEST(decls("color:red; \"unterminated") == "color:red");
  BOOST_TEST(decls("color:red; foo") == "color:red");
  BOOST_TEST(decls("color:red /* open comment") == "");
}

BOOST_AUTO_TEST_CASE(stylesheet_rules) {
  Removals r;
  std::string out = sheet(
      "<!-- @import url(http://i.css); @import 'http://j.css';\n"
      "body{color:red;background:url(http://b)}\n"
      "@media (max-width:600px){.x{width:100%;background-image:url(http://c)}}\n"
      "@font-face{font-family:F;src:url(http://f.woff2)}\n"
      "@-moz-document url-prefix(){.y{color:red}}\n"
      "@unknown foo{bar:baz}\n-->",
      &r);
  BOOST_TEST(out.find("http") == std::string::npos, out);
  BOOST_TEST(out.find("body{color:red}") != std::string::npos, out);
  BOOST_TEST(out.find("@media (max-width:600px){\n.x{width:100%}\n}") != std::string::npos, out);
  BOOST_TEST(out.find("@font-face{font-family:F}") != std::string::npos, out);
  BOOST_TEST(r.count(Removed::css_import) == 2u);
  BOOST_TEST(r.count(Removed::css_font) == 1u);
  BOOST_TEST(r.count(Removed::css_url) == 2u);
  BOOST_TEST(r.count(Removed::css_rule) == 2u);  // @-moz-document, @unknown
  BOOST_TEST(out.find('<') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(escaped_import_is_dropped) {
  Removals r;
  BOOST_TEST(sheet("@im\\70ort 'http://x.css'; p{color:red}", &r) == "p{color:red}\n");
  BOOST_TEST(r.count(Removed::css_import) == 1u);
}

BOOST_AUTO_TEST_CASE(stylesheet_with_angle_bracket_is_dropped) {
  Removals r;
  BOOST_TEST(sheet("p{content:\"</style><img src=x>\"}", &r).empty());
  BOOST_TEST(r.count(Removed::css_rule) == 1u);
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused) {
  Removals r;
  BOOST_TEST(decls("a:" + std::string(100, '(') + ";b:c", &r).empty());
  BOOST_TEST(r.count(Removed::css_rule) == 1u);
}

BOOST_AUTO_TEST_CASE(svg_values) {
  BOOST_TEST(!css_value_fetches("url(#grad)"));
  BOOST_TEST(!css_value_fetches("url('#grad')"));
  BOOST_TEST(!css_value_fetches("#fff"));
  BOOST_TEST(css_value_fetches("url(http://x/p.svg#a)"));
  BOOST_TEST(css_value_fetches("u\\72l(http://x)"));
  BOOST_TEST(css_value_fetches("url(\"http://x\")"));
}
