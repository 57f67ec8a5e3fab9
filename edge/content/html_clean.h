// HTML for mail without the network: parses a text/html part with gumbo (the HTML5 tree
// builder every browser uses) and writes the tree back, leaving out everything a mail reader
// would fetch or run. What goes: remote images (cid: images stay; a removed image leaves its
// alt text), srcset and friends, picture/video/audio sources and posters, link, frames,
// object/embed/applet, forms (their content stays), meta http-equiv, base, script, on*
// handlers, background, ping, every comment (Outlook's conditional comments among them), SVG
// image/use/feImage/animations and non-fragment references, CSS that fetches or runs
// (css_clean.h), and links whose scheme is not a plain one (javascript:, data:, vbscript: ...).
// Links stay clickable: clicking is the reader's choice; they get rel="noreferrer noopener".
//
// The writer escapes every text and attribute value, so the only markup in the output is the
// markup we chose to write; a style element's content is the only raw text and holds no '<'.
// Trust: any bytes. Work is bounded by the limits below (gumbo's tree builder is quadratic in
// nesting: 200,000 nested <div> take minutes, hence the tag count bound before parsing).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "edge/content/removals.h"

namespace nj::edge::content {

inline constexpr size_t kMaxHtmlInput = 4 * 1024 * 1024;
inline constexpr size_t kMaxHtmlTags = 20000;   // '<' followed by a letter, counted before parsing
inline constexpr size_t kMaxHtmlDepth = 256;    // element nesting in the parsed tree
inline constexpr size_t kMaxHtmlOutput = 8 * 1024 * 1024;

struct HtmlLimits {
  size_t max_input = kMaxHtmlInput;
  size_t max_tags = kMaxHtmlTags;
  size_t max_depth = kMaxHtmlDepth;
  size_t max_output = kMaxHtmlOutput;
};

// How the octets of the part are to be read. gumbo reads UTF-8 only; in `octets` mode every
// octet >= 0x80 is carried through the parser unchanged (as a private-use code point) and comes
// back as the same octet, so any charset whose ASCII octets always mean ASCII (ISO-8859-*,
// windows-125*, Shift_JIS, GB18030, ...) keeps its bytes without our knowing it. Characters
// that only an entity produced are written as numeric references in that mode.
enum class HtmlOctets { utf8, octets };

struct HtmlCleaned {
  std::string html;  // LF line ends as the parser normalized them
  Removals removed;
};

// Errors (input, tag count, depth or output above the limits) leave nothing half done: the
// caller gets no HTML at all.
Result<HtmlCleaned> clean_html(std::string_view html, HtmlOctets octets = HtmlOctets::utf8,
                               const HtmlLimits& limits = {});

// The scheme of a URL attribute value as a browser reads it (leading/trailing C0 and space
// removed, tab/CR/LF anywhere removed), lowercased; "" when the value is relative.
std::string url_scheme(std::string_view value);

}  // namespace nj::edge::content
