#include "common/smtp/client.h"

#include "common/smtp/command.h"

namespace nj::smtp {

namespace {

bool non_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  return false;
}

std::string upper(std::string_view s) {
  std::string o(s);
  for (char& c : o)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return o;
}

// Paths come from our own queue, but a CR or LF in one would inject a command: refuse them.
bool clean_path(std::string_view s) {
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '<' || c == '>') return false;
  }
  return s.size() + 2 <= kMaxPathLength;
}

}  // namespace

Outcome outcome_of(const Reply& r) {
  if (r.code >= 200 && r.code < 300) return Outcome::delivered;
  if (r.permanent()) return Outcome::permanent;
  return Outcome::transient;
}

bool MessageResult::all_delivered() const {
  if (recipients.empty()) return false;
  for (const auto& rr : recipients)
    if (rr.outcome != Outcome::delivered) return false;
  return true;
}

std::string dot_stuff(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 64 + 4);
  bool line_start = true;
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (c == '\r' || c == '\n') {
      out += "\r\n";
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
      line_start = true;
      continue;
    }
    if (line_start && c == '.') out += '.';
    line_start = false;
    out += c;
  }
  if (!line_start) out += "\r\n";
  return out;
}

ClientSession::ClientSession(ClientConfig config)
    : config_(std::move(config)), parser_(config_.reply_limits) {
  expect_.push_back(Expect::greeting);
}

uint64_t ClientSession::add_message(OutboundMessage m) {
  const uint64_t id = next_id_++;
  if (failed_ || done_) {
    fail_message(
        id, m,
        session_error_ ? *session_error_ : Reply::local_reply(421, "4.4.2", "session closed"));
    return id;
  }
  queue_.emplace_back(id, std::move(m));
  start_next();
  return id;
}

void ClientSession::quit_when_idle() {
  quit_requested_ = true;
  start_next();
}

void ClientSession::send(std::string_view line, Expect e) {
  out_ += line;
  out_ += "\r\n";
  expect_.push_back(e);
}

void ClientSession::feed(std::string_view bytes) {
  if (done_ || awaiting_tls_) return;
  if (!parser_.feed(bytes).ok()) {
    fail_session(Reply::local_reply(421, "4.5.0", "malformed reply from server"), false);
    return;
  }
  while (auto r = parser_.next()) {
    on_reply(*r);
    if (done_) return;
    if (awaiting_tls_) {
      // Anything the server sent after "220 Ready" in clear is dropped unread (the response
      // injection twin of CVE-2011-0411).
      parser_.clear();
      return;
    }
  }
}

void ClientSession::on_reply(const Reply& r) {
  if (expect_.empty()) {
    fail_session(Reply::local_reply(421, "4.5.0", "unexpected reply from server"), false);
    return;
  }
  const Expect e = expect_.front();
  expect_.pop_front();
  if (e == Expect::quit) {
    done_ = true;
    return;
  }
  if (r.code == 421) {
    // The server is closing (RFC 5321 3.8): nothing more will be answered.
    fail_session(r, false);
    return;
  }
  if (failed_) {
    // Draining replies to commands already sent before the failure.
    if (e == Expect::data && r.code == 354) {
      out_ += ".\r\n";
      expect_.push_back(Expect::data_end_ignored);
    }
    maybe_quit();
    return;
  }
  switch (e) {
    case Expect::greeting:
      if (r.code == 220)
        send_ehlo();
      else
        fail_session(r, true);
      break;
    case Expect::ehlo:
      if (r.code == 250) {
        parse_capabilities(r);
        after_ehlo();
      } else if (r.permanent()) {
        caps_ = ServerCapabilities{};
        send("HELO " + config_.helo_name, Expect::helo);
      } else {
        fail_session(r, true);
      }
      break;
    case Expect::helo:
      if (r.code == 250) {
        caps_ = ServerCapabilities{};
        after_ehlo();
      } else {
        fail_session(r, true);
      }
      break;
    case Expect::starttls:
      if (r.code == 220) {
        awaiting_tls_ = true;
      } else if (config_.starttls == TlsPolicy::required) {
        fail_session(r.permanent() ? Reply::local_reply(450, "4.7.10", "STARTTLS refused") : r,
                     true);
      } else {
        tls_refused_ = true;
        after_ehlo();
      }
      break;
    case Expect::auth:
      if (r.code == 235) {
        authenticated_ = true;
        ready_ = true;
        start_next();
      } else {
        fail_session(r, true);
      }
      break;
    case Expect::rset:
      if (r.code != 250) {
        fail_session(r, true);
      } else if (txn_ && !txn_->mail_sent) {
        send_mail();
      }
      break;
    case Expect::mail:
      if (!txn_) break;
      txn_->mail_reply = r;
      if (!pipelined()) {
        if (r.code == 250 && !txn_->msg.recipients.empty())
          send("RCPT TO:<" + txn_->msg.recipients[0] + ">", Expect::rcpt);
        else
          finish_txn();
      }
      break;
    case Expect::rcpt: {
      if (!txn_ || txn_->rcpt_answered >= txn_->rcpt.size()) break;
      const size_t i = txn_->rcpt_answered++;
      txn_->rcpt[i] = r;
      if (r.code == 250 || r.code == 251) ++txn_->accepted;
      if (!pipelined()) {
        if (txn_->rcpt_answered < txn_->msg.recipients.size())
          send("RCPT TO:<" + txn_->msg.recipients[txn_->rcpt_answered] + ">", Expect::rcpt);
        else if (txn_->accepted > 0)
          send("DATA", Expect::data);
        else
          finish_txn();
      }
      break;
    }
    case Expect::data:
      if (!txn_) break;
      if (r.code == 354) {
        const bool mail_ok = txn_->mail_reply && txn_->mail_reply->code == 250;
        if (mail_ok && txn_->accepted > 0) {
          out_ += dot_stuff(txn_->msg.data);
          out_ += ".\r\n";
          expect_.push_back(Expect::data_end);
        } else {
          // RFC 2920 3.1: DATA accepted although nothing valid was sent: end it empty.
          out_ += ".\r\n";
          expect_.push_back(Expect::data_end_ignored);
        }
      } else {
        txn_->data_reply = r;
        finish_txn();
      }
      break;
    case Expect::data_end:
      if (txn_) {
        txn_->data_reply = r;
        finish_txn(true);
      }
      break;
    case Expect::data_end_ignored:
      finish_txn(true);
      break;
    case Expect::quit:
      break;
  }
}

void ClientSession::send_ehlo() {
  send("EHLO " + config_.helo_name, Expect::ehlo);
}

void ClientSession::parse_capabilities(const Reply& r) {
  caps_ = ServerCapabilities{};
  caps_.esmtp = true;
  for (size_t i = 1; i < r.lines.size(); ++i) {
    std::string_view line = r.lines[i];
    const size_t sp = line.find_first_of(" =");
    const std::string key = upper(line.substr(0, sp));
    const std::string_view rest =
        sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    if (key == "PIPELINING") {
      caps_.pipelining = true;
    } else if (key == "SIZE") {
      caps_.size = true;
      uint64_t v = 0;
      bool okv = !rest.empty() && rest.size() <= 19;
      for (char c : rest) {
        if (c < '0' || c > '9') okv = false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      caps_.size_limit = okv ? v : 0;
    } else if (key == "8BITMIME") {
      caps_.eight_bit_mime = true;
    } else if (key == "SMTPUTF8") {
      caps_.smtputf8 = true;
    } else if (key == "STARTTLS") {
      caps_.starttls = true;
    } else if (key == "ENHANCEDSTATUSCODES") {
      caps_.enhanced_status_codes = true;
    } else if (key == "AUTH") {
      std::string_view m = rest;
      while (!m.empty() && caps_.auth.size() < 32) {
        const size_t e = m.find(' ');
        if (e != 0) caps_.auth.push_back(upper(m.substr(0, e)));
        m = e == std::string_view::npos ? std::string_view() : m.substr(e + 1);
      }
    }
  }
}

void ClientSession::after_ehlo() {
  if (!tls_active_ && !tls_refused_ && config_.starttls != TlsPolicy::never && caps_.starttls) {
    send("STARTTLS", Expect::starttls);
    return;
  }
  if (!tls_active_ && config_.starttls == TlsPolicy::required) {
    fail_session(Reply::local_reply(450, "4.7.10", "server does not offer STARTTLS"), true);
    return;
  }
  if (config_.credentials && !authenticated_) {
    bool plain = false;
    for (const auto& m : caps_.auth) plain = plain || m == "PLAIN";
    if (!plain) {
      fail_session(Reply::local_reply(530, "5.7.0", "server does not offer AUTH PLAIN"), true);
      return;
    }
    const auto& c = *config_.credentials;
    std::string token = c.authzid;
    token += '\0';
    token += c.user;
    token += '\0';
    token += c.password;
    send("AUTH PLAIN " + base64_encode(token), Expect::auth);
    return;
  }
  ready_ = true;
  start_next();
}

void ClientSession::tls_started() {
  if (!awaiting_tls_) return;
  awaiting_tls_ = false;
  tls_active_ = true;
  // RFC 3207 4.2: everything learnt before TLS is discarded; ask again.
  caps_ = ServerCapabilities{};
  parser_.clear();
  send_ehlo();
}

std::string ClientSession::mail_command() const {
  std::string cmd = "MAIL FROM:<" + txn_->msg.reverse_path + ">";
  if (caps_.size) cmd += " SIZE=" + std::to_string(txn_->msg.data.size());
  if (txn_->msg.eight_bit && caps_.eight_bit_mime) cmd += " BODY=8BITMIME";
  if (txn_->smtputf8) cmd += " SMTPUTF8";
  return cmd;
}

void ClientSession::send_mail() {
  txn_->mail_sent = true;
  if (!pipelined()) {
    send(mail_command(), Expect::mail);
    return;
  }
  // RFC 2920: MAIL, every RCPT and DATA in one group; DATA is last.
  send(mail_command(), Expect::mail);
  for (const auto& rcpt : txn_->msg.recipients) send("RCPT TO:<" + rcpt + ">", Expect::rcpt);
  send("DATA", Expect::data);
}

void ClientSession::start_next() {
  if (!ready_ || txn_ || failed_ || done_ || !expect_.empty()) return;
  while (!queue_.empty()) {
    auto [id, msg] = std::move(queue_.front());
    queue_.pop_front();
    bool utf8 = msg.smtputf8 || non_ascii(msg.reverse_path);
    bool paths_ok = clean_path(msg.reverse_path);
    for (const auto& r : msg.recipients) {
      utf8 = utf8 || non_ascii(r);
      paths_ok = paths_ok && clean_path(r) && !r.empty();
    }
    if (msg.recipients.empty() || !paths_ok) {
      fail_message(id, msg, Reply::local_reply(554, "5.1.3", "bad envelope address"));
      continue;
    }
    if (utf8 && !caps_.smtputf8) {
      // RFC 6531 3.2: no downgrade exists for non-ASCII addresses; the message must bounce.
      fail_message(id, msg, Reply::local_reply(553, "5.6.7", "server does not support SMTPUTF8"));
      continue;
    }
    if (caps_.size && caps_.size_limit && msg.data.size() > caps_.size_limit) {
      fail_message(id, msg,
                   Reply::local_reply(552, "5.3.4", "message exceeds the server's SIZE limit"));
      continue;
    }
    txn_ = Txn();
    txn_->id = id;
    txn_->smtputf8 = utf8;
    txn_->rcpt.resize(msg.recipients.size());
    txn_->msg = std::move(msg);
    if (need_rset_) {
      send("RSET", Expect::rset);
      if (pipelined()) send_mail();
    } else {
      send_mail();
    }
    return;
  }
  maybe_quit();
}

void ClientSession::maybe_quit() {
  if (quit_sent_ || done_ || !expect_.empty()) return;
  if (failed_ || (quit_requested_ && queue_.empty() && !txn_ && ready_)) {
    send("QUIT", Expect::quit);
    quit_sent_ = true;
  }
}

void ClientSession::finish_txn(bool data_ended) {
  if (!txn_) return;
  Txn t = std::move(*txn_);
  txn_.reset();
  // RFC 5321 4.1.1.4: the reply to the end of data, whatever its code, ends the transaction;
  // only a transaction stopped earlier (MAIL or every RCPT or DATA refused) needs an RSET.
  need_rset_ = !data_ended;
  MessageResult res;
  res.id = t.id;
  const bool mail_ok = t.mail_reply && t.mail_reply->code == 250;
  const Reply missing = Reply::local_reply(451, "4.5.0", "no reply from server");
  if (!mail_ok) {
    res.reply = t.mail_reply ? *t.mail_reply : missing;
  } else if (t.accepted > 0 && t.data_reply) {
    res.reply = *t.data_reply;
  } else {
    // No recipient was accepted: the first refusal explains the message.
    res.reply = missing;
    for (const auto& rr : t.rcpt) {
      if (rr) {
        res.reply = *rr;
        break;
      }
    }
  }
  for (size_t i = 0; i < t.msg.recipients.size(); ++i) {
    RecipientResult rr;
    rr.address = t.msg.recipients[i];
    if (!mail_ok) {
      rr.reply = res.reply;
    } else if (!t.rcpt[i]) {
      rr.reply = missing;
    } else if (!t.rcpt[i]->positive()) {
      rr.reply = *t.rcpt[i];
    } else {
      rr.reply = t.data_reply ? *t.data_reply : missing;
    }
    rr.outcome = outcome_of(rr.reply);
    // A 3xx where a final answer was due is not a delivery.
    if (rr.outcome == Outcome::delivered && rr.reply.code != 250 && rr.reply.code != 251)
      rr.outcome = Outcome::transient;
    res.recipients.push_back(std::move(rr));
  }
  results_.push_back(std::move(res));
  start_next();
}

void ClientSession::fail_message(uint64_t id, const OutboundMessage& m, const Reply& r) {
  MessageResult res;
  res.id = id;
  res.reply = r;
  for (const auto& a : m.recipients) res.recipients.push_back({a, outcome_of(r), r});
  results_.push_back(std::move(res));
}

void ClientSession::fail_session(const Reply& r, bool send_quit) {
  Reply why = r;
  // Only a 5xx that the server gave deliberately is permanent; anything else retries.
  if (why.positive()) why = Reply::local_reply(451, "4.5.0", "unexpected reply: " + r.text());
  if (!session_error_) session_error_ = why;
  failed_ = true;
  if (txn_) {
    Txn t = std::move(*txn_);
    txn_.reset();
    MessageResult res;
    res.id = t.id;
    res.reply = why;
    for (size_t i = 0; i < t.msg.recipients.size(); ++i) {
      RecipientResult rr;
      rr.address = t.msg.recipients[i];
      // A recipient already refused keeps its own (more precise) refusal.
      rr.reply = (t.rcpt[i] && !t.rcpt[i]->positive()) ? *t.rcpt[i] : why;
      rr.outcome = outcome_of(rr.reply);
      if (rr.outcome == Outcome::delivered) rr.outcome = Outcome::transient;
      res.recipients.push_back(std::move(rr));
    }
    results_.push_back(std::move(res));
  }
  while (!queue_.empty()) {
    fail_message(queue_.front().first, queue_.front().second, why);
    queue_.pop_front();
  }
  if (send_quit) {
    maybe_quit();
  } else {
    done_ = true;
  }
}

std::chrono::seconds ClientSession::timeout() const {
  const auto& t = config_.timeouts;
  if (expect_.empty()) return t.other;
  switch (expect_.front()) {
    case Expect::greeting:
      return t.greeting;
    case Expect::mail:
      return t.mail;
    case Expect::rcpt:
      return t.rcpt;
    case Expect::data:
      return t.data_init;
    case Expect::data_end:
    case Expect::data_end_ignored:
      return t.data_end;
    default:
      return t.other;
  }
}

void ClientSession::on_timeout() {
  if (done_) return;
  fail_session(Reply::local_reply(421, "4.4.2", "timeout waiting for the server"), false);
}

void ClientSession::on_connection_closed() {
  if (done_) return;
  fail_session(Reply::local_reply(421, "4.4.2", "connection lost"), false);
}

}  // namespace nj::smtp
