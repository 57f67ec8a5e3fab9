// socks: a SOCKS5 client (RFC 1928) that asks the proxy to CONNECT to a host *name*, with
// optional username/password authentication (RFC 1929). This is how the inner reaches the
// edge's onion or I2P address: the name goes to the proxy as it is and is never resolved here,
// so no DNS query for it leaves the machine. Tor treats each distinct username/password pair as
// its own isolation group (own circuit), which is what the credentials are for.
// Client is the protocol engine with no I/O; connect.h runs it over a libuv TCP connection.
// Trust: the proxy is local but its replies are parsed as untrusted input: fixed formats,
// explicit lengths, at most kMaxReplyBytes read for the whole negotiation; everything after the
// CONNECT reply belongs to the application and is handed back untouched.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::socks {

// Greeting reply (2) + auth reply (2) + CONNECT reply (at most 4 + 1 + 255 + 2).
constexpr size_t kMaxReplyBytes = 2 + 2 + 262;
constexpr size_t kMaxHostBytes = 255;
constexpr size_t kMaxCredentialBytes = 255;

struct Credentials {
  std::string username;  // 1..255 bytes
  std::string password;  // 1..255 bytes
};

struct Request {
  std::string host;  // a name (or literal) for the proxy to resolve: 1..255 printable bytes
  uint16_t port = 0;
  // With credentials only method 0x02 is offered, so a proxy cannot silently drop isolation.
  std::optional<Credentials> credentials;
};

// The RFC 1928 reply code's meaning ("connection refused"), or "unassigned reply code".
std::string_view reply_code_text(uint8_t code);

class Client {
 public:
  enum class State { negotiating, connected, failed };

  // Checks the request; the greeting is ready in take_output() at once.
  static Result<Client> create(Request request);

  // Bytes from the proxy. After connected, further bytes are kept for the application.
  void feed(std::string_view bytes);
  // Bytes to send to the proxy (empty when waiting).
  std::string take_output();

  State state() const { return state_; }
  // Why it failed: names the SOCKS reply code when the proxy refused the CONNECT.
  const std::string& error() const { return error_; }
  // The CONNECT reply's code once one was read (0 = succeeded).
  std::optional<uint8_t> reply_code() const { return reply_code_; }
  // Application bytes that arrived after the CONNECT reply (take once connected).
  std::string take_remainder();

 private:
  enum class Step { method, auth, reply };
  explicit Client(Request r) : req_(std::move(r)) {}
  void fail(std::string why);
  void send_connect();
  // Each returns the bytes consumed from in_, 0 when more are needed.
  size_t parse_method();
  size_t parse_auth();
  size_t parse_reply();

  Request req_;
  State state_ = State::negotiating;
  Step step_ = Step::method;
  std::string in_;
  std::string out_;
  std::string error_;
  size_t consumed_total_ = 0;
  std::optional<uint8_t> reply_code_;
};

}  // namespace nj::socks
