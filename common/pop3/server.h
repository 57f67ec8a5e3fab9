// Session: the POP3 server protocol engine (RFC 1939 with RFC 2449 CAPA, PIPELINING and
// RESP-CODES, RFC 3206 response codes, RFC 5034 SASL with the PLAIN mechanism of RFC 4616).
// It does no I/O: the host feeds it the client's bytes, sends what take_output() returns and
// watches want_close(). Accounts, locking, decryption and the store live behind Hooks, whose
// answers may come later (the host decrypts and commits on its own schedule).
// Trust: every byte fed in is hostile. Lines are bounded (255 octets including CRLF, RFC 2449
// 4; SASL responses separately), buffered input is bounded, numbers are parsed strictly and
// errors are counted. APOP is not offered: it needs the clear-text password on the server.
// This module logs nothing; passwords are handed to on_auth only and wiped from its buffers.
// The hooks' answers (the maildrop listing, the message bytes) are trusted to be the host's.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace nj::pop3 {

// One message of the maildrop as the host lists it at login; message numbers are 1..n in
// the order given. `size` is what STAT/LIST report: wire_size() of the message
// (common/pop3/multiline.h). `uidl` is 1..70 octets in 0x21..0x7E, unique and stable across
// sessions (RFC 1939 7).
struct MaildropEntry {
  uint64_t size = 0;
  std::string uidl;
};

enum class AuthOutcome {
  ok,                 // authenticated, the maildrop is locked for this session
  bad_credentials,    // "-ERR [AUTH] ..."; also for unknown users, so nobody learns who exists
  in_use,             // "-ERR [IN-USE] ...": another session holds the maildrop
  temporary_failure,  // "-ERR [SYS/TEMP] ..."
};

struct AuthAnswer {
  AuthOutcome outcome = AuthOutcome::bad_credentials;
  std::vector<MaildropEntry> maildrop;  // only with ok

  static AuthAnswer granted(std::vector<MaildropEntry> maildrop) {
    return {AuthOutcome::ok, std::move(maildrop)};
  }
  static AuthAnswer denied() { return {AuthOutcome::bad_credentials, {}}; }
  static AuthAnswer locked() { return {AuthOutcome::in_use, {}}; }
  static AuthAnswer unavailable() { return {AuthOutcome::temporary_failure, {}}; }
};

// A message's bytes for RETR/TOP, as stored (CRLF or LF line ends, not dot-stuffed). The
// engine copies what it sends before the call that hands it over returns, so the host may wipe
// its plaintext right after. ok=false answers "-ERR [SYS/TEMP]".
struct FetchAnswer {
  bool ok = false;
  std::string_view message;

  static FetchAnswer found(std::string_view message) { return {true, message}; }
  static FetchAnswer failed() { return {false, {}}; }
};

// Why a session ended; on_end hears it exactly once. Messages were deleted only with `quit`
// after a successful commit (a QUIT in the AUTHORIZATION state also ends with `quit`).
enum class End {
  quit,             // QUIT answered +OK
  commit_failed,    // QUIT in TRANSACTION, the commit failed: nothing deleted
  timeout,          // on_timeout(): autologout, nothing deleted (RFC 1939 3)
  too_many_errors,  // the error limit was passed
  input_overflow,   // more pipelined input than the engine holds while waiting
  bad_maildrop,     // on_auth granted a listing the engine cannot serve (see MaildropEntry)
  dropped,          // abandon() or destruction before the session ended by itself
};
const char* end_name(End e);

// Decisions the host makes. A hook returning std::nullopt means "pending": the engine reads no
// further input (it keeps buffering, up to max_pipelined_bytes) until the host calls the
// matching resolve_*(). A hook may also call resolve_*() itself before returning nullopt.
// string_view arguments are valid only during the call. Hooks must not call feed() and must
// not destroy the session. The Hooks object must outlive the session, whose destructor calls
// on_end(dropped) if the session had not ended: a host that is itself the Hooks and owns the
// Session calls abandon() in its own destructor, before its members go.
class Hooks {
 public:
  virtual ~Hooks() = default;
  // USER/PASS or AUTH PLAIN. `user` has passed the engine's shape check (1..max_user octets,
  // no controls, no space); authzid, when the client sent one, equals it.
  virtual std::optional<AuthAnswer> on_auth(std::string_view user, std::string_view password) = 0;
  // RETR/TOP of message `number` (1-based; `uidl` is its listing entry).
  virtual std::optional<FetchAnswer> on_fetch(uint32_t number, std::string_view uidl) = 0;
  // QUIT in TRANSACTION: remove `deleted` (message numbers, ascending; may be empty) in one
  // synced commit, then answer. A failure must delete nothing (RFC 1939 6).
  virtual std::optional<Status> on_commit(const std::vector<uint32_t>& deleted) = 0;
  // The session is over: release the maildrop lock and anything pending for it.
  virtual void on_end(End reason) {}
};

struct Config {
  std::string greeting = "POP3 server ready";  // after "+OK "; no host name, no version
  size_t max_errors = 10;                      // -ERR replies caused by the client before closing
  size_t max_command_line = 255;               // including CRLF (RFC 2449 4)
  size_t max_sasl_line = 4096;             // a SASL client response, including CRLF (RFC 5034 4)
  size_t max_user = 128;                   // USER argument / PLAIN authcid
  size_t max_pipelined_bytes = 16 * 1024;  // input held while a hook is pending
  size_t output_high_water = 256 * 1024;   // see needs_resume()
  std::chrono::seconds autologout{600};    // RFC 1939 3: at least 10 minutes
};

enum class State { authorization, transaction, update, ended };

struct SessionStats {
  uint32_t retrieved = 0;  // RETR answered with the message
  uint32_t deleted = 0;    // messages removed by a successful commit
  uint32_t errors = 0;     // -ERR replies counted against max_errors
};

class Session {
 public:
  Session(Config config, Hooks& hooks);
  ~Session();  // an unfinished session ends as End::dropped
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // "+OK <greeting>"; input fed before this is held and processed afterwards.
  void greet();

  void feed(std::string_view bytes);
  std::string take_output() { return std::move(out_); }
  bool want_close() const { return state_ == State::ended; }

  // Output backpressure: processing stops while undrained output exceeds output_high_water,
  // so a client pipelining many RETRs cannot make the engine copy its whole maildrop at once.
  // When true, call resume() once what take_output() returned has been written.
  bool needs_resume() const;
  void resume();

  // Answers the pending hook; ignored when that hook is not the one pending.
  void resolve_auth(AuthAnswer a);
  void resolve_fetch(const FetchAnswer& a);
  void resolve_commit(const Status& s);
  bool pending() const { return pending_ != Pending::none; }

  // The autologout interval: re-arm a timer whenever bytes arrive.
  std::chrono::seconds timeout() const { return config_.autologout; }
  // Autologout: closes without a response and deletes nothing (RFC 1939 3).
  void on_timeout();
  // The connection is gone: ends the session (End::dropped) without output.
  void abandon();

  State state() const { return state_; }
  const SessionStats& stats() const { return stats_; }

 private:
  enum class Pending { none, auth, fetch, commit };
  enum class Mode { command, sasl_plain, discard_command, discard_sasl };

  void process();
  bool can_run() const;
  bool buffered() const { return in_.size() > pos_; }
  void handle_command(std::string_view line);
  void sasl_response(std::string_view line);

  void cmd_user(std::string_view arg, bool has_arg);
  void cmd_pass(std::string_view arg);
  void cmd_auth(std::string_view arg);
  void cmd_capa();
  void cmd_quit();
  void cmd_stat();
  void cmd_list(std::string_view arg, bool has_arg, bool uidl);
  void cmd_fetch(std::string_view arg, bool has_arg, bool top);
  void cmd_dele(std::string_view arg, bool has_arg);
  void cmd_rset();
  bool valid_user(std::string_view u) const;

  void auth_plain(std::string_view decoded);
  void start_auth(std::string_view user, std::string_view password);
  void complete_auth(AuthAnswer a);
  void complete_fetch(const FetchAnswer& a);
  void complete_commit(const Status& s);
  // Resolves a message argument; on failure the -ERR is sent and nullopt returned.
  std::optional<uint32_t> message_arg(std::string_view arg);

  void ok(std::string_view text);
  void err(std::string_view text, bool counts = true);
  void end(End reason);

  Config config_;
  Hooks& hooks_;
  std::string out_;
  std::string in_;
  size_t pos_ = 0;

  State state_ = State::authorization;
  Mode mode_ = Mode::command;
  Pending pending_ = Pending::none;
  bool greeted_ = false;
  bool in_process_ = false;
  bool stalled_ = false;    // input left unread because output passed output_high_water
  bool have_user_ = false;  // USER accepted and PASS may follow (RFC 1939 7)
  std::string user_;

  // The maildrop, from a granted on_auth.
  std::vector<MaildropEntry> drop_;
  std::vector<bool> deleted_;
  uint32_t live_count_ = 0;
  uint64_t live_octets_ = 0;

  // What the pending fetch was for.
  uint32_t fetch_number_ = 0;
  std::optional<uint64_t> fetch_top_lines_;
  uint32_t commit_count_ = 0;

  SessionStats stats_;
};

}  // namespace nj::pop3
