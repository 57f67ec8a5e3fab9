#include "common/smtp/data_reader.h"

#include <cstring>

namespace nj::smtp {

void DataReader::reset() {
  state_ = State::kLineStart;
  message_.clear();
  size_ = 0;
  line_len_ = 0;
  problems_ = kNone;
}

void DataReader::store(const char* p, size_t n) {
  size_ += n;
  if (problems_ & kTooBig) return;
  if (message_.size() + n > limits_.max_size) {
    problems_ |= kTooBig;
    // The message will be refused: give the memory back now rather than at the end.
    std::string().swap(message_);
    return;
  }
  message_.append(p, n);
}

void DataReader::line_bytes(size_t n) {
  line_len_ += n;
  if (line_len_ > limits_.max_line) problems_ |= kLineTooLong;
}

size_t DataReader::feed(std::string_view in) {
  const char* const begin = in.data();
  const char* p = begin;
  const char* const end = begin + in.size();
  while (p < end && state_ != State::kDone) {
    switch (state_) {
      case State::kLineStart:
        line_len_ = 0;
        if (*p == '.') {
          ++p;
          state_ = State::kDot;
        } else {
          state_ = State::kBody;
        }
        break;
      case State::kDot:
        if (*p == '\r') {
          ++p;
          state_ = State::kDotCr;
        } else {
          // A stuffed dot: drop it; the rest of the line is ordinary text.
          state_ = State::kBody;
        }
        break;
      case State::kDotCr:
        if (*p == '\n') {
          ++p;
          state_ = State::kDone;
        } else {
          // ".\r" followed by anything else: the dot was stuffing and the CR is bare.
          problems_ |= kBareCr;
          store("\r", 1);
          line_bytes(1);
          state_ = State::kBody;
        }
        break;
      case State::kCr:
        if (*p == '\n') {
          ++p;
          store("\r\n", 2);
          state_ = State::kLineStart;
        } else {
          problems_ |= kBareCr;
          store("\r", 1);
          line_bytes(1);
          state_ = State::kBody;
        }
        break;
      case State::kBody: {
        // Bulk scan to the next CR or LF; everything before it is line text.
        const size_t n = static_cast<size_t>(end - p);
        const char* cr = static_cast<const char*>(std::memchr(p, '\r', n));
        const char* lf = static_cast<const char*>(
            std::memchr(p, '\n', static_cast<size_t>((cr ? cr : end) - p)));
        const char* stop = lf ? lf : (cr ? cr : end);
        const size_t run = static_cast<size_t>(stop - p);
        if (run) {
          store(p, run);
          line_bytes(run);
        }
        p = stop;
        if (p == end) break;
        if (*p == '\n') {
          // A bare LF does not start a new line: "\n.\r\n" must not end the message.
          problems_ |= kBareLf;
          store("\n", 1);
          line_bytes(1);
          ++p;
        } else {
          ++p;
          state_ = State::kCr;
        }
        break;
      }
      case State::kDone:
        break;
    }
  }
  return static_cast<size_t>(p - begin);
}

std::optional<Reply> DataReader::verdict() const {
  if (problems_ & (kBareLf | kBareCr))
    return Reply::make(554, "5.5.2",
                       "Message refused: bare CR or LF in data (lines must end with CRLF)");
  if (problems_ & kLineTooLong)
    return Reply::make(554, "5.6.0", "Message refused: line longer than 998 characters");
  if (problems_ & kTooBig)
    return Reply::make(552, "5.3.4", "Message size exceeds fixed maximum message size");
  return std::nullopt;
}

}  // namespace nj::smtp
