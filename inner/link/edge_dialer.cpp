#include "inner/link/edge_dialer.h"

#include "common/crypto/crypto.h"

namespace nj::inner {

const char* transport_name(Transport t) {
  switch (t) {
    case Transport::tor: return "tor";
    case Transport::i2p: return "i2p";
    case Transport::direct: return "direct";
  }
  return "?";
}

void EdgeDialer::cancel() {
  epoch_.reset();
  attempt_.reset();
  conn_.reset();
}

void EdgeDialer::dial(Done done) {
  cancel();
  epoch_ = std::make_shared<bool>(true);
  std::weak_ptr<bool> epoch = epoch_;
  auto [host, port] = split_edge_address(edge_.address);
  if (edge_.transport == Transport::direct) {
    auto c = uv::Connection::connect(loop_, host, port, [this, epoch, done](const Status& s) {
      if (epoch.expired()) return;
      if (!s) {
        conn_.reset();
        done(make_error("connect: " + s.error()));
        return;
      }
      done(socks::Connected{std::move(conn_), {}});
    });
    if (!c) {
      done(make_error("connect: " + c.error()));
      return;
    }
    conn_ = std::move(*c);
    return;
  }
  // Each link connection gets its own circuit (Tor's IsolateSOCKSAuth).
  auto a = socks::connect(loop_, edge_.socks.str(), host, port,
                          "nightjar-link-" + crypto::random_id(),
                          [epoch, done](Result<socks::Connected> r) {
                            if (epoch.expired()) return;
                            if (!r) {
                              done(make_error("socks: " + r.error()));
                              return;
                            }
                            done(std::move(r));
                          });
  if (!a) {
    done(make_error("socks: " + a.error()));
    return;
  }
  attempt_ = std::move(*a);
}

}  // namespace nj::inner
