// ClamdClient: virus scanning of a whole message by clamd's INSTREAM command, on the libuv loop.
// One scan is one connection to clamd: "zINSTREAM\0", the message in chunks (a 4-byte
// big-endian length, then that many bytes), a zero-length chunk, then one reply ended by '\0':
//   stream: OK                              clean
//   stream: <signature> FOUND               infected
//   stream: <reason> ERROR                  error (clamd could not scan it)
//   INSTREAM size limit exceeded. ERROR     error (over clamd's StreamMaxLength)
// Anything else (garbage, a reply without its '\0', one over kMaxClamdReply bytes, bytes after
// the '\0') is an error too. A message over max_size is not sent at all (an error). One timer
// bounds the whole scan: connect, send, clamd's scan and the reply.
// Where clamd is: a unix socket path, or a loopback TCP address (the message would otherwise
// cross a network in the clear); the configuration (edge/config) refuses anything else.
// Trust: clamd is a local daemon of the operator's, but its reply is parsed as untrusted text:
// a signature name becomes printable ASCII of bounded length (sanitize_signature) before it
// reaches an SMTP reply or the log. Reasons never hold an address or a message's content.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/uv/handles.h"
#include "common/uv/loop.h"
#include "common/uv/tcp.h"

namespace nj::checks {

inline constexpr size_t kMaxClamdReply = 1024;      // bytes of one reply, its '\0' included
inline constexpr size_t kMaxSignatureLength = 100;  // characters of a sanitized signature
inline constexpr size_t kMaxClamdChunk = 1 << 20;   // the largest chunk this client sends

struct ClamdResult {
  enum class Kind { clean, infected, error };
  Kind kind = Kind::error;
  std::string signature;  // infected: sanitized
  std::string reason;     // error: for the log (sanitized too)

  static ClamdResult clean() { return {Kind::clean, {}, {}}; }
  static ClamdResult infected(std::string sig) { return {Kind::infected, std::move(sig), {}}; }
  static ClamdResult error(std::string why) { return {Kind::error, {}, std::move(why)}; }
};

// Printable ASCII (0x21-0x7e; anything else becomes '?'), at most kMaxSignatureLength
// characters ("..." ends a longer one); "?" for an empty one.
std::string sanitize_signature(std::string_view raw);

// One reply without its terminating '\0'.
ClamdResult parse_clamd_reply(std::string_view reply);

// The wire format of one chunk: the 4-byte big-endian length of data, then data.
std::string clamd_chunk(std::string_view data);
// The whole request for `message`: "zINSTREAM\0", chunks of at most chunk_size bytes (1 to
// kMaxClamdChunk), the zero-length chunk. The client sends the same bytes piecewise.
std::string clamd_request(std::string_view message, size_t chunk_size);

struct ClamdOptions {
  std::string unix_path;  // set: clamd's LocalSocket; empty: TCP to host:port
  std::string host;       // an IP literal (the configuration allows loopback only)
  uint16_t port = 0;
  uint64_t timeout_ms = 30'000;     // the whole scan
  uint64_t max_size = 25ull << 20;  // larger messages are not sent (clamd's StreamMaxLength)
  size_t chunk_size = 64 << 10;     // clamped to 1..kMaxClamdChunk
};

// One scan in flight. Destroying it cancels the scan: the connection closes and the callback
// never runs.
class ClamdScan {
 public:
  virtual ~ClamdScan() = default;
};

class ClamdClient {
 public:
  using Callback = std::function<void(ClamdResult)>;

  ClamdClient(uv::Loop& loop, ClamdOptions options);

  // Scans `message`, which the caller keeps alive and unchanged until the callback runs or the
  // scan is destroyed. The callback runs once, on the loop, never before scan() returns (also
  // for a message over max_size or a connect that fails at once). Scans are independent: the
  // client may be destroyed while they run.
  [[nodiscard]] std::unique_ptr<ClamdScan> scan(std::string_view message, Callback cb);

  const ClamdOptions& options() const { return opt_; }
  // "unix:/run/clamav/clamd.ctl" or "tcp:127.0.0.1:3310", for the log.
  std::string where() const;

 private:
  uv::Loop& loop_;
  ClamdOptions opt_;
};

}  // namespace nj::checks
