// ClientSession: the sending SMTP protocol engine (RFC 5321 client with PIPELINING, SIZE,
// 8BITMIME, SMTPUTF8, STARTTLS and AUTH PLAIN). It does no I/O: the host feeds it the server's
// bytes, sends what take_output() returns, performs the TLS handshake when want_starttls() is
// set, and collects per-message, per-recipient results. Several messages may go over one
// connection; QUIT is sent once quit_when_idle() was called and the queue is empty.
// Trust: the server is untrusted. Replies are parsed with bounded ReplyParser limits; anything
// out of protocol ends the session with a local transient failure for every undelivered
// message, so the queue retries rather than losing or duplicating mail.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/smtp/reply.h"

namespace nj::smtp {

enum class TlsPolicy { never, opportunistic, required };

struct ClientCredentials {
  std::string authzid;  // usually empty
  std::string user;
  std::string password;
};

// RFC 5321 4.5.3.2 client timeouts.
struct ClientTimeouts {
  std::chrono::seconds greeting{300};
  std::chrono::seconds mail{300};
  std::chrono::seconds rcpt{300};
  std::chrono::seconds data_init{120};
  std::chrono::seconds data_block{180};  // for the host: each write of message data
  std::chrono::seconds data_end{600};
  std::chrono::seconds other{300};  // EHLO, STARTTLS, AUTH, RSET, QUIT, idle
};

struct ClientConfig {
  std::string helo_name = "localhost";  // a fixed public name, never the machine's hostname
  TlsPolicy starttls = TlsPolicy::opportunistic;
  // AUTH PLAIN after EHLO (after TLS if any). Sent even without TLS when the policy allows
  // clear text: over an onion service the overlay is the encryption.
  std::optional<ClientCredentials> credentials;
  bool use_pipelining = true;  // when the server offers it
  ReplyParser::Limits reply_limits;
  ClientTimeouts timeouts;
};

struct OutboundMessage {
  std::string reverse_path;             // without brackets; "" is the null sender
  std::vector<std::string> recipients;  // without brackets
  std::string data;                     // the message, not dot-stuffed
  bool eight_bit = false;               // send BODY=8BITMIME when offered
  bool smtputf8 = false;                // needs SMTPUTF8 (also implied by non-ASCII paths)
};

enum class Outcome { delivered, transient, permanent };
Outcome outcome_of(const Reply& r);

struct RecipientResult {
  std::string address;
  Outcome outcome = Outcome::transient;
  Reply reply;  // the reply that decided this recipient
};

struct MessageResult {
  uint64_t id = 0;  // as returned by add_message()
  Reply reply;      // final DATA reply, or the reply that stopped the message earlier
  std::vector<RecipientResult> recipients;
  bool all_delivered() const;
};

struct ServerCapabilities {
  bool esmtp = false;
  bool pipelining = false;
  bool size = false;
  uint64_t size_limit = 0;  // 0 = none announced
  bool eight_bit_mime = false;
  bool smtputf8 = false;
  bool starttls = false;
  bool enhanced_status_codes = false;
  std::vector<std::string> auth;  // mechanisms, uppercased
};

// Dot-stuffing (RFC 5321 4.5.2) plus line-end normalisation: lone CR or LF become CRLF and the
// data ends with CRLF. The result does not include the terminating ".\r\n".
std::string dot_stuff(std::string_view data);

class ClientSession {
 public:
  explicit ClientSession(ClientConfig config);
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  uint64_t add_message(OutboundMessage m);
  void quit_when_idle();

  void feed(std::string_view server_bytes);
  std::string take_output() { return std::move(out_); }
  bool want_starttls() const { return awaiting_tls_; }
  void tls_started();
  bool want_close() const { return done_; }
  bool done() const { return done_; }
  // Connected, greeted, no work queued or in flight and no QUIT asked for: the connection can
  // wait for another message (a connection cache).
  bool idle() const {
    return ready_ && !txn_ && queue_.empty() && expect_.empty() && !done_ && !failed_ &&
           !quit_requested_ && !awaiting_tls_;
  }
  bool has_results() const { return !results_.empty(); }

  std::vector<MessageResult> take_results() { return std::move(results_); }
  // Why the session ended before all work was done (greeting refused, timeout, ...).
  const std::optional<Reply>& session_error() const { return session_error_; }
  const ServerCapabilities& capabilities() const { return caps_; }
  bool tls_active() const { return tls_active_; }
  bool authenticated() const { return authenticated_; }

  std::chrono::seconds timeout() const;
  void on_timeout();            // local 421 4.4.2 for everything unfinished; closes
  void on_connection_closed();  // same, "connection lost"

 private:
  enum class Expect {
    greeting,
    ehlo,
    helo,
    starttls,
    auth,
    rset,
    mail,
    rcpt,
    data,
    data_end,
    data_end_ignored,
    quit
  };
  struct Txn {
    uint64_t id = 0;
    OutboundMessage msg;
    bool mail_sent = false;
    std::optional<Reply> mail_reply;
    std::vector<std::optional<Reply>> rcpt;
    size_t rcpt_answered = 0;
    size_t accepted = 0;
    std::optional<Reply> data_reply;
    bool smtputf8 = false;
  };

  void on_reply(const Reply& r);
  void send(std::string_view line, Expect e);
  void send_ehlo();
  void after_ehlo();
  void start_next();
  void send_mail();
  std::string mail_command() const;
  void finish_txn(bool data_ended = false);
  void fail_session(const Reply& r, bool send_quit);
  void fail_message(uint64_t id, const OutboundMessage& m, const Reply& r);
  void maybe_quit();
  void parse_capabilities(const Reply& r);
  bool pipelined() const { return config_.use_pipelining && caps_.pipelining; }

  ClientConfig config_;
  ReplyParser parser_;
  std::string out_;
  std::deque<Expect> expect_;
  std::deque<std::pair<uint64_t, OutboundMessage>> queue_;
  std::optional<Txn> txn_;
  std::vector<MessageResult> results_;
  std::optional<Reply> session_error_;
  ServerCapabilities caps_;
  uint64_t next_id_ = 1;
  bool ready_ = false;
  bool need_rset_ = false;
  bool quit_requested_ = false;
  bool quit_sent_ = false;
  bool failed_ = false;
  bool done_ = false;
  bool awaiting_tls_ = false;
  bool tls_active_ = false;
  bool tls_refused_ = false;
  bool authenticated_ = false;
};

}  // namespace nj::smtp
