#include "inner/link/link_client.h"

#include "common/base/log.h"

namespace nj::inner {

LinkClient::LinkClient(uv::Loop& loop, const EdgeLinkConfig& edge, const crypto::KeyPair& inner,
                       const crypto::PublicKey& edge_pub, EdgeRequests& requests,
                       OutboundHandover& outbound, const Clock& clock, Options options)
    : loop_(loop),
      edge_(edge),
      inner_(inner),
      edge_pub_(edge_pub),
      key_(edge_pub.view()),
      requests_(requests),
      outbound_(outbound),
      clock_(clock),
      opt_(options),
      dialer_(loop, edge_),
      policy_(options.dial, [](uint32_t n) { return crypto::random_uniform(n); }),
      retry_timer_(loop),
      reaper_(loop) {}

LinkClient::~LinkClient() {
  shutdown();
  retry_timer_.close();
  reaper_.close();
  retired_.clear();
  session_.reset();
}

const char* LinkClient::stage_name(State::Stage s) {
  switch (s) {
    case State::Stage::dialing: return "dialing";
    case State::Stage::handshaking: return "handshaking";
    case State::Stage::up: return "up";
    case State::Stage::waiting: return "waiting";
    case State::Stage::stopped: return "stopped";
  }
  return "?";
}

void LinkClient::start() {
  state_.since = clock_.now();
  dial();
}

void LinkClient::stage(State::Stage s) {
  if (state_.stage == s) return;
  state_.stage = s;
  state_.since = clock_.now();
}

LinkClient::State LinkClient::state() const {
  State s = state_;
  s.dials_last_hour = policy_.dials_last_hour(clock_.monotonic_ms());
  if (session_) s.rtt_ms = session_->rtt_ms();
  return s;
}

void LinkClient::shutdown(const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  stage(State::Stage::stopped);
  retry_timer_.stop();
  dialer_.cancel();
  if (session_) session_->close(why);  // the final record, in order
}

void LinkClient::dial() {
  if (stopping_) return;
  policy_.dialed(clock_.monotonic_ms());
  stage(State::Stage::dialing);
  NJ_LOG_INFO("link dialing the edge transport=%s edge=%s", transport_name(edge_.transport),
              edge_.name.c_str());
  dialer_.dial([this](Result<socks::Connected> r) {
    if (!r) {
      retry("attempt failed: " + r.error());
      return;
    }
    connected_to(std::move(*r));
  });
}

void LinkClient::connected_to(socks::Connected c) {
  stage(State::Stage::handshaking);
  session_ = std::make_shared<link::Session>(loop_, std::move(c.conn), link::Role::initiator,
                                             inner_, edge_pub_, opt_.session);
  session_->start(link::Session::Events{[this] { opened(); },
                                        [this](link::Frame f) { on_frame(std::move(f)); },
                                        [this](const link::Session::Ended& e) { ended(e); }},
                  c.early_bytes);
}

void LinkClient::opened() {
  policy_.opened(clock_.monotonic_ms());
  stage(State::Stage::up);
  ++state_.links_opened;
  NJ_LOG_INFO("link up peer=%s edge=%s", session_->id().c_str(), edge_.name.c_str());
  outbound_.up(key_, session_);
}

void LinkClient::ended(const link::Session::Ended& e) {
  auto s = std::move(session_);
  retired_.push_back(s);
  if (!reaper_.active()) reaper_.start(0, 0, [this] { retired_.clear(); });
  if (!e.handshaking) {
    state_.rtt_ms = s ? s->rtt_ms() : 0;
    outbound_.down(key_);
  }
  if (stopping_) return;
  std::string why;
  using End = link::Session::End;
  if (e.handshaking && (e.how == End::closed_by_peer || e.how == End::cut)) {
    // The edge answers a dialer it does not accept with nothing at all (not even a reason a
    // stranger could read), so a hang-up during the handshake is how a refusal looks here.
    why = "the edge hung up during the handshake: it does not accept this inner's key "
          "(check keys.inner_public on the edge), or what answers at its address is not a "
          "nightjar edge";
  } else if (e.how == End::refused) {
    why = "refused: " + e.why +
          (e.handshaking ? " (is this edge's public_key the key of the edge at its address?)"
                         : "");
  } else {
    why = std::string(link::Session::end_name(e.how)) + ": " + e.why;
  }
  bool refusal = e.handshaking && (e.how == End::refused || e.how == End::closed_by_peer ||
                                   e.how == End::cut);
  retry(e.handshaking ? "attempt failed: " + why : "down: " + why, refusal);
}

void LinkClient::retry(const std::string& why, bool warn) {
  state_.last_error = why;
  if (stopping_) return;
  stage(State::Stage::waiting);
  uint64_t now = clock_.monotonic_ms();
  uint64_t wait = policy_.ended(now);
  if (warn)
    NJ_LOG_WARN("link %s; next attempt in %llums (%zu dials in the last hour) edge=%s",
                why.c_str(), static_cast<unsigned long long>(wait), policy_.dials_last_hour(now),
                edge_.name.c_str());
  else
    NJ_LOG_INFO("link %s; next attempt in %llums (%zu dials in the last hour) edge=%s",
                why.c_str(), static_cast<unsigned long long>(wait), policy_.dials_last_hour(now),
                edge_.name.c_str());
  retry_timer_.start(wait, 0, [this] { dial(); });
}

void LinkClient::on_frame(link::Frame f) {
  switch (f.type) {
    case link::FrameType::deliver:
      requests_.on_deliver(session_, f);
      return;
    case link::FrameType::verify:
      requests_.on_verify(session_, f);
      return;
    case link::FrameType::ack:
    case link::FrameType::nack:
      outbound_.on_answer(key_, f);
      return;
    case link::FrameType::status:
      outbound_.on_status(key_, f);
      return;
    default:
      session_->close("unexpected " + std::string(link::frame_type_name(f.type)) + " frame");
  }
}

}  // namespace nj::inner
