#include "edge/content/transfer.h"

#include "common/crypto/crypto.h"
#include "common/mail/text.h"

namespace nj::edge::content {
namespace {

using mail::hex_value;

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

constexpr char kHex[] = "0123456789ABCDEF";

}  // namespace

std::string decode_quoted_printable(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  size_t i = 0;
  while (i <= body.size()) {
    size_t eol = body.find("\r\n", i);
    bool last = eol == std::string_view::npos;
    std::string_view line = body.substr(i, last ? std::string_view::npos : eol - i);
    while (!line.empty() && is_wsp(line.back())) line.remove_suffix(1);  // transport padding
    bool soft = !line.empty() && line.back() == '=';
    if (soft) line.remove_suffix(1);
    for (size_t k = 0; k < line.size(); ++k) {
      if (line[k] == '=' && k + 2 < line.size() && hex_value(line[k + 1]) >= 0 &&
          hex_value(line[k + 2]) >= 0) {
        out.push_back(static_cast<char>(hex_value(line[k + 1]) * 16 + hex_value(line[k + 2])));
        k += 2;
      } else {
        out.push_back(line[k]);
      }
    }
    if (last) break;
    if (!soft) out += "\r\n";
    i = eol + 2;
  }
  return out;
}

std::string encode_quoted_printable(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 8);
  size_t col = 0;
  auto emit = [&](std::string_view piece) {
    // Keep room for the "=" of a soft break: a line holds at most 75 octets plus it.
    if (col + piece.size() > kMaxEncodedLine - 1) {
      out += "=\r\n";
      col = 0;
    }
    out += piece;
    col += piece.size();
  };
  for (size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') {
      out += "\r\n";
      col = 0;
      ++i;
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    bool at_line_end = i + 1 == data.size() || (data[i + 1] == '\r' && i + 2 < data.size() &&
                                                data[i + 2] == '\n');
    // A '-' opening a line is encoded so no encoded line can read as a MIME delimiter.
    bool literal = (u >= 33 && u <= 126 && c != '=' && !(c == '-' && col == 0)) ||
                   (is_wsp(c) && !at_line_end);
    if (literal) {
      emit(std::string_view(&c, 1));
    } else {
      char enc[3] = {'=', kHex[u >> 4], kHex[u & 15]};
      emit(std::string_view(enc, 3));
    }
  }
  return out;
}

Result<std::string> decode_base64_body(std::string_view body) {
  std::string compact;
  compact.reserve(body.size());
  for (char c : body) {
    if (c != '\r' && c != '\n' && c != ' ' && c != '\t') compact.push_back(c);
  }
  auto r = crypto::from_base64(compact);
  if (!r) return make_error("base64 body: invalid encoding");
  return std::move(*r);
}

std::string encode_base64_body(std::string_view data) {
  std::string flat = crypto::to_base64(data);
  std::string out;
  out.reserve(flat.size() + flat.size() / kMaxEncodedLine * 2 + 2);
  for (size_t i = 0; i < flat.size(); i += kMaxEncodedLine) {
    if (i) out += "\r\n";
    out.append(flat, i, kMaxEncodedLine);
  }
  return out;
}

}  // namespace nj::edge::content
