#include "edge/link/link_server.h"

#include "common/base/log.h"

namespace nj::edge {

// One connection on the link port: handshaking, then (if it is the pinned inner) the active link.
class LinkServer::Peer {
 public:
  Peer(LinkServer& srv, std::unique_ptr<uv::Connection> conn)
      : srv_(srv),
        conn_(std::move(conn)),
        channel_(link::Role::responder, srv.key_, srv.inner_),
        timer_(srv.loop_),
        flush_soon_(srv.loop_, [this] { flush(); }),
        id_(crypto::random_id()) {}
  ~Peer() {
    timer_.close();
    flush_soon_.close();
  }

  void start() {
    conn_->on_read([this](std::string_view b) { on_bytes(b); });
    conn_->on_close([this](const Status&) { gone(); });
    timer_.start(srv_.opt_.handshake_timeout_ms, 0, [this] {
      NJ_LOG_INFO("link peer=%s handshake timeout", id_.c_str());
      close();
    });
  }

  void send(const link::Frame& f) {
    if (closed_) return;
    if (auto s = channel_.send(f); !s) {
      NJ_LOG_WARN("link peer=%s cannot send %s: %s", id_.c_str(),
                  std::string(link::frame_type_name(f.type)).c_str(), s.error().c_str());
      close();
      return;
    }
    schedule_flush();
  }

  void close() {
    if (closed_) return;
    // Frames queued earlier in this turn go out first, as far as the connection takes them.
    flush_soon_.cancel();
    std::string out = channel_.take_output();
    if (!out.empty()) (void)conn_->write(std::move(out));
    closed_ = true;
    timer_.stop();
    conn_->close();
  }

  const std::string& id() const { return id_; }

 private:
  void on_bytes(std::string_view b) {
    if (closed_) return;
    channel_.feed(b);
    schedule_flush();  // handshake replies, with the frames this turn answers
    if (channel_.state() == link::Channel::State::failed) {
      NJ_LOG_WARN("link peer=%s refused: %s", id_.c_str(), channel_.reason().c_str());
      close();
      return;
    }
    if (channel_.state() == link::Channel::State::closed) {
      NJ_LOG_INFO("link peer=%s closed by the inner", id_.c_str());
      close();
      return;
    }
    if (channel_.is_open() && !open_) {
      open_ = true;
      srv_.activate(this);
    }
    idle_rounds_ = 0;
    while (auto f = channel_.next_frame()) {
      if (closed_) return;
      srv_.on_frame(this, std::move(*f));
    }
    if (open_) arm_keepalive();
  }

  void arm_keepalive() {
    timer_.start(srv_.opt_.keepalive_ms, 0, [this] {
      if (++idle_rounds_ >= 3) {
        NJ_LOG_INFO("link peer=%s silent, closing", id_.c_str());
        close();
        return;
      }
      send(link::Frame{link::FrameType::ping, srv_.next_frame_id_++, {}});
      arm_keepalive();
    });
  }

  // Frames are written at the end of the loop turn that produced them (uv::Deferred), so the
  // DELIVERs of a pump and the answers to one read leave in one write.
  void schedule_flush() {
    if (channel_.has_output()) flush_soon_.schedule();
  }

  void flush() {
    if (closed_) return;
    std::string out = channel_.take_output();
    if (!out.empty() && !conn_->write(std::move(out))) close();
  }

  void gone() {
    closed_ = true;
    flush_soon_.cancel();
    timer_.stop();
    srv_.peer_gone(this);
  }

  LinkServer& srv_;
  std::unique_ptr<uv::Connection> conn_;
  link::Channel channel_;
  uv::Timer timer_;
  uv::Deferred flush_soon_;  // flush() at the end of this loop turn
  std::string id_;
  bool open_ = false;
  bool closed_ = false;
  int idle_rounds_ = 0;
};

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
      peers_(std::make_unique<uv::SessionSet<Peer>>(loop)),
      retry_timer_(std::make_unique<uv::Timer>(loop)) {}

LinkServer::~LinkServer() {
  shutdown();
  verifies_.clear();
  peers_.reset();
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

void LinkServer::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& l : listeners_) l->close();
  listeners_.clear();
  retry_timer_->stop();
  for (auto* p : peers_->snapshot()) p->close();
  auto pending = std::move(verifies_);
  for (auto& [id, v] : pending) v.cb(link::VerifyOutcome::temporary);
}

void LinkServer::accept(std::unique_ptr<uv::Connection> conn) {
  if (stopping_) {
    conn->close();
    return;
  }
  // Only one peer can ever complete the handshake (the pinned key), but anyone can connect:
  // bound the half-open ones.
  if (peers_->size() >= 16) {
    conn->close();
    return;
  }
  auto* p = peers_->add(std::make_unique<Peer>(*this, std::move(conn)));
  NJ_LOG_INFO("link peer=%s connect", p->id().c_str());
  p->start();
}

void LinkServer::activate(Peer* p) {
  if (active_ && active_ != p) {
    NJ_LOG_INFO("link peer=%s replaces peer=%s", p->id().c_str(), active_->id().c_str());
    Peer* old = active_;
    peer_gone(old);  // hand its work back before the new link starts
    old->close();
  }
  active_ = p;
  ++link_epoch_;
  auto ids = inbound_.list();
  if (!ids) {
    NJ_LOG_ERROR("link: cannot list the inbound queue: %s", ids.error().c_str());
  } else {
    for (auto& id : *ids)
      if (queued_.insert(id).second) to_send_.push_back(id);
  }
  NJ_LOG_INFO("link peer=%s up queued=%zu", p->id().c_str(), to_send_.size());
  pump();
  status_frames_.clear();
  for (const auto& [mid, _] : statuses_) send_status(mid);
}

void LinkServer::peer_gone(Peer* p) {
  if (p == active_) {
    active_ = nullptr;
    NJ_LOG_INFO("link peer=%s down", p->id().c_str());
    // Unacknowledged messages go back to the front: they are sent again on the next link (the
    // inner delivers idempotently by message id).
    for (auto it = in_flight_.rbegin(); it != in_flight_.rend(); ++it)
      to_send_.push_front(std::move(it->second.id));
    in_flight_.clear();
    in_flight_bytes_ = 0;
    auto pending = std::move(verifies_);
    verifies_.clear();
    for (auto& [id, v] : pending) v.cb(link::VerifyOutcome::temporary);
  }
  peers_->finished(p);
}

void LinkServer::inbound_committed(const std::string& id) {
  if (!active_) return;  // pushed when the inner connects
  if (queued_.insert(id).second) to_send_.push_back(id);
  pump();
}

void LinkServer::pump() {
  while (active_ && in_flight_.size() < opt_.window &&
         (in_flight_.empty() || in_flight_bytes_ < opt_.window_bytes) && !to_send_.empty()) {
    std::string id = std::move(to_send_.front());
    to_send_.pop_front();
    auto sealed = inbound_.sealed(id);
    if (!sealed) {
      queued_.erase(id);  // removed meanwhile
      continue;
    }
    auto payload = link::encode(link::DeliverPayload{id, std::move(*sealed)});
    if (!payload) {
      NJ_LOG_ERROR("link: msg=%s cannot be framed: %s", id.c_str(), payload.error().c_str());
      queued_.erase(id);
      continue;
    }
    uint64_t fid = next_frame_id_++;
    size_t bytes = payload->size();
    in_flight_.emplace(fid, InFlight{id, bytes});
    in_flight_bytes_ += bytes;
    active_->send(link::Frame{link::FrameType::deliver, fid, std::move(*payload)});
  }
}

void LinkServer::on_frame(Peer* p, link::Frame f) {
  if (p != active_) return;
  switch (f.type) {
    case link::FrameType::ack: {
      if (auto st = status_frames_.find(f.id); st != status_frames_.end()) {
        statuses_.erase(st->second);  // the inner recorded the final result
        status_frames_.erase(st);
        return;
      }
      auto it = in_flight_.find(f.id);
      if (it == in_flight_.end()) return;  // an ACK for a link that is gone
      std::string id = std::move(it->second.id);
      in_flight_bytes_ -= it->second.bytes;
      in_flight_.erase(it);
      // The inner has committed it: now the edge may forget it.
      inbound_.remove(gc_, id, [this, id](Status s) {
        queued_.erase(id);
        if (!s) NJ_LOG_ERROR("link: msg=%s remove failed: %s", id.c_str(), s.error().c_str());
        else NJ_LOG_INFO("link msg=%s delivered to the inner", id.c_str());
      });
      pump();
      return;
    }
    case link::FrameType::nack: {
      auto it = in_flight_.find(f.id);
      if (it == in_flight_.end()) return;
      std::string id = std::move(it->second.id);
      in_flight_bytes_ -= it->second.bytes;
      in_flight_.erase(it);
      auto n = link::decode_nack(f.payload);
      bool permanent = n && n->kind == link::NackKind::permanent;
      NJ_LOG_WARN("link msg=%s refused by the inner (%s): %s", id.c_str(),
                  permanent ? "permanent" : "temporary", n ? n->reason.c_str() : "?");
      if (permanent) {
        // Kept on the edge (it is sealed; only the inner could judge it) until an operator
        // looks; not sent again on this link.
        return;
      }
      queued_.erase(id);
      if (!retry_timer_->active())
        retry_timer_->start(opt_.retry_ms, 0, [this] {
          if (!active_) return;
          auto ids = inbound_.list();
          if (ids)
            for (auto& qid : *ids)
              if (queued_.insert(qid).second) to_send_.push_back(qid);
          pump();
        });
      pump();
      return;
    }
    case link::FrameType::verify_result: {
      auto r = link::decode_verify_result(f.payload);
      finish_verify(f.id, r ? r->outcome : link::VerifyOutcome::temporary);
      return;
    }
    case link::FrameType::ping:
      p->send(link::Frame{link::FrameType::pong, f.id, {}});
      return;
    case link::FrameType::pong:
      return;
    case link::FrameType::submit: {
      auto nack = [p, id = f.id](const std::string& why) {
        auto n = link::encode(link::NackPayload{link::NackKind::temporary, why});
        if (n) p->send(link::Frame{link::FrameType::nack, id, std::move(*n)});
      };
      auto sp = link::decode_submit(f.payload);
      if (!sp) {
        NJ_LOG_WARN("link peer=%s bad SUBMIT: %s", p->id().c_str(), sp.error().c_str());
        p->close();
        return;
      }
      auto env = queue::decode(sp->envelope);
      if (!env || env->id != sp->message_id) {
        auto n = link::encode(link::NackPayload{link::NackKind::permanent, "bad envelope"});
        if (n) p->send(link::Frame{link::FrameType::nack, f.id, std::move(*n)});
        return;
      }
      if (!submit_) {
        nack("outbound delivery is not available here");
        return;
      }
      // Answer on the link that asked, if it is still the active one.
      uint64_t fid = f.id;
      std::string mid = env->id;
      submit_(std::move(*env), [this, epoch = link_epoch_, fid, mid](Status s) {
        if (!active_ || epoch != link_epoch_) return;  // that link is gone; the inner resubmits
        Peer* peer = active_;
        if (!s) {
          NJ_LOG_WARN("link msg=%s outbound queue refused it: %s", mid.c_str(), s.error().c_str());
          auto n = link::encode(link::NackPayload{link::NackKind::temporary, "queue write failed"});
          if (n) peer->send(link::Frame{link::FrameType::nack, fid, std::move(*n)});
          return;
        }
        peer->send(link::Frame{link::FrameType::ack, fid, {}});
      });
      return;
    }
    default:
      NJ_LOG_WARN("link peer=%s sent an unexpected %s frame", p->id().c_str(),
                  std::string(link::frame_type_name(f.type)).c_str());
      p->close();
  }
}

void LinkServer::report(const std::string& message_id,
                        std::vector<link::RecipientStatus> results) {
  statuses_[message_id] = link::StatusPayload{message_id, std::move(results)};
  send_status(message_id);
}

void LinkServer::send_status(const std::string& message_id) {
  if (!active_) return;  // sent when the inner connects again
  auto it = statuses_.find(message_id);
  if (it == statuses_.end()) return;
  auto payload = link::encode(it->second);
  if (!payload) {
    NJ_LOG_ERROR("link: msg=%s status cannot be framed: %s", message_id.c_str(),
                 payload.error().c_str());
    statuses_.erase(it);
    return;
  }
  uint64_t fid = next_frame_id_++;
  status_frames_[fid] = message_id;
  active_->send(link::Frame{link::FrameType::status, fid, std::move(*payload)});
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
  uint64_t fid = next_frame_id_++;
  auto timer = std::make_unique<uv::Timer>(loop_);
  timer->start(opt_.verify_timeout_ms, 0,
               [this, fid] { finish_verify(fid, link::VerifyOutcome::temporary); });
  verifies_.emplace(fid, PendingVerify{key, std::move(cb), std::move(timer)});
  active_->send(link::Frame{link::FrameType::verify, fid, std::move(*payload)});
}

void LinkServer::finish_verify(uint64_t frame_id, link::VerifyOutcome outcome) {
  auto it = verifies_.find(frame_id);
  if (it == verifies_.end()) return;
  PendingVerify v = std::move(it->second);
  verifies_.erase(it);
  v.timer->close();
  if (outcome != link::VerifyOutcome::temporary) {
    // Known users for ten minutes, unknown ones for one: a new account works soon.
    int64_t ttl = outcome == link::VerifyOutcome::exists ? 600 : 60;
    if (cache_.size() > 100000) cache_.clear();
    cache_[v.cache_key] = CacheEntry{outcome, clock_.now() + ttl};
  }
  v.cb(outcome);
}

}  // namespace nj::edge
