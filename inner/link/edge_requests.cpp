#include "inner/link/edge_requests.h"

#include "common/base/log.h"

namespace nj::inner {

void EdgeRequests::on_deliver(const std::shared_ptr<link::Session>& asked, const link::Frame& f) {
  auto d = link::decode_deliver(f.payload);
  if (!d) {
    asked->close("bad DELIVER: " + d.error());
    return;
  }
  std::weak_ptr<link::Session> link = asked;
  uint64_t fid = f.id;
  std::string mid = d->message_id;
  inbound_.deliver(gc_, guard_, std::move(d->sealed_envelope), d->flags,
                   [link, fid, mid](InboundDelivery::Result r) {
                     if (r.outcome == InboundDelivery::Outcome::delivered) {
                       NJ_LOG_INFO("link msg=%s delivered new=%zu unknown=%zu full=%zu bounced=%zu",
                                   mid.c_str(), r.delivered, r.unknown, r.full, r.bounced);
                     } else {
                       NJ_LOG_WARN("link msg=%s not delivered (%s): %s", mid.c_str(),
                                   r.outcome == InboundDelivery::Outcome::temporary ? "temporary"
                                                                                    : "permanent",
                                   r.reason.c_str());
                     }
                     // The commit is done (or failed); answer only on the link that asked.
                     auto s = link.lock();
                     if (!s || !s->is_open()) return;
                     if (r.outcome == InboundDelivery::Outcome::delivered) {
                       (void)s->send(link::Frame{link::FrameType::ack, fid, {}});
                       return;
                     }
                     auto kind = r.outcome == InboundDelivery::Outcome::permanent
                                     ? link::NackKind::permanent
                                     : link::NackKind::temporary;
                     auto p = link::encode(link::NackPayload{kind, r.reason.substr(0, 400)});
                     if (p) (void)s->send(link::Frame{link::FrameType::nack, fid, std::move(*p)});
                   });
}

void EdgeRequests::on_verify(const std::shared_ptr<link::Session>& asked, const link::Frame& f) {
  auto v = link::decode_verify(f.payload);
  link::VerifyOutcome out =
      v ? guard_.answer(v->recipient, clock_.monotonic_ms()) : link::VerifyOutcome::temporary;
  auto p = link::encode(link::VerifyResultPayload{out});
  if (p) (void)asked->send(link::Frame{link::FrameType::verify_result, f.id, std::move(*p)});
}

}  // namespace nj::inner
