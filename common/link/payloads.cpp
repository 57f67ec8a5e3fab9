#include "common/link/payloads.h"

#include <optional>
#include <type_traits>

namespace nj::link {

namespace {

bool printable_id(std::string_view s) {
  if (s.empty() || s.size() > kMaxMessageIdBytes) return false;
  for (unsigned char c : s)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

void put_u8(std::string& o, uint8_t v) {
  o.push_back(static_cast<char>(v));
}
void put_u16(std::string& o, uint16_t v) {
  o.push_back(static_cast<char>(v >> 8));
  o.push_back(static_cast<char>(v & 0xff));
}
void put_str8(std::string& o, std::string_view s) {
  put_u8(o, static_cast<uint8_t>(s.size()));
  o.append(s);
}
void put_str16(std::string& o, std::string_view s) {
  put_u16(o, static_cast<uint16_t>(s.size()));
  o.append(s);
}

// Reads fields off the front of a payload; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool u8(uint8_t& v) {
    if (b_.empty()) return false;
    v = static_cast<uint8_t>(b_[0]);
    b_.remove_prefix(1);
    return true;
  }
  bool u16(uint16_t& v) {
    if (b_.size() < 2) return false;
    v = static_cast<uint16_t>((static_cast<uint8_t>(b_[0]) << 8) | static_cast<uint8_t>(b_[1]));
    b_.remove_prefix(2);
    return true;
  }
  bool bytes(size_t n, std::string& out) {
    if (b_.size() < n) return false;
    out.assign(b_.substr(0, n));
    b_.remove_prefix(n);
    return true;
  }
  bool str8(std::string& out) {
    uint8_t n = 0;
    return u8(n) && bytes(n, out);
  }
  bool str16(std::string& out) {
    uint16_t n = 0;
    return u16(n) && bytes(n, out);
  }
  std::string_view rest() {
    auto r = b_;
    b_ = {};
    return r;
  }
  bool done() const { return b_.empty(); }

 private:
  std::string_view b_;
};

// DELIVER: u8 n, id, u8 flags, sealed envelope. SUBMIT: u8 n, id, envelope.
Result<std::string> encode_mail(std::string_view what, std::string_view id,
                                std::optional<uint8_t> flags, std::string_view body) {
  if (!printable_id(id)) return make_error(std::string(what) + ": bad message id");
  if (flags && (*flags & ~kDeliverLastAttempt)) return make_error(std::string(what) + ": bad flags");
  if (body.empty()) return make_error(std::string(what) + ": empty envelope");
  std::string o;
  o.reserve(2 + id.size() + body.size());
  put_str8(o, id);
  if (flags) put_u8(o, *flags);
  o.append(body);
  return o;
}

template <class P>
Result<P> decode_mail(std::string_view what, std::string_view b) {
  Reader r(b);
  P p;
  std::string id;
  if (!r.str8(id) || !printable_id(id)) return make_error(std::string(what) + ": bad message id");
  std::string_view rest = r.rest();
  if (rest.empty()) return make_error(std::string(what) + ": empty envelope");
  p.message_id = std::move(id);
  if constexpr (std::is_same_v<P, DeliverPayload>) {
    Reader f(rest);
    if (!f.u8(p.flags) || (p.flags & ~kDeliverLastAttempt))
      return make_error(std::string(what) + ": bad flags");
    rest = f.rest();
    if (rest.empty()) return make_error(std::string(what) + ": empty envelope");
    p.sealed_envelope.assign(rest);
  } else {
    p.envelope.assign(rest);
  }
  return p;
}

bool valid_address(std::string_view a) {
  return !a.empty() && a.size() <= kMaxAddressBytes;
}

}  // namespace

Result<std::string> encode(const DeliverPayload& p) {
  return encode_mail("DELIVER", p.message_id, p.flags, p.sealed_envelope);
}
Result<std::string> encode(const SubmitPayload& p) {
  return encode_mail("SUBMIT", p.message_id, std::nullopt, p.envelope);
}
Result<DeliverPayload> decode_deliver(std::string_view b) {
  return decode_mail<DeliverPayload>("DELIVER", b);
}
Result<SubmitPayload> decode_submit(std::string_view b) {
  return decode_mail<SubmitPayload>("SUBMIT", b);
}

Result<std::string> encode(const WithdrawPayload& p) {
  if (!printable_id(p.message_id)) return make_error("WITHDRAW: bad message id");
  std::string o;
  put_str8(o, p.message_id);
  return o;
}
Result<WithdrawPayload> decode_withdraw(std::string_view b) {
  Reader r(b);
  WithdrawPayload p;
  if (!r.str8(p.message_id) || !printable_id(p.message_id))
    return make_error("WITHDRAW: bad message id");
  if (!r.done()) return make_error("WITHDRAW: trailing bytes");
  return p;
}

Result<std::string> encode(const NackPayload& p) {
  if (p.kind != NackKind::temporary && p.kind != NackKind::permanent)
    return make_error("NACK: bad kind");
  if (p.reason.size() > kMaxReasonBytes) return make_error("NACK: reason too long");
  std::string o;
  put_u8(o, static_cast<uint8_t>(p.kind));
  put_str16(o, p.reason);
  return o;
}
Result<NackPayload> decode_nack(std::string_view b) {
  Reader r(b);
  uint8_t k = 0;
  NackPayload p;
  if (!r.u8(k) || (k != 1 && k != 2)) return make_error("NACK: bad kind");
  if (!r.str16(p.reason) || p.reason.size() > kMaxReasonBytes || !r.done())
    return make_error("NACK: bad reason");
  p.kind = static_cast<NackKind>(k);
  return p;
}

Result<std::string> encode(const VerifyPayload& p) {
  if (!valid_address(p.recipient)) return make_error("VERIFY: bad recipient length");
  std::string o;
  put_str16(o, p.recipient);
  return o;
}
Result<VerifyPayload> decode_verify(std::string_view b) {
  Reader r(b);
  VerifyPayload p;
  if (!r.str16(p.recipient) || !valid_address(p.recipient) || !r.done())
    return make_error("VERIFY: malformed");
  return p;
}

Result<std::string> encode(const VerifyResultPayload& p) {
  auto v = static_cast<uint8_t>(p.outcome);
  if (v < 1 || v > 4) return make_error("VERIFY_RESULT: bad outcome");
  return std::string(1, static_cast<char>(v));
}
Result<VerifyResultPayload> decode_verify_result(std::string_view b) {
  if (b.size() != 1) return make_error("VERIFY_RESULT: malformed");
  auto v = static_cast<uint8_t>(b[0]);
  if (v < 1 || v > 4) return make_error("VERIFY_RESULT: bad outcome");
  return VerifyResultPayload{static_cast<VerifyOutcome>(v)};
}

Result<std::string> encode(const StatusPayload& p) {
  if (!printable_id(p.message_id)) return make_error("STATUS: bad message id");
  if (p.recipients.empty() || p.recipients.size() > kMaxStatusRecipients)
    return make_error("STATUS: 1 to 1000 recipients");
  std::string o;
  put_str8(o, p.message_id);
  put_u16(o, static_cast<uint16_t>(p.recipients.size()));
  for (const auto& r : p.recipients) {
    auto v = static_cast<uint8_t>(r.outcome);
    if (!valid_address(r.recipient)) return make_error("STATUS: bad recipient length");
    if (v < 1 || v > 3) return make_error("STATUS: bad outcome");
    if (r.remote_reply.size() > kMaxRemoteReplyBytes) return make_error("STATUS: reply too long");
    put_str16(o, r.recipient);
    put_u8(o, v);
    put_str16(o, r.remote_reply);
  }
  return o;
}
Result<StatusPayload> decode_status(std::string_view b) {
  Reader r(b);
  StatusPayload p;
  uint16_t n = 0;
  if (!r.str8(p.message_id) || !printable_id(p.message_id))
    return make_error("STATUS: bad message id");
  if (!r.u16(n) || n == 0 || n > kMaxStatusRecipients)
    return make_error("STATUS: bad recipient count");
  p.recipients.reserve(n);
  for (uint16_t i = 0; i < n; ++i) {
    RecipientStatus s;
    uint8_t v = 0;
    if (!r.str16(s.recipient) || !valid_address(s.recipient))
      return make_error("STATUS: bad recipient");
    if (!r.u8(v) || v < 1 || v > 3) return make_error("STATUS: bad outcome");
    if (!r.str16(s.remote_reply) || s.remote_reply.size() > kMaxRemoteReplyBytes)
      return make_error("STATUS: bad remote reply");
    s.outcome = static_cast<RecipientOutcome>(v);
    p.recipients.push_back(std::move(s));
  }
  if (!r.done()) return make_error("STATUS: trailing bytes");
  return p;
}

Status decode_empty(std::string_view b) {
  if (!b.empty()) return make_error("payload must be empty");
  return {};
}

}  // namespace nj::link
