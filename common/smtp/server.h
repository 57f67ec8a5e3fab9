// ServerSession: the receiving SMTP protocol engine (RFC 5321 with PIPELINING 2920, SIZE 1870,
// 8BITMIME 6152, ENHANCEDSTATUSCODES 2034/3463, SMTPUTF8 6531, STARTTLS 3207, AUTH 4954).
// It does no I/O: the host feeds it the client's bytes, sends what take_output() returns, and
// watches want_close() / want_starttls(). Policy lives in a Hooks implementation.
// Trust: every byte fed in is hostile. Buffers are bounded (command line, pipelined input,
// message size); protocol errors become replies, never exceptions; addresses are handed to
// the hooks only after a "<...>" shape check and are never logged by this module.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/smtp/command.h"
#include "common/smtp/data_reader.h"
#include "common/smtp/reply.h"

namespace nj::smtp {

enum class BodyType { unspecified, seven_bit, eight_bit_mime };

// One message as accepted at the end of DATA.
struct Message {
  std::string reverse_path;             // "<...>" as accepted by on_mail ("<>" = null sender)
  std::vector<std::string> recipients;  // "<...>" each, as accepted by on_rcpt
  BodyType body = BodyType::unspecified;
  bool smtputf8 = false;
  std::string data;  // unstuffed, CRLF line ends, without the final ".\r\n"
};

enum class Violation {
  pipelining_not_offered,  // more input buffered before PIPELINING was advertised
  pipelining_after_sync,   // more input buffered behind EHLO/HELO/DATA/STARTTLS/QUIT/AUTH
  non_smtp_command,        // e.g. an HTTP request line or binary garbage
  too_many_errors,         // the session is closed regardless of the hook's answer
};
const char* violation_name(Violation v);

// Policy decisions. A hook returning std::nullopt means "pending": the engine stops reading
// input (it keeps buffering, up to max_pipelined_bytes) until the host calls
// ServerSession::resolve(). resolve() may also be called from inside the hook.
// Lifetimes: string_view and params arguments point into the engine's input buffer and are
// valid only during the call (copy what a pending decision needs); the Message passed to
// on_message stays valid until resolve() answers it. Hooks must not call feed().
// Paths are handed over with their angle brackets ("<a@b.example>", "<>", "<postmaster>"),
// the form common/mail's parse_reverse_path / parse_forward_path take.
class Hooks {
 public:
  virtual ~Hooks() = default;
  // A positive reply makes the engine send its own HELO/EHLO reply; a negative one is sent.
  virtual std::optional<Reply> on_helo(std::string_view name, bool esmtp) = 0;
  virtual std::optional<Reply> on_mail(std::string_view path,
                                       const std::vector<EsmtpParam>& params) = 0;
  virtual std::optional<Reply> on_rcpt(std::string_view path,
                                       const std::vector<EsmtpParam>& params) = 0;
  // A positive reply lets DATA go on with 354; a negative one is sent instead.
  virtual std::optional<Reply> on_data_start() { return Reply::ok(); }
  // Its reply is the final reply to DATA. Called only for messages without DataReader problems.
  virtual std::optional<Reply> on_message(const Message& m) = 0;
  // A 235 reply means authenticated; anything else is sent as the failure.
  virtual std::optional<Reply> on_auth(std::string_view mechanism, std::string_view authzid,
                                       std::string_view authcid, std::string_view password) {
    return Reply::auth_failed();
  }
  virtual void on_rset() {}
  virtual void on_quit() {}
  // Returns true to drop the client (421 4.7.0 and close).
  virtual bool on_violation(Violation v) { return false; }
};

struct ServerConfig {
  std::string hostname = "localhost";
  size_t max_message_size = 32u << 20;  // SIZE advertised and enforced; 0 = no SIZE limit sent
  size_t max_recipients = 100;
  size_t max_errors = 20;
  bool starttls_available = false;
  bool auth_enabled = false;
  bool auth_required = false;
  bool pipelining = true;
  bool smtputf8 = true;
  bool eight_bit_mime = true;
  size_t max_command_line = 512;  // including CRLF (RFC 5321 4.5.3.1.4)
  size_t max_auth_line = 12288;   // RFC 4954 4
  size_t max_data_line = 1000;    // including CRLF (RFC 5321 4.5.3.1.6)
  size_t max_pipelined_bytes = 64 * 1024;
  std::chrono::seconds command_timeout{300};  // RFC 5321 4.5.3.2.7
  std::chrono::seconds data_timeout{180};     // RFC 5321 4.5.3.2.5 (between data blocks)
};

struct SessionStats {
  uint32_t messages_accepted = 0;
  uint32_t messages_refused = 0;
  uint32_t recipients_accepted = 0;
  uint32_t recipients_refused = 0;
  uint32_t errors = 0;  // negative replies to commands (what max_errors counts)
};

class ServerSession {
 public:
  ServerSession(ServerConfig config, Hooks& hooks);
  ServerSession(const ServerSession&) = delete;
  ServerSession& operator=(const ServerSession&) = delete;

  // "220 <hostname> ESMTP"; input fed before this is held and processed afterwards.
  void greet();
  // Refuse the whole session (RFC 5321 3.1): sends `r`, then answers 503 5.5.1 to everything
  // but QUIT.
  void reject_connection(const Reply& r);

  void feed(std::string_view bytes);
  std::string take_output() { return std::move(out_); }
  bool want_close() const { return closing_; }
  bool want_starttls() const { return awaiting_tls_; }
  // The TLS handshake succeeded: back to the post-greeting state; the client must EHLO again.
  void tls_started();

  // Answers the pending hook. Ignored when nothing is pending.
  void resolve(const Reply& r);
  bool pending() const { return pending_ != Pending::none; }

  std::chrono::seconds timeout() const;
  void on_timeout();  // "421 4.4.2 <hostname> timeout", then want_close()

  const SessionStats& stats() const { return stats_; }
  bool tls_active() const { return tls_active_; }
  bool authenticated() const { return authenticated_; }
  bool in_data() const { return mode_ == Mode::data; }

 private:
  enum class Pending { none, helo, mail, rcpt, data_start, message, auth };
  enum class Mode { command, data, auth_plain, auth_login_user, auth_login_pass, discard_line };

  void process();
  bool can_run() const;
  void handle_line(std::string_view line);
  void handle_command(std::string_view line);
  void finish_data();

  void cmd_helo(std::string_view arg, bool esmtp);
  void cmd_mail(std::string_view arg);
  void cmd_rcpt(std::string_view arg);
  void cmd_data(std::string_view arg);
  void cmd_auth(std::string_view arg);
  void cmd_starttls(std::string_view arg);
  void auth_response(std::string_view line);
  void auth_plain(std::string_view decoded);
  void auth_finish(const std::string& mech, std::string_view authzid, std::string_view authcid,
                   std::string_view password);

  void settle(Pending p, const std::optional<Reply>& r);
  void complete(const Reply& r);

  // Sends a reply to a command; negative replies count as errors, past max_errors the reply
  // becomes 421. `sync` marks commands after which the client must wait (RFC 2920 3.1).
  void send(const Reply& r, bool sync = false, bool counts_as_error = true);
  void send_raw(std::string_view wire, int code, bool sync);
  void check_pipelining(bool sync);
  bool violation(Violation v);
  void close_with(const Reply& r);
  void reset_transaction();
  bool buffered() const { return in_.size() > pos_; }
  bool pipelining_offered() const { return esmtp_ && config_.pipelining; }
  Reply ehlo_reply() const;

  ServerConfig config_;
  Hooks& hooks_;
  std::string out_;
  std::string in_;
  size_t pos_ = 0;

  Mode mode_ = Mode::command;
  Pending pending_ = Pending::none;
  bool pending_esmtp_ = false;
  Mode discard_from_ = Mode::command;
  bool in_process_ = false;
  bool greeted_ = false;
  bool rejected_ = false;
  bool closing_ = false;
  bool awaiting_tls_ = false;
  bool tls_active_ = false;
  bool have_helo_ = false;
  bool esmtp_ = false;
  bool authenticated_ = false;
  bool in_mail_ = false;
  uint32_t reported_violations_ = 0;

  // The transaction.
  std::string pending_path_;
  bool pending_smtputf8_ = false;
  BodyType pending_body_ = BodyType::unspecified;
  Message msg_;
  DataReader reader_;
  std::string auth_mech_;
  std::string auth_user_;
  SessionStats stats_;
};

}  // namespace nj::smtp
