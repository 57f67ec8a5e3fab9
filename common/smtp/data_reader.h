// DataReader: the receiving half of SMTP DATA (RFC 5321 4.1.1.4, 4.5.2). It removes dot-stuffing
// and finds the end of the message, which is only ever <CRLF>.<CRLF>.
// Trust: reads raw client bytes. A bare LF or bare CR anywhere in the data (the "SMTP smuggling"
// family: a "\n.\n" or "\r.\r" that another MTA would take as the end of the message) gets the
// message refused, but the reader keeps consuming up to the real <CRLF>.<CRLF> so the session
// stays in step with an honest client. Storage is bounded by max_size; data past it is read and
// dropped, never stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/smtp/reply.h"

namespace nj::smtp {

class DataReader {
 public:
  struct Limits {
    size_t max_size = 32u << 20;  // unstuffed message bytes that may be stored
    size_t max_line = 998;        // octets per line without CRLF (RFC 5321 4.5.3.1.6)
  };

  // Problems found in the data; the first that applies decides the reply (see verdict()).
  enum Problem : uint32_t {
    kNone = 0,
    kBareLf = 1u << 0,
    kBareCr = 1u << 1,
    kLineTooLong = 1u << 2,
    kTooBig = 1u << 3,
  };

  DataReader() : DataReader(Limits{}) {}
  explicit DataReader(Limits limits) : limits_(limits) {}

  // Consumes bytes that belong to the message and returns how many were used. Once done() is
  // true the rest of `in` (not consumed) belongs to the next command.
  size_t feed(std::string_view in);
  bool done() const { return state_ == State::kDone; }

  // The unstuffed message with CRLF line ends, without the terminating ".\r\n". Empty if the
  // message went over max_size (it was not kept).
  const std::string& message() const { return message_; }
  std::string take_message() { return std::move(message_); }
  // Unstuffed size of everything received, including what was dropped past the limit.
  uint64_t size() const { return size_; }
  uint32_t problems() const { return problems_; }
  // The final reply to DATA when the message must be refused, or std::nullopt when it is fine:
  //   bare LF / bare CR  -> 554 5.5.2 (a line-ending syntax error, as Postfix reports it; 554
  //                         because RFC 5321 lists it as the transaction-failed reply to DATA)
  //   line > 998 octets  -> 554 5.6.0 (RFC 5322 2.1.1 content limit; X.6.0 = media problem)
  //   too big            -> 552 5.3.4 (RFC 1870 / RFC 3463 "message too big for system")
  std::optional<Reply> verdict() const;

  void reset();

 private:
  enum class State { kLineStart, kDot, kDotCr, kBody, kCr, kDone };
  void store(const char* p, size_t n);
  void line_bytes(size_t n);

  Limits limits_;
  State state_ = State::kLineStart;
  std::string message_;
  uint64_t size_ = 0;
  size_t line_len_ = 0;
  uint32_t problems_ = kNone;
};

}  // namespace nj::smtp
