#include "edge/content/body_clean.h"

#include <algorithm>
#include <vector>

#include "common/mail/text.h"
#include "edge/content/transfer.h"

namespace nj::edge::content {
namespace {

using mail::HeaderField;
using mail::MimePart;
using mail::istarts_with;
using mail::to_lower;

constexpr size_t kFoldColumn = 78;

enum class Cte { none, seven_bit, eight_bit, binary, quoted_printable, base64 };

// A rewrite of [begin, end) of the original message.
struct Splice {
  size_t begin = 0, end = 0;
  std::string text;
};

Result<Cte> transfer_encoding(const MimePart& p) {
  for (const auto& f : p.headers) {
    if (!f.is("Content-Transfer-Encoding")) continue;
    std::string v = to_lower(f.unfolded());
    if (v == "7bit") return Cte::seven_bit;
    if (v == "8bit") return Cte::eight_bit;
    if (v == "binary") return Cte::binary;
    if (v == "quoted-printable") return Cte::quoted_printable;
    if (v == "base64") return Cte::base64;
    return make_error("HTML part in an unknown Content-Transfer-Encoding");
  }
  return Cte::none;
}

// End of the part's last header field (the separator line, if any, follows).
size_t header_end(const MimePart& p) {
  if (p.headers.empty()) return p.start;
  const HeaderField& last = p.headers.back();
  return last.offset + last.raw.size();
}

std::string lf_to_crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 32);
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// Lines an identity encoding cannot carry: longer than 998 octets, or 8-bit/NUL in 7bit.
bool needs_encoding(std::string_view s, bool seven_bit) {
  size_t col = 0;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      col = 0;
      continue;
    }
    if (c != '\r' && ++col > kMaxIdentityLine) return true;
    if (c == '\0' || (seven_bit && u >= 0x80)) return true;
  }
  return false;
}

// True when a line of `s` starts with "--" and the boundary of an enclosing multipart: written
// as is, it would end the part early. (Cleaning can create such a line: the parser turns a bare
// LF into a line end, and we write line ends as CRLF.)
bool has_delimiter_line(std::string_view s, const std::vector<std::string_view>& boundaries) {
  if (boundaries.empty()) return false;
  for (size_t line = 0; line < s.size();) {
    if (s.substr(line, 2) == "--") {
      for (auto b : boundaries) {
        if (s.substr(line + 2, b.size()) == b) return true;
      }
    }
    size_t nl = s.find('\n', line);
    if (nl == std::string_view::npos) break;
    line = nl + 1;
  }
  return false;
}

bool ends_with_crlf(std::string_view s) { return s.size() >= 2 && s.substr(s.size() - 2) == "\r\n"; }

std::string fold_field(std::string_view name, std::string_view value) {
  std::string out(name);
  out += ':';
  size_t col = out.size();
  size_t i = 0;
  while (i < value.size()) {
    size_t sp = value.find(' ', i);
    std::string_view word = value.substr(i, sp == std::string_view::npos ? sp : sp - i);
    if (col + 1 + word.size() > kFoldColumn && col > name.size() + 1) {
      out += "\r\n";
      col = 0;
    }
    out += ' ';
    out += word;
    col += 1 + word.size();
    if (sp == std::string_view::npos) break;
    i = sp + 1;
  }
  out += "\r\n";
  return out;
}

class BodyCleaner {
 public:
  BodyCleaner(std::string_view msg, const BodyLimits& limits) : msg_(msg), limits_(limits) {}

  Result<BodyCleaned> run() {
    auto tree = mail::parse_mime(msg_, limits_.mime);
    if (!tree) return make_error(tree.error());
    tags_left_ = limits_.max_message_tags;
    std::vector<Splice> splices;
    bool root_rewritten = false;
    for (const MimePart& p : tree->parts) {
      if (p.opaque) {
        if (p.type.is("multipart", "signed")) ++result_.signed_parts;
        else ++result_.encrypted_parts;
        continue;
      }
      if (!p.type.is("text", "html")) continue;
      auto st = html_part(*tree, p, p.parent.has_value() ? nullptr : &root_rewritten, splices);
      if (!st) return make_error(st.error());
    }
    if (!root_rewritten) splices.push_back(root_header(tree->root(), nullptr));
    std::sort(splices.begin(), splices.end(),
              [](const Splice& a, const Splice& b) { return a.begin < b.begin; });

    result_.field_value = field_value();
    std::string out = fold_field(kContentField, result_.field_value);
    size_t at = 0;
    for (const Splice& s : splices) {
      out.append(msg_.substr(at, s.begin - at));
      out += s.text;
      at = s.end;
    }
    out.append(msg_.substr(at));
    result_.message = std::move(out);
    return std::move(result_);
  }

 private:
  // The root's header fields without any X-Nightjar-Content the sender wrote; when `cte` is
  // given the Content-Transfer-Encoding is replaced by it.
  Splice root_header(const MimePart& root, const char* cte) {
    return header_splice(root, cte, true);
  }

  Splice header_splice(const MimePart& p, const char* cte, bool is_root) {
    Splice s{p.start, header_end(p), {}};
    for (const auto& f : p.headers) {
      if (is_root && f.is(kContentField)) continue;
      if (cte && f.is("Content-Transfer-Encoding")) continue;
      s.text += f.raw;
    }
    if (cte) s.text += std::string("Content-Transfer-Encoding: ") + cte + "\r\n";
    return s;
  }

  // `root_done` is non-null when p is the message itself (a single-part text/html message).
  Status html_part(const mail::MimeTree& tree, const MimePart& p, bool* root_done,
                   std::vector<Splice>& splices) {
    auto cte = transfer_encoding(p);
    if (!cte) return make_error(cte.error());
    const mail::MimeParam* cs = p.type.param("charset");
    std::string charset = cs ? to_lower(cs->value) : std::string();
    auto octets = octets_for_charset(charset);
    if (!octets) return make_error("HTML part in charset " + charset + " cannot be cleaned");

    std::string_view body = p.body(msg_);
    if (body.empty()) {
      // Nothing to fetch, and perhaps no separator line to put a body after (a header
      // section that runs to the end of its part): the part stays as it is.
      ++result_.html_parts;
      return {};
    }
    std::string decoded;
    if (*cte == Cte::quoted_printable) {
      decoded = decode_quoted_printable(body);
    } else if (*cte == Cte::base64) {
      auto d = decode_base64_body(body);
      if (!d) return make_error(d.error());
      decoded = std::move(*d);
    } else {
      decoded = std::string(body);
    }

    HtmlLimits hl = limits_.html;
    hl.max_tags = std::min(hl.max_tags, tags_left_);
    auto cleaned = clean_html(decoded, *octets, hl);
    if (!cleaned) return make_error(cleaned.error());
    tags_left_ -= std::min(tags_left_, count_tags_used(decoded));
    result_.removed.merge(cleaned->removed);
    ++result_.html_parts;

    std::vector<std::string_view> boundaries;
    for (auto up = p.parent; up; up = tree.parts[*up].parent) {
      boundaries.push_back(tree.parts[*up].boundary);
    }
    std::string text = lf_to_crlf(cleaned->html);
    const char* new_cte = nullptr;
    std::string encoded;
    switch (*cte) {
      case Cte::quoted_printable:
        encoded = encode_quoted_printable(text);
        break;
      case Cte::base64:
        encoded = encode_base64_body(text);
        break;
      case Cte::binary:
      case Cte::none:
      case Cte::seven_bit:
      case Cte::eight_bit:
        if (has_delimiter_line(text, boundaries) ||
            (*cte != Cte::binary && needs_encoding(text, *cte != Cte::eight_bit))) {
          new_cte = "quoted-printable";
          encoded = encode_quoted_printable(text);
        } else {
          encoded = std::move(text);
        }
        break;
    }
    // The body keeps its final line end, or lack of it: the CRLF before a delimiter is the
    // delimiter's, and a message that ended in CRLF still does.
    bool want_crlf = ends_with_crlf(body);
    if (ends_with_crlf(encoded) != want_crlf) {
      if (want_crlf) {
        encoded += "\r\n";
      } else {
        encoded.resize(encoded.size() - 2);
      }
    }
    if (root_done) {
      splices.push_back(header_splice(p, new_cte, true));
      *root_done = true;
    } else if (new_cte) {
      splices.push_back(header_splice(p, new_cte, false));
    }
    splices.push_back(Splice{p.body_offset, p.end, std::move(encoded)});
    return {};
  }

  static size_t count_tags_used(std::string_view s) {
    size_t n = 0;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      if (s[i] == '<' && mail::is_alpha(static_cast<unsigned char>(s[i + 1]))) ++n;
    }
    return n;
  }

  std::string field_value() const {
    std::string v;
    if (result_.html_parts == 0) {
      v = "no html";
    } else if (result_.removed.empty()) {
      v = "html cleaned; nothing removed";
    } else {
      v = "html cleaned; removed " + result_.removed.to_string();
    }
    if (result_.signed_parts) v += "; signed part not cleaned";
    if (result_.encrypted_parts) v += "; encrypted part not cleaned";
    return v;
  }

  std::string_view msg_;
  const BodyLimits& limits_;
  size_t tags_left_ = 0;
  BodyCleaned result_;
};

}  // namespace

std::optional<HtmlOctets> octets_for_charset(std::string_view cs) {
  if (cs == "utf-8" || cs == "utf8") return HtmlOctets::utf8;
  // Charsets in which an octet < 0x80 always means that ASCII character: the parser can read
  // them as ASCII plus opaque octets. Stateful (ISO-2022-*, UTF-7, HZ) and wide (UTF-16/32)
  // charsets, and EBCDIC, are not among them.
  static constexpr std::string_view kExact[] = {
      "",          "us-ascii",  "ascii",      "ansi_x3.4-1968", "iso646-us", "latin1",
      "l1",        "latin2",    "latin9",     "macintosh",      "mac",       "gb2312",
      "gbk",       "gb18030",   "big5",       "big5-hkscs",     "shift_jis", "shift-jis",
      "sjis",      "x-sjis",    "windows-31j", "euc-jp",        "x-euc-jp",  "euc-kr",
      "euc-cn",    "euc-tw",    "ks_c_5601-1987", "ks_c_5601",  "cp949",     "cp932",
      "cp936",     "cp950",     "cp437",      "cp850",          "cp852",     "cp866",
      "cp874",     "tis-620",   "viscii",     "unknown-8bit",   "x-unknown", "windows-874",
  };
  static constexpr std::string_view kPrefix[] = {"iso-8859-", "iso8859-", "iso_8859-",
                                                 "windows-125", "cp125", "koi8-", "x-mac-"};
  for (auto e : kExact) {
    if (cs == e) return HtmlOctets::octets;
  }
  for (auto p : kPrefix) {
    if (istarts_with(cs, p)) return HtmlOctets::octets;
  }
  return std::nullopt;
}

Result<BodyCleaned> clean_body(std::string_view message, const BodyLimits& limits) {
  return BodyCleaner(message, limits).run();
}

}  // namespace nj::edge::content
