#include "common/tls/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace nj::tls {

namespace {

// Mozilla "intermediate" for TLS 1.2; TLS 1.3 suites are OpenSSL's defaults.
constexpr const char* kCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

// Bounds what an unread peer can make us hold (plaintext waiting for the handshake).
constexpr size_t kMaxPendingPlaintext = 16 * 1024 * 1024;

std::string openssl_errors() {
  std::string out;
  unsigned long e;
  char buf[256];
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

SSL_CTX* new_ctx(const SSL_METHOD* m) {
  SSL_CTX* c = SSL_CTX_new(m);
  if (!c) return nullptr;
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_set_cipher_list(c, kCiphers12) != 1) {
    SSL_CTX_free(c);
    return nullptr;
  }
  return c;
}

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Reads the key separately so "unreadable key" and "key does not match" are told apart.
Status use_key(SSL_CTX* c, const std::string& cert_file, const std::string& key_file) {
  FILE* f = std::fopen(key_file.c_str(), "r");
  if (!f)
    return make_error("tls: cannot open private key '" + key_file + "': " + std::strerror(errno));
  EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!k)
    return make_error("tls: cannot load private key from '" + key_file + "': " + openssl_errors());
  bool ok = SSL_CTX_use_PrivateKey(c, k) == 1 && SSL_CTX_check_private_key(c) == 1;
  EVP_PKEY_free(k);
  if (!ok)
    return make_error("tls: private key '" + key_file + "' does not match certificate '" +
                      cert_file + "': " + openssl_errors());
  return {};
}

}  // namespace

Result<Context> Context::server(const std::string& cert_file, const std::string& key_file) {
  ERR_clear_error();
  SSL_CTX* c = new_ctx(TLS_server_method());
  if (!c) return make_error("tls: cannot create server context: " + openssl_errors());
  Context ctx(c, true, false);
  if (SSL_CTX_use_certificate_chain_file(c, cert_file.c_str()) != 1)
    return make_error("tls: cannot load certificate chain from '" + cert_file +
                      "': " + openssl_errors());
  if (auto st = use_key(c, cert_file, key_file); !st) return make_error(st.error());
  // Session tickets would be keyed per process anyway; no resumption keeps state small.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(c, 0);
  return ctx;
}

Result<Context> Context::client(const ClientOptions& o) {
  ERR_clear_error();
  SSL_CTX* c = new_ctx(TLS_client_method());
  if (!c) return make_error("tls: cannot create client context: " + openssl_errors());
  Context ctx(c, false, o.verify_peer);
  if (o.verify_peer) {
    int ok = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(c)
                               : SSL_CTX_load_verify_locations(c, o.ca_file.c_str(), nullptr);
    if (ok != 1)
      return make_error("tls: cannot load trust anchors" +
                        (o.ca_file.empty() ? std::string() : " from '" + o.ca_file + "'") + ": " +
                        openssl_errors());
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  }
  if (!o.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(c, o.cert_file.c_str()) != 1)
      return make_error("tls: cannot load certificate chain from '" + o.cert_file +
                        "': " + openssl_errors());
    if (auto st = use_key(c, o.cert_file, o.key_file); !st) return make_error(st.error());
  }
  return ctx;
}

// A new SSL with memory BIOs, or nullptr with *why set.
static SSL* make_ssl(const Context& ctx, std::string* why) {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx.raw());
  if (!ssl) {
    *why = "tls: SSL_new: " + openssl_errors();
    return nullptr;
  }
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (!in || !out) {
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl);
    *why = "tls: BIO_new failed";
    return nullptr;
  }
  // An empty memory BIO means "no data yet", not EOF.
  BIO_set_mem_eof_return(in, -1);
  BIO_set_mem_eof_return(out, -1);
  SSL_set_bio(ssl, in, out);
  return ssl;
}

Result<Session> Session::server(const Context& ctx) {
  if (!ctx.is_server()) return make_error("tls: server session needs a server context");
  std::string why;
  SSL* ssl = make_ssl(ctx, &why);
  if (!ssl) return make_error(why);
  SSL_set_accept_state(ssl);
  return Session(ssl, SSL_get_rbio(ssl), SSL_get_wbio(ssl));
}

Result<Session> Session::client(const Context& ctx, std::string_view server_name) {
  if (ctx.is_server()) return make_error("tls: client session needs a client context");
  std::string why;
  SSL* ssl = make_ssl(ctx, &why);
  if (!ssl) return make_error(why);
  Session s(ssl, SSL_get_rbio(ssl), SSL_get_wbio(ssl));
  std::string name(server_name);
  if (name.find('\0') != std::string::npos) return make_error("tls: bad server name");
  if (!name.empty() && !is_ip_literal(name)) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (ctx.verifies_peer() && !name.empty()) {
    if (is_ip_literal(name)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, name.c_str());
    }
  }
  SSL_set_connect_state(ssl);
  // The client speaks first: produce the ClientHello now.
  (void)s.pump();
  return s;
}

Status Session::fail(std::string why) {
  failed_ = true;
  error_ = std::move(why);
  return make_error(error_);
}

Status Session::feed(std::string_view ciphertext) {
  if (failed_) return make_error(error_);
  if (!ciphertext.empty()) {
    if (BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size())) !=
        static_cast<int>(ciphertext.size()))
      return fail("tls: cannot buffer input");
  }
  return pump();
}

Status Session::pump() {
  ERR_clear_error();
  if (!done_) {
    int r = SSL_do_handshake(ssl_.get());
    if (r == 1) {
      done_ = true;
    } else {
      int e = SSL_get_error(ssl_.get(), r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return {};
      std::string why = "tls: handshake failed: " + openssl_errors();
      long v = SSL_get_verify_result(ssl_.get());
      if (v != X509_V_OK) why += std::string(" (verify: ") + X509_verify_cert_error_string(v) + ")";
      return fail(why);
    }
    if (auto s = flush_pending_writes(); !s) return s;
  }
  char buf[16384];
  for (;;) {
    int n = SSL_read(ssl_.get(), buf, sizeof buf);
    if (n > 0) {
      plain_in_.append(buf, static_cast<size_t>(n));
      continue;
    }
    int e = SSL_get_error(ssl_.get(), n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return {};
    if (e == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      return {};
    }
    return fail("tls: " + openssl_errors());
  }
}

Status Session::flush_pending_writes() {
  while (!plain_out_pending_.empty()) {
    size_t written = 0;
    int r =
        SSL_write_ex(ssl_.get(), plain_out_pending_.data(), plain_out_pending_.size(), &written);
    if (r != 1) return fail("tls: write failed: " + openssl_errors());
    plain_out_pending_.erase(0, written);
  }
  return {};
}

Status Session::write(std::string_view plaintext) {
  if (failed_) return make_error(error_);
  if (plain_out_pending_.size() + plaintext.size() > kMaxPendingPlaintext)
    return fail("tls: too much plaintext waiting for the handshake");
  plain_out_pending_.append(plaintext);
  if (!done_) return {};
  ERR_clear_error();
  return flush_pending_writes();
}

void Session::shutdown() {
  if (failed_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

std::string Session::take_plaintext() {
  std::string out;
  out.swap(plain_in_);
  return out;
}

bool Session::has_ciphertext() const {
  return BIO_ctrl_pending(out_) > 0;
}

std::string Session::take_ciphertext() {
  std::string out;
  size_t n = BIO_ctrl_pending(out_);
  if (n == 0) return out;
  out.resize(n);
  int got = BIO_read(out_, out.data(), static_cast<int>(n));
  out.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return out;
}

std::string Session::protocol() const {
  return done_ ? SSL_get_version(ssl_.get()) : "";
}

std::string Session::cipher() const {
  if (!done_) return "";
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_.get());
  return c ? SSL_CIPHER_get_name(c) : "";
}

int Session::cipher_bits() const {
  if (!done_) return 0;
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_.get());
  return c ? SSL_CIPHER_get_bits(c, nullptr) : 0;
}

bool Session::peer_verified() const {
  return done_ && SSL_get0_peer_certificate(ssl_.get()) != nullptr &&
         SSL_get_verify_result(ssl_.get()) == X509_V_OK &&
         SSL_get_verify_mode(ssl_.get()) != SSL_VERIFY_NONE;
}

}  // namespace nj::tls
