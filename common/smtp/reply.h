// SMTP replies (RFC 5321 4.2) with RFC 3463 enhanced status codes (RFC 2034), and the parser the
// client engine uses to read them from a server.
// Trust: Reply values built by our own code are trusted; ReplyParser reads bytes from a remote
// server and trusts nothing: line length and line count are bounded, and any malformed reply
// is a sticky error rather than a guess.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace nj::smtp {

struct Reply {
  int code = 0;          // 200..599 (a parsed reply may carry any three-digit 2xx..5xx code)
  std::string enhanced;  // "2.1.0", or empty when the reply has none (EHLO lines, 354)
  std::vector<std::string> lines;  // text of each line, without code and enhanced code
  bool local = false;  // produced by this side (e.g. the client gave up), not by the peer

  static Reply make(int code, std::string_view enhanced, std::string_view text);
  static Reply ok(std::string_view text = "Ok") { return make(250, "2.0.0", text); }
  static Reply auth_ok() { return make(235, "2.7.0", "Authentication successful"); }
  static Reply auth_failed() { return make(535, "5.7.8", "Authentication credentials invalid"); }
  static Reply temp_fail(std::string_view text = "Try again later") {
    return make(451, "4.3.0", text);
  }
  static Reply perm_fail(std::string_view text = "Rejected") { return make(550, "5.7.1", text); }
  // A reply produced locally by the client engine (never sent on the wire).
  static Reply local_reply(int code, std::string_view enhanced, std::string_view text);

  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500 && code < 600; }
  // All lines joined with a single space, for logs and result reports.
  std::string text() const;
  // Wire form: "250-2.0.0 first\r\n250 2.0.0 last\r\n". CR, LF and NUL inside texts are
  // replaced by spaces so a text can never split or inject a reply line.
  std::string serialize() const;

  bool operator==(const Reply& o) const {
    return code == o.code && enhanced == o.enhanced && lines == o.lines;
  }
};

// True for a well-formed RFC 3463 code "c.sss.ddd" (class 2, 4 or 5; 1-3 digit fields).
bool is_enhanced_code(std::string_view s);

class ReplyParser {
 public:
  struct Limits {
    // Octets per line before CRLF. RFC 5321 4.5.3.1.5 allows 512 per reply line including
    // CRLF; real servers exceed it a little.
    size_t max_line = 2048;
    size_t max_lines = 128;
  };

  ReplyParser() : ReplyParser(Limits{}) {}
  explicit ReplyParser(Limits limits) : limits_(limits) {}

  // Appends server bytes and parses every complete reply. After an error the parser stays
  // failed: a peer that breaks the reply syntax cannot be resynchronised reliably.
  Status feed(std::string_view bytes);
  // The next complete reply, in order.
  std::optional<Reply> next();
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // Bytes of an incomplete line or an incomplete multi-line reply still held.
  bool has_partial() const { return !line_.empty() || current_.has_value(); }
  // Forget everything buffered (used after STARTTLS: nothing sent in clear may be kept).
  void clear();

 private:
  void parse_line(std::string_view line);
  void fail(std::string why);

  Limits limits_;
  std::string line_;
  std::optional<Reply> current_;
  std::vector<Reply> ready_;
  size_t ready_pos_ = 0;
  std::string error_;
};

}  // namespace nj::smtp
