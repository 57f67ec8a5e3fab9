// The whole path the daemons will use, on 127.0.0.1: the inner dials a name through a SOCKS5
// proxy (a forwarding fake written here), the edge accepts, and the two link channels run their
// handshake and exchange a DELIVER and its ACK over real sockets.
#include <boost/test/unit_test.hpp>
#include <memory>
#include <vector>

#include "common/link/channel.h"
#include "common/link/payloads.h"
#include "common/socks/connect.h"
#include "common/uv/handles.h"
#include "common/uv/tcp.h"
#include "tests/unit/support/run_until.h"

using namespace nj;

namespace {

using nj::testing::run_until;

// A SOCKS5 proxy that knows one name and forwards to a local port, like Tor's SocksPort
// reaching an onion service.
struct ForwardingProxy {
  uv::Loop& loop;
  std::string name;
  uint16_t target_port;
  std::unique_ptr<uv::TcpListener> l;
  struct Pair {
    std::unique_ptr<uv::Connection> client, upstream;
    std::string buf;
    int step = 0;
  };
  std::vector<std::unique_ptr<Pair>> pairs;

  ForwardingProxy(uv::Loop& lp, std::string n, uint16_t port)
      : loop(lp), name(std::move(n)), target_port(port) {
    auto r = uv::TcpListener::bind(loop, "127.0.0.1:0", [this](std::unique_ptr<uv::Connection> c) {
      auto p = std::make_unique<Pair>();
      Pair* raw = p.get();
      p->client = std::move(c);
      p->client->on_read([this, raw](std::string_view b) { on_client(*raw, b); });
      pairs.push_back(std::move(p));
    });
    BOOST_REQUIRE(r.ok());
    l = std::move(*r);
  }
  std::string addr() const { return "127.0.0.1:" + std::to_string(l->port()); }

  void on_client(Pair& p, std::string_view b) {
    if (p.step == 3) {
      (void)p.upstream->write(std::string(b));
      return;
    }
    p.buf.append(b);
    auto at = [&](size_t i) { return static_cast<uint8_t>(p.buf[i]); };
    if (p.step == 0 && p.buf.size() >= 3) {  // greeting offering 0x02
      p.buf.erase(0, 2 + at(1));
      (void)p.client->write(std::string("\x05\x02", 2));
      p.step = 1;
    }
    if (p.step == 1 && p.buf.size() >= 3 && p.buf.size() >= 3u + at(1) + at(2 + at(1))) {
      p.buf.erase(0, 3 + at(1) + at(2 + at(1)));
      (void)p.client->write(std::string("\x01\x00", 2));
      p.step = 2;
    }
    if (p.step == 2 && p.buf.size() >= 5 && p.buf.size() >= 7u + at(4)) {
      std::string host = p.buf.substr(5, at(4));
      p.buf.erase(0, 7 + at(4));
      if (host != name) {
        (void)p.client->write(std::string("\x05\x04\x00\x01\0\0\0\0\0\0", 10));
        return;
      }
      p.step = 3;
      Pair* raw = &p;
      auto up = uv::Connection::connect(loop, "127.0.0.1", target_port, [raw](const Status& st) {
        BOOST_REQUIRE(st.ok());
        raw->upstream->on_read(
            [raw](std::string_view d) { (void)raw->client->write(std::string(d)); });
        (void)raw->client->write(std::string("\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00", 10));
      });
      BOOST_REQUIRE(up.ok());
      p.upstream = std::move(*up);
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(inner_dials_edge_through_socks_and_delivers) {
  uv::Loop loop;
  crypto::KeyPair inner_key = crypto::KeyPair::generate();
  crypto::KeyPair edge_key = crypto::KeyPair::generate();

  // Edge: listens, one responder channel per connection; answers DELIVER with ACK.
  std::unique_ptr<uv::Connection> edge_conn;
  std::unique_ptr<link::Channel> edge_ch;
  std::string edge_got_id;
  auto listener =
      uv::TcpListener::bind(loop, "127.0.0.1:0", [&](std::unique_ptr<uv::Connection> c) {
        edge_conn = std::move(c);
        edge_ch = std::make_unique<link::Channel>(link::Role::responder, edge_key, inner_key.pub);
        edge_conn->on_read([&](std::string_view b) {
          edge_ch->feed(b);
          while (auto f = edge_ch->next_frame()) {
            if (f->type == link::FrameType::submit) {
              auto p = link::decode_submit(f->payload);
              BOOST_REQUIRE(p.ok());
              edge_got_id = p->message_id;
              BOOST_REQUIRE(edge_ch->send(link::Frame{link::FrameType::ack, f->id, ""}).ok());
            }
          }
          if (edge_ch->has_output()) (void)edge_conn->write(edge_ch->take_output());
        });
      });
  BOOST_REQUIRE(listener.ok());
  ForwardingProxy proxy(loop, "edge4example7.onion", (*listener)->port());

  // Inner: dials the name through the proxy, handshakes, submits, waits for the ACK.
  std::unique_ptr<uv::Connection> inner_conn;
  link::Channel inner_ch(link::Role::initiator, inner_key, edge_key.pub);
  bool acked = false;
  auto feed_inner = [&](std::string_view b) {
    inner_ch.feed(b);
    while (auto f = inner_ch.next_frame())
      if (f->type == link::FrameType::ack && f->id == 42) acked = true;
    if (inner_ch.has_output()) (void)inner_conn->write(inner_ch.take_output());
  };
  auto attempt = socks::connect(loop, proxy.addr(), "edge4example7.onion", 2525, "link",
                                [&](Result<socks::Connected> r) {
                                  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
                                  inner_conn = std::move(r->conn);
                                  inner_conn->on_read(feed_inner);
                                  (void)inner_conn->write(inner_ch.take_output());
                                  if (!r->early_bytes.empty()) feed_inner(r->early_bytes);
                                });
  BOOST_REQUIRE(attempt.ok());
  BOOST_REQUIRE(run_until(loop, [&] { return inner_ch.is_open(); }));
  auto payload = link::encode(link::SubmitPayload{"msg-1", "envelope bytes"});
  BOOST_REQUIRE(payload.ok());
  BOOST_REQUIRE(inner_ch.send(link::Frame{link::FrameType::submit, 42, *payload}).ok());
  BOOST_REQUIRE(inner_conn->write(inner_ch.take_output()).ok());
  BOOST_REQUIRE(run_until(loop, [&] { return acked; }));
  BOOST_TEST(edge_got_id == "msg-1");
  BOOST_TEST(edge_ch->is_open());
}
