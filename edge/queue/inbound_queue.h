// InboundQueue: the edge's queue of inbound mail, waiting to be pushed to the inner. Each record
// is an Envelope sealed to the inner's public key (crypto_box_seal) under a random id, so the
// edge — and whoever seizes its disk — cannot read a message once it has been committed.
// Only this class writes the inbound queue (one writer of mail, as in Postfix's cleanup).
// Trust: the envelope comes from our own SMTP session; records read back are sealed blobs that
// only the inner's secret key opens.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/queue/envelope.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"

namespace nj::edge {

class InboundQueue {
 public:
  static constexpr const char* kSchemaName = "edge";
  static constexpr uint32_t kSchemaVersion = 1;

  // Opens (creating on first use) the queue's database in `env`.
  static Result<std::unique_ptr<InboundQueue>> open(store::Env& env, crypto::PublicKey inner);

  // Seals the envelope and commits it through the group committer. `done` runs on the loop thread
  // only after the commit that holds the record has been synced (or with the failure).
  void enqueue(store::GroupCommitter& committer, queue::Envelope e,
               std::function<void(Status)> done);

  // After the inner acknowledged the message (its synced commit): gone from the edge, through
  // the group committer. Removing an id that is not there is not an error (a retransmit).
  void remove(store::GroupCommitter& committer, const std::string& id,
              std::function<void(Status)> done);

  // For tools and the link: ids in the queue, and one sealed record.
  Result<std::vector<std::string>> list();
  Result<std::string> sealed(const std::string& id);
  Result<size_t> count();

 private:
  InboundQueue(store::Env& env, store::Dbi db, crypto::PublicKey inner)
      : env_(env), db_(db), inner_(inner) {}
  static std::string key_for(const std::string& id) { return "in/" + id; }

  store::Env& env_;
  store::Dbi db_;
  crypto::PublicKey inner_;
};

}  // namespace nj::edge
