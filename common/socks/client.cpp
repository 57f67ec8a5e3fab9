#include "common/socks/client.h"

#include <utility>

namespace nj::socks {

namespace {

constexpr uint8_t kVersion = 0x05;
constexpr uint8_t kMethodNone = 0x00;
constexpr uint8_t kMethodUserPass = 0x02;
constexpr uint8_t kMethodRefused = 0xff;
constexpr uint8_t kUserPassVersion = 0x01;
constexpr uint8_t kCmdConnect = 0x01;
constexpr uint8_t kAtypIpv4 = 0x01;
constexpr uint8_t kAtypDomain = 0x03;
constexpr uint8_t kAtypIpv6 = 0x04;

uint8_t byte_at(const std::string& s, size_t i) {
  return static_cast<uint8_t>(s[i]);
}

bool printable(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

}  // namespace

std::string_view reply_code_text(uint8_t code) {
  switch (code) {
    case 0x00:
      return "succeeded";
    case 0x01:
      return "general SOCKS server failure";
    case 0x02:
      return "connection not allowed by ruleset";
    case 0x03:
      return "network unreachable";
    case 0x04:
      return "host unreachable";
    case 0x05:
      return "connection refused";
    case 0x06:
      return "TTL expired";
    case 0x07:
      return "command not supported";
    case 0x08:
      return "address type not supported";
    // Tor's extended replies for onion services (ExtendedErrors, tor 0.4.3+): they tell an
    // operator whether the peer's onion is unknown, down or wants client authorization.
    case 0xF0:
      return "onion service descriptor not found";
    case 0xF1:
      return "onion service descriptor is invalid";
    case 0xF2:
      return "onion service introduction failed";
    case 0xF3:
      return "onion service rendezvous failed";
    case 0xF4:
      return "onion service needs client authorization";
    case 0xF5:
      return "onion service client authorization is wrong";
    case 0xF6:
      return "onion address is invalid";
    case 0xF7:
      return "onion service introduction timed out";
    default:
      return "unassigned reply code";
  }
}

Result<Client> Client::create(Request request) {
  if (request.host.empty() || request.host.size() > kMaxHostBytes)
    return make_error("socks: target host must be 1 to 255 bytes");
  if (!printable(request.host))
    return make_error("socks: target host has a control, space or non-ASCII byte");
  if (request.port == 0) return make_error("socks: target port 0");
  if (request.credentials) {
    const auto& c = *request.credentials;
    if (c.username.empty() || c.username.size() > kMaxCredentialBytes || c.password.empty() ||
        c.password.size() > kMaxCredentialBytes)
      return make_error("socks: username and password must be 1 to 255 bytes each");
  }
  Client c(std::move(request));
  c.out_.push_back(static_cast<char>(kVersion));
  c.out_.push_back(1);
  c.out_.push_back(static_cast<char>(c.req_.credentials ? kMethodUserPass : kMethodNone));
  return c;
}

void Client::fail(std::string why) {
  if (state_ == State::failed) return;
  state_ = State::failed;
  error_ = std::move(why);
  in_.clear();
  out_.clear();
}

std::string Client::take_output() {
  return std::exchange(out_, std::string());
}

std::string Client::take_remainder() {
  if (state_ != State::connected) return {};
  return std::exchange(in_, std::string());
}

void Client::feed(std::string_view bytes) {
  if (state_ == State::failed) return;
  in_.append(bytes.data(), bytes.size());
  if (state_ == State::connected) return;  // application bytes, kept for take_remainder()
  while (state_ == State::negotiating && !in_.empty()) {
    size_t used = 0;
    switch (step_) {
      case Step::method:
        used = parse_method();
        break;
      case Step::auth:
        used = parse_auth();
        break;
      case Step::reply:
        used = parse_reply();
        break;
    }
    if (state_ == State::failed) return;
    if (used == 0) return;  // need more
    in_.erase(0, used);
    consumed_total_ += used;
    if (consumed_total_ > kMaxReplyBytes) return fail("socks: proxy replies exceed the limit");
    // The proxy must wait for our next message: anything more before the CONNECT reply is
    // out of turn (a confused or hostile proxy), after it the application's.
    if (state_ == State::negotiating && !in_.empty())
      return fail("socks: proxy sent bytes out of turn");
  }
}

size_t Client::parse_method() {
  if (in_.size() < 2) return 0;
  if (byte_at(in_, 0) != kVersion) {
    fail("socks: proxy is not SOCKS5 (version byte " + std::to_string(byte_at(in_, 0)) + ")");
    return 0;
  }
  uint8_t m = byte_at(in_, 1);
  uint8_t offered = req_.credentials ? kMethodUserPass : kMethodNone;
  if (m == kMethodRefused) {
    fail(req_.credentials ? "socks: proxy refuses username/password authentication"
                          : "socks: proxy requires authentication");
    return 0;
  }
  if (m != offered) {
    fail("socks: proxy chose method " + std::to_string(m) + " that was not offered");
    return 0;
  }
  if (m == kMethodUserPass) {
    const auto& c = *req_.credentials;
    out_.push_back(static_cast<char>(kUserPassVersion));
    out_.push_back(static_cast<char>(c.username.size()));
    out_ += c.username;
    out_.push_back(static_cast<char>(c.password.size()));
    out_ += c.password;
    step_ = Step::auth;
  } else {
    send_connect();
  }
  return 2;
}

size_t Client::parse_auth() {
  if (in_.size() < 2) return 0;
  if (byte_at(in_, 0) != kUserPassVersion) {
    fail("socks: malformed username/password reply");
    return 0;
  }
  if (byte_at(in_, 1) != 0x00) {
    fail("socks: proxy rejected the username/password");
    return 0;
  }
  send_connect();
  return 2;
}

void Client::send_connect() {
  out_.push_back(static_cast<char>(kVersion));
  out_.push_back(static_cast<char>(kCmdConnect));
  out_.push_back(0x00);
  out_.push_back(static_cast<char>(kAtypDomain));
  out_.push_back(static_cast<char>(req_.host.size()));
  out_ += req_.host;
  out_.push_back(static_cast<char>(req_.port >> 8));
  out_.push_back(static_cast<char>(req_.port & 0xff));
  step_ = Step::reply;
}

size_t Client::parse_reply() {
  if (in_.size() < 2) return 0;
  if (byte_at(in_, 0) != kVersion) {
    fail("socks: malformed CONNECT reply (version byte " + std::to_string(byte_at(in_, 0)) + ")");
    return 0;
  }
  uint8_t rep = byte_at(in_, 1);
  reply_code_ = rep;
  if (rep != 0x00) {
    // A refusal need not carry a well-formed address; the code is what matters.
    fail("socks: proxy refused CONNECT: " + std::string(reply_code_text(rep)) + " (reply code " +
         std::to_string(rep) + ")");
    return 0;
  }
  if (in_.size() < 5) return 0;
  if (byte_at(in_, 2) != 0x00) {
    fail("socks: malformed CONNECT reply (reserved byte not zero)");
    return 0;
  }
  size_t need = 0;
  switch (byte_at(in_, 3)) {
    case kAtypIpv4:
      need = 4 + 4 + 2;
      break;
    case kAtypIpv6:
      need = 4 + 16 + 2;
      break;
    case kAtypDomain:
      if (byte_at(in_, 4) == 0) {
        fail("socks: malformed CONNECT reply (empty bound name)");
        return 0;
      }
      need = 4 + 1 + byte_at(in_, 4) + 2;
      break;
    default:
      fail("socks: malformed CONNECT reply (address type " + std::to_string(byte_at(in_, 3)) + ")");
      return 0;
  }
  if (in_.size() < need) return 0;
  state_ = State::connected;
  return need;
}

}  // namespace nj::socks
