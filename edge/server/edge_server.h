// EdgeServer: the edge's inbound MX. It owns the listeners (public MX and onion MX), the
// anti-abuse checks, the resolver and the sealed inbound queue, and runs one MxSession per
// connection. Everything runs on one libuv loop; durable commits happen on the store's writer
// thread and come back to the loop.
// It also shows itself: a `status` command on the control socket (<data_dir>/control.sock,
// for `nightjarctl status`) and, when `listen.metrics` is set, Prometheus metrics on loopback
// (edge/server/observe.h, docs/metrics.md): counts, times and states only.
// Trust: every connection is hostile. The onion MX listener trusts its peer address even less:
// every onion connection arrives from 127.0.0.1, so nothing is ever granted by address.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/control/server.h"
#include "common/crypto/crypto.h"
#include "common/dns/resolver.h"
#include "common/metrics/exporter.h"
#include "common/metrics/registry.h"
#include "common/smtp/server.h"
#include "common/store/group_commit.h"
#include "common/store/lmdb.h"
#include "common/tls/tls.h"
#include "common/uv/handles.h"
#include "common/uv/session_set.h"
#include "common/uv/tcp.h"
#include "edge/auth/sender_auth.h"
#include "edge/checks/clamd.h"
#include "edge/checks/connection_limiter.h"
#include "edge/checks/dnsbl.h"
#include "edge/checks/greylist.h"
#include "edge/checks/greylist_store.h"
#include "edge/checks/helo.h"
#include "edge/checks/sender_allowlist.h"
#include "edge/checks/sender_domain.h"
#include "edge/config/config.h"
#include "edge/link/link_server.h"
#include "edge/outbound/deliverer.h"
#include "edge/outbound/edge_outbound_queue.h"
#include "edge/outbound/router.h"
#include "edge/queue/inbound_queue.h"
#include "edge/server/observe.h"

namespace nj::edge {

class MxSession;

class EdgeServer {
 public:
  // Loads keys, opens the store and builds the checks. Binds nothing yet.
  static Result<std::unique_ptr<EdgeServer>> create(const EdgeConfig& config, uv::Loop& loop,
                                                    const Clock& clock);
  ~EdgeServer();

  // Binds every configured listener (before privileges are dropped): the MX listeners, the
  // link, the metrics listener when configured, and the control socket.
  Status listen();
  // Stops accepting, ends every session, drains the writer. The loop then runs out. Safe on a
  // server that create() left half-built (the destructor runs it when create() fails).
  void shutdown();

  size_t session_count() const { return sessions_ ? sessions_->size() : 0; }
  // What `nightjarctl status` shows, as of now.
  StatusFigures status_figures();
  uint16_t metrics_port() const { return exporter_ ? exporter_->port() : 0; }
  const std::vector<std::unique_ptr<uv::TcpListener>>& listeners() const { return listeners_; }

 private:
  friend class MxSession;
  EdgeServer(const EdgeConfig& config, uv::Loop& loop, const Clock& clock);
  void accept(std::unique_ptr<uv::Connection> conn, bool onion);
  Status start_outbound();
  void finished(MxSession* s);  // the session is deleted on the next loop turn
  void add_collectors();        // the gauges a scrape copies from the live state
  QueueFigures inbound_figures();
  QueueFigures outbound_figures();

  const EdgeConfig& cfg_;
  uv::Loop& loop_;
  const Clock& clock_;
  smtp::ServerConfig smtp_;
  checks::OurNames our_names_;

  std::optional<crypto::KeyPair> edge_key_;
  crypto::PublicKey inner_key_;
  std::optional<store::Env> env_;
  std::unique_ptr<store::GroupCommitter> committer_;
  std::unique_ptr<InboundQueue> queue_;
  std::unique_ptr<LinkServer> link_;  // null when listen.link is empty
  // Outbound delivery of what the inner submits over the link (with the link only).
  std::optional<tls::Context> tls_client_;
  std::unique_ptr<outbound::Router> router_;
  std::unique_ptr<outbound::NetDialer> dialer_;
  std::unique_ptr<outbound::Deliverer> deliverer_;
  std::unique_ptr<outbound::EdgeOutboundQueue> outbound_;
  std::unique_ptr<dns::Resolver> resolver_;
  // Sender authentication (checks.auth); null when off. After the resolver: gone before it.
  std::shared_ptr<const auth::DkimLibrary> dkim_lib_;
  std::optional<auth::PublicSuffixList> psl_;
  std::unique_ptr<auth::SenderAuth> auth_;
  std::optional<tls::Context> tls_;

  checks::ConnectionLimiter limiter_;
  std::unique_ptr<checks::DnsblScorer> dnsbl_;
  std::unique_ptr<checks::SenderDomainCheck> sender_domain_;
  std::unique_ptr<checks::SenderAllowlist> allowlist_;
  checks::MemoryGreylistStore greylist_store_;
  std::unique_ptr<checks::Greylist> greylist_;
  std::unique_ptr<uv::Timer> greylist_purge_;
  std::unique_ptr<checks::ClamdClient> clamd_;  // null without checks.clamd

  std::vector<std::unique_ptr<uv::TcpListener>> listeners_;
  std::unique_ptr<uv::SessionSet<MxSession>> sessions_;
  bool stopping_ = false;

  // Observation. The registry always counts; the exporter serves it when listen.metrics is set.
  int64_t started_ = 0;
  metrics::Registry registry_;
  EdgeCounters counters_{registry_};
  std::unique_ptr<metrics::Exporter> exporter_;
  std::unique_ptr<control::ControlServer> control_;
  // Ids of messages committed to the outbound queue (the queue has no listing of its own); one it
  // no longer holds is dropped whenever the figures are gathered.
  std::set<std::string> outbound_ids_;
};

}  // namespace nj::edge
