// CSS for mail: keeps what styles the text and drops every construct that makes a renderer
// fetch something (url(), image-set(), image(), @import, @font-face src) or run something
// (expression(), behavior, -moz-binding, progid filters). Works on tokens (CSS Syntax Level 3,
// escapes and comments included), then cross-checks each declaration on a normalized copy
// (escapes decoded, comments and white space removed, lowercased) because old renderers
// tokenize differently: IE strips comments first, so "expr/**/ession(" was live there.
// Kept text is copied byte for byte from the input, whole declarations and rules at a time,
// so the output tokenizes the way it was judged. Trust: any bytes.
#pragma once

#include <string>
#include <string_view>

#include "edge/content/removals.h"

namespace nj::edge::content {

// Nesting of () [] {} blocks beyond this drops the whole input (counted as css-rule).
inline constexpr size_t kMaxCssNesting = 32;

// The declarations of a style attribute. Returns the kept declarations joined by ";".
std::string clean_css_declarations(std::string_view css, Removals& removed);

// The content of a <style> element. Returns the kept rules, one per line. The result never
// contains '<': a style element's content is raw text, and a '<' is what would let a second
// HTML parser leave it.
std::string clean_stylesheet(std::string_view css, Removals& removed);

// True when a CSS value (an SVG presentation attribute such as fill="url(...)") refers to
// anything but a fragment of the same document, or would run something.
bool css_value_fetches(std::string_view value);

}  // namespace nj::edge::content
