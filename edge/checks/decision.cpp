#include "edge/checks/decision.h"

#include <utility>

namespace nj::checks {

Decision Decision::pass(std::string reason) {
  Decision d;
  d.reason = std::move(reason);
  return d;
}

Decision Decision::reply(int code, std::string enhanced, std::string text, std::string reason) {
  Decision d;
  d.accept = false;
  d.code = code;
  d.enhanced = std::move(enhanced);
  d.text = std::move(text);
  d.reason = std::move(reason);
  return d;
}

std::string Decision::smtp_line() const {
  if (accept) return {};
  return std::to_string(code) + " " + enhanced + " " + text;
}

void Completion::fire(Decision d) const {
  // Move the callback out first: it may destroy the Pending (and so touch the slot) while
  // running.
  DecisionCallback cb = std::move(*slot_);
  *slot_ = nullptr;
  if (cb) cb(std::move(d));
}

}  // namespace nj::checks
