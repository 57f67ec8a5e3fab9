// What the content cleaner took out of a message, counted per kind, and the one-line summary
// the edge writes into the X-Nightjar-Content field. The kinds are coarse on purpose: the
// reader of the field wants to know "remote images were blocked", not which attribute held them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nj::edge::content {

enum class Removed : uint8_t {
  img,          // <img> with a remote (or any non-cid:) source
  srcset,       // srcset / lowsrc / dynsrc on a kept cid: image
  media,        // picture/source/video/audio/track, poster
  link,         // <link> of any rel
  frame,        // iframe, frame, frameset, portal, fencedframe
  object,       // object, embed, applet, param
  form,         // form, action, formaction
  meta,         // meta http-equiv (refresh, set-cookie, content-type, ...)
  base,         // <base>
  script,       // script elements (HTML and SVG)
  handler,      // on* event handler attributes
  bad_url,      // javascript:, vbscript:, data: (and other non-link schemes) in a URL attribute
  background,   // background attribute
  ping,         // a/area ping
  svg,          // SVG image/use/feImage/animation, non-fragment href, external url() attributes
  css_url,      // url(), image-set(), image() in a declaration
  css_import,   // @import
  css_font,     // src: in @font-face
  css_expr,     // expression(), behavior, -moz-binding, progid filters
  css_rule,     // an at-rule we do not understand, or a malformed style sheet
  comment,      // HTML comments (Outlook conditional comments among them)
  element,      // other elements that fetch or embed: bgsound, xml, layer, ...
};
inline constexpr size_t kRemovedKinds = static_cast<size_t>(Removed::element) + 1;

// The field spelling of a kind ("img", "css-url", ...).
std::string_view removed_name(Removed k);

class Removals {
 public:
  void add(Removed k, uint32_t n = 1);
  void merge(const Removals& o);
  uint32_t count(Removed k) const { return counts_[static_cast<size_t>(k)]; }
  bool empty() const;
  // "img=3 css-url=2 link=1", kinds in enum order, zero counts left out; "" when empty.
  std::string to_string() const;

 private:
  std::array<uint32_t, kRemovedKinds> counts_{};
};

}  // namespace nj::edge::content
