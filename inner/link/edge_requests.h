// EdgeRequests: the inner's answers to what an edge asks over the link: DELIVER (inbound mail,
// ACKed only after the mailboxes' synced commit; NACKed temporary or permanent otherwise) and
// VERIFY (does this recipient exist, can its mailbox take mail). Each answer goes on the link
// that asked, or nowhere when that link is gone (the edge asks again on its next one).
// Trust: the edge is authenticated but may be seized; what it asks is answered by InboundDelivery
// and the recipient checker, which bound what a hostile edge can learn and make the inner spend.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/link/payloads.h"
#include "common/link/session.h"
#include "common/store/group_commit.h"
#include "common/base/clock.h"
#include "inner/link/inbound_delivery.h"
#include "inner/link/verify_guard.h"

namespace nj::inner {

class EdgeRequests {
 public:
  // `guard` is this edge's, kept for as long as the edge is paired (not per connection).
  EdgeRequests(InboundDelivery& inbound, store::GroupCommitter& gc, VerifyGuard& guard,
               const Clock& clock)
      : inbound_(inbound), gc_(gc), guard_(guard), clock_(clock) {}

  void on_deliver(const std::shared_ptr<link::Session>& asked, const link::Frame& f);
  void on_verify(const std::shared_ptr<link::Session>& asked, const link::Frame& f);

 private:
  InboundDelivery& inbound_;
  store::GroupCommitter& gc_;
  VerifyGuard& guard_;
  const Clock& clock_;
};

}  // namespace nj::inner
