// OutboundQueue: the inner's durable queue of mail for Internet recipients, waiting for the link
// to carry it to an edge (a later issue). Each record is the Envelope — already sanitized and
// rewritten for the Internet — sealed to the inner's own public key, behind a small clear header
// (queue time and recipient count, for `nightjarctl queue list` without the secret key).
// Trust: written only by the submission session inside its one commit; records read back are
// decoded with limits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/queue/envelope.h"
#include "common/store/lmdb.h"

namespace nj::inner {

class OutboundQueue {
 public:
  static constexpr const char* kSchemaName = "inner.outbound";
  static constexpr uint32_t kSchemaVersion = 1;

  // Opens (creating on first use) the queue's database; call at start-up.
  static Result<std::unique_ptr<OutboundQueue>> open(store::Env& env, crypto::PublicKey inner);

  // Adds the envelope inside the caller's write transaction, so a submission's local deliveries
  // and its outbound copy commit together, before the one 250.
  Status add_in(store::Txn& txn, const queue::Envelope& e) const;

  struct Item {
    std::string id;
    int64_t queued_at = 0;
    uint32_t recipients = 0;
    size_t sealed_size = 0;
  };
  Result<std::vector<Item>> list();
  // The envelope of one queued message (needs the inner's secret key).
  Result<queue::Envelope> open_one(const crypto::KeyPair& inner, const std::string& id);

 private:
  OutboundQueue(store::Env& env, store::Dbi db, crypto::PublicKey inner)
      : env_(env), db_(db), inner_(inner) {}
  static std::string key_for(const std::string& id) { return "q/" + id; }

  store::Env& env_;
  store::Dbi db_;
  crypto::PublicKey inner_;
};

}  // namespace nj::inner
