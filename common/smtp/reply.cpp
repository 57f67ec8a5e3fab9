#include "common/smtp/reply.h"

#include <cstring>

namespace nj::smtp {

namespace {

std::string clean_text(std::string_view t) {
  std::string s(t);
  for (char& c : s)
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  return s;
}

bool all_digits(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

Reply Reply::make(int code, std::string_view enhanced, std::string_view text) {
  Reply r;
  r.code = code;
  r.enhanced = std::string(enhanced);
  r.lines.emplace_back(text);
  return r;
}

Reply Reply::local_reply(int code, std::string_view enhanced, std::string_view text) {
  Reply r = make(code, enhanced, text);
  r.local = true;
  return r;
}

std::string Reply::text() const {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += ' ';
    out += lines[i];
  }
  return out;
}

std::string Reply::serialize() const {
  std::string out;
  const std::string c = std::to_string(code);
  const size_t n = lines.empty() ? 1 : lines.size();
  for (size_t i = 0; i < n; ++i) {
    out += c;
    out += (i + 1 < n) ? '-' : ' ';
    const bool has_text = i < lines.size() && !lines[i].empty();
    if (!enhanced.empty()) {
      out += enhanced;
      if (has_text) out += ' ';
    }
    if (has_text) out += clean_text(lines[i]);
    // "250 " with nothing after it: drop the dangling separator of a last line.
    if (enhanced.empty() && !has_text && i + 1 == n) out.pop_back();
    out += "\r\n";
  }
  return out;
}

bool is_enhanced_code(std::string_view s) {
  if (s.size() < 5) return false;
  if (s[0] != '2' && s[0] != '4' && s[0] != '5') return false;
  if (s[1] != '.') return false;
  const size_t dot = s.find('.', 2);
  if (dot == std::string_view::npos) return false;
  return all_digits(s.substr(2, dot - 2), 1, 3) && all_digits(s.substr(dot + 1), 1, 3);
}

void ReplyParser::clear() {
  line_.clear();
  current_.reset();
  ready_.clear();
  ready_pos_ = 0;
}

void ReplyParser::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  line_.clear();
  current_.reset();
}

Status ReplyParser::feed(std::string_view bytes) {
  while (!bytes.empty() && !failed()) {
    const void* lf = std::memchr(bytes.data(), '\n', bytes.size());
    const size_t take =
        lf ? static_cast<size_t>(static_cast<const char*>(lf) - bytes.data()) : bytes.size();
    // max_line counts the text before CRLF; one octet more leaves room for the CR.
    if (line_.size() + take > limits_.max_line + 1) {
      fail("reply line too long");
      break;
    }
    line_.append(bytes.data(), take);
    if (!lf) break;
    bytes.remove_prefix(take + 1);
    // Servers should end lines with CRLF; a bare LF is tolerated because the reply direction
    // carries no smuggling risk for us and some old servers send it.
    std::string_view line(line_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > limits_.max_line) {
      fail("reply line too long");
      break;
    }
    parse_line(line);
    line_.clear();
  }
  if (failed()) return make_error(error_);
  return {};
}

void ReplyParser::parse_line(std::string_view line) {
  if (line.size() < 3 || !all_digits(line.substr(0, 3), 3, 3) || line[0] < '2' || line[0] > '5') {
    fail("malformed reply code");
    return;
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  bool last = true;
  std::string_view text;
  if (line.size() > 3) {
    if (line[3] == '-') {
      last = false;
    } else if (line[3] != ' ') {
      fail("malformed reply separator");
      return;
    }
    text = line.substr(4);
  }
  for (char c : text) {
    if (c == '\0' || c == '\r') {
      fail("control character in reply");
      return;
    }
  }
  if (current_ && current_->code != code) {
    fail("reply code changed inside a multi-line reply");
    return;
  }
  if (!current_) {
    current_.emplace();
    current_->code = code;
  } else if (current_->lines.size() >= limits_.max_lines) {
    fail("too many reply lines");
    return;
  }
  // The enhanced code is taken from the first line; later lines repeat it (RFC 2034 4) and
  // it is stripped from them only when it is the same, so text that merely looks like a code
  // survives a serialize/parse round trip unchanged.
  const size_t sp = text.find(' ');
  const std::string_view first = text.substr(0, sp);
  const bool class_matches = !first.empty() && first[0] == line[0];
  if (current_->lines.empty()) {
    if (is_enhanced_code(first) && class_matches) {
      current_->enhanced = std::string(first);
      text = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
    }
  } else if (!current_->enhanced.empty() && first == current_->enhanced) {
    text = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
  }
  current_->lines.emplace_back(text);
  if (last) {
    ready_.push_back(std::move(*current_));
    current_.reset();
  }
}

std::optional<Reply> ReplyParser::next() {
  if (ready_pos_ >= ready_.size()) {
    ready_.clear();
    ready_pos_ = 0;
    return std::nullopt;
  }
  Reply r = std::move(ready_[ready_pos_++]);
  if (ready_pos_ == ready_.size()) {
    ready_.clear();
    ready_pos_ = 0;
  }
  return r;
}

}  // namespace nj::smtp
