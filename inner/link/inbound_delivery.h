// InboundDelivery: mail an edge pushes over the link (DELIVER), delivered into the users' sealed
// mailboxes. The edge sealed each envelope to the inner's public key; only here is it opened, on
// libuv's thread pool (an X25519 operation and a decode of up to the frame limit per message:
// a stream of resends must not stall the loop).
// Each copy gets the origin mark (common/mail/origin.h) at the top, under our Return-Path, after
// every field of that name already in the message is removed: the edge cannot make Internet
// mail look local, nor can its sender.
// Recipients that are no account (any more) are bounced at once to the envelope sender, and with
// the edge's last attempt (link::kDeliverLastAttempt) so are those whose mailbox still cannot take
// the message; the bounce (inbound_bounce.h) is queued for the Internet in the same commit as the
// deliveries. Every (message id, account) delivery and every bounced recipient is remembered for
// kRememberSeconds, so an edge that retransmits after a lost ACK, or after a temporary failure
// for one recipient, never makes a second copy nor a second bounce.
// What the edge learns from a DELIVER: ACK (delivered or bounced, the same for both), NACK
// temporary (a mailbox is full and this is not the last attempt, the store failed, or its
// VerifyGuard refuses DELIVERs for now), NACK permanent (does not open or decode). So no more
// than VERIFY tells it. The bounces go out through an edge, so a seized edge that forges the
// sender reads which names failed: unknown recipients are therefore counted by the sending
// edge's VerifyGuard like unknown VERIFY answers, and a cool-down refuses every DELIVER.
// Trust: the envelope comes from the paired edge (the link authenticated it) but its content is
// Internet mail, and the edge may be seized: decoded with limits, the sender checked as an
// address, recipients checked against our accounts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/mail/outbound.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"
#include "common/uv/loop.h"
#include "inner/accounts/accounts.h"
#include "inner/link/verify_guard.h"
#include "inner/mailbox/mailbox.h"
#include "inner/outbound/outbound_queue.h"

namespace nj::inner {

class InboundDelivery {
 public:
  static constexpr const char* kSchemaName = "inner.inbound";
  static constexpr uint32_t kSchemaVersion = 1;
  static constexpr int64_t kRememberSeconds = 30 * 86400;

  enum class Outcome {
    delivered,  // every recipient has it now, had it already, or was bounced: ACK
    temporary,  // a mailbox could not take it now, the store failed, or the guard refuses: NACK 1
    permanent,  // it can never be delivered (does not open with our key, malformed): NACK 2
  };
  struct Result {
    Outcome outcome = Outcome::temporary;
    size_t delivered = 0;  // new copies
    size_t unknown = 0;    // recipients that are no account (any more), handled now
    size_t full = 0;       // mailboxes that could not take it (waiting, or bounced: last attempt)
    size_t bounced = 0;    // recipients named in the bounce this delivery queued
    std::string reason;    // for the log and the NACK: no address, no content
  };

  // What a delivery uses; everything must outlive this object.
  struct Deps {
    uv::Loop& loop;  // envelopes are opened on its thread pool
    const crypto::KeyPair& inner;
    Accounts& accounts;
    Mailbox& mailbox;
    OutboundQueue& outbound;      // bounces are queued here
    mail::DomainRewrite domains;  // config domain.internal -> domain.public, for bounces
    const Clock& clock;
  };
  struct Options {
    // Runs on the thread that has just opened an envelope (tests check it is not the loop's).
    std::function<void()> opened_hook;
  };

  static nj::Result<std::unique_ptr<InboundDelivery>> open(store::Env& env, Deps deps,
                                                           Options options = {});

  // Opens `sealed` off the loop, then delivers to every recipient and queues the bounce in one
  // synced commit, then calls `done` on the loop (not when this object is gone by then).
  // `flags`: the DELIVER's link::kDeliver* bits. `guard`: the sending edge's, which may refuse the
  // whole DELIVER for now (a cool-down, or the unknown recipients in it start one). `gc` and
  // `guard` must outlive the completion.
  void deliver(store::GroupCommitter& gc, VerifyGuard& guard, std::string sealed, uint8_t flags,
               std::function<void(Result)> done);

  // Forgets delivery records older than kRememberSeconds.
  nj::Result<size_t> purge(store::GroupCommitter& gc);

 private:
  struct Opened;
  InboundDelivery(store::Env& env, store::Dbi db, Deps deps, Options options)
      : env_(env), db_(db), d_(std::move(deps)), opt_(std::move(options)) {}
  // On the thread pool: opens, decodes and checks the envelope and makes the marked copy.
  static void open_envelope(const crypto::KeyPair& inner, Opened& o);
  // On the loop, once the envelope is open: looks the recipients up, asks the guard, commits.
  void commit(store::GroupCommitter& gc, VerifyGuard& guard, std::shared_ptr<Opened> o,
              std::function<void(Result)> done);

  store::Env& env_;
  store::Dbi db_;
  Deps d_;
  Options opt_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace nj::inner
