#include "common/smtp/server.h"

#include <cstring>
#include <limits>

namespace nj::smtp {

namespace {

constexpr std::string_view kNonSmtpVerbs[] = {"GET",     "POST",   "HEAD",  "PUT",  "CONNECT",
                                              "OPTIONS", "DELETE", "PATCH", "TRACE"};

bool is_non_smtp_verb(std::string_view verb) {
  for (auto v : kNonSmtpVerbs)
    if (verb == v) return true;
  return false;
}

// Passwords should not linger in freed heap memory; volatile keeps the stores.
void wipe(std::string& s) {
  volatile char* p = s.data();
  for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
  s.clear();
}

bool starts_with_auth(std::string_view s) {
  return s.size() >= 5 && iequals(s.substr(0, 5), "AUTH ");
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

Reply r503(std::string_view text) {
  return Reply::make(503, "5.5.1", text);
}
Reply r501(std::string_view text) {
  return Reply::make(501, "5.5.4", text);
}

}  // namespace

const char* violation_name(Violation v) {
  switch (v) {
    case Violation::pipelining_not_offered:
      return "pipelining-not-offered";
    case Violation::pipelining_after_sync:
      return "pipelining-after-sync";
    case Violation::non_smtp_command:
      return "non-smtp-command";
    case Violation::too_many_errors:
      return "too-many-errors";
  }
  return "unknown";
}

ServerSession::ServerSession(ServerConfig config, Hooks& hooks)
    : config_(std::move(config)),
      hooks_(hooks),
      reader_(DataReader::Limits{
          config_.max_message_size ? config_.max_message_size : std::numeric_limits<size_t>::max(),
          config_.max_data_line > 2 ? config_.max_data_line - 2 : 1}) {}

void ServerSession::greet() {
  if (greeted_ || closing_) return;
  greeted_ = true;
  out_ += "220 " + config_.hostname + " ESMTP\r\n";
  process();
}

void ServerSession::reject_connection(const Reply& r) {
  if (closing_) return;
  greeted_ = true;
  rejected_ = true;
  out_ += r.serialize();
  process();
}

bool ServerSession::can_run() const {
  return greeted_ && !closing_ && !awaiting_tls_ && pending_ == Pending::none;
}

void ServerSession::feed(std::string_view bytes) {
  // After "220 Ready to start TLS" nothing may be read in clear (CVE-2011-0411).
  if (closing_ || awaiting_tls_) return;
  if (!in_process_ && mode_ == Mode::data && can_run() && !buffered()) {
    // Message bodies go straight into the reader without a detour through in_.
    in_.clear();
    pos_ = 0;
    in_process_ = true;
    const size_t n = reader_.feed(bytes);
    bytes.remove_prefix(n);
    if (reader_.done()) {
      in_.assign(bytes);
      bytes = {};
      finish_data();
    }
    in_process_ = false;
  }
  if (!can_run() && in_.size() - pos_ + bytes.size() > config_.max_pipelined_bytes) {
    // Waiting (for a hook or the greeting): refuse before copying, not after.
    close_with(Reply::make(421, "4.7.0", config_.hostname + " Error: too much pipelined input"));
    return;
  }
  in_.append(bytes);
  process();
  if (!closing_ && in_.size() - pos_ > config_.max_pipelined_bytes)
    close_with(Reply::make(421, "4.7.0", config_.hostname + " Error: too much pipelined input"));
}

void ServerSession::process() {
  if (in_process_) return;
  in_process_ = true;
  while (can_run() && buffered()) {
    const std::string_view rest = std::string_view(in_).substr(pos_);
    if (mode_ == Mode::data) {
      pos_ += reader_.feed(rest);
      if (reader_.done()) finish_data();
      continue;
    }
    const void* lfp = std::memchr(rest.data(), '\n', rest.size());
    if (mode_ == Mode::discard_line) {
      if (!lfp) {
        pos_ = in_.size();
        break;
      }
      pos_ += static_cast<size_t>(static_cast<const char*>(lfp) - rest.data()) + 1;
      const bool was_auth = discard_from_ != Mode::command;
      mode_ = Mode::command;
      if (was_auth)
        send(Reply::make(500, "5.5.6", "Authentication Exchange line is too long"), true);
      else
        send(Reply::make(500, "5.5.2", "Error: line too long"));
      continue;
    }
    const bool auth_line = mode_ != Mode::command || starts_with_auth(rest);
    const size_t limit = auth_line ? config_.max_auth_line : config_.max_command_line;
    if (!lfp) {
      if (rest.size() >= limit) {
        // Never buffer a line without end: drop it now, answer when it finally ends.
        discard_from_ = mode_;
        mode_ = Mode::discard_line;
        pos_ = in_.size();
      }
      break;
    }
    const size_t lf = static_cast<size_t>(static_cast<const char*>(lfp) - rest.data());
    std::string_view line = rest.substr(0, lf);
    pos_ += lf + 1;
    if (lf + 1 > limit) {
      if (mode_ != Mode::command) {
        mode_ = Mode::command;
        send(Reply::make(500, "5.5.6", "Authentication Exchange line is too long"), true);
      } else {
        send(Reply::make(500, "5.5.2", "Error: line too long"));
      }
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    handle_line(line);
  }
  if (pos_ >= in_.size()) {
    in_.clear();
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ > in_.size() / 2) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
  in_process_ = false;
}

void ServerSession::handle_line(std::string_view line) {
  if (mode_ == Mode::auth_plain || mode_ == Mode::auth_login_user ||
      mode_ == Mode::auth_login_pass) {
    auth_response(line);
    return;
  }
  handle_command(line);
}

void ServerSession::handle_command(std::string_view line) {
  if (std::memchr(line.data(), '\0', line.size()) != nullptr) {
    send(Reply::make(500, "5.5.2", "Error: NUL character in command"));
    return;
  }
  if (line.empty()) {
    send(Reply::make(500, "5.5.2", "Error: bad syntax"));
    return;
  }
  const CommandLine c = split_command(line);
  if (c.verb.empty() || is_non_smtp_verb(c.verb)) {
    if (violation(Violation::non_smtp_command)) return;
    send(Reply::make(500, "5.5.2", "Error: command not recognized"));
    return;
  }
  const std::string& v = c.verb;
  if (v == "QUIT") {
    hooks_.on_quit();
    close_with(Reply::make(221, "2.0.0", config_.hostname + " closing connection"));
    return;
  }
  if (rejected_) {
    send(r503("Error: connection refused, send QUIT"));
    return;
  }
  if (v == "EHLO" || v == "HELO") {
    cmd_helo(c.arg, v == "EHLO");
  } else if (v == "MAIL") {
    cmd_mail(c.arg);
  } else if (v == "RCPT") {
    cmd_rcpt(c.arg);
  } else if (v == "DATA") {
    cmd_data(c.arg);
  } else if (v == "RSET") {
    if (!c.arg.empty()) return send(r501("Syntax: RSET"));
    reset_transaction();
    hooks_.on_rset();
    send(Reply::ok());
  } else if (v == "NOOP") {
    send(Reply::ok());
  } else if (v == "HELP") {
    send(Reply::make(214, "2.0.0",
                     "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY STARTTLS AUTH"));
  } else if (v == "VRFY") {
    if (c.arg.empty()) return send(r501("Syntax: VRFY address"));
    // RFC 5321 3.5.3: 252 neither confirms nor denies; confirming would leak who exists.
    send(Reply::make(252, "2.1.5", "Cannot VRFY user; send mail and delivery will be attempted"));
  } else if (v == "EXPN") {
    // RFC 5321 3.5.2 lets EXPN be unimplemented; list membership is exactly what must not leak.
    send(Reply::make(502, "5.5.1", "Error: EXPN not available"));
  } else if (v == "STARTTLS") {
    cmd_starttls(c.arg);
  } else if (v == "AUTH") {
    cmd_auth(c.arg);
  } else {
    send(Reply::make(500, "5.5.2", "Error: command not recognized"));
  }
}

void ServerSession::cmd_helo(std::string_view arg, bool esmtp) {
  bool bad = arg.empty() || arg.size() > 255;
  for (char ch : arg) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) bad = true;
  }
  // RFC 5321 4.1.4: HELO/EHLO also resets any transaction.
  reset_transaction();
  have_helo_ = false;
  esmtp_ = false;
  if (bad) return send(r501(esmtp ? "Syntax: EHLO hostname" : "Syntax: HELO hostname"), true);
  pending_esmtp_ = esmtp;
  pending_ = Pending::helo;
  settle(Pending::helo, hooks_.on_helo(arg, esmtp));
}

void ServerSession::cmd_mail(std::string_view arg) {
  if (!have_helo_) return send(r503("Error: send HELO/EHLO first"));
  if (in_mail_) return send(r503("Error: nested MAIL command"));
  if (config_.auth_required && !authenticated_)
    return send(Reply::make(530, "5.7.0", "Authentication required"));
  const PathParse p = parse_path_arg(arg, "FROM:");
  if (!p.value) {
    if (p.error == PathError::bad_path)
      return send(Reply::make(501, "5.1.7", "Bad sender address syntax"));
    if (p.error == PathError::bad_params) return send(r501("Bad parameter syntax"));
    return send(r501("Syntax: MAIL FROM:<address>"));
  }
  const PathArg& a = *p.value;
  if (!esmtp_ && !a.params.empty())
    return send(Reply::make(555, "5.5.4", "MAIL parameters need EHLO"));
  bool utf8 = false;
  BodyType body = BodyType::unspecified;
  for (const EsmtpParam& prm : a.params) {
    if (prm.keyword == "SIZE") {
      const auto n = prm.value ? parse_u64(*prm.value) : std::nullopt;
      if (!n) return send(r501("Bad SIZE parameter"));
      if (config_.max_message_size && *n > config_.max_message_size)
        return send(Reply::make(552, "5.3.4", "Message size exceeds fixed maximum message size"));
    } else if (prm.keyword == "BODY" && config_.eight_bit_mime) {
      if (prm.value && iequals(*prm.value, "7BIT"))
        body = BodyType::seven_bit;
      else if (prm.value && iequals(*prm.value, "8BITMIME"))
        body = BodyType::eight_bit_mime;
      else
        return send(r501("Bad BODY parameter"));
    } else if (prm.keyword == "SMTPUTF8" && config_.smtputf8) {
      if (prm.value) return send(r501("SMTPUTF8 takes no value"));
      utf8 = true;
    } else if (prm.keyword == "AUTH" && config_.auth_enabled) {
      // RFC 4954 5: accepted; we never relay an AUTH identity onward, so it is ignored.
      if (!prm.value) return send(r501("Bad AUTH parameter"));
    } else {
      return send(Reply::make(555, "5.5.4", "Unsupported MAIL parameter"));
    }
  }
  if (a.eight_bit && !utf8)
    return send(Reply::make(553, "5.6.7", "Non-ASCII address needs SMTPUTF8"));
  pending_path_ = std::string(a.path);
  pending_smtputf8_ = utf8;
  pending_body_ = body;
  pending_ = Pending::mail;
  settle(Pending::mail, hooks_.on_mail(a.path, a.params));
}

void ServerSession::cmd_rcpt(std::string_view arg) {
  if (!in_mail_) return send(r503("Error: need MAIL command"));
  const PathParse p = parse_path_arg(arg, "TO:");
  if (!p.value) {
    if (p.error == PathError::bad_path)
      return send(Reply::make(501, "5.1.3", "Bad recipient address syntax"));
    if (p.error == PathError::bad_params) return send(r501("Bad parameter syntax"));
    return send(r501("Syntax: RCPT TO:<address>"));
  }
  const PathArg& a = *p.value;
  // No DSN (RFC 3461) is offered, so RCPT has no parameters.
  if (!a.params.empty()) return send(Reply::make(555, "5.5.4", "Unsupported RCPT parameter"));
  if (a.eight_bit && !msg_.smtputf8)
    return send(Reply::make(553, "5.6.7", "Non-ASCII address needs SMTPUTF8"));
  if (msg_.recipients.size() >= config_.max_recipients) {
    ++stats_.recipients_refused;
    // RFC 5321 4.5.3.1.10: a client must handle 452 by sending the rest later. It is not held
    // against the client's error budget: an honest big list would otherwise be cut off.
    return send(Reply::make(452, "4.5.3", "Error: too many recipients"), false, false);
  }
  pending_path_ = std::string(a.path);
  pending_ = Pending::rcpt;
  settle(Pending::rcpt, hooks_.on_rcpt(a.path, a.params));
}

void ServerSession::cmd_data(std::string_view arg) {
  if (!arg.empty()) return send(r501("Syntax: DATA"), true);
  if (!in_mail_) return send(r503("Error: need MAIL command"), true);
  if (msg_.recipients.empty())
    return send(Reply::make(554, "5.5.1", "Error: no valid recipients"), true);
  pending_ = Pending::data_start;
  settle(Pending::data_start, hooks_.on_data_start());
}

void ServerSession::finish_data() {
  mode_ = Mode::command;
  if (auto v = reader_.verdict()) {
    ++stats_.messages_refused;
    send(*v);
    reset_transaction();
    return;
  }
  msg_.data = reader_.take_message();
  pending_ = Pending::message;
  settle(Pending::message, hooks_.on_message(msg_));
}

void ServerSession::cmd_starttls(std::string_view arg) {
  if (!config_.starttls_available || tls_active_) {
    if (tls_active_) return send(r503("Error: TLS already active"), true);
    return send(Reply::make(502, "5.5.1", "Error: command not implemented"), true);
  }
  if (!arg.empty()) return send(r501("Syntax: STARTTLS"), true);
  if (in_mail_) return send(r503("Error: MAIL transaction in progress"), true);
  send(Reply::make(220, "2.0.0", "Ready to start TLS"), true);
  // Whatever followed the command in clear is dropped unread (CVE-2011-0411).
  pos_ = in_.size();
  if (!closing_) awaiting_tls_ = true;
}

void ServerSession::tls_started() {
  if (!awaiting_tls_) return;
  awaiting_tls_ = false;
  tls_active_ = true;
  // RFC 3207 4.2: forget everything learnt from the client before TLS.
  have_helo_ = false;
  esmtp_ = false;
  authenticated_ = false;
  reset_transaction();
  in_.clear();
  pos_ = 0;
  mode_ = Mode::command;
  process();
}

void ServerSession::cmd_auth(std::string_view arg) {
  if (!config_.auth_enabled)
    return send(Reply::make(502, "5.5.1", "Error: command not implemented"), true);
  if (!esmtp_) return send(r503("Error: send EHLO first"), true);
  if (authenticated_) return send(r503("Error: already authenticated"), true);
  if (in_mail_) return send(r503("Error: MAIL transaction in progress"), true);
  const size_t sp = arg.find(' ');
  const std::string_view mech = arg.substr(0, sp);
  std::optional<std::string_view> initial;
  if (sp != std::string_view::npos) initial = arg.substr(sp + 1);
  const bool plain = iequals(mech, "PLAIN");
  if (!plain && !iequals(mech, "LOGIN"))
    return send(Reply::make(504, "5.5.4", "Unrecognized authentication type"), true);
  std::optional<std::string> decoded;
  if (initial) {
    // RFC 4954 4: "=" is an empty initial response.
    decoded = *initial == "=" ? std::optional<std::string>(std::string()) : base64_decode(*initial);
    if (!decoded) return send(Reply::make(501, "5.5.2", "Cannot decode response"), true);
  }
  if (plain) {
    auth_mech_ = "PLAIN";
    if (decoded) {
      auth_plain(*decoded);
      wipe(*decoded);
      return;
    }
    mode_ = Mode::auth_plain;
    send_raw("334 \r\n", 334, true);
    return;
  }
  auth_mech_ = "LOGIN";
  if (decoded) {
    auth_user_ = std::move(*decoded);
    mode_ = Mode::auth_login_pass;
    send_raw("334 UGFzc3dvcmQ6\r\n", 334, true);
  } else {
    mode_ = Mode::auth_login_user;
    send_raw("334 VXNlcm5hbWU6\r\n", 334, true);
  }
}

void ServerSession::auth_response(std::string_view line) {
  const Mode m = mode_;
  mode_ = Mode::command;
  if (line == "*") {
    wipe(auth_user_);
    return send(Reply::make(501, "5.0.0", "Authentication cancelled"), true);
  }
  auto decoded = base64_decode(line);
  if (!decoded) {
    wipe(auth_user_);
    return send(Reply::make(501, "5.5.2", "Cannot decode response"), true);
  }
  if (m == Mode::auth_plain) {
    auth_plain(*decoded);
  } else if (m == Mode::auth_login_user) {
    auth_user_ = std::move(*decoded);
    mode_ = Mode::auth_login_pass;
    send_raw("334 UGFzc3dvcmQ6\r\n", 334, true);
  } else {
    auth_finish("LOGIN", {}, auth_user_, *decoded);
    wipe(auth_user_);
  }
  if (decoded) wipe(*decoded);
}

void ServerSession::auth_plain(std::string_view d) {
  // RFC 4616: [authzid] NUL authcid NUL passwd
  const size_t a = d.find('\0');
  const size_t b = a == std::string_view::npos ? a : d.find('\0', a + 1);
  if (b == std::string_view::npos || d.find('\0', b + 1) != std::string_view::npos || b == a + 1 ||
      b + 1 == d.size())
    return send(Reply::make(501, "5.5.2", "Malformed PLAIN response"), true);
  auth_finish("PLAIN", d.substr(0, a), d.substr(a + 1, b - a - 1), d.substr(b + 1));
}

void ServerSession::auth_finish(const std::string& mech, std::string_view authzid,
                                std::string_view authcid, std::string_view password) {
  pending_ = Pending::auth;
  settle(Pending::auth, hooks_.on_auth(mech, authzid, authcid, password));
}

void ServerSession::settle(Pending p, const std::optional<Reply>& r) {
  // The hook may already have called resolve(); then its return value is ignored.
  if (r && pending_ == p) complete(*r);
}

void ServerSession::resolve(const Reply& r) {
  if (pending_ == Pending::none || closing_) return;
  complete(r);
  process();
}

void ServerSession::complete(const Reply& r) {
  const Pending p = pending_;
  pending_ = Pending::none;
  switch (p) {
    case Pending::none:
      return;
    case Pending::helo:
      if (r.positive()) {
        have_helo_ = true;
        esmtp_ = pending_esmtp_;
        send(esmtp_ ? ehlo_reply() : Reply::make(250, "", config_.hostname), true);
      } else {
        send(r, true);
      }
      return;
    case Pending::mail:
      if (r.positive()) {
        in_mail_ = true;
        msg_.reverse_path = pending_path_;
        msg_.smtputf8 = pending_smtputf8_;
        msg_.body = pending_body_;
      }
      send(r);
      return;
    case Pending::rcpt:
      if (r.positive()) {
        msg_.recipients.push_back(pending_path_);
        ++stats_.recipients_accepted;
      } else {
        ++stats_.recipients_refused;
      }
      send(r);
      return;
    case Pending::data_start:
      if (r.positive()) {
        reader_.reset();
        mode_ = Mode::data;
        send(Reply::make(354, "", "End data with <CR><LF>.<CR><LF>"), true);
      } else {
        send(r, true);
      }
      return;
    case Pending::message:
      if (r.positive())
        ++stats_.messages_accepted;
      else
        ++stats_.messages_refused;
      reset_transaction();
      send(r);
      return;
    case Pending::auth:
      if (r.code == 235) authenticated_ = true;
      send(r, true);
      return;
  }
}

Reply ServerSession::ehlo_reply() const {
  Reply r = Reply::make(250, "", config_.hostname);
  if (config_.pipelining) r.lines.emplace_back("PIPELINING");
  r.lines.emplace_back(config_.max_message_size ? "SIZE " + std::to_string(config_.max_message_size)
                                                : std::string("SIZE"));
  if (config_.eight_bit_mime) r.lines.emplace_back("8BITMIME");
  r.lines.emplace_back("ENHANCEDSTATUSCODES");
  if (config_.smtputf8) r.lines.emplace_back("SMTPUTF8");
  if (config_.starttls_available && !tls_active_) r.lines.emplace_back("STARTTLS");
  if (config_.auth_enabled && !authenticated_) r.lines.emplace_back("AUTH PLAIN LOGIN");
  return r;
}

void ServerSession::send(const Reply& r, bool sync, bool counts_as_error) {
  if (closing_) return;
  if (r.code >= 400 && r.code != 421 && counts_as_error) {
    ++stats_.errors;
    if (stats_.errors > config_.max_errors) {
      // The hook hears about it, but the session ends whatever it answers.
      reported_violations_ |= 1u << static_cast<int>(Violation::too_many_errors);
      hooks_.on_violation(Violation::too_many_errors);
      close_with(Reply::make(421, "4.7.0", config_.hostname + " Error: too many errors"));
      return;
    }
  }
  send_raw(r.serialize(), r.code, sync);
}

void ServerSession::send_raw(std::string_view wire, int code, bool sync) {
  if (closing_) return;
  out_ += wire;
  if (code == 421) {
    closing_ = true;
    return;
  }
  check_pipelining(sync);
}

void ServerSession::check_pipelining(bool sync) {
  if (!buffered()) return;
  if (!pipelining_offered())
    violation(Violation::pipelining_not_offered);
  else if (sync)
    violation(Violation::pipelining_after_sync);
}

bool ServerSession::violation(Violation v) {
  const uint32_t bit = 1u << static_cast<int>(v);
  if (reported_violations_ & bit) return false;
  reported_violations_ |= bit;
  if (!hooks_.on_violation(v)) return false;
  close_with(Reply::make(421, "4.7.0", config_.hostname + " Error: protocol violation"));
  return true;
}

void ServerSession::close_with(const Reply& r) {
  if (closing_) return;
  out_ += r.serialize();
  closing_ = true;
}

void ServerSession::reset_transaction() {
  in_mail_ = false;
  msg_ = Message{};
  if (mode_ == Mode::data) mode_ = Mode::command;
}

std::chrono::seconds ServerSession::timeout() const {
  return mode_ == Mode::data ? config_.data_timeout : config_.command_timeout;
}

void ServerSession::on_timeout() {
  close_with(Reply::make(421, "4.4.2", config_.hostname + " timeout"));
}

}  // namespace nj::smtp
