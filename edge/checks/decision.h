// Decision: what an anti-abuse check tells the SMTP session. Either accept, or an SMTP reply
// (code, enhanced status code, text) the session sends as is. Every decision carries a short
// log reason for the operator; reasons never contain IP addresses or mail addresses, so the
// session may log them verbatim.
// Trust: none needed; this is plain data. Pending is the cancellation handle of async checks.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace nj::checks {

struct Decision {
  bool accept = true;
  int code = 0;          // SMTP reply code when !accept (4xx temporary, 5xx permanent)
  std::string enhanced;  // RFC 3463 enhanced status code, e.g. "5.7.1"
  std::string text;      // reply text without code
  std::string reason;    // for the log; never an IP or a mail address

  static Decision pass(std::string reason = {});
  static Decision reply(int code, std::string enhanced, std::string text, std::string reason);

  bool temporary() const { return !accept && code / 100 == 4; }
  // "550 5.7.1 Text" (no CRLF); empty when accepted.
  std::string smtp_line() const;
};

using DecisionCallback = std::function<void(Decision)>;

// Returned by every asynchronous check. The callback runs exactly once, possibly before
// check() returns (cached answers), unless the Pending is cancelled or destroyed first: an SMTP
// session that goes away drops its Pending and is never called back.
class Pending {
 public:
  Pending() = default;
  explicit Pending(std::shared_ptr<DecisionCallback> slot) : slot_(std::move(slot)) {}
  Pending(Pending&&) = default;
  Pending& operator=(Pending&& o) noexcept {
    cancel();
    slot_ = std::move(o.slot_);
    return *this;
  }
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;
  ~Pending() { cancel(); }

  void cancel() {
    if (slot_) *slot_ = nullptr;
    slot_.reset();
  }
  // True while the callback has not run and was not cancelled.
  bool active() const { return slot_ && *slot_; }

 private:
  std::shared_ptr<DecisionCallback> slot_;
};

// The other half of Pending: the check holds this and fires it once.
class Completion {
 public:
  explicit Completion(DecisionCallback cb)
      : slot_(std::make_shared<DecisionCallback>(std::move(cb))) {}
  Pending pending() const { return Pending(slot_); }
  // Runs the callback if it is still wanted; later calls do nothing.
  void fire(Decision d) const;
  bool wanted() const { return *slot_ != nullptr; }

 private:
  std::shared_ptr<DecisionCallback> slot_;
};

}  // namespace nj::checks
