#include "inner/link/link_client.h"

#include "common/base/log.h"
#include "common/link/payloads.h"
#include "common/queue/envelope.h"
#include "inner/link/dsn.h"

namespace nj::inner {
namespace {

const char* transport_name(Transport t) {
  switch (t) {
    case Transport::tor: return "tor";
    case Transport::i2p: return "i2p";
    case Transport::direct: return "direct";
  }
  return "?";
}

}  // namespace

LinkClient::LinkClient(uv::Loop& loop, const EdgeLinkConfig& edge, const crypto::KeyPair& inner,
                       const crypto::PublicKey& edge_pub, InboundDelivery& inbound,
                       Accounts& accounts, store::GroupCommitter& gc, Outbound outbound,
                       Options options)
    : loop_(loop),
      edge_(edge),
      inner_(inner),
      edge_pub_(edge_pub),
      inbound_(inbound),
      accounts_(accounts),
      gc_(gc),
      out_(outbound),
      opt_(options),
      retry_timer_(loop),
      keepalive_(loop),
      submit_timer_(loop),
      flush_soon_(loop, [this] { flush(); }),
      backoff_ms_(options.first_backoff_ms) {}

LinkClient::~LinkClient() {
  shutdown();
  retry_timer_.close();
  keepalive_.close();
  submit_timer_.close();
  flush_soon_.close();
}

void LinkClient::start() { dial(); }

void LinkClient::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  retry_timer_.stop();
  keepalive_.stop();
  submit_timer_.stop();
  attempt_.reset();
  if (channel_ && channel_->is_open()) {
    channel_->close();
    flush();  // frames still queued and the final tag, before the write side shuts
  }
  flush_soon_.cancel();
  if (conn_) conn_->shutdown_then_close(2000);
}

void LinkClient::dial() {
  if (stopping_) return;
  epoch_ = std::make_shared<bool>(true);
  std::weak_ptr<bool> epoch = epoch_;
  auto [host, port] = split_edge_address(edge_.address);
  NJ_LOG_INFO("link dialing the edge transport=%s", transport_name(edge_.transport));
  if (edge_.transport == Transport::direct) {
    auto c = uv::Connection::connect(loop_, host, port, [this, epoch](const Status& s) {
      if (epoch.expired()) return;
      if (!s) {
        drop("connect: " + s.error());
        return;
      }
      connected_to({});
    });
    if (!c) {
      drop("connect: " + c.error());
      return;
    }
    conn_ = std::move(*c);
    return;
  }
  // Each link connection gets its own circuit (Tor's IsolateSOCKSAuth). The attempt object stays
  // until the next dial replaces it.
  auto a = socks::connect(loop_, edge_.socks.str(), host, port,
                          "nightjar-link-" + crypto::random_id(),
                          [this, epoch](Result<socks::Connected> r) {
                            if (epoch.expired()) return;
                            if (!r) {
                              drop("socks: " + r.error());
                              return;
                            }
                            conn_ = std::move(r->conn);
                            connected_to(std::move(r->early_bytes));
                          });
  if (!a) {
    drop("socks: " + a.error());
    return;
  }
  attempt_ = std::move(*a);
}

void LinkClient::connected_to(std::string early) {
  std::weak_ptr<bool> epoch = epoch_;
  channel_ = std::make_unique<link::Channel>(link::Role::initiator, inner_, edge_pub_);
  conn_->on_read([this, epoch](std::string_view b) {
    if (!epoch.expired()) on_bytes(b);
  });
  conn_->on_close([this, epoch](const Status& s) {
    if (!epoch.expired()) drop(s ? "closed by the edge" : "connection: " + s.error());
  });
  flush();  // the initiator's first handshake message
  if (!early.empty()) on_bytes(early);
  arm_keepalive();
}

void LinkClient::on_bytes(std::string_view b) {
  if (!channel_) return;
  channel_->feed(b);
  schedule_flush();  // handshake replies, with the frames this turn answers
  if (channel_->state() == link::Channel::State::failed) {
    drop("refused: " + channel_->reason());
    return;
  }
  if (channel_->state() == link::Channel::State::closed) {
    drop("closed by the edge");
    return;
  }
  if (channel_->is_open() && !was_open_) {
    was_open_ = true;
    backoff_ms_ = opt_.first_backoff_ms;  // a working link resets the backoff
    NJ_LOG_INFO("link up");
    clear_outbound();
    load_outbound();
    submit_timer_.start(1000, 1000, [this] { tick_outbound(); });
  }
  idle_rounds_ = 0;
  while (channel_ && channel_->is_open()) {
    auto f = channel_->next_frame();
    if (!f) break;
    on_frame(std::move(*f));
  }
}

void LinkClient::send(link::Frame f) {
  if (!channel_ || !channel_->is_open()) return;
  if (auto s = channel_->send(f); !s) {
    drop("send: " + s.error());
    return;
  }
  schedule_flush();
}

void LinkClient::schedule_flush() {
  if (channel_ && channel_->has_output()) flush_soon_.schedule();
}

void LinkClient::flush() {
  flush_soon_.cancel();  // what is pending goes now
  if (!channel_ || !conn_) return;
  std::string out = channel_->take_output();
  if (!out.empty() && !conn_->write(std::move(out))) drop("write failed");
}

void LinkClient::arm_keepalive() {
  keepalive_.start(opt_.keepalive_ms, 0, [this] {
    if (++idle_rounds_ >= 3) {
      drop("the edge is silent");
      return;
    }
    if (channel_ && channel_->is_open()) send(link::Frame{link::FrameType::ping, next_frame_id_++, {}});
    arm_keepalive();
  });
}

void LinkClient::drop(const std::string& why) {
  if (was_open_) NJ_LOG_INFO("link down: %s", why.c_str());
  else NJ_LOG_INFO("link attempt failed: %s", why.c_str());
  epoch_.reset();  // callbacks of this connection stop here
  was_open_ = false;
  keepalive_.stop();
  submit_timer_.stop();
  clear_outbound();
  // Frames queued earlier in this turn (answers to the edge) go out before the close, as far
  // as the connection still takes them; a failed write changes nothing here.
  flush_soon_.cancel();
  if (channel_ && conn_ && channel_->has_output()) (void)conn_->write(channel_->take_output());
  channel_.reset();
  if (conn_) {
    conn_->close();
    conn_.reset();
  }
  if (stopping_) return;
  // Exponential backoff with +-25% jitter, so a fleet of inners does not reconnect in step.
  uint64_t jitter = backoff_ms_ / 4;
  uint64_t wait = backoff_ms_ - jitter +
                  (jitter ? crypto::random_uniform(static_cast<uint32_t>(2 * jitter)) : 0);
  backoff_ms_ = std::min(backoff_ms_ * 2, opt_.max_backoff_ms);
  retry_timer_.start(wait, 0, [this] { dial(); });
}

void LinkClient::on_frame(link::Frame f) {
  switch (f.type) {
    case link::FrameType::deliver: {
      auto d = link::decode_deliver(f.payload);
      if (!d) {
        drop("bad DELIVER: " + d.error());
        return;
      }
      std::weak_ptr<bool> epoch = epoch_;
      uint64_t fid = f.id;
      std::string mid = d->message_id;
      inbound_.deliver(gc_, std::move(d->sealed_envelope),
                       [this, epoch, fid, mid](InboundDelivery::Result r) {
                         if (r.outcome == InboundDelivery::Outcome::delivered) {
                           NJ_LOG_INFO("link msg=%s delivered new=%zu unknown=%zu", mid.c_str(),
                                       r.delivered, r.unknown);
                         } else {
                           NJ_LOG_WARN("link msg=%s not delivered (%s): %s", mid.c_str(),
                                       r.outcome == InboundDelivery::Outcome::temporary
                                           ? "temporary"
                                           : "permanent",
                                       r.reason.c_str());
                         }
                         // The commit is done (or failed); answer only on the link that asked.
                         if (epoch.expired()) return;
                         if (r.outcome == InboundDelivery::Outcome::delivered) {
                           send(link::Frame{link::FrameType::ack, fid, {}});
                           return;
                         }
                         auto kind = r.outcome == InboundDelivery::Outcome::permanent
                                         ? link::NackKind::permanent
                                         : link::NackKind::temporary;
                         auto p = link::encode(link::NackPayload{kind, r.reason.substr(0, 400)});
                         if (p) send(link::Frame{link::FrameType::nack, fid, std::move(*p)});
                       });
      return;
    }
    case link::FrameType::verify: {
      auto v = link::decode_verify(f.payload);
      link::VerifyOutcome out = link::VerifyOutcome::temporary;
      if (v) {
        auto who = accounts_.recipient(v->recipient);
        if (who) out = *who ? link::VerifyOutcome::exists : link::VerifyOutcome::unknown;
      }
      auto p = link::encode(link::VerifyResultPayload{out});
      if (p) send(link::Frame{link::FrameType::verify_result, f.id, std::move(*p)});
      return;
    }
    case link::FrameType::ping:
      send(link::Frame{link::FrameType::pong, f.id, {}});
      return;
    case link::FrameType::ack:
      on_submit_answer(f.id, true);
      return;
    case link::FrameType::nack: {
      auto n = link::decode_nack(f.payload);
      NJ_LOG_INFO("link submit refused by the edge (%s): %s",
                  n && n->kind == link::NackKind::permanent ? "permanent" : "temporary",
                  n ? n->reason.c_str() : "?");
      on_submit_answer(f.id, false);
      return;
    }
    case link::FrameType::status:
      on_status(f.id, f.payload);
      return;
    case link::FrameType::pong:
      return;
    default:
      drop("unexpected " + std::string(link::frame_type_name(f.type)) + " frame");
  }
}

void LinkClient::clear_outbound() {
  submits_.clear();
  to_submit_.clear();
  refused_.clear();
  submitted_.clear();
  in_flight_bytes_ = 0;
}

void LinkClient::load_outbound() {
  auto items = out_.queue.list();
  if (!items) {
    NJ_LOG_ERROR("link: outbound queue: %s", items.error().c_str());
    return;
  }
  const int64_t now = out_.clock.now();
  for (const auto& it : *items) {
    if (!it.released && it.due > now) continue;  // its delay class still holds it
    if (submitted_.insert(it.id).second) to_submit_.push_back(it.id);
  }
  pump_submits();
}

void LinkClient::tick_outbound() {
  if (!channel_ || !channel_->is_open()) return;
  for (auto& id : refused_) to_submit_.push_back(std::move(id));
  refused_.clear();
  // Due and not yet released: mostly what is already waiting or in flight here, which the set
  // skips. The limit bounds one tick's work; what lies beyond it is read once those before it
  // have been handed over.
  auto due = out_.queue.due_before(out_.clock.now(), 4096);
  if (!due) {
    NJ_LOG_ERROR("link: outbound queue: %s", due.error().c_str());
    return;
  }
  for (auto& id : *due)
    if (submitted_.insert(id).second) to_submit_.push_back(std::move(id));
  pump_submits();
}

void LinkClient::queued(const std::string& id, int64_t due) {
  if (!channel_ || !channel_->is_open()) return;  // loaded when the link comes up
  if (due > out_.clock.now()) return;               // found by the tick once due
  if (submitted_.insert(id).second) to_submit_.push_back(id);
  pump_submits();
}

void LinkClient::pump_submits() {
  const int64_t now = out_.clock.now();
  while (channel_ && channel_->is_open() && !to_submit_.empty() &&
         submits_.size() < opt_.window &&
         (submits_.empty() || in_flight_bytes_ < opt_.window_bytes)) {
    std::string id = std::move(to_submit_.front());
    to_submit_.pop_front();
    auto e = out_.queue.leaving(inner_, id, now);
    if (!e) {
      // Gone meanwhile (a final STATUS of an earlier link) or unreadable; not again on this link.
      NJ_LOG_ERROR("link: outbound msg=%s cannot be opened: %s", id.c_str(), e.error().c_str());
      continue;
    }
    auto payload = link::encode(link::SubmitPayload{id, queue::encode(*e, 0)});
    if (!payload) {
      NJ_LOG_ERROR("link: outbound msg=%s cannot be framed: %s", id.c_str(),
                   payload.error().c_str());
      continue;
    }
    uint64_t fid = next_frame_id_++;
    size_t bytes = payload->size();
    submits_.emplace(fid, InFlight{id, bytes});
    in_flight_bytes_ += bytes;
    send(link::Frame{link::FrameType::submit, fid, std::move(*payload)});
  }
}

void LinkClient::on_submit_answer(uint64_t frame_id, bool acked) {
  auto it = submits_.find(frame_id);
  if (it == submits_.end()) return;
  std::string id = std::move(it->second.id);
  in_flight_bytes_ -= it->second.bytes;
  submits_.erase(it);
  if (!acked) {
    refused_.push_back(id);  // offered again on the next tick, not in a tight loop
    pump_submits();
    return;
  }
  // The edge has it durably: no longer due here; kept until the final STATUS.
  pump_submits();  // the window has room again
  OutboundQueue* q = &out_.queue;
  gc_.submit([q, id](store::Txn& txn) { return q->release_in(txn, id); },
             [id](Status s) {
               if (!s) NJ_LOG_ERROR("link: msg=%s release failed: %s", id.c_str(), s.error().c_str());
               else NJ_LOG_INFO("link msg=%s handed to the edge", id.c_str());
             });
}

void LinkClient::on_status(uint64_t frame_id, const std::string& payload) {
  auto st = link::decode_status(payload);
  if (!st) {
    drop("bad STATUS: " + st.error());
    return;
  }
  auto env = out_.queue.open_one(inner_, st->message_id);
  std::vector<link::RecipientStatus> failed;
  size_t delivered = 0;
  for (const auto& r : st->recipients) {
    if (r.outcome == link::RecipientOutcome::delivered) ++delivered;
    else failed.push_back(r);
  }
  NJ_LOG_INFO("link msg=%s final delivered=%zu failed=%zu", st->message_id.c_str(), delivered,
              failed.size());
  // The sender's account, from the envelope's public address, for the DSN.
  std::string dsn, account_id;
  if (env && !failed.empty() && !env->mail_from.empty()) {
    const auto& cfg = out_.config;
    std::string local = env->mail_from.substr(0, env->mail_from.rfind('@'));
    std::string owner = local + "@" + cfg.domain.internal_domain;
    auto who = accounts_.recipient(owner);
    if (who && *who) {
      account_id = (*who)->id;
      dsn = make_dsn(*env, failed, cfg.hostname, owner, static_cast<std::time_t>(out_.clock.now()),
                     "=_" + crypto::random_id() + crypto::random_id());
    }
  }
  OutboundQueue* q = &out_.queue;
  Mailbox* mbox = &out_.mailbox;
  std::string id = st->message_id;
  std::weak_ptr<bool> epoch = epoch_;
  gc_.submit(
      [q, mbox, id, dsn, account_id](store::Txn& txn) -> Status {
        if (!dsn.empty()) {
          // A full mailbox must not keep the message forever: the report is dropped then.
          auto d = mbox->deliver_in(txn, account_id, dsn);
          if (d.status == DeliveryStatus::temp_failure) return make_error(d.error);
        }
        auto r = q->remove_in(txn, id);
        if (!r) return make_error(r.error());
        return {};
      },
      [this, epoch, frame_id, id](Status s) {
        if (!s) {
          NJ_LOG_ERROR("link: msg=%s final status not recorded: %s", id.c_str(),
                       s.error().c_str());
          return;  // no ACK: the edge sends the STATUS again
        }
        if (!epoch.expired()) send(link::Frame{link::FrameType::ack, frame_id, {}});
      });
}

}  // namespace nj::inner
