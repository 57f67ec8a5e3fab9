#include "edge/outbound/deliverer.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "common/base/log.h"
#include "common/dns/address_class.h"
#include "common/mail/sanitize.h"
#include "common/uv/handles.h"

namespace nj::edge::outbound {

// ---- ConcurrencyLimiter ----

uint64_t ConcurrencyLimiter::acquire(const std::string& key, std::function<void()> granted) {
  Slot& s = slots_[key];
  uint64_t ticket = next_ticket_++;
  if (s.active < limit_ && s.waiters.empty()) {
    ++s.active;
    granted();
    return ticket;
  }
  s.waiters.emplace_back(ticket, std::move(granted));
  return ticket;
}

void ConcurrencyLimiter::cancel(const std::string& key, uint64_t ticket) {
  auto it = slots_.find(key);
  if (it == slots_.end()) return;
  auto& w = it->second.waiters;
  w.erase(std::remove_if(w.begin(), w.end(), [&](const auto& p) { return p.first == ticket; }),
          w.end());
  if (it->second.active == 0 && w.empty()) slots_.erase(it);
}

void ConcurrencyLimiter::release(const std::string& key) {
  auto it = slots_.find(key);
  if (it == slots_.end() || it->second.active == 0) return;
  Slot& s = it->second;
  if (!s.waiters.empty()) {
    // The slot passes straight to the next waiter: the count stays.
    auto next = std::move(s.waiters.front().second);
    s.waiters.pop_front();
    next();
    return;
  }
  if (--s.active == 0) slots_.erase(it);
}

size_t ConcurrencyLimiter::active(const std::string& key) const {
  auto it = slots_.find(key);
  return it == slots_.end() ? 0 : it->second.active;
}

size_t ConcurrencyLimiter::waiting(const std::string& key) const {
  auto it = slots_.find(key);
  return it == slots_.end() ? 0 : it->second.waiters.size();
}

// ---- NetDialer ----

namespace {

struct DirectPending final : Dialer::Pending {
  std::unique_ptr<uv::Connection> conn;
  std::unique_ptr<uv::Timer> timer;
};

struct SocksPending final : Dialer::Pending {
  std::unique_ptr<socks::Attempt> attempt;
};

}  // namespace

Result<std::unique_ptr<Dialer::Pending>> NetDialer::dial(const Destination& d,
                                                         const std::string& ip,
                                                         const std::string& isolation_tag,
                                                         Callback cb) {
  if (d.via_socks) {
    if (proxy_.empty()) return make_error("no SOCKS proxy configured for onion delivery");
    socks::ConnectOptions o;
    o.timeout_ms = timeout_ms_;
    auto a = socks::connect(loop_, proxy_, d.host, d.port, isolation_tag, std::move(cb), o);
    if (!a) return make_error(a.error());
    auto p = std::make_unique<SocksPending>();
    p->attempt = std::move(*a);
    return std::unique_ptr<Dialer::Pending>(std::move(p));
  }
  auto p = std::make_unique<DirectPending>();
  DirectPending* raw = p.get();
  auto shared_cb = std::make_shared<Callback>(std::move(cb));
  auto c = uv::Connection::connect(loop_, ip, d.port, [raw, shared_cb](const Status& s) {
    raw->timer->stop();
    if (!s) {
      (*shared_cb)(make_error(s.error()));
      return;
    }
    socks::Connected out;
    out.conn = std::move(raw->conn);
    (*shared_cb)(std::move(out));
  });
  if (!c) return make_error(c.error());
  p->conn = std::move(*c);
  p->timer = std::make_unique<uv::Timer>(loop_);
  p->timer->start(timeout_ms_, 0, [raw, shared_cb] {
    raw->conn.reset();  // cancels the connect silently
    (*shared_cb)(make_error("connect timed out"));
  });
  return std::unique_ptr<Dialer::Pending>(std::move(p));
}

// ---- helpers ----

std::string reply_text(const smtp::Reply& r) {
  std::string out = std::to_string(r.code);
  if (!r.enhanced.empty()) out += " " + r.enhanced;
  std::string t = r.text();
  for (char& c : t) {
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
  if (!t.empty()) out += " " + t;
  return out;
}

Result<std::string> prepare_outbound(const queue::Envelope& e, const DelivererConfig& config,
                                     std::time_t send_time) {
  mail::OutboundPolicy policy;
  policy.public_domain = config.public_domain;
  policy.send_time = send_time;
  policy.rewrites = config.rewrites;
  policy.limits = config.mime_limits;
  auto clean = mail::sanitize_outbound(e.message, policy);
  if (!clean) return make_error(clean.error());
  // Signed after sanitizing, over exactly what is sent (the Received line is not signed).
  std::string signatures;
  if (config.dkim) {
    auto sig = config.dkim->sign(*clean, send_time);
    if (!sig) return make_error("dkim: " + sig.error());
    signatures = std::move(*sig);
  }
  mail::ReceivedInfo info;
  // The message came over the link from an authenticated user of our public domain; the line
  // names only public names, never the inner or a client.
  info.helo = config.public_domain;
  info.our_hostname = config.helo_name;
  info.esmtp = true;
  info.authenticated = true;
  info.smtputf8 = e.smtputf8;
  info.id = e.id;
  info.when = send_time;
  return mail::received_line(info) + signatures + *clean;
}

namespace {

std::string domain_of(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  return normalize_domain(address.substr(at + 1));
}

smtp::Reply local(int code, std::string_view enhanced, std::string_view text) {
  return smtp::Reply::local_reply(code, enhanced, text);
}

}  // namespace

// ---- the connection cache ----

namespace {

// QUIT (unless the session already ended) and close once it is written.
void quit_and_close(smtp::ClientSession* session, uv::Connection* conn) {
  if (session && !session->done()) {
    session->quit_when_idle();
    std::string out = session->take_output();
    if (!out.empty() && conn && conn->is_open()) (void)conn->write(std::move(out));
  }
  if (conn && conn->is_open()) conn->shutdown_then_close(5000);
}

}  // namespace

struct Deliverer::Idle {
  Destination dest;
  std::unique_ptr<uv::Connection> conn;
  std::unique_ptr<smtp::ClientSession> session;
  std::unique_ptr<uv::Timer> timer;
  size_t uses = 0;      // messages sent over this connection so far
  bool usable = true;   // false once QUIT is sent or the server spoke out of turn
  bool gone = false;    // closed: remove from the cache
};

size_t Deliverer::idle_connections() const {
  size_t n = 0;
  for (const auto& [domain, c] : idle_) n += c->usable && !c->gone;
  return n;
}

void Deliverer::park(const std::string& domain, std::unique_ptr<Idle> c) {
  Idle* raw = c.get();
  auto drop = [this, raw] {
    raw->usable = false;
    raw->gone = true;
    sweep_later();
  };
  // An idle server only speaks to say it is leaving (421): drop the connection.
  raw->conn->on_read([drop](std::string_view) { drop(); });
  raw->conn->on_close([drop](const Status&) { drop(); });
  raw->timer = std::make_unique<uv::Timer>(loop_);
  raw->timer->start(config_.connection_cache_ms, 0, [raw] {
    // Unused for the cache time: QUIT, and on_close removes it once the server has closed.
    raw->usable = false;
    quit_and_close(raw->session.get(), raw->conn.get());
  });
  idle_.emplace(domain, std::move(c));
}

Deliverer::IdleMap::const_iterator Deliverer::usable_idle(const std::string& domain,
                                                         const std::string& host) const {
  auto [b, e] = idle_.equal_range(domain);
  for (auto it = b; it != e; ++it) {
    const Idle& c = *it->second;
    if (!c.usable || c.gone || !c.conn->is_open() || !c.session->idle()) continue;
    if (!host.empty() && c.dest.host != host) continue;
    return it;
  }
  return idle_.end();
}

const Deliverer::Idle* Deliverer::find_idle(const std::string& domain,
                                           const std::string& host) const {
  auto it = usable_idle(domain, host);
  return it == idle_.end() ? nullptr : it->second.get();
}

std::unique_ptr<Deliverer::Idle> Deliverer::take_idle(const std::string& domain,
                                                      const std::string& host) {
  auto it = usable_idle(domain, host);
  if (it == idle_.end()) return nullptr;
  auto c = std::move(idle_.extract(it).mapped());
  c->timer.reset();
  // The taker sets its own callbacks; until then nothing may reach this Idle.
  c->conn->on_read([](std::string_view) {});
  c->conn->on_close([](const Status&) {});
  return c;
}

void Deliverer::sweep_later() {
  if (sweep_->active()) return;
  sweep_->start(0, 0, [this] {
    for (auto it = idle_.begin(); it != idle_.end();) {
      if (it->second->gone) {
        it = idle_.erase(it);
      } else {
        ++it;
      }
    }
  });
}

// ---- one deliver() call, split by recipient domain ----

struct Deliverer::Job {
  Done done;
  std::vector<RcptResult> results;
  size_t remaining = 0;
};

struct Deliverer::Domain : std::enable_shared_from_this<Deliverer::Domain> {
  Deliverer* owner = nullptr;
  std::shared_ptr<Job> job;
  queue::Envelope env;  // recipients: this domain's only
  std::string domain;

  Route route;
  size_t dest_index = 0;
  Destination cur;
  std::vector<std::string> addrs;
  size_t addr_index = 0;
  bool no_tls = false;  // retrying this address without STARTTLS after a failed handshake

  std::string slot_key;
  bool holding_slot = false;
  bool waiting_slot = false;
  uint64_t ticket = 0;

  std::unique_ptr<Dialer::Pending> pending;
  std::unique_ptr<uv::Connection> conn;
  std::unique_ptr<smtp::ClientSession> session;
  bool session_over = false;
  bool tls_attempted = false;
  bool tls_wanted = false;
  bool tls_offered = false;  // seen in EHLO (the engine forgets it once STARTTLS is answered)
  bool unrouted = false;     // `cur` comes from a cached connection; the route was not asked
  bool reuse_tried = false;  // the cache was asked once for this destination
  bool reused = false;       // the session runs over a cached connection
  size_t uses = 0;           // messages the connection carried before this one
  std::unique_ptr<uv::Timer> timeout;
  std::unique_ptr<uv::Timer> step;
  std::deque<std::function<void()>> steps;
  smtp::Reply last_error = local(451, "4.4.1", "no destination reachable");
  bool finished = false;

  ~Domain() {
    if (waiting_slot) owner->limiter_.cancel(slot_key, ticket);
  }

  // Runs `fn` on a later loop turn, outside whatever callback we are in (a connection or dial
  // object may then be destroyed safely).
  void defer(std::function<void()> fn) {
    steps.push_back(std::move(fn));
    if (steps.size() == 1) {
      step->start(0, 0, [w = weak_from_this()] {
        auto self = w.lock();
        if (!self) return;
        while (!self->steps.empty() && !self->finished) {
          auto f = std::move(self->steps.front());
          self->steps.pop_front();
          f();
        }
        self->steps.clear();
      });
    }
  }

  void start() {
    if (env.recipients.empty()) return finalize({});
    if (const Idle* c = owner->find_idle(domain, {})) {
      // A connection that delivered to this domain moments ago waits: take a slot of its host
      // and use it without asking the route again (dial_next falls back to routing if it has
      // gone meanwhile).
      cur = c->dest;
      unrouted = true;
      return acquire_slot();
    }
    route_now();
  }

  void route_now() {
    unrouted = false;
    owner->router_.route(domain, [w = weak_from_this()](Route r) {
      auto self = w.lock();
      if (!self) return;
      self->defer([self, r = std::move(r)]() mutable { self->on_route(std::move(r)); });
    });
  }

  void all(RcptStatus st, const std::string& reply) {
    std::vector<RcptResult> out;
    for (const auto& a : env.recipients) out.push_back({a, st, reply});
    finalize(std::move(out));
  }

  void on_route(Route r) {
    route = std::move(r);
    switch (route.verdict) {
      case Verdict::ours:
        return all(RcptStatus::permanent, "550 " + route.enhanced + " " + route.reason);
      case Verdict::permanent:
        return all(RcptStatus::permanent, "550 " + route.enhanced + " " + route.reason);
      case Verdict::transient:
        return all(RcptStatus::pending, "451 " + route.enhanced + " " + route.reason);
      case Verdict::route:
        return next_destination();
    }
  }

  void release_slot() {
    if (holding_slot) owner->limiter_.release(slot_key);
    holding_slot = false;
  }

  void next_destination() {
    release_slot();
    if (dest_index >= route.destinations.size()) {
      return all(RcptStatus::pending, reply_text(last_error));
    }
    cur = route.destinations[dest_index++];
    reuse_tried = false;
    addrs.clear();
    addr_index = 0;
    no_tls = false;
    if (cur.via_socks) {
      addrs.push_back("");  // by name, through the proxy
      return acquire_slot();
    }
    resolve(dns::Type::A);
  }

  void resolve(dns::Type type) {
    owner->resolver_.query(cur.host, type, [w = weak_from_this(), type](const dns::Answer& a) {
      auto self = w.lock();
      if (!self) return;
      for (const auto& ip : a.addresses) {
        if (self->addrs.size() >= self->owner->config_.max_addresses_per_host) break;
        if (!self->owner->config_.allow_private_addresses && dns::is_private_or_reserved(ip)) {
          continue;  // a hostile MX record must not aim us at internal services
        }
        self->addrs.push_back(ip);
      }
      if (dns::is_temporary(a.status)) {
        self->last_error = local(451, "4.4.3", "address lookup of MX host failed");
      }
      if (type == dns::Type::A) {
        self->defer([self] { self->resolve(dns::Type::AAAA); });
        return;
      }
      self->defer([self] {
        if (self->addrs.empty()) {
          if (self->last_error.enhanced != "4.4.3") {
            self->last_error = local(451, "4.4.4", "MX host has no usable address");
          }
          return self->next_destination();
        }
        self->acquire_slot();
      });
    });
  }

  void acquire_slot() {
    slot_key = (cur.via_socks ? "onion:" : "host:") + cur.host;
    waiting_slot = true;
    ticket = owner->limiter_.acquire(slot_key, [w = weak_from_this()] {
      auto self = w.lock();
      if (!self) return;
      self->waiting_slot = false;
      self->holding_slot = true;
      self->defer([self] { self->dial_next(); });
    });
  }

  // The slot is held; try the next address of the current destination.
  void dial_next() {
    pending.reset();
    conn.reset();
    session.reset();
    reused = false;
    if (!cur.via_socks && addr_index == 0 && !reuse_tried) {
      reuse_tried = true;
      if (auto c = owner->take_idle(domain, cur.host)) return reuse(std::move(c));
    }
    if (unrouted) {
      release_slot();
      return route_now();
    }
    if (addr_index >= addrs.size()) return next_destination();
    const std::string& ip = addrs[addr_index++];
    // One circuit per message: deliveries of different messages are not linkable by circuit.
    auto p = owner->dialer_.dial(
        cur, ip, "nj-out-" + env.id, [w = weak_from_this()](Result<socks::Connected> r) {
          auto self = w.lock();
          if (!self) return;
          auto shared = std::make_shared<Result<socks::Connected>>(std::move(r));
          self->defer([self, shared] {
            self->pending.reset();
            if (!*shared) {
              NJ_LOG_INFO("outbound %s: destination %zu: %s", self->env.id.c_str(),
                          self->dest_index, shared->error().c_str());
              self->last_error = local(451, "4.4.1", "connection failed");
              return self->dial_next();
            }
            self->run_session(std::move(shared->value()));
          });
        });
    if (!p) {
      last_error = local(451, "4.4.1", "cannot connect");
      NJ_LOG_WARN("outbound %s: %s", env.id.c_str(), p.error().c_str());
      return defer([self = shared_from_this()] { self->dial_next(); });
    }
    pending = std::move(*p);
  }

  void reuse(std::unique_ptr<Idle> c) {
    reused = true;
    uses = c->uses;
    conn = std::move(c->conn);
    session = std::move(c->session);
    session_over = false;
    tls_attempted = true;
    tls_wanted = false;
    tls_offered = false;
    start_message({});
  }

  void run_session(socks::Connected c) {
    conn = std::move(c.conn);
    smtp::ClientConfig cc;
    cc.helo_name = owner->config_.helo_name;
    cc.starttls = (cur.via_socks || !owner->tls_ || no_tls) ? smtp::TlsPolicy::never
                                                            : smtp::TlsPolicy::opportunistic;
    cc.use_pipelining = true;
    cc.timeouts = owner->config_.timeouts;
    tls_wanted = cc.starttls != smtp::TlsPolicy::never;
    session = std::make_unique<smtp::ClientSession>(cc);
    session_over = false;
    tls_attempted = false;
    tls_offered = false;
    uses = 0;
    // Onion destinations: one circuit per message, so QUIT after it. Clearnet: the session
    // stays open when the message is done and may wait in the cache (after_session).
    if (cur.via_socks || owner->config_.connection_cache_ms == 0) session->quit_when_idle();
    start_message(std::move(c.early_bytes));
  }

  void start_message(std::string early_bytes) {
    auto data = prepare_outbound(env, owner->config_, owner->clock_.now());
    if (!data) {
      NJ_LOG_WARN("outbound %s: cannot be prepared (sanitized, signed): %s", env.id.c_str(),
                  data.error().c_str());
      close_session();
      release_slot();
      return all(RcptStatus::permanent, "554 5.6.0 message cannot be prepared for sending");
    }
    smtp::OutboundMessage m;
    m.reverse_path = env.mail_from;
    m.recipients = env.recipients;
    m.data = std::move(*data);
    m.eight_bit = env.eight_bit;
    m.smtputf8 = env.smtputf8;
    session->add_message(std::move(m));
    auto w = weak_from_this();
    conn->on_close([w](const Status&) {
      auto self = w.lock();
      if (!self || !self->session || self->session_over) return;
      self->session->on_connection_closed();
      self->pump();
    });
    conn->on_read([w](std::string_view bytes) {
      auto self = w.lock();
      if (!self || !self->session || self->session_over) return;
      self->session->feed(bytes);
      self->pump();
    });
    if (!early_bytes.empty()) session->feed(early_bytes);
    pump();
  }

  void close_session() { quit_and_close(session.get(), conn.get()); }

  void arm_timeout() {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(session->timeout()).count();
    timeout->start(static_cast<uint64_t>(std::max<int64_t>(ms, 1)), 0, [w = weak_from_this()] {
      auto self = w.lock();
      if (!self || !self->session || self->session_over) return;
      self->session->on_timeout();
      self->pump();
    });
  }

  void pump() {
    if (session_over) return;
    tls_offered = tls_offered || session->capabilities().starttls || session->want_starttls();
    std::string out = session->take_output();
    if (!out.empty() && conn && conn->is_open()) (void)conn->write(std::move(out));
    if (session->want_starttls() && !tls_attempted) {
      tls_attempted = true;
      auto s =
          conn->start_tls_client(*owner->tls_, cur.host, [w = weak_from_this()](const Status& st) {
            auto self = w.lock();
            if (!self || !self->session || self->session_over) return;
            // On failure the connection closes too, and on_close ends the session.
            if (st) {
              self->session->tls_started();
              self->pump();
            }
          });
      if (!s) session->on_connection_closed();
    }
    if (session->done()) {
      session_over = true;
      timeout->stop();
      if (conn && conn->is_open()) conn->shutdown_then_close(5000);
      return defer([self = shared_from_this()] { self->after_session(); });
    }
    if (session->idle() && session->has_results()) {
      // The message is done and the session open (no QUIT was asked for): after_session
      // decides between the cache and QUIT.
      session_over = true;
      timeout->stop();
      return defer([self = shared_from_this()] { self->after_session(); });
    }
    arm_timeout();
  }

  void after_session() {
    auto results = session->take_results();
    // STARTTLS was offered and wanted but the session did not get to TLS: the handshake failed,
    // or the server sent something other than a handshake after its 220.
    bool tls_broke = tls_wanted && tls_offered && !session->tls_active();
    const auto& err = session->session_error();
    std::vector<RcptResult> out;
    bool any_final = false;
    if (!results.empty()) {
      for (const auto& r : results[0].recipients) {
        RcptStatus st = r.outcome == smtp::Outcome::delivered   ? RcptStatus::delivered
                        : r.outcome == smtp::Outcome::permanent ? RcptStatus::permanent
                                                                : RcptStatus::pending;
        any_final = any_final || st != RcptStatus::pending;
        out.push_back({r.address, st, reply_text(r.reply)});
      }
    }
    if (!any_final && tls_broke && !no_tls) {
      // RFC 7435: opportunistic TLS that fails is retried in the clear, same address.
      NJ_LOG_INFO("outbound %s: STARTTLS failed; retrying without it", env.id.c_str());
      no_tls = true;
      --addr_index;
      return dial_next();
    }
    if (!any_final && err && reused) {
      // The cached connection died under us (the server closed it while it waited): nothing
      // was decided, so start over with a fresh connection, routing first if we skipped it.
      NJ_LOG_DEBUG("outbound %s: cached connection lost; dialling afresh", env.id.c_str());
      reused = false;
      if (unrouted) {
        release_slot();
        return route_now();
      }
      return dial_next();
    }
    if (!any_final && err) {
      // Nothing decided by this server (refused greeting, lost connection, timeout): RFC 5321
      // 5.1 lets the next address or MX try.
      last_error = *err;
      no_tls = false;
      return dial_next();
    }
    if (out.size() != env.recipients.size()) {
      close_session();
      return all(RcptStatus::pending, reply_text(err ? *err : last_error));
    }
    if (!err && !cur.via_socks && owner->config_.connection_cache_ms > 0 && session->idle() &&
        uses + 1 < owner->config_.connection_reuse_limit && conn && conn->is_open()) {
      auto c = std::make_unique<Idle>();
      c->dest = cur;
      c->conn = std::move(conn);
      c->session = std::move(session);
      c->uses = uses + 1;
      owner->park(domain, std::move(c));
    } else {
      close_session();
    }
    conn_done();
    finalize(std::move(out));
  }

  void conn_done() { release_slot(); }

  // Cancelled: nothing more happens and nothing is reported. The caller drops it from live_.
  void abandon() {
    finished = true;
    if (waiting_slot) owner->limiter_.cancel(slot_key, ticket);
    waiting_slot = false;
    timeout->stop();
    step->stop();
    steps.clear();
    pending.reset();
    session_over = true;
    conn.reset();  // closed at once, without callbacks; queued bytes are not sent
    session.reset();
    release_slot();
  }

  void finalize(std::vector<RcptResult> out) {
    if (finished) return;
    finished = true;
    release_slot();
    timeout->stop();
    Job& j = *job;
    for (auto& r : out) j.results.push_back(std::move(r));
    auto self = shared_from_this();
    owner->live_.erase(self);
    if (--j.remaining == 0) {
      auto done = std::move(j.done);
      auto results = std::move(j.results);
      done(std::move(results));
    }
  }
};

Deliverer::Deliverer(uv::Loop& loop, dns::Resolver& resolver, Router& router, Dialer& dialer,
                     const tls::Context* tls_client, const Clock& clock, DelivererConfig config)
    : loop_(loop),
      resolver_(resolver),
      router_(router),
      dialer_(dialer),
      tls_(tls_client),
      clock_(clock),
      config_(std::move(config)),
      limiter_(config_.per_destination_limit),
      sweep_(std::make_unique<uv::Timer>(loop)) {}

Deliverer::~Deliverer() {
  *alive_ = false;
  auto live = std::move(live_);
  live.clear();
  idle_.clear();
}

size_t Deliverer::cancel(const std::string& id) {
  std::vector<std::shared_ptr<Domain>> hit;
  for (const auto& d : live_) {
    if (d->env.id == id && !d->finished) hit.push_back(d);
  }
  for (const auto& d : hit) {
    live_.erase(d);
    d->abandon();
  }
  if (!hit.empty()) NJ_LOG_INFO("outbound %s: attempt cancelled", id.c_str());
  return hit.size();
}

void Deliverer::deliver(const queue::Envelope& e, std::vector<std::string> recipients, Done done) {
  std::map<std::string, std::vector<std::string>> by_domain;
  for (auto& r : recipients) by_domain[domain_of(r)].push_back(std::move(r));
  if (by_domain.empty()) by_domain[""];  // still answer asynchronously, with no results
  auto job = std::make_shared<Job>();
  job->done = std::move(done);
  job->remaining = by_domain.size();
  for (auto& [domain, rcpts] : by_domain) {
    auto d = std::make_shared<Domain>();
    d->owner = this;
    d->job = job;
    d->domain = domain;
    d->env.id = e.id;
    d->env.received_at = e.received_at;
    d->env.mail_from = e.mail_from;
    d->env.recipients = std::move(rcpts);
    d->env.smtputf8 = e.smtputf8;
    d->env.eight_bit = e.eight_bit;
    d->env.message = e.message;
    d->timeout = std::make_unique<uv::Timer>(loop_);
    d->step = std::make_unique<uv::Timer>(loop_);
    live_.insert(d);
    d->defer([d] { d->start(); });
  }
}

}  // namespace nj::edge::outbound
