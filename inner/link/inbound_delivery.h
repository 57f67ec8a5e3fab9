// InboundDelivery: mail an edge pushes over the link, delivered into the users' sealed
// mailboxes. The edge sealed each envelope to the inner's public key; only here is it opened.
// Every (message id, account) delivery is remembered for a while, so an edge that retransmits
// after a lost ACK, or after a temporary failure for one recipient, never makes a duplicate.
// Trust: the envelope comes from the paired edge (the link authenticated it) but its content is
// Internet mail: decoded with limits, recipients checked against our accounts.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"
#include "inner/accounts/accounts.h"
#include "inner/mailbox/mailbox.h"

namespace nj::inner {

class InboundDelivery {
 public:
  static constexpr const char* kSchemaName = "inner.inbound";
  static constexpr uint32_t kSchemaVersion = 1;
  static constexpr int64_t kRememberSeconds = 30 * 86400;

  enum class Outcome {
    delivered,  // every recipient has it now (or had it already): ACK
    temporary,  // some recipient could not take it now (mailbox full, store trouble): retry later
    permanent,  // it can never be delivered (does not open with our key, malformed): drop it
  };
  struct Result {
    Outcome outcome = Outcome::temporary;
    size_t delivered = 0;  // new copies
    size_t unknown = 0;    // recipients that are no account (any more)
    std::string reason;    // for the log: no address, no content
  };

  static nj::Result<std::unique_ptr<InboundDelivery>> open(store::Env& env,
                                                           const crypto::KeyPair& inner,
                                                           Accounts& accounts, Mailbox& mailbox,
                                                           const Clock& clock);

  // Opens, delivers to every recipient in one synced commit, then calls `done` on the loop.
  void deliver(store::GroupCommitter& gc, std::string sealed, std::function<void(Result)> done);

  // Forgets delivery records older than kRememberSeconds.
  nj::Result<size_t> purge(store::GroupCommitter& gc);

 private:
  InboundDelivery(store::Dbi db, const crypto::KeyPair& inner, Accounts& accounts,
                  Mailbox& mailbox, const Clock& clock)
      : db_(db), inner_(inner), accounts_(accounts), mailbox_(mailbox), clock_(clock) {}

  store::Dbi db_;
  const crypto::KeyPair& inner_;
  Accounts& accounts_;
  Mailbox& mailbox_;
  const Clock& clock_;
};

}  // namespace nj::inner
