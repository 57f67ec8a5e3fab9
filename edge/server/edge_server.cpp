#include "edge/server/edge_server.h"

#include <algorithm>

#include "common/base/log.h"
#include "common/control/client.h"
#include "common/crypto/keyfile.h"
#include "common/dns/cares_resolver.h"
#include "edge/server/mx_session.h"

namespace nj::edge {
namespace {

constexpr int64_t kGreylistPurgeMs = 3600 * 1000;

int64_t seconds(config::Duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

// Config ranges are full IPv4 addresses; DNSBL filters count 127.0.0.x answers only.
Result<std::vector<std::pair<uint8_t, uint8_t>>> dnsbl_filter(const DnsblZone& z) {
  std::vector<std::pair<uint8_t, uint8_t>> out;
  for (const auto& r : z.match) {
    if ((r.first >> 8) != 0x7f0000 || (r.last >> 8) != 0x7f0000)
      return make_error("checks.dnsbl.zones: " + z.zone +
                        ": match ranges must lie in 127.0.0.0/24");
    out.emplace_back(static_cast<uint8_t>(r.first & 0xff), static_cast<uint8_t>(r.last & 0xff));
  }
  return out;
}

}  // namespace

EdgeServer::EdgeServer(const EdgeConfig& config, uv::Loop& loop, const Clock& clock)
    : cfg_(config),
      loop_(loop),
      clock_(clock),
      limiter_(checks::ConnectionLimits{
          static_cast<size_t>(config.limits.max_connections),
          static_cast<size_t>(config.limits.max_connections_per_client)}) {}

EdgeServer::~EdgeServer() {
  shutdown();
  sessions_.reset();
}

Result<std::unique_ptr<EdgeServer>> EdgeServer::create(const EdgeConfig& config, uv::Loop& loop,
                                                       const Clock& clock) {
  crypto::init();
  std::unique_ptr<EdgeServer> s(new EdgeServer(config, loop, clock));
  s->started_ = clock.now();

  auto edge_key = crypto::load_secret_key(config.keys.edge_secret);
  if (!edge_key) return make_error(edge_key.error());
  s->edge_key_.emplace(std::move(*edge_key));
  auto inner = crypto::load_public_key(config.keys.inner_public);
  if (!inner) return make_error(inner.error());
  s->inner_key_ = *inner;

  auto env = store::Env::open(config.data_dir + "/queue");
  if (!env) return make_error(config.data_dir + "/queue: " + env.error());
  s->env_.emplace(std::move(*env));
  auto q = InboundQueue::open(*s->env_, s->inner_key_);
  if (!q) return make_error(config.data_dir + "/queue: " + q.error());
  s->queue_ = std::move(*q);
  s->committer_ = std::make_unique<store::GroupCommitter>(*s->env_, loop.raw());
  if (!config.listen.link.empty()) {
    LinkServer::Options lo;
    lo.schedule = InboundSchedule::policy(config.inbound.retry_initial, config.inbound.retry_max,
                                          config.inbound.max_queue_lifetime);
    s->link_ = std::make_unique<LinkServer>(loop, *s->edge_key_, s->inner_key_, *s->queue_,
                                            *s->committer_, clock, lo);
  }

  dns::CaresOptions dopt;
  for (const auto& e : config.dns.servers) dopt.servers.push_back(e.str());
  dopt.timeout_ms = static_cast<int>(config.dns.timeout.count());
  dopt.tries = config.dns.tries;
  auto resolver = dns::CaresResolver::create(loop, dopt);
  if (!resolver) return make_error("dns: " + resolver.error());
  s->resolver_ = std::move(*resolver);

  if (s->link_) {
    if (auto st = s->start_outbound(); !st) return make_error(st.error());
  }

  if (!config.tls.cert.empty()) {
    auto ctx = tls::Context::server(config.tls.cert, config.tls.key);
    if (!ctx) return make_error("tls: " + ctx.error());
    s->tls_.emplace(std::move(*ctx));
  }

  auto& smtp = s->smtp_;
  smtp.hostname = config.hostname;
  smtp.max_message_size = config.limits.max_message_size;
  smtp.max_recipients = static_cast<size_t>(config.limits.max_recipients);
  smtp.max_errors = static_cast<size_t>(config.limits.max_errors);
  smtp.starttls_available = s->tls_.has_value();
  smtp.command_timeout =
      std::chrono::duration_cast<std::chrono::seconds>(config.limits.command_timeout);

  s->our_names_.hostname = config.hostname;
  for (const auto& d : config.domains) s->our_names_.domains.push_back(d.public_domain);
  for (const auto& e : config.listen.mx) s->our_names_.listen_addresses.push_back(e.host);
  for (const auto& e : config.listen.onion_mx) s->our_names_.listen_addresses.push_back(e.host);

  const auto& ch = config.checks;
  if (!ch.dnsbl.zones.empty()) {
    checks::DnsblOptions o;
    o.threshold = ch.dnsbl.threshold;
    for (const auto& z : ch.dnsbl.zones) {
      auto f = dnsbl_filter(z);
      if (!f) return make_error(f.error());
      o.zones.push_back(checks::DnsblZone{z.zone, z.weight, std::move(*f)});
    }
    s->dnsbl_ = std::make_unique<checks::DnsblScorer>(*s->resolver_, clock, std::move(o));
  }
  if (ch.sender.require_resolvable || ch.sender.reject_private_mx_ns) {
    checks::SenderDomainOptions o;
    o.allow_loopback = ch.sender.allow_loopback_dns;
    o.require_resolvable = ch.sender.require_resolvable;
    o.reject_private = ch.sender.reject_private_mx_ns;
    s->sender_domain_ = std::make_unique<checks::SenderDomainCheck>(*s->resolver_, o);
  }
  checks::SenderAllowlistOptions ao;
  for (const auto& a : ch.sender.allowlists) {
    checks::AllowlistRule rule;
    rule.domain = a.domain;
    for (const auto& c : a.clients) {
      if (c.network) {
        auto cidr = checks::parse_cidr(c.network->str());
        if (!cidr) return make_error("checks.sender.allowlists: " + cidr.error());
        rule.networks.push_back(*cidr);
      } else {
        rule.ptr_suffixes.push_back(c.host_suffix);
      }
    }
    ao.rules.push_back(std::move(rule));
  }
  s->allowlist_ = std::make_unique<checks::SenderAllowlist>(*s->resolver_, std::move(ao));
  if (ch.greylist.enabled) {
    checks::GreylistOptions o;
    o.delay = seconds(ch.greylist.delay);
    o.retry_window = seconds(ch.greylist.retry_window);
    o.max_age = seconds(ch.greylist.max_age);
    o.auto_allow_after = static_cast<uint32_t>(ch.greylist.auto_allow_after);
    s->greylist_ = std::make_unique<checks::Greylist>(s->greylist_store_, clock, o);
    s->greylist_purge_ = std::make_unique<uv::Timer>(loop);
    auto* gl = s->greylist_.get();
    s->greylist_purge_->start(kGreylistPurgeMs, kGreylistPurgeMs, [gl] {
      auto n = gl->purge();
      if (n) NJ_LOG_DEBUG("greylist purge removed=%zu", *n);
    });
  }
  if (!ch.clamd.socket.empty()) {
    checks::ClamdOptions o;
    if (ch.clamd.socket.front() == '/') {
      o.unix_path = ch.clamd.socket;
    } else {
      auto hp = uv::parse_host_port(ch.clamd.socket);
      if (!hp) return make_error("checks.clamd.socket: " + hp.error());
      o.host = hp->host;
      o.port = hp->port;
    }
    o.timeout_ms = static_cast<uint64_t>(ch.clamd.timeout.count());
    o.max_size = ch.clamd.max_size;
    s->clamd_ = std::make_unique<checks::ClamdClient>(loop, std::move(o));
    NJ_LOG_INFO("virus scanning by clamd at %s on_error=%s", s->clamd_->where().c_str(),
                ch.clamd.on_error == ClamdOnError::tempfail ? "tempfail" : "accept");
  }
  if (ch.auth.enabled) {
    auto lib = auth::DkimLibrary::create();
    if (!lib) return make_error("checks.auth: " + lib.error());
    auto psl = auth::PublicSuffixList::load(ch.auth.public_suffix_list);
    if (!psl) return make_error("checks.auth.public_suffix_list: " + psl.error());
    s->dkim_lib_ = std::move(*lib);
    s->psl_.emplace(std::move(*psl));
    auth::SenderAuthOptions o;
    o.authserv_id = config.hostname;
    o.dmarc_reject = ch.auth.dmarc_reject;
    s->auth_ = std::make_unique<auth::SenderAuth>(loop, *s->resolver_, s->dkim_lib_, *s->psl_,
                                                  std::move(o));
    NJ_LOG_INFO("sender authentication: spf dkim dmarc dmarc_reject=%s",
                ch.auth.dmarc_reject ? "yes" : "no");
  }
  s->sessions_ = std::make_unique<uv::SessionSet<MxSession>>(loop);
  s->add_collectors();
  return s;
}

Status EdgeServer::listen() {
  auto bind_all = [&](const std::vector<config::Endpoint>& eps, bool onion) -> Status {
    for (const auto& ep : eps) {
      auto l = uv::TcpListener::bind(
          loop_, ep.str(),
          [this, onion](std::unique_ptr<uv::Connection> c) { accept(std::move(c), onion); }, 1024);
      if (!l)
        return make_error((onion ? "listen.onion_mx " : "listen.mx ") + ep.str() + ": " +
                          l.error());
      NJ_LOG_INFO("listening %s on %s", onion ? "onion_mx" : "mx", ep.str().c_str());
      listeners_.push_back(std::move(*l));
    }
    return {};
  };
  if (auto st = bind_all(cfg_.listen.mx, false); !st) return st;
  if (auto st = bind_all(cfg_.listen.onion_mx, true); !st) return st;
  if (link_) {
    if (auto st = link_->listen(cfg_.listen.link); !st) return st;
  }
  if (cfg_.listen.metrics.port != 0) {
    auto ex = metrics::Exporter::start(loop_, cfg_.listen.metrics.str(), registry_);
    if (!ex) return make_error("listen.metrics " + cfg_.listen.metrics.str() + ": " + ex.error());
    exporter_ = std::move(*ex);
    NJ_LOG_INFO("listening metrics on %s", cfg_.listen.metrics.str().c_str());
  }
  auto ctl = control::ControlServer::start(
      loop_, control::socket_path(cfg_.data_dir),
      {{"status", [this](control::Reply reply) { reply(format_status(status_figures())); }}});
  if (!ctl) return make_error(ctl.error());
  control_ = std::move(*ctl);
  NJ_LOG_INFO("control socket %s", control_->path().c_str());
  return {};
}

void EdgeServer::accept(std::unique_ptr<uv::Connection> conn, bool onion) {
  if (stopping_) {
    conn->close();
    return;
  }
  auto adm = limiter_.acquire(conn->peer_ip());
  if (!adm.admitted()) {
    counters_.refused(Refusal::connection_limit);
    NJ_LOG_INFO("reject stage=connect code=421 reason=%s", adm.decision.reason.c_str());
    // Closed right after the reply; the connection object lives until libuv lets it go.
    (void)conn->write(
        smtp::Reply::make(adm.decision.code, adm.decision.enhanced, adm.decision.text).serialize());
    auto* raw = conn.get();
    raw->on_close([c = std::shared_ptr<uv::Connection>(std::move(conn))](const Status&) {});
    raw->shutdown_then_close();
    return;
  }
  counters_.connection(onion);
  sessions_->add(std::make_unique<MxSession>(*this, std::move(conn), std::move(adm.ticket), onion))
      ->start();
}

void EdgeServer::finished(MxSession* s) {
  sessions_->finished(s);
}

Status EdgeServer::start_outbound() {
  using namespace outbound;
  const auto& o = cfg_.outbound;
  RouterConfig rc;
  for (const auto& d : cfg_.domains) {
    rc.our_domains.push_back(d.public_domain);
    rc.our_domains.push_back(d.internal_domain);
  }
  if (!o.onion_map.empty()) {
    auto map = OnionMap::load(o.onion_map);
    if (!map) return make_error(map.error());
    rc.onion_map = std::move(*map);
  }
  rc.smtp_port = static_cast<uint16_t>(o.smtp_port);
  router_ = std::make_unique<Router>(*resolver_, std::move(rc));
  dialer_ = std::make_unique<NetDialer>(loop_, o.socks.port ? o.socks.str() : std::string(),
                                        static_cast<uint64_t>(o.connect_timeout.count()));
  // Opportunistic STARTTLS on the clearnet: no certificate check (RFC 7435).
  auto tc = tls::Context::client();
  if (!tc) return make_error("tls client: " + tc.error());
  tls_client_.emplace(std::move(*tc));
  DelivererConfig dc;
  dc.helo_name = cfg_.hostname;
  dc.public_domain = cfg_.domains.front().public_domain;
  dc.per_destination_limit = static_cast<size_t>(o.per_destination_limit);
  dc.allow_private_addresses = o.allow_private_addresses;
  dc.connection_cache_ms = static_cast<uint64_t>(o.connection_cache_time.count());
  dc.connection_reuse_limit = static_cast<size_t>(o.connection_reuse_limit);
  if (!cfg_.dkim.empty()) {
    // Read here, at start-up, like the edge's other keys (the unit's credentials are gone once
    // it stops); a key OpenDKIM will not sign with stops start-up.
    std::vector<dkim::SigningKey> keys;
    for (const auto& k : cfg_.dkim) {
      auto key = dkim::load_key(k.key, k.algorithm);
      if (!key) return make_error("dkim: " + key.error());
      keys.push_back({k.domain, k.selector, std::move(*key)});
    }
    auto signer = dkim::Signer::create(std::move(keys));
    if (!signer) return make_error(signer.error());
    dc.dkim = std::move(*signer);
    NJ_LOG_INFO("dkim: signing outbound mail with %zu key(s)", cfg_.dkim.size());
  }
  deliverer_ =
      std::make_unique<Deliverer>(loop_, *resolver_, *router_, *dialer_, &*tls_client_, clock_, dc);
  QueueOptions qo;
  qo.backoff.initial_s = std::chrono::duration_cast<std::chrono::seconds>(o.retry_initial).count();
  qo.backoff.max_s = std::chrono::duration_cast<std::chrono::seconds>(o.retry_max).count();
  qo.backoff.max_lifetime_s =
      std::chrono::duration_cast<std::chrono::seconds>(o.max_queue_lifetime).count();
  auto* deliverer = deliverer_.get();
  auto* link = link_.get();
  auto* counters = &counters_;
  auto q = EdgeOutboundQueue::open(
      *env_, *committer_, loop_, clock_, qo,
      [deliverer, counters](const queue::Envelope& e, std::vector<std::string> rcpts,
                            std::function<void(std::vector<RcptResult>)> done) {
        // Final results are counted as the queue reports them (once each); a transient failure
        // only here, since the queue keeps those recipients pending.
        deliverer->deliver(e, std::move(rcpts),
                           [counters, done = std::move(done)](std::vector<RcptResult> results) {
                             for (const auto& r : results)
                               if (r.status == RcptStatus::pending)
                                 counters->delivery(Delivery::deferred);
                             done(std::move(results));
                           });
      },
      [link, counters](const std::string& id, const std::vector<RcptResult>& results) {
        std::vector<link::RecipientStatus> st;
        for (const auto& r : results) {
          counters->delivery(r.status == RcptStatus::delivered ? Delivery::delivered
                             : r.status == RcptStatus::expired ? Delivery::expired
                                                               : Delivery::failed);
          link::RecipientStatus x;
          x.recipient = r.address;
          x.outcome = r.status == RcptStatus::delivered ? link::RecipientOutcome::delivered
                      : r.status == RcptStatus::expired ? link::RecipientOutcome::expired
                                                        : link::RecipientOutcome::failed;
          if (x.outcome == link::RecipientOutcome::failed) x.remote_reply = r.reply.substr(0, 2000);
          st.push_back(std::move(x));
        }
        link->report(id, std::move(st));
      });
  if (!q) return make_error("outbound queue: " + q.error());
  outbound_ = std::move(*q);
  outbound_->start();
  auto* out = outbound_.get();
  link_->on_submit([this, out](queue::Envelope e, std::function<void(Status)> done) {
    std::string id = e.id;
    out->enqueue(std::move(e), [this, id, done = std::move(done)](Status st) {
      if (st) {
        outbound_ids_.insert(id);
        // Ids of finished messages go at every status or scrape; without those, here, so the
        // set stays within twice the queue.
        if (outbound_ids_.size() > 2 * outbound_->size() + 64) (void)outbound_figures();
      }
      done(std::move(st));
    });
  });
  out->set_cancel([deliverer](const std::string& id) { deliverer->cancel(id); });
  link_->on_withdraw([out](const std::string& id, std::function<void(Status)> done) {
    out->withdraw(id, std::move(done));
  });
  return {};
}

void EdgeServer::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  // Also the destructor of a server whose create() failed part-way: any member may be unset.
  for (auto& l : listeners_) l->close();
  listeners_.clear();
  control_.reset();  // removes the socket file
  if (exporter_) exporter_->close();
  if (sessions_)
    for (auto* p : sessions_->snapshot()) p->close();
  if (link_) link_->shutdown();
  if (outbound_) outbound_->stop();
  if (greylist_purge_) greylist_purge_->stop();
  if (committer_) {
    committer_->shutdown();
    auto st = committer_->stats();
    NJ_LOG_INFO("store commits=%llu items=%llu failed=%llu",
                static_cast<unsigned long long>(st.batches),
                static_cast<unsigned long long>(st.items),
                static_cast<unsigned long long>(st.failed_items));
  }
}

QueueFigures EdgeServer::inbound_figures() {
  QueueFigures q;
  auto items = queue_->items();
  if (!items) {
    q.error = items.error();
    return q;
  }
  q.messages = items->size();
  for (const auto& it : *items)
    if (q.oldest == 0 || it.queued_at < q.oldest) q.oldest = it.queued_at;
  return q;
}

QueueFigures EdgeServer::outbound_figures() {
  QueueFigures q;
  for (auto it = outbound_ids_.begin(); it != outbound_ids_.end();) {
    const auto* e = outbound_->find(*it);
    if (!e) {
      it = outbound_ids_.erase(it);
      continue;
    }
    ++q.messages;
    for (const auto& r : e->recipients)
      if (r.status == outbound::RcptStatus::pending) ++q.recipients;
    if (q.oldest == 0 || e->first_queued < q.oldest) q.oldest = e->first_queued;
    ++it;
  }
  return q;
}

StatusFigures EdgeServer::status_figures() {
  StatusFigures f;
  f.now = clock_.now();
  f.started = started_;
  if (link_) f.link = link_->state();
  f.inbound = inbound_figures();
  if (outbound_) f.outbound = outbound_figures();
  f.sessions = session_count();
  f.connections = counters_.connections();
  f.messages_accepted = counters_.messages_accepted();
  f.refusals = counters_.refusals();
  for (size_t i = 0; i < kDeliveries; ++i)
    f.deliveries[i] = counters_.deliveries(static_cast<Delivery>(i));
  return f;
}

void EdgeServer::add_collectors() {
  auto& r = registry_;
  auto* sessions = &r.gauge("nightjar_edge_smtp_sessions", "SMTP sessions open now.");
  auto* in_msgs = &r.gauge("nightjar_edge_inbound_queue_messages",
                           "Messages in the inbound queue, waiting for the inner.");
  auto* in_age = &r.gauge("nightjar_edge_inbound_queue_oldest_seconds",
                          "Age of the oldest message in the inbound queue; 0 when empty.");
  r.on_collect([this, sessions, in_msgs, in_age] {
    sessions->set(static_cast<double>(session_count()));
    auto q = inbound_figures();
    if (!q.error.empty()) return;  // the gauges keep their last figures
    in_msgs->set(static_cast<double>(q.messages));
    in_age->set(q.messages ? static_cast<double>(std::max<int64_t>(clock_.now() - q.oldest, 0))
                           : 0.0);
  });
  if (link_) {
    auto* up = &r.gauge("nightjar_edge_link_up", "1 while the inner is linked, else 0.");
    auto* rtt = &r.gauge("nightjar_edge_link_rtt_seconds",
                         "Round trip of the link's last answered PING; 0 while down.");
    auto* opened = &r.counter("nightjar_edge_links_opened_total",
                              "Links the inner opened (handshakes completed).");
    r.on_collect([this, up, rtt, opened] {
      auto st = link_->state();
      up->set(st.up ? 1 : 0);
      rtt->set(static_cast<double>(st.rtt_ms) / 1000.0);
      opened->set(st.links_opened);
    });
  }
  if (link_ && outbound_) {
    auto* msgs = &r.gauge("nightjar_edge_outbound_queue_messages",
                          "Messages in the outbound queue with a recipient not yet final.");
    auto* rcpts = &r.gauge("nightjar_edge_outbound_queue_recipients",
                           "Recipients in the outbound queue without a final result.");
    auto* age = &r.gauge("nightjar_edge_outbound_queue_oldest_seconds",
                         "Age of the oldest message in the outbound queue; 0 when empty.");
    r.on_collect([this, msgs, rcpts, age] {
      auto q = outbound_figures();
      msgs->set(static_cast<double>(q.messages));
      rcpts->set(static_cast<double>(q.recipients));
      age->set(q.messages ? static_cast<double>(std::max<int64_t>(clock_.now() - q.oldest, 0))
                          : 0.0);
    });
  }
  std::vector<double> bounds(store::GroupCommitter::kBatchBounds.begin(),
                             store::GroupCommitter::kBatchBounds.end());
  auto* batches = &r.histogram("nightjar_store_commit_batch_size",
                               "Items per synced commit of the store (group commit).", bounds);
  auto* commits = &r.counter("nightjar_store_commits_total", "Synced commits of the store.");
  auto* failed = &r.counter("nightjar_store_failed_items_total",
                            "Store writes that failed (their own work, or their batch's commit).");
  r.on_collect([this, batches, commits, failed] {
    auto st = committer_->stats();
    batches->assign(std::vector<uint64_t>(st.batch_sizes.begin(), st.batch_sizes.end()),
                    static_cast<double>(st.batched_items));
    commits->set(st.batches);
    failed->set(st.failed_items);
  });
}

}  // namespace nj::edge
