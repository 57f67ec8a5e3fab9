#include "common/link/session.h"

#include <uv.h>

#include <algorithm>
#include <utility>

namespace nj::link {

const char* Session::end_name(End e) {
  switch (e) {
    case End::refused: return "refused";
    case End::closed_by_peer: return "closed by the peer";
    case End::cut: return "cut";
    case End::handshake_timeout: return "handshake timeout";
    case End::silent: return "silent";
    case End::local: return "closed here";
  }
  return "?";
}

Session::Session(uv::Loop& loop, std::unique_ptr<uv::Connection> conn, Role role,
                 const crypto::KeyPair& self, const crypto::PublicKey& peer, Options options)
    : conn_(std::move(conn)),
      channel_(role, self, peer, options.channel),
      opt_(options),
      timer_(loop),
      flush_soon_(loop, [this] { flush(); }),
      id_(crypto::random_id()) {}

Session::~Session() {
  timer_.close();
  flush_soon_.close();
}

void Session::start(Events events, std::string_view early) {
  ev_ = std::move(events);
  conn_->on_read([this](std::string_view b) { on_bytes(b); });
  conn_->on_close([this](const Status& s) {
    if (s) end(End::closed_by_peer, "the peer hung up");
    else end(End::cut, s.error());
  });
  if (channel_.state() == Channel::State::failed) {  // a pinned key that is a low-order point
    end(End::refused, channel_.reason());
    return;
  }
  flush();  // the initiator's first handshake message goes at once
  timer_.start(opt_.handshake_timeout_ms, 0,
               [this] { end(End::handshake_timeout, "the handshake did not finish in time"); });
  if (!early.empty()) on_bytes(early);
}

void Session::on_bytes(std::string_view b) {
  if (ended_) return;
  channel_.feed(b);
  schedule_flush();  // handshake replies, with the answers this turn produces
  if (channel_.state() == Channel::State::failed) {
    end(End::refused, channel_.reason());
    return;
  }
  // The peer's final record may come in the same read as its last frames (a WITHDRAW sent just
  // before an orderly close): those are delivered first, then the link ends.
  const bool peer_closed = channel_.state() == Channel::State::closed;
  idle_rounds_ = 0;
  if (channel_.is_open() && !was_open_) {
    was_open_ = true;
    arm_keepalive();
    send_ping();  // a round trip for the log and metrics, even if the link never idles
    if (ended_) return;
    if (ev_.open) ev_.open();
  } else if (was_open_) {
    timer_.again();  // PING only when idle
  }
  while (!ended_) {
    auto f = channel_.next_frame();
    if (!f) break;
    if (f->type == FrameType::ping) {
      (void)send(Frame{FrameType::pong, f->id, {}});
      continue;
    }
    if (f->type == FrameType::pong) {
      if (f->id == ping_id_) {
        rtt_ms_ = std::max<uint64_t>((uv_hrtime() - ping_sent_ns_ + 999999) / 1000000, 1);
        ping_id_ = 0;
      }
      continue;
    }
    if (ev_.frame) ev_.frame(std::move(*f));
  }
  if (peer_closed) end(End::closed_by_peer, "the peer ended the link");
}

Status Session::send(const Frame& f) {
  if (ended_) return make_error("link: the session has ended");
  // An answer to a frame that came with the peer's final record has nowhere to go: not a
  // reason to abort (the link is ending as the peer asked).
  if (channel_.state() == Channel::State::closed) return make_error("link: the peer ended it");
  if (auto s = channel_.send(f); !s) {
    std::string why = "cannot send " + std::string(frame_type_name(f.type)) + ": " + s.error();
    abort(why);
    return make_error(why);
  }
  schedule_flush();
  return {};
}

void Session::schedule_flush() {
  if (channel_.has_output()) flush_soon_.schedule();
}

void Session::flush() {
  flush_soon_.cancel();
  if (ended_) return;
  std::string out = channel_.take_output();
  if (!out.empty() && !conn_->write(std::move(out))) end(End::cut, "write failed");
}

void Session::arm_keepalive() {
  timer_.start(opt_.keepalive_ms, opt_.keepalive_ms, [this] {
    if (++idle_rounds_ >= 3) {
      end(End::silent, "no answer for three keepalive rounds");
      return;
    }
    send_ping();
  });
}

void Session::send_ping() {
  uint64_t id = next_id();
  if (!send(Frame{FrameType::ping, id, {}})) return;
  ping_id_ = id;
  ping_sent_ns_ = uv_hrtime();
}

void Session::close(const std::string& why) {
  if (ended_) return;
  if (channel_.is_open()) channel_.close();  // the final record: an orderly end, not a cut
  flush_soon_.cancel();
  std::string out = channel_.take_output();
  if (!out.empty()) (void)conn_->write(std::move(out));
  ended_ = true;  // the connection's close callback must not report a cut
  timer_.stop();
  conn_->shutdown_then_close(2000);
  if (ev_.ended) ev_.ended(Ended{End::local, !was_open_, why});
}

void Session::abort(const std::string& why) {
  if (ended_) return;
  flush_soon_.cancel();
  end(End::local, why);
}

void Session::end(End how, std::string why) {
  if (ended_) return;
  ended_ = true;
  timer_.stop();
  flush_soon_.cancel();
  // Answers produced earlier in this turn go out first, as far as the connection takes them.
  if (how != End::local && how != End::cut && channel_.has_output())
    (void)conn_->write(channel_.take_output());
  if (conn_->is_open()) {
    if (how == End::local || how == End::cut) conn_->close();
    else conn_->shutdown_then_close(2000);
  }
  if (ev_.ended) ev_.ended(Ended{how, !was_open_, std::move(why)});
}

void Window::add(uint64_t frame_id, std::string message_id, size_t bytes) {
  bytes_ += bytes;
  items_.emplace(frame_id, Item{std::move(message_id), bytes});
}

std::optional<std::string> Window::answered(uint64_t frame_id) {
  auto it = items_.find(frame_id);
  if (it == items_.end()) return std::nullopt;
  bytes_ -= it->second.bytes;
  std::string id = std::move(it->second.id);
  items_.erase(it);
  return id;
}

std::vector<std::string> Window::drain() {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (auto& [_, item] : items_) out.push_back(std::move(item.id));
  items_.clear();
  bytes_ = 0;
  return out;
}

}  // namespace nj::link
