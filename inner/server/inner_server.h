// InnerServer: the mailbox server users reach through Tor or I2P. It owns the store (accounts,
// sealed mailboxes, the outbound queue), the login guard and the loopback listeners for
// submission and POP3, and runs one session per connection on one libuv loop. Durable commits
// happen on the store's writer thread; Argon2id runs on libuv's thread pool.
// Trust: every client is hostile until it authenticates, and every connection arrives from
// 127.0.0.1 through the overlay, so nothing is ever granted by address. After AUTH a client may
// send only as its own account.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/smtp/server.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"
#include "common/uv/handles.h"
#include "common/uv/session_set.h"
#include "common/uv/tcp.h"
#include "inner/accounts/accounts.h"
#include "inner/accounts/login_guard.h"
#include "inner/config/config.h"
#include "inner/link/inbound_delivery.h"
#include "inner/link/link_client.h"
#include "inner/mailbox/mailbox.h"
#include "inner/outbound/outbound_queue.h"
#include "inner/policy/delay.h"
#include "inner/policy/quota_store.h"

namespace nj::inner {

// What both session kinds share with the server.
class InnerSession {
 public:
  virtual ~InnerSession() = default;
  virtual void start() = 0;
  virtual void close() = 0;
};

class InnerServer {
 public:
  static Result<std::unique_ptr<InnerServer>> create(const InnerConfig& config, uv::Loop& loop,
                                                     const Clock& clock);
  ~InnerServer();

  Status listen();
  void shutdown();

  // For the sessions.
  const InnerConfig& config() const { return cfg_; }
  uv::Loop& loop() { return loop_; }
  const Clock& clock() const { return clock_; }
  Accounts& accounts() { return *accounts_; }
  Mailbox& mailbox() { return *mailbox_; }
  OutboundQueue& outbound() { return *outbound_; }
  policy::QuotaStore& quota() { return *quota_; }
  const policy::DelayRules& delay_rules() const { return delay_rules_; }
  // The delay class of an account: its `delay` setting, else delay.default.
  policy::DelayClass delay_class(const std::string& address);
  // Internet-bound mail due at `now`, re-dated to `now` (for the link; see
  // OutboundQueue::released and release_in).
  Result<std::vector<queue::Envelope>> released(int64_t now) {
    return outbound_->released(*inner_key_, now);
  }
  store::GroupCommitter& committer() { return *committer_; }
  LoginGuard& guard() { return guard_; }
  const smtp::ServerConfig& smtp_config() const { return smtp_; }
  uint64_t next_connection_id() { return ++connection_ids_; }
  void finished(InnerSession* s) { sessions_->finished(s); }
  // A submission queued Internet mail as `id`, due at `due`: the link takes it at once when due.
  void outbound_committed(const std::string& id, int64_t due) {
    if (link_) link_->queued(id, due);
  }

  // One POP3 session per mailbox at a time (RFC 1939 8: the maildrop is locked).
  bool lock_mailbox(const std::string& account_id) { return locked_.insert(account_id).second; }
  void unlock_mailbox(const std::string& account_id) { locked_.erase(account_id); }

  // "local@internal" when `domain` is one of ours (internal or public), else nullopt.
  std::optional<std::string> local_address(std::string_view local, std::string_view domain) const;

 private:
  InnerServer(const InnerConfig& config, uv::Loop& loop, const Clock& clock);
  void accept(std::unique_ptr<uv::Connection> conn, bool pop3);

  const InnerConfig& cfg_;
  uv::Loop& loop_;
  const Clock& clock_;
  smtp::ServerConfig smtp_;
  std::optional<crypto::KeyPair> inner_key_;
  std::optional<store::Env> env_;
  std::unique_ptr<store::GroupCommitter> committer_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<Mailbox> mailbox_;
  std::unique_ptr<OutboundQueue> outbound_;
  std::unique_ptr<policy::QuotaStore> quota_;
  policy::DelayRules delay_rules_;
  policy::DelayClass default_delay_ = policy::DelayClass::defer;
  std::optional<crypto::PublicKey> edge_key_;
  std::unique_ptr<InboundDelivery> inbound_;
  std::unique_ptr<VerifyGuard> verify_guard_;     // these four: null without an `edge` section
  std::unique_ptr<EdgeRequests> edge_requests_;
  std::unique_ptr<OutboundHandover> handover_;
  std::unique_ptr<LinkClient> link_;
  std::unique_ptr<uv::Timer> maintenance_;
  LoginGuard guard_;
  std::unordered_set<std::string> locked_;
  uint64_t connection_ids_ = 0;
  std::vector<std::unique_ptr<uv::TcpListener>> listeners_;
  std::unique_ptr<uv::SessionSet<InnerSession>> sessions_;
  bool stopping_ = false;
};

}  // namespace nj::inner
