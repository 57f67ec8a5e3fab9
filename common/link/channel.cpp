#include "common/link/channel.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace nj::link {

namespace {

// Mixed into the first hash, so a peer speaking another version or pattern derives other keys.
constexpr std::string_view kProtocolName =
    "nightjar-link/3 Noise_KK_25519_ChaChaPoly_BLAKE2b(keyed-KDF) secretstream";
// Clear-text prefix of message 1: lets the responder say "not a nightjar link peer" or
// "other version" instead of a bare authentication failure.
constexpr unsigned char kMagic[4] = {'N', 'J', 'L', 0x03};

constexpr size_t kHashBytes = 64;
constexpr size_t kTagBytes = crypto_aead_chacha20poly1305_ietf_ABYTES;
constexpr size_t kStreamHeaderBytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr size_t kStreamABytes = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr uint8_t kControlType = 0;  // confirmation and the final record; never surfaced

static_assert(kTagBytes == 16 && kStreamHeaderBytes == 24);

void put_be32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_be64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_be(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}
const unsigned char* u8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

// All secret state in one sodium_malloc'd block: locked, guarded, wiped when freed.
struct Channel::Secrets {
  unsigned char s_sec[crypto_scalarmult_SCALARBYTES];
  unsigned char e_sec[crypto_scalarmult_SCALARBYTES];
  unsigned char e_pub[crypto_scalarmult_BYTES];
  unsigned char peer_e[crypto_scalarmult_BYTES];
  unsigned char ck[kHashBytes];
  unsigned char k[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
  unsigned char tx_key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  unsigned char rx_key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  crypto_secretstream_xchacha20poly1305_state tx;
  crypto_secretstream_xchacha20poly1305_state rx;
};

namespace {

// Noise's HKDF with HMAC replaced by keyed BLAKE2b (a PRF in its own right):
// prk = B(key=ck, ikm); o1 = B(key=prk, 0x01); o2 = B(key=prk, o1 || 0x02).
void kdf2(const unsigned char ck[kHashBytes], const unsigned char* ikm, size_t ikm_len,
          unsigned char o1[kHashBytes], unsigned char o2[kHashBytes]) {
  unsigned char prk[kHashBytes];
  crypto_generichash(prk, sizeof prk, ikm, ikm_len, ck, kHashBytes);
  const unsigned char one = 0x01;
  crypto_generichash(o1, kHashBytes, &one, 1, prk, sizeof prk);
  unsigned char buf[kHashBytes + 1];
  std::memcpy(buf, o1, kHashBytes);
  buf[kHashBytes] = 0x02;
  crypto_generichash(o2, kHashBytes, buf, sizeof buf, prk, sizeof prk);
  sodium_memzero(prk, sizeof prk);
  sodium_memzero(buf, sizeof buf);
}

void mix_hash(unsigned char h[kHashBytes], const unsigned char* data, size_t n) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, kHashBytes);
  crypto_generichash_update(&st, h, kHashBytes);
  crypto_generichash_update(&st, data, n);
  crypto_generichash_final(&st, h, kHashBytes);
}

// ck, k = KDF(ck, dh). False when the DH result is all zero (a low-order point: refuse).
bool mix_dh(Channel::Secrets& s, const unsigned char* my_secret, const unsigned char* their_pub) {
  unsigned char dh[crypto_scalarmult_BYTES];
  if (crypto_scalarmult(dh, my_secret, their_pub) != 0) {
    sodium_memzero(dh, sizeof dh);
    return false;
  }
  unsigned char o1[kHashBytes], o2[kHashBytes];
  kdf2(s.ck, dh, sizeof dh, o1, o2);
  std::memcpy(s.ck, o1, kHashBytes);
  std::memcpy(s.k, o2, sizeof s.k);
  sodium_memzero(dh, sizeof dh);
  sodium_memzero(o1, sizeof o1);
  sodium_memzero(o2, sizeof o2);
  return true;
}

// EncryptAndHash of an empty payload: the tag, with the transcript hash as associated data.
// Each k is used for exactly one message, so the nonce can be zero.
void tag_and_hash(Channel::Secrets& s, unsigned char h[kHashBytes], std::string& out) {
  unsigned char tag[kTagBytes];
  unsigned long long len = 0;
  unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {};
  crypto_aead_chacha20poly1305_ietf_encrypt(tag, &len, nullptr, 0, h, kHashBytes, nullptr, nonce,
                                            s.k);
  out.append(reinterpret_cast<const char*>(tag), kTagBytes);
  mix_hash(h, tag, kTagBytes);
}

bool check_tag_and_hash(Channel::Secrets& s, unsigned char h[kHashBytes],
                        const unsigned char* tag) {
  unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {};
  unsigned long long len = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(nullptr, &len, nullptr, tag, kTagBytes, h,
                                                kHashBytes, nonce, s.k) != 0)
    return false;
  mix_hash(h, tag, kTagBytes);
  return true;
}

}  // namespace

std::string_view frame_type_name(FrameType t) {
  switch (t) {
    case FrameType::deliver:
      return "DELIVER";
    case FrameType::ack:
      return "ACK";
    case FrameType::nack:
      return "NACK";
    case FrameType::verify:
      return "VERIFY";
    case FrameType::verify_result:
      return "VERIFY_RESULT";
    case FrameType::submit:
      return "SUBMIT";
    case FrameType::status:
      return "STATUS";
    case FrameType::ping:
      return "PING";
    case FrameType::pong:
      return "PONG";
    case FrameType::withdraw:
      return "WITHDRAW";
  }
  return "?";
}

Channel::Channel(Role role, const crypto::KeyPair& self, const crypto::PublicKey& peer,
                 Options options)
    : role_(role), opt_(options), self_pub_(self.pub), peer_pub_(peer) {
  crypto::init();
  void* mem = sodium_malloc(sizeof(Secrets));
  if (!mem) std::abort();  // no locked memory: nothing safe to do
  sec_ = new (mem) Secrets();
  static_assert(std::is_trivially_destructible_v<Secrets>);
  std::memcpy(sec_->s_sec, self.sec.data(), sizeof sec_->s_sec);

  // h = HASH(protocol name); ck = h; then both static keys, initiator's first (the KK
  // pre-messages), so each side's view of who is talking to whom is bound into every key.
  crypto_generichash(h_, kHashBytes, u8(kProtocolName), kProtocolName.size(), nullptr, 0);
  std::memcpy(sec_->ck, h_, kHashBytes);
  const crypto::PublicKey& ini = role_ == Role::initiator ? self_pub_ : peer_pub_;
  const crypto::PublicKey& res = role_ == Role::initiator ? peer_pub_ : self_pub_;
  mix_hash(h_, ini.bytes.data(), ini.bytes.size());
  mix_hash(h_, res.bytes.data(), res.bytes.size());

  crypto_box_keypair(sec_->e_pub, sec_->e_sec);
  if (role_ == Role::initiator) {
    step_ = Step::message2;
    write_message1();
  } else {
    step_ = Step::message1;
  }
}

Channel::~Channel() {
  sodium_free(sec_);
}

void Channel::fail(std::string why) {
  if (state_ == State::failed) return;
  state_ = State::failed;
  reason_ = std::move(why);
  step_ = Step::ended;
  out_.clear();
  in_.clear();
  in_pos_ = 0;
  frames_.clear();
  // Nothing secret is needed any more.
  sodium_memzero(sec_, sizeof(Secrets));
}

// -> e, es, ss
void Channel::write_message1() {
  Secrets& s = *sec_;
  out_.append(reinterpret_cast<const char*>(kMagic), sizeof kMagic);
  out_.append(reinterpret_cast<const char*>(s.e_pub), sizeof s.e_pub);
  mix_hash(h_, s.e_pub, sizeof s.e_pub);
  if (!mix_dh(s, s.e_sec, peer_pub_.bytes.data()) || !mix_dh(s, s.s_sec, peer_pub_.bytes.data()))
    return fail("link: the pinned edge public key is not usable (low-order point)");
  tag_and_hash(s, h_, out_);
}

void Channel::read_message1(std::string_view m) {
  Secrets& s = *sec_;
  if (std::memcmp(m.data(), kMagic, 3) != 0)
    return fail("link: refused: the peer does not speak the nightjar link protocol");
  if (static_cast<unsigned char>(m[3]) != kMagic[3])
    return fail("link: refused: the peer speaks link protocol version " +
                std::to_string(static_cast<unsigned char>(m[3])) + ", we speak " +
                std::to_string(kMagic[3]));
  const unsigned char* e = u8(m) + 4;
  std::memcpy(s.peer_e, e, sizeof s.peer_e);
  mix_hash(h_, s.peer_e, sizeof s.peer_e);
  if (!mix_dh(s, s.s_sec, s.peer_e))
    return fail("link: refused: handshake message 1 has a low-order ephemeral key");
  if (!mix_dh(s, s.s_sec, peer_pub_.bytes.data()))
    return fail("link: the pinned inner public key is not usable (low-order point)");
  if (!check_tag_and_hash(s, h_, e + 32))
    return fail(
        "link: refused: handshake message 1 does not authenticate (the peer does not hold the "
        "pinned inner key, or the message was altered)");

  // <- e, ee, se
  out_.append(reinterpret_cast<const char*>(s.e_pub), sizeof s.e_pub);
  mix_hash(h_, s.e_pub, sizeof s.e_pub);
  if (!mix_dh(s, s.e_sec, s.peer_e) || !mix_dh(s, s.e_sec, peer_pub_.bytes.data()))
    return fail("link: refused: handshake message 1 has a low-order key");
  tag_and_hash(s, h_, out_);
  start_streams();
  // Open only once the initiator proves it derived the same keys: a replayed message 1 gets
  // this far and no further.
  step_ = Step::header;
}

void Channel::read_message2(std::string_view m) {
  Secrets& s = *sec_;
  std::memcpy(s.peer_e, m.data(), sizeof s.peer_e);
  mix_hash(h_, s.peer_e, sizeof s.peer_e);
  if (!mix_dh(s, s.e_sec, s.peer_e) || !mix_dh(s, s.s_sec, s.peer_e))
    return fail("link: refused: handshake message 2 has a low-order ephemeral key");
  if (!check_tag_and_hash(s, h_, u8(m) + 32))
    return fail(
        "link: refused: handshake message 2 does not authenticate (the peer does not hold the "
        "pinned edge key, the message was altered, or it belongs to another handshake)");
  start_streams();
  // Key confirmation for the responder: the transcript hash, as the first record.
  push_record(kControlType, 0, std::string_view(reinterpret_cast<const char*>(h_), kHashBytes),
              false);
  step_ = Step::header;
  state_ = State::open;
}

// Split: two keys from the final chaining key, one per direction, then our stream's header.
void Channel::start_streams() {
  Secrets& s = *sec_;
  unsigned char o1[kHashBytes], o2[kHashBytes];
  kdf2(s.ck, nullptr, 0, o1, o2);
  const unsigned char* i2r = o1;
  const unsigned char* r2i = o2;
  std::memcpy(s.tx_key, role_ == Role::initiator ? i2r : r2i, sizeof s.tx_key);
  std::memcpy(s.rx_key, role_ == Role::initiator ? r2i : i2r, sizeof s.rx_key);
  sodium_memzero(o1, sizeof o1);
  sodium_memzero(o2, sizeof o2);
  // The handshake secrets are done with: forget them now (forward secrecy).
  sodium_memzero(s.e_sec, sizeof s.e_sec);
  sodium_memzero(s.ck, sizeof s.ck);
  sodium_memzero(s.k, sizeof s.k);
  unsigned char header[kStreamHeaderBytes];
  crypto_secretstream_xchacha20poly1305_init_push(&s.tx, header, s.tx_key);
  sodium_memzero(s.tx_key, sizeof s.tx_key);
  out_.append(reinterpret_cast<const char*>(header), sizeof header);
}

// Record: be32 length L of the ciphertext, then L bytes of secretstream ciphertext of
// type(1) || id(be64) || payload. The length is the associated data, so it cannot be changed.
void Channel::push_record(uint8_t type, uint64_t id, std::string_view payload, bool final) {
  std::string plain;
  plain.reserve(kFrameHeaderBytes + payload.size());
  plain.push_back(static_cast<char>(type));
  put_be64(plain, id);
  plain.append(payload.data(), payload.size());
  const size_t clen = plain.size() + kStreamABytes;
  std::string len;
  put_be32(len, static_cast<uint32_t>(clen));
  size_t at = out_.size();
  out_ += len;
  out_.resize(at + 4 + clen);
  unsigned long long written = 0;
  crypto_secretstream_xchacha20poly1305_push(
      &sec_->tx, reinterpret_cast<unsigned char*>(out_.data() + at + 4), &written, u8(plain),
      plain.size(), u8(len), len.size(),
      final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  sodium_memzero(plain.data(), plain.size());
}

Status Channel::send(const Frame& frame) {
  if (state_ != State::open || sent_final_) {
    if (state_ == State::failed) return make_error("link: channel failed: " + reason_);
    return make_error(sent_final_ ? "link: channel closed by us" : "link: channel not open");
  }
  auto t = static_cast<uint8_t>(frame.type);
  if (t == 0 || t > kMaxFrameType) return make_error("link: unknown frame type");
  if (frame.payload.size() > opt_.max_payload)
    return make_error("link: frame payload of " + std::to_string(frame.payload.size()) +
                      " bytes is over the limit of " + std::to_string(opt_.max_payload));
  push_record(t, frame.id, frame.payload, false);
  return {};
}

void Channel::close() {
  if (sent_final_ || (state_ != State::open && state_ != State::closed)) return;
  push_record(kControlType, 0, {}, true);
  sent_final_ = true;
}

std::optional<Frame> Channel::next_frame() {
  if (frames_.empty()) return std::nullopt;
  Frame f = std::move(frames_.front());
  frames_.pop_front();
  return f;
}

std::string Channel::take_output() {
  return std::exchange(out_, std::string());
}

void Channel::compact_input() {
  if (in_pos_ == 0) return;
  if (in_pos_ >= in_.size()) {
    in_.clear();
  } else {
    in_.erase(0, in_pos_);
  }
  in_pos_ = 0;
}

void Channel::feed(std::string_view bytes) {
  if (state_ == State::failed || step_ == Step::ended) return;
  in_.append(bytes.data(), bytes.size());
  for (;;) {
    if (state_ == State::failed || step_ == Step::ended) break;
    size_t avail = in_.size() - in_pos_;
    std::string_view rest(in_.data() + in_pos_, avail);
    if (step_ == Step::message1) {
      if (avail < kMessage1Bytes) {
        // Say early when it is plainly not our protocol (an HTTP probe, an SMTP client).
        if (avail >= 3 && std::memcmp(rest.data(), kMagic, 3) != 0)
          fail("link: refused: the peer does not speak the nightjar link protocol");
        break;
      }
      in_pos_ += kMessage1Bytes;
      read_message1(rest.substr(0, kMessage1Bytes));
    } else if (step_ == Step::message2) {
      if (avail < kMessage2Bytes) break;
      in_pos_ += kMessage2Bytes;
      read_message2(rest.substr(0, kMessage2Bytes));
    } else if (step_ == Step::header) {
      if (avail < kStreamHeaderBytes) break;
      in_pos_ += kStreamHeaderBytes;
      if (crypto_secretstream_xchacha20poly1305_init_pull(&sec_->rx, u8(rest), sec_->rx_key) != 0) {
        fail("link: the peer's stream header is invalid");
        break;
      }
      sodium_memzero(sec_->rx_key, sizeof sec_->rx_key);
      step_ = role_ == Role::responder ? Step::confirm : Step::frames;
    } else {
      if (!pull_record()) break;
    }
  }
  if (state_ != State::failed && in_pos_ > 0 && (in_pos_ >= in_.size() || in_pos_ > 65536))
    compact_input();
}

bool Channel::pull_record() {
  size_t avail = in_.size() - in_pos_;
  if (avail < 4) return false;
  const unsigned char* p = u8(in_) + in_pos_;
  uint64_t clen = get_be(p, 4);
  if (clen < kFrameHeaderBytes + kStreamABytes) {
    fail("link: malformed frame (too short)");
    return false;
  }
  // Before the confirmation the peer is unauthenticated (message 1 may be a replay): accept
  // exactly the confirmation's size, so it cannot make us buffer a large frame.
  if (step_ == Step::confirm && clen != kFrameHeaderBytes + kHashBytes + kStreamABytes) {
    fail("link: refused: the initiator's key confirmation has the wrong size");
    return false;
  }
  if (clen > opt_.max_payload + kFrameHeaderBytes + kStreamABytes) {
    fail("link: frame of " + std::to_string(clen) + " bytes is over the limit");
    return false;
  }
  if (avail < 4 + clen) {
    in_.reserve(in_pos_ + 4 + clen);  // one allocation for a large frame
    return false;
  }
  std::string plain(clen - kStreamABytes, '\0');
  unsigned long long plen = 0;
  unsigned char tag = 0;
  p = u8(in_) + in_pos_;  // reserve() may have moved it
  if (crypto_secretstream_xchacha20poly1305_pull(&sec_->rx,
                                                 reinterpret_cast<unsigned char*>(plain.data()),
                                                 &plen, &tag, p + 4, clen, p, 4) != 0) {
    fail(step_ == Step::confirm
             ? "link: refused: the initiator's key confirmation does not authenticate (a replayed "
               "or altered handshake)"
             : "link: frame does not authenticate (altered, replayed, reordered or dropped)");
    return false;
  }
  in_pos_ += 4 + clen;
  const auto type = static_cast<uint8_t>(plain[0]);
  const uint64_t id = get_be(u8(plain) + 1, 8);
  std::string_view payload(plain.data() + kFrameHeaderBytes, plen - kFrameHeaderBytes);

  if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
    if (step_ == Step::confirm || type != kControlType || id != 0 || !payload.empty()) {
      fail("link: malformed final frame");
      return false;
    }
    state_ = State::closed;
    reason_ = "link: the peer closed the channel";
    step_ = Step::ended;
    return false;
  }
  if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
    fail("link: frame with an unexpected stream tag");
    return false;
  }
  if (step_ == Step::confirm) {
    if (type != kControlType || id != 0 || payload.size() != kHashBytes ||
        sodium_memcmp(payload.data(), h_, kHashBytes) != 0) {
      fail("link: refused: the initiator's key confirmation does not match");
      return false;
    }
    step_ = Step::frames;
    state_ = State::open;
    return true;
  }
  if (type == kControlType || type > kMaxFrameType) {
    fail("link: frame of unknown type " + std::to_string(type));
    return false;
  }
  frames_.push_back(Frame{static_cast<FrameType>(type), id, std::string(payload)});
  return true;
}

}  // namespace nj::link
