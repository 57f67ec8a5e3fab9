#include "edge/link/link_server.h"

#include <algorithm>

#include "common/base/log.h"

namespace nj::edge {

LinkServer::LinkServer(uv::Loop& loop, const crypto::KeyPair& edge_key,
                       const crypto::PublicKey& inner, InboundQueue& inbound,
                       store::GroupCommitter& gc, const Clock& clock, Options options)
    : loop_(loop),
      key_(edge_key),
      inner_(inner),
      inbound_(inbound),
      gc_(gc),
      clock_(clock),
      opt_(options),
      sessions_(std::make_unique<uv::SessionSet<link::Session>>(loop)),
      schedule_(options.schedule),
      window_(options.window, options.window_bytes),
      retry_timer_(std::make_unique<uv::Timer>(loop)),
      state_since_(clock.now()) {
  load_inbound();
}

LinkServer::~LinkServer() {
  shutdown();
  verifies_.clear();
  retry_timer_.reset();
  sessions_.reset();
}

Status LinkServer::listen(const std::vector<config::Endpoint>& endpoints) {
  for (const auto& ep : endpoints) {
    auto l = uv::TcpListener::bind(loop_, ep.str(), [this](std::unique_ptr<uv::Connection> c) {
      accept(std::move(c));
    });
    if (!l) return make_error("listen.link " + ep.str() + ": " + l.error());
    NJ_LOG_INFO("listening link on %s", ep.str().c_str());
    listeners_.push_back(std::move(*l));
  }
  return {};
}

uint16_t LinkServer::port() const {
  return listeners_.empty() ? 0 : listeners_.front()->port();
}

void LinkServer::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& l : listeners_) l->close();
  listeners_.clear();
  retry_timer_->stop();
  for (auto* s : sessions_->snapshot()) s->close("the edge is stopping");
  auto pending = std::move(verifies_);
  verifies_.clear();
  for (auto& [id, v] : pending) {
    v.timer->close();
    v.cb(link::VerifyOutcome::temporary);
  }
}

void LinkServer::load_inbound() {
  auto items = inbound_.items();
  if (!items) {
    NJ_LOG_ERROR("link: cannot list the inbound queue: %s", items.error().c_str());
    return;
  }
  const int64_t now = clock_.now();
  for (const auto& it : *items) schedule_.add(it.id, it.queued_at, now);
  if (!items->empty()) NJ_LOG_INFO("link: inbound queue holds %zu messages", items->size());
}

void LinkServer::accept(std::unique_ptr<uv::Connection> conn) {
  if (stopping_) {
    conn->close();
    return;
  }
  // Anyone who reaches the link service can connect, but only the pinned inner completes the
  // handshake. Unauthenticated connections are bounded in number and time; the oldest makes
  // room for a new one, so strangers holding every slot cannot keep the inner out.
  if (handshakes_.size() >= opt_.max_handshakes) {
    link::Session* oldest = handshakes_.front();
    NJ_LOG_INFO("link peer=%s dropped: %zu handshakes pending", oldest->id().c_str(),
                handshakes_.size());
    oldest->abort("too many handshakes pending");  // ended() takes it off the list
  }
  auto* s = sessions_->add(std::make_unique<link::Session>(
      loop_, std::move(conn), link::Role::responder, key_, inner_, opt_.session));
  handshakes_.push_back(s);
  NJ_LOG_INFO("link peer=%s connect", s->id().c_str());
  s->start(link::Session::Events{[this, s] { opened(s); },
                                 [this, s](link::Frame f) { on_frame(s, std::move(f)); },
                                 [this, s](const link::Session::Ended& e) { ended(s, e); }});
}

void LinkServer::opened(link::Session* s) {
  handshakes_.erase(std::remove(handshakes_.begin(), handshakes_.end(), s), handshakes_.end());
  if (active_ && active_ != s) {
    NJ_LOG_INFO("link peer=%s replaces peer=%s", s->id().c_str(), active_->id().c_str());
    active_->close("replaced by a new link");  // ended() hands its work back first
  }
  active_ = s;
  ++link_epoch_;
  ++links_opened_;
  state_since_ = clock_.now();
  NJ_LOG_INFO("link peer=%s up queued=%zu", s->id().c_str(), schedule_.size());
  pump();
  arm_retry();
  send_statuses();
}

void LinkServer::ended(link::Session* s, const link::Session::Ended& e) {
  handshakes_.erase(std::remove(handshakes_.begin(), handshakes_.end(), s), handshakes_.end());
  if (s == active_) {
    active_ = nullptr;
    NJ_LOG_INFO("link peer=%s down (%s): %s", s->id().c_str(), link::Session::end_name(e.how),
                e.why.c_str());
    state_since_ = clock_.now();
    last_error_ = std::string(link::Session::end_name(e.how)) + ": " + e.why;
    // Unacknowledged messages are due again on the next link (the inner delivers idempotently
    // by message id); unacknowledged reports are sent again.
    window_.drain();
    schedule_.link_lost();
    reports_.link_lost();
    retry_timer_->stop();
    auto pending = std::move(verifies_);
    verifies_.clear();
    for (auto& [id, v] : pending) {
      v.timer->close();
      v.cb(link::VerifyOutcome::temporary);
    }
  } else if (e.handshaking) {
    if (e.how == link::Session::End::refused)
      NJ_LOG_WARN("link peer=%s refused: %s", s->id().c_str(), e.why.c_str());
    else
      NJ_LOG_INFO("link peer=%s gone before the handshake finished (%s)", s->id().c_str(),
                  link::Session::end_name(e.how));
  }
  sessions_->finished(s);
}

void LinkServer::inbound_committed(const std::string& id, int64_t queued_at) {
  schedule_.add(id, queued_at, clock_.now());
  pump();
}

void LinkServer::pump() {
  if (!active_ || stopping_) return;
  const int64_t now = clock_.now();
  const size_t max_payload = opt_.session.channel.max_payload;
  while (active_ && window_.has_room()) {
    auto due = schedule_.due(now, 1);
    if (due.empty()) break;
    const std::string& id = due.front();
    auto sealed = inbound_.sealed(id);
    if (!sealed) {
      schedule_.remove(id);  // removed meanwhile
      continue;
    }
    uint8_t flags = schedule_.last_attempt(id, now) ? link::kDeliverLastAttempt : 0;
    auto payload = link::encode(link::DeliverPayload{id, std::move(*sealed), flags});
    if (!payload || payload->size() > max_payload) {
      // Accepted under a size limit the link cannot carry (limits.max_message_size is checked
      // against the link at start-up, so only a configuration from before that check gets
      // here). Retrying would close the link each time; only the inner could bounce it.
      NJ_LOG_ERROR("link: msg=%s cannot be framed (%s); removed from the queue", id.c_str(),
                   payload ? "larger than a link frame" : payload.error().c_str());
      std::string gone = id;
      schedule_.remove(gone);
      inbound_.remove(gc_, gone, [](Status) {});
      continue;
    }
    uint64_t fid = active_->next_id();
    window_.add(fid, id, payload->size());
    schedule_.mark_in_flight(id);
    if (flags) NJ_LOG_INFO("link msg=%s last attempt", id.c_str());
    (void)active_->send(link::Frame{link::FrameType::deliver, fid, std::move(*payload)});
  }
}

void LinkServer::arm_retry() {
  auto wake = schedule_.next_due();
  if (!wake || !active_) {
    retry_timer_->stop();
    return;
  }
  int64_t wait_s = std::max<int64_t>(*wake - clock_.now(), 0);
  retry_timer_->start(static_cast<uint64_t>(wait_s) * 1000 + 50, 0, [this] {
    pump();
    arm_retry();
  });
}

void LinkServer::on_deliver_answer(uint64_t frame_id, const link::Frame& f) {
  auto id = window_.answered(frame_id);
  if (!id) return;  // an answer for a link that is gone
  if (f.type == link::FrameType::ack) {
    schedule_.remove(*id);
    // The inner has committed it: now the edge may forget it.
    std::string mid = *id;
    inbound_.remove(gc_, mid, [mid](Status s) {
      if (!s) NJ_LOG_ERROR("link: msg=%s remove failed: %s", mid.c_str(), s.error().c_str());
      else NJ_LOG_INFO("link msg=%s delivered to the inner", mid.c_str());
    });
    pump();
    return;
  }
  auto n = link::decode_nack(f.payload);
  bool permanent = n && n->kind == link::NackKind::permanent;
  if (permanent) {
    // The inner bounced whatever it could read of it; nobody else can open it.
    NJ_LOG_WARN("link msg=%s refused for good by the inner: %s; removed", id->c_str(),
                n->reason.c_str());
    schedule_.remove(*id);
    std::string mid = *id;
    inbound_.remove(gc_, mid, [mid](Status s) {
      if (!s) NJ_LOG_ERROR("link: msg=%s remove failed: %s", mid.c_str(), s.error().c_str());
    });
  } else {
    const int64_t now = clock_.now();
    int64_t next = schedule_.deferred(*id, now).value_or(now);
    NJ_LOG_INFO("link msg=%s refused for now by the inner (%s); again in %llds", id->c_str(),
                n ? n->reason.c_str() : "?", static_cast<long long>(next - now));
    arm_retry();
  }
  pump();
}

void LinkServer::on_frame(link::Session* s, link::Frame f) {
  if (s != active_) return;
  switch (f.type) {
    case link::FrameType::ack:
      if (reports_.owns(f.id)) {
        reports_.acked(f.id);  // the inner recorded those results
        return;
      }
      on_deliver_answer(f.id, f);
      return;
    case link::FrameType::nack:
      on_deliver_answer(f.id, f);
      return;
    case link::FrameType::verify_result: {
      auto r = link::decode_verify_result(f.payload);
      finish_verify(f.id, r ? r->outcome : link::VerifyOutcome::temporary);
      return;
    }
    case link::FrameType::submit:
      on_submit(s, std::move(f));
      return;
    case link::FrameType::withdraw:
      on_withdraw(s, std::move(f));
      return;
    default:
      NJ_LOG_WARN("link peer=%s sent an unexpected %s frame", s->id().c_str(),
                  std::string(link::frame_type_name(f.type)).c_str());
      s->close("unexpected frame");
  }
}

void LinkServer::on_submit(link::Session* s, link::Frame f) {
  auto nack = [s, id = f.id](link::NackKind kind, const std::string& why) {
    auto n = link::encode(link::NackPayload{kind, why});
    if (n) (void)s->send(link::Frame{link::FrameType::nack, id, std::move(*n)});
  };
  auto sp = link::decode_submit(f.payload);
  if (!sp) {
    NJ_LOG_WARN("link peer=%s bad SUBMIT: %s", s->id().c_str(), sp.error().c_str());
    s->close("bad SUBMIT");
    return;
  }
  auto env = queue::decode(sp->envelope);
  if (!env || env->id != sp->message_id) {
    nack(link::NackKind::permanent, "bad envelope");
    return;
  }
  if (!submit_) {
    nack(link::NackKind::temporary, "outbound delivery is not available here");
    return;
  }
  // Answer on the link that asked, if it is still the active one.
  uint64_t fid = f.id;
  std::string mid = env->id;
  submit_(std::move(*env), [this, epoch = link_epoch_, fid, mid](Status st) {
    if (!active_ || epoch != link_epoch_) return;  // that link is gone; the inner resubmits
    if (!st) {
      NJ_LOG_WARN("link msg=%s outbound queue refused it: %s", mid.c_str(), st.error().c_str());
      auto n = link::encode(link::NackPayload{link::NackKind::temporary, "queue write failed"});
      if (n) (void)active_->send(link::Frame{link::FrameType::nack, fid, std::move(*n)});
      return;
    }
    (void)active_->send(link::Frame{link::FrameType::ack, fid, {}});
  });
}

void LinkServer::on_withdraw(link::Session* s, link::Frame f) {
  auto nack = [s, id = f.id](link::NackKind kind, const std::string& why) {
    auto n = link::encode(link::NackPayload{kind, why});
    if (n) (void)s->send(link::Frame{link::FrameType::nack, id, std::move(*n)});
  };
  auto wp = link::decode_withdraw(f.payload);
  if (!wp) {
    NJ_LOG_WARN("link peer=%s bad WITHDRAW: %s", s->id().c_str(), wp.error().c_str());
    nack(link::NackKind::permanent, "bad WITHDRAW payload");
    return;
  }
  if (!withdraw_) {
    nack(link::NackKind::temporary, "outbound delivery is not available here");
    return;
  }
  // The ACK promises that nothing of the message is left: only after the synced commit, and on
  // the link that asked (another link's inner sends it again).
  uint64_t fid = f.id;
  std::string mid = wp->message_id;
  withdraw_(mid, [this, epoch = link_epoch_, fid, mid](Status st) {
    if (!st) {
      NJ_LOG_WARN("link msg=%s withdraw not stored: %s", mid.c_str(), st.error().c_str());
      if (!active_ || epoch != link_epoch_) return;
      auto n = link::encode(link::NackPayload{link::NackKind::temporary, "queue write failed"});
      if (n) (void)active_->send(link::Frame{link::FrameType::nack, fid, std::move(*n)});
      return;
    }
    // Results not yet acknowledged are never sent now, on this link or a later one.
    reports_.forget(mid);
    NJ_LOG_INFO("link msg=%s withdrawn by the inner", mid.c_str());
    if (!active_ || epoch != link_epoch_) return;
    (void)active_->send(link::Frame{link::FrameType::ack, fid, {}});
  });
}

void LinkServer::report(const std::string& message_id,
                        std::vector<link::RecipientStatus> results) {
  reports_.add(message_id, results);
  send_statuses();
}

void LinkServer::send_statuses() {
  if (!active_) return;  // sent when the inner connects again
  for (const auto& mid : reports_.unsent()) {
    uint64_t fid = active_->next_id();
    auto p = reports_.take(mid, fid);
    if (!p) continue;
    auto payload = link::encode(*p);
    if (!payload) {
      // Our own results always encode; if not, say so rather than loop on it.
      NJ_LOG_ERROR("link: msg=%s status cannot be framed: %s", mid.c_str(),
                   payload.error().c_str());
      reports_.acked(fid);
      continue;
    }
    (void)active_->send(link::Frame{link::FrameType::status, fid, std::move(*payload)});
    if (!active_) return;
  }
}

LinkServer::State LinkServer::state() const {
  State st;
  st.up = active_ != nullptr;
  st.since = state_since_;
  st.last_error = last_error_;
  st.rtt_ms = active_ ? active_->rtt_ms() : 0;
  st.links_opened = links_opened_;
  return st;
}

std::string LinkServer::cache_key(const std::string& address) const {
  return std::string(crypto::digest_view(crypto::keyed_hash(cache_hash_key_, address)));
}

void LinkServer::verify(const std::string& address,
                        std::function<void(link::VerifyOutcome)> cb) {
  std::string key = cache_key(address);
  const int64_t now = clock_.now();
  if (auto it = cache_.find(key); it != cache_.end()) {
    if (it->second.expires > now) {
      cb(it->second.outcome);
      return;
    }
    cache_.erase(it);
  }
  if (!active_) {
    cb(link::VerifyOutcome::temporary);
    return;
  }
  auto payload = link::encode(link::VerifyPayload{address});
  if (!payload) {
    cb(link::VerifyOutcome::unknown);  // longer than any address we could hold
    return;
  }
  uint64_t fid = active_->next_id();
  auto timer = std::make_unique<uv::Timer>(loop_);
  timer->start(opt_.verify_timeout_ms, 0,
               [this, fid] { finish_verify(fid, link::VerifyOutcome::temporary); });
  verifies_.emplace(fid, PendingVerify{key, std::move(cb), std::move(timer)});
  (void)active_->send(link::Frame{link::FrameType::verify, fid, std::move(*payload)});
}

void LinkServer::finish_verify(uint64_t frame_id, link::VerifyOutcome outcome) {
  auto it = verifies_.find(frame_id);
  if (it == verifies_.end()) return;
  PendingVerify v = std::move(it->second);
  verifies_.erase(it);
  v.timer->close();
  if (outcome != link::VerifyOutcome::temporary) {
    // Known users for ten minutes; unknown users and full mailboxes for one: a new account, or
    // a mailbox emptied by its owner, works again soon.
    int64_t ttl = outcome == link::VerifyOutcome::exists ? 600 : 60;
    if (cache_.size() > 100000) cache_.clear();
    cache_[v.cache_key] = CacheEntry{outcome, clock_.now() + ttl};
  }
  v.cb(outcome);
}

}  // namespace nj::edge
