#include "common/queue/envelope.h"

#include <cstring>

namespace nj::queue {
namespace {

constexpr char kMagic[4] = {'N', 'J', 'Q', '1'};
static_assert(sizeof kMagic == kMagicBytes);

enum Tag : uint8_t {
  kEnd = 0,  // everything after it must be zero padding
  kId = 1,
  kReceivedAt = 2,
  kMailFrom = 3,
  kRecipient = 4,
  kFlags = 5,
  kMessage = 6,
};

constexpr uint32_t kFlagSmtpUtf8 = 1;
constexpr uint32_t kFlagEightBit = 2;

void put_u32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  out.append(b, 4);
}

uint64_t get_be(std::string_view s) {
  uint64_t v = 0;
  for (unsigned char c : s) v = (v << 8) | c;
  return v;
}

void put_field(std::string& out, Tag t, std::string_view v) {
  out.push_back(static_cast<char>(t));
  put_u32(out, static_cast<uint32_t>(v.size()));
  out.append(v);
}

std::string be64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

}  // namespace

std::string encode(const Envelope& e, size_t pad_to) {
  std::string out;
  size_t recipient_bytes = 0;
  for (const auto& r : e.recipients) recipient_bytes += r.size();
  out.reserve(encoded_size(e.id.size(), e.mail_from.size(), e.recipients.size(), recipient_bytes,
                           e.message.size(), pad_to));
  out.append(kMagic, sizeof kMagic);
  put_field(out, kId, e.id);
  put_field(out, kReceivedAt, be64(static_cast<uint64_t>(e.received_at)));
  put_field(out, kMailFrom, e.mail_from);
  for (const auto& r : e.recipients) put_field(out, kRecipient, r);
  uint32_t flags = (e.smtputf8 ? kFlagSmtpUtf8 : 0) | (e.eight_bit ? kFlagEightBit : 0);
  put_field(out, kFlags, std::string_view(be64(flags)).substr(4));
  put_field(out, kMessage, e.message);
  out.push_back(static_cast<char>(kEnd));
  if (pad_to > 0 && out.size() % pad_to != 0) out.append(pad_to - out.size() % pad_to, '\0');
  return out;
}

Result<Envelope> decode(std::string_view in, const Limits& limits) {
  if (in.size() < sizeof kMagic || std::memcmp(in.data(), kMagic, sizeof kMagic) != 0)
    return make_error("envelope: bad magic");
  in.remove_prefix(sizeof kMagic);
  Envelope e;
  bool seen[7] = {};
  for (;;) {
    if (in.empty()) return make_error("envelope: truncated (no end marker)");
    auto tag = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    if (tag == kEnd) break;
    if (in.size() < 4) return make_error("envelope: truncated field header");
    uint64_t len = get_be(in.substr(0, 4));
    in.remove_prefix(4);
    if (len > in.size()) return make_error("envelope: field longer than the data");
    std::string_view v = in.substr(0, static_cast<size_t>(len));
    in.remove_prefix(static_cast<size_t>(len));
    if (tag > kMessage) return make_error("envelope: unknown field");
    if (tag != kRecipient && seen[tag]) return make_error("envelope: repeated field");
    seen[tag] = true;
    switch (tag) {
      case kId:
        if (v.empty() || v.size() > limits.max_id) return make_error("envelope: bad id length");
        e.id.assign(v);
        break;
      case kReceivedAt:
        if (v.size() != 8) return make_error("envelope: bad time");
        e.received_at = static_cast<int64_t>(get_be(v));
        break;
      case kMailFrom:
        if (v.size() > limits.max_address) return make_error("envelope: sender too long");
        e.mail_from.assign(v);
        break;
      case kRecipient:
        if (v.empty() || v.size() > limits.max_address)
          return make_error("envelope: bad recipient length");
        if (e.recipients.size() >= limits.max_recipients)
          return make_error("envelope: too many recipients");
        e.recipients.emplace_back(v);
        break;
      case kFlags: {
        if (v.size() != 4) return make_error("envelope: bad flags");
        uint64_t f = get_be(v);
        if (f & ~uint64_t{kFlagSmtpUtf8 | kFlagEightBit}) return make_error("envelope: unknown flag");
        e.smtputf8 = f & kFlagSmtpUtf8;
        e.eight_bit = f & kFlagEightBit;
        break;
      }
      case kMessage:
        if (v.size() > limits.max_message) return make_error("envelope: message too large");
        e.message.assign(v);
        break;
    }
  }
  for (char c : in)
    if (c != '\0') return make_error("envelope: data after the end marker");
  if (!seen[kId] || !seen[kReceivedAt] || !seen[kMailFrom] || !seen[kMessage] ||
      e.recipients.empty())
    return make_error("envelope: missing field");
  return e;
}

}  // namespace nj::queue
