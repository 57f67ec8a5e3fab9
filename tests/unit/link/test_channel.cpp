#define BOOST_TEST_MODULE link
#include <boost/test/unit_test.hpp>
#include <vector>

#include "common/link/channel.h"

using namespace nj;
using link::Channel;
using link::Frame;
using link::FrameType;
using link::Role;
using State = Channel::State;

namespace {

struct Keys {
  crypto::KeyPair inner = crypto::KeyPair::generate();
  crypto::KeyPair edge = crypto::KeyPair::generate();
};

// Moves bytes between the two until neither has anything to say.
void pump(Channel& a, Channel& b) {
  for (int i = 0; i < 10; ++i) {
    std::string x = a.take_output();
    std::string y = b.take_output();
    if (x.empty() && y.empty()) return;
    b.feed(x);
    a.feed(y);
  }
}

// Both sides of one successful handshake, with every message as it went over the wire.
struct Session {
  Channel ini;
  Channel res;
  std::string msg1, msg2_and_header, confirm;
  Session(const Keys& k, link::Options o = {})
      : ini(Role::initiator, k.inner, k.edge.pub, o), res(Role::responder, k.edge, k.inner.pub, o) {
    msg1 = ini.take_output();
    res.feed(msg1);
    msg2_and_header = res.take_output();
    ini.feed(msg2_and_header);
    confirm = ini.take_output();
    res.feed(confirm);
    BOOST_REQUIRE_MESSAGE(res.is_open(), res.reason());
    BOOST_REQUIRE_MESSAGE(ini.is_open(), ini.reason());
  }
};

Frame frame(FrameType t, uint64_t id, std::string payload) {
  return Frame{t, id, std::move(payload)};
}

// The wire bytes of one frame sent by `from`.
std::string wire_of(Channel& from, const Frame& f) {
  BOOST_REQUIRE(from.send(f).ok());
  return from.take_output();
}

}  // namespace

BOOST_AUTO_TEST_CASE(handshake_and_frames_both_ways) {
  Keys k;
  Session s(k);
  BOOST_TEST(s.msg1.size() == link::kMessage1Bytes);
  BOOST_TEST(s.msg2_and_header.size() == link::kMessage2Bytes + 24);

  BOOST_TEST(s.res.send(frame(FrameType::deliver, 1, "sealed mail")).ok());
  BOOST_TEST(s.res.send(frame(FrameType::ping, 2, "")).ok());
  BOOST_TEST(s.ini.send(frame(FrameType::submit, 77, std::string(100000, 'm'))).ok());
  pump(s.ini, s.res);
  auto f1 = s.ini.next_frame();
  BOOST_REQUIRE(f1);
  BOOST_TEST((f1->type == FrameType::deliver));
  BOOST_TEST(f1->id == 1u);
  BOOST_TEST(f1->payload == "sealed mail");
  auto f2 = s.ini.next_frame();
  BOOST_REQUIRE(f2);
  BOOST_TEST((f2->type == FrameType::ping));
  BOOST_TEST(!s.ini.next_frame());
  auto f3 = s.res.next_frame();
  BOOST_REQUIRE(f3);
  BOOST_TEST((f3->type == FrameType::submit));
  BOOST_TEST(f3->id == 77u);
  BOOST_TEST(f3->payload.size() == 100000u);
  BOOST_TEST(!s.res.next_frame());
}

BOOST_AUTO_TEST_CASE(any_split_of_the_bytes_works) {
  Keys k;
  Channel ini(Role::initiator, k.inner, k.edge.pub);
  Channel res(Role::responder, k.edge, k.inner.pub);
  auto dribble = [](Channel& to, const std::string& b) {
    for (char c : b) to.feed(std::string_view(&c, 1));
  };
  dribble(res, ini.take_output());
  dribble(ini, res.take_output());
  BOOST_REQUIRE(ini.send(frame(FrameType::verify_result, 9, "x")).ok());
  dribble(res, ini.take_output());
  BOOST_TEST(res.is_open());
  auto f = res.next_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->id == 9u);
}

BOOST_AUTO_TEST_CASE(responder_waits_for_key_confirmation) {
  Keys k;
  Channel ini(Role::initiator, k.inner, k.edge.pub);
  Channel res(Role::responder, k.edge, k.inner.pub);
  res.feed(ini.take_output());
  BOOST_TEST((res.state() == State::handshaking));
  BOOST_TEST(!res.send(frame(FrameType::ping, 1, "")).ok());  // nothing before confirmation
  ini.feed(res.take_output());
  BOOST_TEST(ini.is_open());
  res.feed(ini.take_output());
  BOOST_TEST(res.is_open());
}

BOOST_AUTO_TEST_CASE(wrong_keys_are_refused_on_both_sides) {
  Keys k;
  crypto::KeyPair stranger = crypto::KeyPair::generate();
  {
    // The inner pinned another edge key (or talks to an impostor edge): the edge refuses.
    Channel ini(Role::initiator, k.inner, stranger.pub);
    Channel res(Role::responder, k.edge, k.inner.pub);
    pump(ini, res);
    BOOST_TEST((res.state() == State::failed));
    BOOST_TEST(res.reason().find("message 1 does not authenticate") != std::string::npos);
    BOOST_TEST(!ini.is_open());
  }
  {
    // An impostor edge that holds a key pair of its own answers: it cannot read message 1.
    Channel ini(Role::initiator, k.inner, k.edge.pub);
    Channel impostor(Role::responder, stranger, k.inner.pub);
    pump(ini, impostor);
    BOOST_TEST((impostor.state() == State::failed));
    BOOST_TEST(!ini.is_open());
  }
  {
    // A stranger dials the edge: refused.
    Channel ini(Role::initiator, stranger, k.edge.pub);
    Channel res(Role::responder, k.edge, k.inner.pub);
    pump(ini, res);
    BOOST_TEST((res.state() == State::failed));
    BOOST_TEST(!ini.is_open());
  }
  {
    // The edge's answer from a session with another inner key cannot fool our inner: message 2
    // is bound to our own message 1 and keys.
    Channel ini_other(Role::initiator, stranger, k.edge.pub);
    Channel res_other(Role::responder, k.edge, stranger.pub);
    res_other.feed(ini_other.take_output());
    std::string m2 = res_other.take_output();
    Channel ini(Role::initiator, k.inner, k.edge.pub);
    (void)ini.take_output();
    ini.feed(m2);
    BOOST_TEST((ini.state() == State::failed));
    BOOST_TEST(ini.reason().find("message 2 does not authenticate") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(reasons_hold_no_key_material) {
  Keys k;
  crypto::KeyPair stranger = crypto::KeyPair::generate();
  Channel ini(Role::initiator, stranger, k.edge.pub);
  Channel res(Role::responder, k.edge, k.inner.pub);
  pump(ini, res);
  BOOST_REQUIRE((res.state() == State::failed));
  for (const auto* key : {&k.inner.pub, &k.edge.pub, &stranger.pub}) {
    BOOST_TEST(res.reason().find(crypto::to_hex(key->view())) == std::string::npos);
    BOOST_TEST(res.reason().find(crypto::to_base64(key->view())) == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(replayed_handshake_messages_are_refused) {
  Keys k;
  Session old(k);
  {
    // An observer replays the inner's old message 1 and confirmation to the edge: the edge
    // answers with a fresh ephemeral key, so the old confirmation no longer fits.
    Channel res(Role::responder, k.edge, k.inner.pub);
    res.feed(old.msg1);
    BOOST_TEST((res.state() == State::handshaking));
    res.feed(old.confirm);
    BOOST_TEST((res.state() == State::failed));
    BOOST_TEST(res.reason().find("key confirmation") != std::string::npos);
  }
  {
    // Replayed old message 1 followed by old frames: never open, never a frame.
    BOOST_REQUIRE(old.ini.send(frame(FrameType::deliver, 5, "x")).ok());
    std::string later = old.ini.take_output();
    Channel res(Role::responder, k.edge, k.inner.pub);
    res.feed(old.msg1 + old.confirm + later);
    BOOST_TEST(!res.is_open());
    BOOST_TEST(!res.next_frame());
  }
  {
    // After a replayed message 1 the unauthenticated peer cannot make the edge buffer a frame.
    Channel res(Role::responder, k.edge, k.inner.pub);
    res.feed(old.msg1);
    res.feed(old.confirm.substr(0, 24));           // a stream header
    res.feed(std::string("\x00\x10\x00\x00", 4));  // then a claimed 1 MiB record
    BOOST_TEST((res.state() == State::failed));
    BOOST_TEST(res.reason().find("wrong size") != std::string::npos);
  }
  {
    // The edge's old message 2 replayed to a new dial of the inner.
    Channel ini(Role::initiator, k.inner, k.edge.pub);
    (void)ini.take_output();
    ini.feed(old.msg2_and_header);
    BOOST_TEST((ini.state() == State::failed));
  }
}

BOOST_AUTO_TEST_CASE(every_flipped_bit_in_the_handshake_is_refused) {
  Keys k;
  Session ref(k);
  for (size_t bit = 0; bit < ref.msg1.size() * 8; ++bit) {
    Channel ini(Role::initiator, k.inner, k.edge.pub);
    std::string m1 = ini.take_output();
    m1[bit / 8] = static_cast<char>(m1[bit / 8] ^ (1 << (bit % 8)));
    Channel res(Role::responder, k.edge, k.inner.pub);
    res.feed(m1);
    BOOST_TEST((res.state() == State::failed), "message 1 bit " << bit);
  }
  for (size_t bit = 0; bit < link::kMessage2Bytes * 8; ++bit) {
    Channel ini(Role::initiator, k.inner, k.edge.pub);
    Channel res(Role::responder, k.edge, k.inner.pub);
    res.feed(ini.take_output());
    std::string m2 = res.take_output();
    m2[bit / 8] = static_cast<char>(m2[bit / 8] ^ (1 << (bit % 8)));
    ini.feed(m2);
    BOOST_TEST((ini.state() == State::failed), "message 2 bit " << bit);
  }
  // The stream header and the confirmation: the responder never opens.
  const size_t confirm_bits = 8 * (24 + 4 + 9 + 64 + 17);
  for (size_t bit = 0; bit < confirm_bits; ++bit) {
    Channel ini(Role::initiator, k.inner, k.edge.pub);
    Channel res(Role::responder, k.edge, k.inner.pub);
    res.feed(ini.take_output());
    ini.feed(res.take_output());
    std::string c = ini.take_output();
    BOOST_REQUIRE(c.size() * 8 == confirm_bits);
    c[bit / 8] = static_cast<char>(c[bit / 8] ^ (1 << (bit % 8)));
    res.feed(c);
    // A longer length field leaves it waiting for bytes that complete nothing valid.
    res.feed(std::string(200, '\0'));
    BOOST_TEST(!res.is_open(), "confirmation bit " << bit);
  }
}

BOOST_AUTO_TEST_CASE(every_flipped_bit_in_a_frame_is_refused) {
  Keys k;
  // With a small limit every changed length is either refused at once or completed by the
  // padding below; with a large one a longer length just waits for more bytes.
  link::Options opt{1024};
  Session ref(k, opt);
  std::string probe = wire_of(ref.res, frame(FrameType::verify, 3, "someone@example.org"));
  for (size_t bit = 0; bit < probe.size() * 8; ++bit) {
    Session s(k, opt);
    std::string w = wire_of(s.res, frame(FrameType::verify, 3, "someone@example.org"));
    std::string next = wire_of(s.res, frame(FrameType::ping, 4, ""));
    w[bit / 8] = static_cast<char>(w[bit / 8] ^ (1 << (bit % 8)));
    s.ini.feed(w + next + std::string(2000, '\0'));
    BOOST_TEST((s.ini.state() == State::failed), "frame bit " << bit);
    BOOST_TEST(!s.ini.next_frame());
  }
}

BOOST_AUTO_TEST_CASE(reordered_dropped_and_duplicated_frames_are_refused) {
  Keys k;
  auto three = [&](Session& s) {
    std::vector<std::string> w;
    for (uint64_t id = 1; id <= 3; ++id)
      w.push_back(wire_of(s.ini, frame(FrameType::submit, id, "m" + std::to_string(id))));
    return w;
  };
  {
    Session s(k);
    auto w = three(s);
    s.res.feed(w[1]);  // reordered
    BOOST_TEST((s.res.state() == State::failed));
    BOOST_TEST(s.res.reason().find("does not authenticate") != std::string::npos);
  }
  {
    Session s(k);
    auto w = three(s);
    s.res.feed(w[0]);
    BOOST_TEST(s.res.next_frame()->id == 1u);
    s.res.feed(w[2]);  // w[1] dropped
    BOOST_TEST((s.res.state() == State::failed));
    BOOST_TEST(!s.res.next_frame());
  }
  {
    Session s(k);
    auto w = three(s);
    s.res.feed(w[0]);
    s.res.feed(w[0]);  // duplicated
    BOOST_TEST((s.res.state() == State::failed));
  }
  {
    // A frame from another session of the same two keys does not fit either.
    Session a(k), b(k);
    auto w = three(a);
    b.res.feed(w[0]);
    BOOST_TEST((b.res.state() == State::failed));
  }
}

BOOST_AUTO_TEST_CASE(frame_size_limit) {
  Keys k;
  link::Options small{1000};
  Session s(k, small);
  BOOST_TEST(s.ini.send(frame(FrameType::submit, 1, std::string(1000, 'a'))).ok());
  BOOST_TEST(!s.ini.send(frame(FrameType::submit, 2, std::string(1001, 'a'))).ok());
  BOOST_TEST(s.ini.is_open());  // refusing to send does not break the channel
  s.res.feed(s.ini.take_output());
  BOOST_TEST(s.res.next_frame()->payload.size() == 1000u);

  // A peer with a larger limit sends more: refused from the length alone, before buffering.
  Channel big_ini(Role::initiator, k.inner, k.edge.pub, link::Options{5000});
  Channel small_res(Role::responder, k.edge, k.inner.pub, small);
  pump(big_ini, small_res);
  BOOST_REQUIRE(small_res.is_open());
  BOOST_REQUIRE(big_ini.send(frame(FrameType::submit, 1, std::string(1001, 'a'))).ok());
  std::string w = big_ini.take_output();
  small_res.feed(w.substr(0, 4));
  BOOST_TEST((small_res.state() == State::failed));
  BOOST_TEST(small_res.reason().find("over the limit") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(large_frame_default_limit) {
  Keys k;
  Session s(k);
  std::string big(36 * 1024 * 1024, 'z');
  BOOST_REQUIRE(s.res.send(frame(FrameType::deliver, 1, big)).ok());
  std::string w = s.res.take_output();
  for (size_t at = 0; at < w.size(); at += 65536) s.ini.feed(std::string_view(w).substr(at, 65536));
  auto f = s.ini.next_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST((f->payload == big));
}

BOOST_AUTO_TEST_CASE(orderly_close_versus_truncation) {
  Keys k;
  Session s(k);
  BOOST_REQUIRE(s.ini.send(frame(FrameType::status, 1, "s")).ok());
  s.ini.close();
  BOOST_TEST(!s.ini.send(frame(FrameType::ping, 2, "")).ok());
  s.res.feed(s.ini.take_output());
  BOOST_TEST(s.res.next_frame()->id == 1u);
  BOOST_TEST((s.res.state() == State::closed));
  BOOST_TEST(s.res.reason() == "link: the peer closed the channel");
  // A connection that ends without the final record leaves the channel open: the integrator
  // treats "connection ended while open" as a cut, not an orderly close.
  Session t(k);
  BOOST_REQUIRE(t.ini.send(frame(FrameType::status, 1, "s")).ok());
  std::string w = t.ini.take_output();
  t.res.feed(w.substr(0, w.size() - 1));
  BOOST_TEST(t.res.is_open());
  BOOST_TEST(!t.res.next_frame());
}

BOOST_AUTO_TEST_CASE(not_our_protocol_and_other_versions) {
  Keys k;
  {
    Channel res(Role::responder, k.edge, k.inner.pub);
    res.feed("GET / HTTP/1.1\r\n");
    BOOST_TEST((res.state() == State::failed));
    BOOST_TEST(res.reason().find("does not speak the nightjar link protocol") != std::string::npos);
    BOOST_TEST(res.take_output().empty());
  }
  {
    Channel ini(Role::initiator, k.inner, k.edge.pub);
    std::string m1 = ini.take_output();
    BOOST_TEST(m1[3] == 3);  // this build speaks version 3
    for (char v : {1, 2}) {  // 1: before DELIVER flags and VERIFY "full"; 2: before WITHDRAW
      std::string old = m1;
      old[3] = v;
      Channel res(Role::responder, k.edge, k.inner.pub);
      res.feed(old);
      BOOST_TEST((res.state() == State::failed));
      BOOST_TEST(res.reason().find("speaks link protocol version " + std::to_string(v) +
                                   ", we speak 3") != std::string::npos);
      BOOST_TEST(res.take_output().empty());
    }
  }
  {
    // A low-order point as the ephemeral key.
    Channel ini(Role::initiator, k.inner, k.edge.pub);
    std::string m1 = ini.take_output();
    std::fill(m1.begin() + 4, m1.begin() + 36, '\0');
    Channel res(Role::responder, k.edge, k.inner.pub);
    res.feed(m1);
    BOOST_TEST((res.state() == State::failed));
  }
}

BOOST_AUTO_TEST_CASE(withdraw_frame_crosses) {
  Keys k;
  Session s(k);
  BOOST_TEST(link::frame_type_name(FrameType::withdraw) == "WITHDRAW");
  BOOST_TEST(s.ini.send(frame(FrameType::withdraw, 9, "\x02id")).ok());
  pump(s.ini, s.res);
  auto f = s.res.next_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST((f->type == FrameType::withdraw));
  BOOST_TEST(f->id == 9u);
  BOOST_TEST(f->payload == "\x02id");
}

BOOST_AUTO_TEST_CASE(sending_rules) {
  Keys k;
  Session s(k);
  BOOST_TEST(!s.ini.send(Frame{static_cast<FrameType>(0), 1, ""}).ok());
  BOOST_TEST(!s.ini.send(Frame{static_cast<FrameType>(11), 1, ""}).ok());
  Channel fresh(Role::initiator, k.inner, k.edge.pub);
  BOOST_TEST(!fresh.send(frame(FrameType::ping, 1, "")).ok());
  // After a failure: no output, no frames, no sending.
  s.res.feed(std::string(40, '\xff'));
  BOOST_TEST((s.res.state() == State::failed));
  BOOST_TEST(!s.res.send(frame(FrameType::ping, 1, "")).ok());
  BOOST_TEST(s.res.take_output().empty());
  std::string why = s.res.reason();
  s.res.feed(wire_of(s.ini, frame(FrameType::ping, 1, "")));
  BOOST_TEST(s.res.reason() == why);
}

BOOST_AUTO_TEST_CASE(low_order_pinned_key_fails_at_once) {
  Keys k;
  crypto::PublicKey zero{};  // the all-zero point: every DH with it is zero
  Channel ini(Role::initiator, k.inner, zero);
  BOOST_TEST((ini.state() == State::failed));
  BOOST_TEST(ini.reason().find("low-order") != std::string::npos);
  BOOST_TEST(ini.take_output().empty());
}
