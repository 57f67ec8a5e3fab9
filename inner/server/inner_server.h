// InnerServer: the mailbox server users reach through Tor or I2P. It owns the store (accounts,
// sealed mailboxes, the outbound queue), the login guard and the loopback listeners for
// submission and POP3, and runs one session per connection on one libuv loop. Durable commits
// happen on the store's writer thread; Argon2id runs on libuv's thread pool.
// Trust: every client is hostile until it authenticates, and every connection arrives from
// 127.0.0.1 through the overlay, so nothing is ever granted by address. After AUTH a client may
// send only as its own account.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/control/server.h"
#include "common/crypto/crypto.h"
#include "common/metrics/exporter.h"
#include "common/metrics/registry.h"
#include "common/smtp/server.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"
#include "common/uv/handles.h"
#include "common/uv/session_set.h"
#include "common/uv/tcp.h"
#include "inner/accounts/accounts.h"
#include "inner/accounts/login_guard.h"
#include "inner/config/config.h"
#include "inner/fleet/edge_registry.h"
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
  // `config_path`: the file `config` was read from, re-read by reload() for its fleet (empty:
  // reload() uses `config`'s list again, with the registry's changes).
  static Result<std::unique_ptr<InnerServer>> create(const InnerConfig& config, uv::Loop& loop,
                                                     const Clock& clock,
                                                     std::string config_path = {});
  ~InnerServer();

  Status listen();
  void shutdown();

  // Re-reads the fleet (inner.yaml's `edges:` and the registry nightjarctl edge writes) and
  // applies the difference while running: new edges are dialed, removed ones closed (revoked
  // ones told to forget what they hold first) and what they held handed to the others, changed
  // ones redialed. One line per change (or that nothing changed); an error changes nothing.
  // SIGHUP and the control socket's `reload` both come here.
  Result<std::vector<std::string>> reload();

  // Each edge of the fleet as status and metrics show it: never an address.
  struct EdgeStatus {
    std::string name;
    LinkClient::State link;
    OutboundHandover::EdgeLoad load;
  };
  // `queued`: the outbound queue's list, read once by the caller. Sorted by name; a link's
  // last error has its addresses replaced by words.
  std::vector<EdgeStatus> fleet_status(const std::vector<OutboundQueue::Item>& queued);
  const OutboundHandover* handover() const { return handover_.get(); }
  // `nightjarctl status`: the fleet's links and loads, the outbound queue by state and delay
  // class. Counts, times, states and the edges' names only: never an address or an account.
  Result<std::string> status_text();
  // The daemon's metrics (docs/metrics.md); listen.metrics serves them.
  metrics::Registry& metrics() { return metrics_; }

  // For the sessions' counters: a submission committed (copies for local mailboxes and for
  // the Internet), or refused after DATA (`why`: a fixed DeliveryStatus name).
  void counted_message(size_t local, size_t remote);
  // `why`: one of kRefusalReasons (observe.cpp), which docs/metrics.md lists.
  void counted_refusal(const char* why);
  void counted_refusal(DeliveryStatus st);

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
    if (handover_) handover_->queued(id, due);
  }

  // One POP3 session per mailbox at a time (RFC 1939 8: the maildrop is locked).
  bool lock_mailbox(const std::string& account_id) { return locked_.insert(account_id).second; }
  void unlock_mailbox(const std::string& account_id) { locked_.erase(account_id); }

  // "local@internal" when `domain` is one of ours (internal or public), else nullopt.
  std::optional<std::string> local_address(std::string_view local, std::string_view domain) const;

 private:
  InnerServer(const InnerConfig& config, uv::Loop& loop, const Clock& clock);
  void accept(std::unique_ptr<uv::Connection> conn, bool pop3);

  // One edge of the fleet: its own recipient-check guard (kept while it is a member, not per
  // connection), its requests and its link.
  struct Member {
    EdgeSpec spec;
    std::unique_ptr<VerifyGuard> guard;
    std::unique_ptr<EdgeRequests> requests;
    std::unique_ptr<LinkClient> link;
  };
  std::unique_ptr<Member> make_member(const EdgeSpec& spec);
  // Makes the running fleet `want`; returns what changed, for the log and the ctl.
  std::vector<std::string> apply_fleet(const std::vector<EdgeSpec>& want);
  // The control socket (status, reload) and, with listen.metrics, the exporter.
  Status start_observing();
  void register_metrics();
  // A member leaving: its link closed with `why`.
  void retire(std::unique_ptr<Member> m, const std::string& why);

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
  std::string config_path_;
  std::unique_ptr<InboundDelivery> inbound_;
  std::unique_ptr<EdgeRegistry> registry_;
  std::unique_ptr<OutboundHandover> handover_;
  std::map<std::string, std::unique_ptr<Member>> fleet_;  // by the edge's key
  KnownKeys key_files_;  // inner.yaml's edge keys as read at start-up (and at reloads since)
  std::vector<std::unique_ptr<Member>> leaving_;          // closed; freed when the inner stops
  bool listening_ = false;
  std::unique_ptr<uv::Timer> maintenance_;
  LoginGuard guard_;
  std::unordered_set<std::string> locked_;
  uint64_t connection_ids_ = 0;
  std::vector<std::unique_ptr<uv::TcpListener>> listeners_;
  std::unique_ptr<uv::SessionSet<InnerSession>> sessions_;
  bool stopping_ = false;
  int64_t started_at_ = 0;
  metrics::Registry metrics_;
  std::set<std::string> metric_edges_;  // the edge names with series in metrics_
  std::unique_ptr<metrics::Exporter> exporter_;
  std::unique_ptr<control::ControlServer> control_;
};

}  // namespace nj::inner
