// tls: OpenSSL behind memory BIOs. The engine never touches a socket: ciphertext goes in with
// feed() and comes out with take_ciphertext(), so the event loop (common/uv) owns all I/O and
// tests can run a handshake in memory. TLS 1.2+ only, no compression, no renegotiation.
// Trust: every byte fed in comes from the network and is hostile; failures are values.
// Certificate and key files are operator input, checked once at start-up.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nj::tls {

struct ClientOptions {
  // Opportunistic STARTTLS does not verify (RFC 7435); verify when policy demands it.
  bool verify_peer = false;
  std::string ca_file;  // empty: the system's default trust store (only used with verify_peer)
  // Optional client certificate (for example, mutual TLS between our own servers).
  std::string cert_file;
  std::string key_file;
};

class Context {
 public:
  // Loads a PEM certificate chain and private key; errors name the file that failed.
  static Result<Context> server(const std::string& cert_file, const std::string& key_file);
  static Result<Context> client(const ClientOptions& options = {});

  bool is_server() const { return server_; }
  bool verifies_peer() const { return verify_; }
  SSL_CTX* raw() const { return ctx_.get(); }

 private:
  struct Free {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  Context(SSL_CTX* c, bool server, bool verify) : ctx_(c), server_(server), verify_(verify) {}
  std::unique_ptr<SSL_CTX, Free> ctx_;
  bool server_ = false;
  bool verify_ = false;
};

class Session {
 public:
  // The session keeps its own reference to the context's SSL_CTX.
  static Result<Session> server(const Context& ctx);
  // server_name: SNI and, when the context verifies, the name checked against the certificate.
  // IP literals are not sent as SNI (RFC 6066).
  static Result<Session> client(const Context& ctx, std::string_view server_name);

  Session(Session&&) noexcept = default;
  Session& operator=(Session&&) noexcept = default;

  // Ciphertext from the peer. Drives the handshake, decrypts into the plaintext buffer.
  // An error means the session failed (reason in error()); it stays failed.
  Status feed(std::string_view ciphertext);
  // Plaintext to send. Before the handshake completes it is held and sent right after.
  Status write(std::string_view plaintext);
  // Sends close_notify.
  void shutdown();

  // Decrypted bytes received so far (and clears them).
  std::string take_plaintext();
  // Bytes to put on the wire (and clears them).
  std::string take_ciphertext();
  bool has_ciphertext() const;

  bool handshake_done() const { return done_; }
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  bool peer_closed() const { return peer_closed_; }  // close_notify received

  // For the Received line ("with ESMTPS", "(version=TLSv1.3 cipher=...)"); empty before the
  // handshake completes.
  std::string protocol() const;
  std::string cipher() const;
  int cipher_bits() const;
  // Client side with verification: did the chain and name check pass.
  bool peer_verified() const;

 private:
  struct Free {
    void operator()(SSL* s) const { SSL_free(s); }
  };
  Session(SSL* ssl, BIO* in, BIO* out) : ssl_(ssl), in_(in), out_(out) {}
  Status pump();
  Status fail(std::string why);
  Status flush_pending_writes();

  std::unique_ptr<SSL, Free> ssl_;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
  std::string plain_in_;
  std::string plain_out_pending_;
  bool done_ = false;
  bool failed_ = false;
  bool peer_closed_ = false;
  std::string error_;
};

}  // namespace nj::tls
