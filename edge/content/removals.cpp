#include "edge/content/removals.h"

#include <limits>

namespace nj::edge::content {

std::string_view removed_name(Removed k) {
  switch (k) {
    case Removed::img: return "img";
    case Removed::srcset: return "srcset";
    case Removed::media: return "media";
    case Removed::link: return "link";
    case Removed::frame: return "frame";
    case Removed::object: return "object";
    case Removed::form: return "form";
    case Removed::meta: return "meta";
    case Removed::base: return "base";
    case Removed::script: return "script";
    case Removed::handler: return "handler";
    case Removed::bad_url: return "bad-url";
    case Removed::background: return "background";
    case Removed::ping: return "ping";
    case Removed::svg: return "svg";
    case Removed::css_url: return "css-url";
    case Removed::css_import: return "css-import";
    case Removed::css_font: return "css-font";
    case Removed::css_expr: return "css-expr";
    case Removed::css_rule: return "css-rule";
    case Removed::comment: return "comment";
    case Removed::element: return "element";
  }
  return "other";
}

void Removals::add(Removed k, uint32_t n) {
  uint32_t& c = counts_[static_cast<size_t>(k)];
  // Saturate: the count is informational and must never wrap to a small number.
  c = n > std::numeric_limits<uint32_t>::max() - c ? std::numeric_limits<uint32_t>::max() : c + n;
}

void Removals::merge(const Removals& o) {
  for (size_t i = 0; i < kRemovedKinds; ++i) add(static_cast<Removed>(i), o.counts_[i]);
}

bool Removals::empty() const {
  for (uint32_t c : counts_) {
    if (c != 0) return false;
  }
  return true;
}

std::string Removals::to_string() const {
  std::string out;
  for (size_t i = 0; i < kRemovedKinds; ++i) {
    if (counts_[i] == 0) continue;
    if (!out.empty()) out += ' ';
    out += removed_name(static_cast<Removed>(i));
    out += '=';
    out += std::to_string(counts_[i]);
  }
  return out;
}

}  // namespace nj::edge::content
