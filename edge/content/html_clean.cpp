#include "edge/content/html_clean.h"

#include <gumbo.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include "common/mail/text.h"
#include "edge/content/css_clean.h"

namespace nj::edge::content {
namespace {

using mail::is_alnum;
using mail::is_alpha;
using mail::to_lower;

// Octet b >= 0x80 travels through gumbo as U+100000 + b (plane 16 private use: no entity or
// parser rule produces or changes it).
constexpr uint32_t kOctetBase = 0x100000;

// Link schemes a reader may click. Anything else in href (javascript:, vbscript:, data:,
// file:, ...) is removed: an allowlist, because browsers keep growing schemes.
constexpr std::string_view kLinkSchemes[] = {"http", "https", "mailto", "tel", "sms",
                                             "cid",  "mid",   "ftp"};

std::string to_octet_code_points(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 4);
  for (char ch : in) {
    auto b = static_cast<unsigned char>(ch);
    if (b < 0x80) {
      out.push_back(ch);
      continue;
    }
    uint32_t cp = kOctetBase + b;
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
  return out;
}

size_t count_tags(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] == '<' && is_alpha(static_cast<unsigned char>(s[i + 1]))) ++n;
  }
  return n;
}

bool is_html_void(std::string_view n) {
  static constexpr std::string_view kVoid[] = {"area", "base",   "br",   "col",   "embed",
                                               "hr",   "img",    "input", "keygen", "link",
                                               "meta", "param",  "source", "track", "wbr",
                                               "basefont", "bgsound", "frame"};
  for (auto v : kVoid) {
    if (n == v) return true;
  }
  return false;
}

bool in(std::string_view n, std::initializer_list<std::string_view> set) {
  for (auto s : set) {
    if (n == s) return true;
  }
  return false;
}

// Element and attribute names we are willing to write: anything else could change how the
// output tokenizes ("<a\"b>" is a valid gumbo tag name).
bool safe_name(std::string_view n) {
  if (n.empty() || !(is_alpha(static_cast<unsigned char>(n[0])) || n[0] == '_')) return false;
  for (char c : n) {
    if (!is_alnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != ':' && c != '.')
      return false;
  }
  return true;
}

std::string link_form(std::string_view v) {
  size_t b = 0, e = v.size();
  while (b < e && static_cast<unsigned char>(v[b]) <= 0x20) ++b;
  while (e > b && static_cast<unsigned char>(v[e - 1]) <= 0x20) --e;
  std::string out;
  for (size_t i = b; i < e; ++i) {
    if (v[i] != '\t' && v[i] != '\n' && v[i] != '\r') out.push_back(v[i]);
  }
  return out;
}

bool is_link_scheme_ok(std::string_view value) {
  std::string s = url_scheme(value);
  if (s.empty()) return true;
  for (auto k : kLinkSchemes) {
    if (s == k) return true;
  }
  return false;
}

bool is_fragment(std::string_view value) {
  std::string v = link_form(value);
  return !v.empty() && v[0] == '#';
}

bool is_cid(std::string_view value) { return url_scheme(value) == "cid"; }

enum class Ns { html, svg, math };

class Writer {
 public:
  Writer(HtmlOctets octets, const HtmlLimits& limits) : octets_(octets), limits_(limits) {}

  Status document(const GumboNode* root) {
    const GumboDocument& d = root->v.document;
    if (d.has_doctype) doctype(d);
    children(&d.children, 0);
    if (!error_.empty()) return make_error(error_);
    return {};
  }

  std::string take_html() { return std::move(out_); }
  Removals& removed() { return removed_; }

 private:
  // --- output -----------------------------------------------------------------------------

  enum class Ctx { text, attr, raw_css };

  // Writes gumbo's UTF-8 in the part's own octets, escaping for `ctx`.
  void put(std::string_view s, Ctx ctx) {
    for (size_t i = 0; i < s.size();) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        put_ascii(static_cast<char>(c), ctx);
        ++i;
        continue;
      }
      size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
      if (i + len > s.size()) len = s.size() - i;
      uint32_t cp = len == 4 ? c & 0x07 : len == 3 ? c & 0x0f : len == 2 ? c & 0x1f : 0xfffd;
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
      if (octets_ == HtmlOctets::utf8) {
        out_.append(s.substr(i, len));
      } else if (cp >= kOctetBase + 0x80 && cp <= kOctetBase + 0xff) {
        out_.push_back(static_cast<char>(cp - kOctetBase));
      } else if (ctx == Ctx::raw_css) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "\\%X ", cp);  // a CSS escape: entities mean nothing here
        out_ += buf;
      } else {
        out_ += "&#" + std::to_string(cp) + ";";
      }
      i += len;
    }
  }

  void put_ascii(char c, Ctx ctx) {
    if (ctx == Ctx::raw_css) {
      out_.push_back(c);
      return;
    }
    switch (c) {
      case '&': out_ += "&amp;"; break;
      case '<': out_ += "&lt;"; break;
      case '>': out_ += "&gt;"; break;
      case '"':
        if (ctx == Ctx::attr) {
          out_ += "&quot;";
          break;
        }
        out_.push_back(c);
        break;
      default:
        out_.push_back(c);
    }
  }

  void doctype(const GumboDocument& d) {
    // Only the public identifier matters for rendering (quirks modes); no parser fetches the
    // system identifier, and nothing here is allowed to end the doctype early.
    auto clean_id = [](const char* s) {
      std::string out;
      for (const char* p = s; p && *p; ++p) {
        auto c = static_cast<unsigned char>(*p);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '>' && c != '<') out.push_back(*p);
      }
      return out;
    };
    std::string name = clean_id(d.name);
    if (!safe_name(name)) name = "html";
    out_ += "<!DOCTYPE " + name;
    std::string pub = clean_id(d.public_identifier), sys = clean_id(d.system_identifier);
    if (!pub.empty()) {
      out_ += " PUBLIC \"" + pub + "\"";
      if (!sys.empty()) out_ += " \"" + sys + "\"";
    }
    out_ += ">\n";
  }

  bool over_output() {
    if (out_.size() <= limits_.max_output) return false;
    if (error_.empty()) error_ = "cleaned HTML larger than the output limit";
    return true;
  }

  // --- tree -------------------------------------------------------------------------------

  void children(const GumboVector* v, size_t depth) {
    for (unsigned i = 0; i < v->length && error_.empty(); ++i) {
      node(static_cast<const GumboNode*>(v->data[i]), depth);
    }
  }

  void node(const GumboNode* n, size_t depth) {
    if (over_output()) return;
    switch (n->type) {
      case GUMBO_NODE_TEXT:
      case GUMBO_NODE_WHITESPACE:
      case GUMBO_NODE_CDATA:
        put(n->v.text.text, Ctx::text);
        return;
      case GUMBO_NODE_COMMENT:
        removed_.add(Removed::comment);
        return;
      case GUMBO_NODE_ELEMENT:
      case GUMBO_NODE_TEMPLATE:
        if (depth >= limits_.max_depth) {
          if (error_.empty()) error_ = "HTML nested deeper than the limit";
          return;
        }
        element(n->v.element, depth + 1);
        return;
      case GUMBO_NODE_DOCUMENT:
        return;  // never a child
    }
  }

  static std::string element_name(const GumboElement& e) {
    if (e.tag != GUMBO_TAG_UNKNOWN) return gumbo_normalized_tagname(e.tag);
    GumboStringPiece p = e.original_tag;
    if (p.data == nullptr || p.length == 0) return {};
    gumbo_tag_from_original_text(&p);
    return to_lower(std::string_view(p.data, p.length));
  }

  static Ns ns_of(const GumboElement& e) {
    if (e.tag_namespace == GUMBO_NAMESPACE_SVG) return Ns::svg;
    if (e.tag_namespace == GUMBO_NAMESPACE_MATHML) return Ns::math;
    return Ns::html;
  }

  // The spelling to write: SVG keeps its camelCase names (foreignObject, linearGradient).
  static std::string written_name(const std::string& lower_name, Ns ns) {
    if (ns == Ns::svg) {
      GumboStringPiece p{lower_name.data(), lower_name.size()};
      if (const char* fixed = gumbo_normalize_svg_tagname(&p)) return fixed;
    }
    return lower_name;
  }

  static const GumboAttribute* attr(const GumboElement& e, const char* name) {
    return gumbo_get_attribute(&e.attributes, name);
  }

  static std::string text_of(const GumboElement& e) {
    std::string s;
    for (unsigned i = 0; i < e.children.length; ++i) {
      auto* c = static_cast<const GumboNode*>(e.children.data[i]);
      if (c->type == GUMBO_NODE_TEXT || c->type == GUMBO_NODE_WHITESPACE) s += c->v.text.text;
    }
    return s;
  }

  enum class Action { keep, unwrap, drop };

  // What happens to the element itself (its attributes are judged later, one by one).
  Action judge(const GumboElement& e, const std::string& name, Ns ns) {
    if (ns == Ns::html) {
      if (name == "script") return drop(Removed::script);
      if (in(name, {"iframe", "frame", "frameset", "portal", "fencedframe"}))
        return drop(Removed::frame);
      if (in(name, {"object", "embed", "applet", "param"})) return drop(Removed::object);
      if (name == "link") return drop(Removed::link);
      if (name == "base") return drop(Removed::base);
      if (in(name, {"source", "track"})) return drop(Removed::media);
      if (in(name, {"bgsound", "xml", "layer", "ilayer", "import", "isindex", "keygen",
                    "model", "listing"}))
        return drop(Removed::element);
      if (name == "meta" && attr(e, "http-equiv")) return drop(Removed::meta);
      if (in(name, {"picture", "video", "audio"})) {
        removed_.add(Removed::media);
        return Action::unwrap;
      }
      if (name == "form") {
        removed_.add(Removed::form);
        return Action::unwrap;
      }
      // Text containers whose content we write as escaped text instead.
      if (in(name, {"noscript", "noembed", "noframes", "xmp", "plaintext"})) return Action::unwrap;
      return Action::keep;
    }
    if (ns == Ns::svg) {
      if (name == "script") return drop(Removed::script);
      if (in(name, {"image", "feimage", "animate", "set", "animatemotion",
                    "animatetransform", "animatecolor", "discard", "font-face-uri",
                    "font-face-src", "tref", "cursor", "handler", "listener", "prefetch",
                    "audio", "video", "iframe", "style"}))
        return drop(Removed::svg);
    }
    return Action::keep;
  }

  Action drop(Removed why) {
    removed_.add(why);
    return Action::drop;
  }

  void element(const GumboElement& e, size_t depth) {
    std::string name = element_name(e);
    Ns ns = ns_of(e);
    if (!safe_name(name)) {  // unknown spelling we will not write: keep what it holds
      children(&e.children, depth);
      return;
    }
    Action a = judge(e, name, ns);
    if (a == Action::drop) return;
    if (a == Action::unwrap) {
      children(&e.children, depth);
      return;
    }
    if (ns == Ns::html && name == "img") {
      const GumboAttribute* src = attr(e, "src");
      if (src && !is_cid(src->value)) {
        removed_.add(Removed::img);
        if (const GumboAttribute* alt = attr(e, "alt")) put(alt->value, Ctx::text);
        return;
      }
    }
    std::string css;
    if (ns == Ns::html && name == "style") {
      css = clean_stylesheet(text_of(e), removed_);
      if (css.empty()) return;
    }

    std::string tag = written_name(name, ns);
    out_ += '<';
    out_ += tag;
    bool link = (ns != Ns::math) && in(name, {"a", "area"});
    attributes(e, name, ns, link);
    if (link && attr(e, "href") && has_kept_href_) out_ += " rel=\"noreferrer noopener\"";

    if (ns == Ns::html && is_html_void(name)) {
      out_ += '>';
      return;
    }
    if (ns != Ns::html && e.children.length == 0) {
      out_ += "/>";
      return;
    }
    out_ += '>';
    if (ns == Ns::html && name == "style") {
      put(css, Ctx::raw_css);
    } else {
      children(&e.children, depth);
    }
    out_ += "</";
    out_ += tag;
    out_ += '>';
  }

  // Why an attribute goes, or nothing when it stays (with `value` possibly rewritten).
  std::optional<Removed> judge_attr(const std::string& name, const GumboAttribute& a,
                                    const std::string& element, Ns ns, bool link,
                                    std::string& value) {
    if (name.size() > 2 && name[0] == 'o' && name[1] == 'n') return Removed::handler;
    if (a.attr_namespace == GUMBO_ATTR_NAMESPACE_XLINK && name != "href") return Removed::svg;
    if (name == "style") {
      value = clean_css_declarations(value, removed_);
      if (value.empty()) return Removed::css_rule;  // counted by the CSS cleaner already
      return std::nullopt;
    }
    if (name == "href") {
      if (ns == Ns::svg && !link) {
        if (is_fragment(value)) return std::nullopt;
        return Removed::svg;
      }
      if (ns == Ns::math) return Removed::bad_url;  // MathML links: rare, and no rel to add
      if (!is_link_scheme_ok(value)) return Removed::bad_url;
      has_kept_href_ = true;
      return std::nullopt;
    }
    if (name == "src") {
      if (ns == Ns::html && element == "img" && is_cid(value)) return std::nullopt;
      return Removed::img;
    }
    if (in(name, {"srcset", "lowsrc", "dynsrc"})) return Removed::srcset;
    if (name == "poster") return Removed::media;
    if (name == "background") return Removed::background;
    if (name == "ping") return Removed::ping;
    if (in(name, {"action", "formaction"})) return Removed::form;
    if (in(name, {"data", "code", "codebase", "archive", "classid"})) return Removed::object;
    if (name == "srcdoc") return Removed::frame;
    if (in(name, {"manifest", "longdesc", "profile", "icon", "datasrc", "datafld", "vrml",
                  "imagesrcset", "imagesizes", "attributename", "http-equiv"}))
      return Removed::element;
    if (link && name == "rel") return std::nullopt;  // replaced by ours below
    if (in(name, {"cite", "usemap", "itemtype", "itemid"})) {
      if (!is_link_scheme_ok(value)) return Removed::bad_url;
      return std::nullopt;
    }
    // SVG presentation attributes are CSS values: fill="url(https://...)" fetches.
    if (ns != Ns::html && css_value_fetches(value)) return Removed::svg;
    return std::nullopt;
  }

  void attributes(const GumboElement& e, const std::string& element, Ns ns, bool link) {
    has_kept_href_ = false;
    for (unsigned i = 0; i < e.attributes.length; ++i) {
      auto* a = static_cast<const GumboAttribute*>(e.attributes.data[i]);
      std::string name = to_lower(a->name);
      if (!safe_name(name)) continue;
      if (link && name == "rel") continue;  // we write our own
      std::string value = a->value;
      if (auto why = judge_attr(name, *a, element, ns, link, value)) {
        if (*why != Removed::css_rule) removed_.add(*why);
        continue;
      }
      out_ += ' ';
      switch (a->attr_namespace) {
        case GUMBO_ATTR_NAMESPACE_XLINK: out_ += "xlink:"; break;
        case GUMBO_ATTR_NAMESPACE_XML: out_ += "xml:"; break;
        case GUMBO_ATTR_NAMESPACE_XMLNS:
          if (name != "xmlns") out_ += "xmlns:";
          break;
        case GUMBO_ATTR_NAMESPACE_NONE: break;
      }
      // SVG attribute names are case-sensitive (viewBox); gumbo has adjusted them already.
      out_ += ns == Ns::svg ? std::string(a->name) : name;
      out_ += "=\"";
      put(value, Ctx::attr);
      out_ += '"';
    }
  }

  HtmlOctets octets_;
  const HtmlLimits& limits_;
  std::string out_;
  std::string error_;
  Removals removed_;
  bool has_kept_href_ = false;
};

struct GumboDeleter {
  const GumboOptions* options;
  void operator()(GumboOutput* o) const { gumbo_destroy_output(options, o); }
};

}  // namespace

std::string url_scheme(std::string_view value) {
  std::string v = link_form(value);
  size_t i = 0;
  if (v.empty() || !is_alpha(static_cast<unsigned char>(v[0]))) return {};
  while (i < v.size() && (is_alnum(static_cast<unsigned char>(v[i])) || v[i] == '+' ||
                          v[i] == '-' || v[i] == '.')) {
    ++i;
  }
  if (i >= v.size() || v[i] != ':') return {};
  return to_lower(std::string_view(v).substr(0, i));
}

Result<HtmlCleaned> clean_html(std::string_view html, HtmlOctets octets,
                               const HtmlLimits& limits) {
  if (html.size() > limits.max_input) return make_error("HTML part larger than the input limit");
  if (count_tags(html) > limits.max_tags) return make_error("HTML part has more tags than the limit");
  std::string mapped;
  if (octets == HtmlOctets::octets) {
    mapped = to_octet_code_points(html);
    html = mapped;
  }
  GumboOptions options = kGumboDefaultOptions;
  options.max_errors = 0;  // we never read gumbo's error list; do not let it grow
  std::unique_ptr<GumboOutput, GumboDeleter> parsed(
      gumbo_parse_with_options(&options, html.data(), html.size()), GumboDeleter{&options});
  if (!parsed) return make_error("HTML parser failed");
  Writer w(octets, limits);
  if (auto st = w.document(parsed->document); !st) return make_error(st.error());
  HtmlCleaned out;
  out.html = w.take_html();
  out.removed = w.removed();
  return out;
}

}  // namespace nj::edge::content
