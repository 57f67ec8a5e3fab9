#include "inner/server/inner_server.h"

#include <algorithm>

#include "common/base/log.h"
#include "common/crypto/keyfile.h"
#include "common/uv/work.h"
#include "common/base/ascii.h"
#include "inner/server/pop3_session.h"
#include "inner/server/submission_session.h"

namespace nj::inner {
using ascii::iequals;

InnerServer::InnerServer(const InnerConfig& config, uv::Loop& loop, const Clock& clock)
    : cfg_(config),
      loop_(loop),
      clock_(clock),
      guard_(clock, LoginGuard::Options{static_cast<unsigned>(config.auth.max_failures),
                                        static_cast<uint64_t>(config.auth.lockout.count())}) {}

InnerServer::~InnerServer() {
  shutdown();
  sessions_.reset();
}

Result<std::unique_ptr<InnerServer>> InnerServer::create(const InnerConfig& config, uv::Loop& loop,
                                                         const Clock& clock,
                                                         std::string config_path) {
  crypto::init();
  std::unique_ptr<InnerServer> s(new InnerServer(config, loop, clock));
  s->config_path_ = std::move(config_path);
  auto key = crypto::load_secret_key(config.keys.inner_secret);
  if (!key) return make_error(key.error());
  s->inner_key_.emplace(std::move(*key));

  const std::string dir = config.data_dir + "/store";
  auto env = store::Env::open(dir);
  if (!env) return make_error(dir + ": " + env.error());
  s->env_.emplace(std::move(*env));
  auto accounts = Accounts::open(*s->env_, Accounts::Options{config.domain.internal_domain}, clock);
  if (!accounts) return make_error(dir + ": " + accounts.error());
  s->accounts_ = std::move(*accounts);
  auto mailbox =
      Mailbox::open(*s->env_, *s->accounts_, Mailbox::Options{config.mailbox.max_size}, clock);
  if (!mailbox) return make_error(dir + ": " + mailbox.error());
  s->mailbox_ = std::move(*mailbox);
  auto outbound = OutboundQueue::open(*s->env_, *s->inner_key_);
  if (!outbound) return make_error(dir + ": " + outbound.error());
  s->outbound_ = std::move(*outbound);
  policy::QuotaRules rules;
  rules.daily = config.quota.daily;
  rules.prices.clear();
  for (const auto& p : config.quota.prices) rules.prices[p.bits] = p.recipients;
  auto quota = policy::QuotaStore::open(*s->env_, std::move(rules));
  if (!quota) return make_error(dir + ": " + quota.error());
  s->quota_ = std::move(*quota);
  s->accounts_->add_eraser([q = s->quota_.get()](store::Txn& txn, std::string_view id) {
    return q->forget_in(txn, std::string(id));
  });
  s->delay_rules_.defer_min = config.delay.defer_min.count() / 1000;
  s->delay_rules_.defer_max = config.delay.defer_max.count() / 1000;
  s->delay_rules_.batch_times.assign(config.delay.batch_times.begin(),
                                     config.delay.batch_times.end());
  s->default_delay_ =
      policy::parse_delay_class(config.delay.default_class).value_or(policy::DelayClass::defer);
  s->committer_ = std::make_unique<store::GroupCommitter>(*s->env_, loop.raw());
  auto inbound = InboundDelivery::open(
      *s->env_, InboundDelivery::Deps{loop, *s->inner_key_, *s->accounts_, *s->mailbox_,
                                      *s->outbound_,
                                      {config.domain.internal_domain, config.domain.public_domain},
                                      clock});
  if (!inbound) return make_error(dir + ": " + inbound.error());
  s->inbound_ = std::move(*inbound);
  auto registry = EdgeRegistry::open(*s->env_);
  if (!registry) return make_error(dir + ": " + registry.error());
  s->registry_ = std::move(*registry);
  OutboundHandover::Options oo;
  oo.max_payload = link::kDefaultMaxPayload;
  s->handover_ = std::make_unique<OutboundHandover>(
      loop,
      OutboundHandover::Deps{*s->outbound_, *s->mailbox_, *s->accounts_, config, clock,
                             *s->committer_, *s->inner_key_},
      oo);
  std::vector<std::string> warnings;
  auto fleet = effective_fleet(config, *s->registry_, warnings);
  if (!fleet) return make_error(fleet.error());
  for (const auto& w : warnings) NJ_LOG_WARN("fleet: %s", w.c_str());
  for (const auto& e : *fleet) {
    if (!e.link.public_key.empty()) s->key_files_.insert_or_assign(e.link.public_key, e.key);
    std::string edge_key(e.key.view());
    s->handover_->add_edge(edge_key, e.link.name,
                           static_cast<uint64_t>(e.link.failover_after.count()));
    s->fleet_.emplace(edge_key, s->make_member(e));
  }
  // Daily: forget old link delivery records.
  s->maintenance_ = std::make_unique<uv::Timer>(loop);
  auto* raw = s.get();
  s->maintenance_->start(3600 * 1000, 3600 * 1000, [raw] {
    uv::queue_work(
        raw->loop_, [raw] { (void)raw->inbound_->purge(*raw->committer_); }, nullptr);
    // Spent stamps and credits that can no longer matter.
    int64_t now = raw->clock_.now();
    raw->committer_->submit(
        [raw, now](store::Txn& txn) -> Status {
          auto n = raw->quota_->purge_in(txn, now);
          if (!n) return make_error(n.error());
          return {};
        },
        [](Status) {});
  });

  auto& smtp = s->smtp_;
  smtp.hostname = config.hostname;
  smtp.max_message_size = config.limits.max_message_size;
  smtp.max_recipients = static_cast<size_t>(config.limits.max_recipients);
  smtp.auth_enabled = true;
  smtp.auth_required = true;
  s->sessions_ = std::make_unique<uv::SessionSet<InnerSession>>(loop);
  return s;
}

policy::DelayClass InnerServer::delay_class(const std::string& address) {
  auto info = accounts_->show(address);
  if (info && *info) {
    auto it = (*info)->settings.find("delay");
    if (it != (*info)->settings.end())
      if (auto c = policy::parse_delay_class(it->second)) return *c;
  }
  return default_delay_;
}

Status InnerServer::listen() {
  auto bind_all = [&](const std::vector<config::Endpoint>& eps, bool pop3) -> Status {
    const char* what = pop3 ? "listen.pop3" : "listen.submission";
    for (const auto& ep : eps) {
      // The config refuses these already; binding is where it must never slip.
      if (!is_loopback(ep))
        return make_error(std::string(what) + " " + ep.str() + ": not a loopback address");
      auto l = uv::TcpListener::bind(
          loop_, ep.str(),
          [this, pop3](std::unique_ptr<uv::Connection> c) { accept(std::move(c), pop3); });
      if (!l) return make_error(std::string(what) + " " + ep.str() + ": " + l.error());
      NJ_LOG_INFO("listening %s on %s", pop3 ? "pop3" : "submission", ep.str().c_str());
      listeners_.push_back(std::move(*l));
    }
    return {};
  };
  if (auto st = bind_all(cfg_.listen.submission, false); !st) return st;
  if (auto st = bind_all(cfg_.listen.pop3, true); !st) return st;
  if (auto st = start_observing(); !st) return st;
  listening_ = true;
  started_at_ = clock_.now();
  for (auto& [key, m] : fleet_) m->link->start();
  handover_->start();
  NJ_LOG_INFO("fleet: %zu edges", fleet_.size());
  return {};
}

std::unique_ptr<InnerServer::Member> InnerServer::make_member(const EdgeSpec& spec) {
  auto m = std::make_unique<Member>();
  m->spec = spec;
  auto* accts = accounts_.get();
  auto* mbox = mailbox_.get();
  m->guard = std::make_unique<VerifyGuard>(
      [accts, mbox](std::string_view rcpt) { return lookup_recipient(*accts, *mbox, rcpt); });
  m->requests = std::make_unique<EdgeRequests>(*inbound_, *committer_, *m->guard, clock_);
  m->link = std::make_unique<LinkClient>(loop_, spec.link, *inner_key_, spec.key, *m->requests,
                                         *handover_, clock_, LinkClient::Options{});
  return m;
}

void InnerServer::retire(std::unique_ptr<Member> m, const std::string& why) {
  m->link->shutdown(why);
  // Kept until the inner stops: a DELIVER it was committing still holds its guard and
  // requests, however long the store takes. One small object per fleet change by the operator.
  leaving_.push_back(std::move(m));
}

std::vector<std::string> InnerServer::apply_fleet(const std::vector<EdgeSpec>& want) {
  std::vector<std::string> changes;
  std::map<std::string, const EdgeSpec*> wanted;
  for (const auto& e : want) wanted.emplace(std::string(e.key.view()), &e);
  for (auto it = fleet_.begin(); it != fleet_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    auto revoked = registry_->is_revoked(it->second->spec.key);
    bool r = revoked && *revoked;
    std::string name = it->second->spec.link.name;
    // Told to forget what it holds (while its link is up), then closed; what it held goes to
    // the others at once.
    handover_->remove_edge(it->first, r);
    retire(std::move(it->second), r ? "this edge was revoked by the inner's operator"
                                    : "this edge was removed from the inner's fleet");
    it = fleet_.erase(it);
    changes.push_back("edge " + name + (r ? " revoked: link closed, never dialed again"
                                          : " removed: link closed"));
  }
  for (const auto& e : want) {
    std::string key(e.key.view());
    auto it = fleet_.find(key);
    const auto& l = e.link;
    if (it != fleet_.end()) {
      const auto& o = it->second->spec.link;
      if (o.name == l.name && o.address == l.address && o.transport == l.transport &&
          o.socks.str() == l.socks.str() && o.failover_after == l.failover_after)
        continue;
      retire(std::move(it->second), "this edge's settings changed: the inner dials it anew");
      fleet_.erase(it);
      changes.push_back("edge " + l.name + " changed: redialed");
    } else {
      changes.push_back("edge " + l.name + " added (" + e.origin + ")");
    }
    handover_->add_edge(key, l.name, static_cast<uint64_t>(l.failover_after.count()));
    auto m = make_member(e);
    if (listening_ && !stopping_) m->link->start();
    fleet_.emplace(key, std::move(m));
  }
  return changes;
}

Result<std::vector<std::string>> InnerServer::reload() {
  if (stopping_) return make_error("the inner is stopping");
  InnerConfig fresh;
  if (!config_path_.empty()) {
    auto c = load(config_path_);
    if (!c) return make_error(c.error());
    fresh = std::move(*c);
  } else {
    fresh = cfg_;
  }
  std::vector<std::string> warnings;
  auto want = effective_fleet(fresh, *registry_, warnings, &key_files_);
  if (!want) return make_error(want.error());
  for (const auto& e : *want)
    if (!e.link.public_key.empty()) key_files_.insert_or_assign(e.link.public_key, e.key);
  for (const auto& w : warnings) NJ_LOG_WARN("fleet: %s", w.c_str());
  auto changes = apply_fleet(*want);
  for (const auto& c : changes) NJ_LOG_INFO("fleet: %s", c.c_str());
  if (changes.empty()) changes.push_back("the fleet is unchanged");
  for (auto& w : warnings) changes.push_back("warning: " + w);
  return changes;
}

void InnerServer::accept(std::unique_ptr<uv::Connection> conn, bool pop3) {
  const char* listener = pop3 ? "pop3" : "submission";
  metrics_.counter("nightjar_inner_connections_total", "Connections accepted by listener.",
                   {{"listener", listener}}).inc();
  if (stopping_ || sessions_->size() >= static_cast<size_t>(cfg_.limits.max_connections)) {
    NJ_LOG_INFO("reject stage=connect reason=%s", stopping_ ? "stopping" : "too many connections");
    counted_refusal(stopping_ ? "stopping" : "too_many_connections");
    conn->close();
    return;
  }
  std::unique_ptr<InnerSession> s;
  if (pop3)
    s = std::make_unique<Pop3Session>(*this, std::move(conn));
  else
    s = std::make_unique<SubmissionSession>(*this, std::move(conn));
  sessions_->add(std::move(s))->start();
}

std::optional<std::string> InnerServer::local_address(std::string_view local,
                                                      std::string_view domain) const {
  if (iequals(domain, cfg_.domain.internal_domain) || iequals(domain, cfg_.domain.public_domain))
    return std::string(local) + "@" + cfg_.domain.internal_domain;
  return std::nullopt;
}

void InnerServer::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& l : listeners_) l->close();
  listeners_.clear();
  if (control_) control_->close();
  if (exporter_) exporter_->close();
  if (sessions_)
    for (auto* p : sessions_->snapshot()) p->close();
  for (auto& [key, m] : fleet_) m->link->shutdown();
  if (handover_) handover_->stop();
  if (maintenance_) maintenance_->stop();
  if (committer_) committer_->shutdown();
}

}  // namespace nj::inner
