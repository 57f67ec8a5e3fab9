// Captures the decision of an asynchronous check and how often it was delivered.
#pragma once

#include <optional>

#include "common/mail/address.h"
#include "edge/checks/decision.h"

namespace nj::checks::test {

struct Capture {
  std::optional<Decision> decision;
  int calls = 0;
  DecisionCallback cb() {
    return [this](Decision d) {
      ++calls;
      decision = std::move(d);
    };
  }
  std::string line() const { return decision ? decision->smtp_line() : "<none>"; }
  bool accepted() const { return decision && decision->accept; }
};

inline mail::Mailbox sender(std::string local, std::string domain) {
  mail::Mailbox m;
  m.local = std::move(local);
  m.domain = std::move(domain);
  return m;
}
inline mail::Mailbox null_sender() {
  mail::Mailbox m;
  m.null_path = true;
  return m;
}

}  // namespace nj::checks::test
