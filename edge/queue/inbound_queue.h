// InboundQueue: the edge's queue of inbound mail, waiting to be pushed to the inner. Each record
// is `in/<id>` -> be64 queued_at (Unix seconds, in the clear) then the Envelope sealed to the
// inner's public key (crypto_box_seal), so the edge — and whoever seizes its disk — cannot read
// a message once it has been committed. The clear time says when the message arrived, nothing
// about who sent it, to whom or what it says; the link needs it without opening anything, to
// tell the inner when a message has waited its lifetime (inbound_schedule.h).
// Only this class writes the inbound queue (one writer of mail, as in Postfix's cleanup).
// Trust: the envelope comes from our own SMTP session; records read back are length-checked and
// their sealed part is opaque bytes that only the inner's secret key opens.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/queue/envelope.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"

namespace nj::edge {

class InboundQueue {
 public:
  static constexpr const char* kSchemaName = "edge";
  // 1: in/<id> -> sealed blob. 2: in/<id> -> be64 queued_at, sealed blob.
  static constexpr uint32_t kSchemaVersion = 2;
  static constexpr const char* kDbName = "inbound";

  struct Item {
    std::string id;
    int64_t queued_at = 0;  // Unix seconds
  };

  // Opens (creating on first use) the queue's database in `env`, migrating records of an older
  // schema version; `now` is the queued_at given to migrated records (see the .cpp for why).
  static Result<std::unique_ptr<InboundQueue>> open(store::Env& env, crypto::PublicKey inner,
                                                    int64_t now = SystemClock().now());
  // For tools that only look (nightjarctl edge-queue): an existing queue of exactly this
  // schema version, opened without writing anything. An older store is refused rather than
  // migrated, since the edge that owns it may still be running the old program. enqueue() and
  // remove() on a queue opened so fail.
  static Result<std::unique_ptr<InboundQueue>> open_existing(store::Env& env);

  // Seals the envelope and commits it through the group committer, with queued_at = the
  // envelope's received_at (the end of DATA). `done` runs on the loop thread only after the
  // commit that holds the record has been synced (or with the failure).
  void enqueue(store::GroupCommitter& committer, queue::Envelope e,
               std::function<void(Status)> done);

  // After the inner acknowledged the message (its synced commit): gone from the edge, through
  // the group committer. Removing an id that is not there is not an error (a retransmit).
  void remove(store::GroupCommitter& committer, const std::string& id,
              std::function<void(Status)> done);

  // For tools and the link. items(): every message with its queued_at, in id order (the link
  // loads its schedule from it at start). sealed(): the sealed envelope of one message, exactly
  // as sealed (without queued_at), for a DELIVER frame.
  Result<std::vector<Item>> items();
  Result<std::vector<std::string>> list();
  Result<std::string> sealed(const std::string& id);
  Result<size_t> count();

 private:
  InboundQueue(store::Env& env, store::Dbi db, crypto::PublicKey inner, bool writable)
      : env_(env), db_(db), inner_(inner), writable_(writable) {}
  static std::string key_for(const std::string& id) { return "in/" + id; }

  store::Env& env_;
  store::Dbi db_;
  crypto::PublicKey inner_;
  bool writable_;
};

}  // namespace nj::edge
