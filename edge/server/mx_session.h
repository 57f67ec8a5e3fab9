// MxSession: one inbound SMTP connection on the edge. It glues a uv::Connection to the SMTP
// engine and applies the checks in the order the design gives: connection limits and the
// greeting delay (pregreet), HELO sanity, sender checks (none of our own domains, DNSBL score,
// sender domain, usual-suspect allowlists), recipient checks (our domains only, greylisting),
// then DATA: a virus scan by clamd when configured, sanitize, SPF/DKIM/DMARC (one
// Authentication-Results field, DMARC p=reject refused), clean HTML, rewrite recipients to the
// internal domain, add one redacted Received line, seal, commit, and only then 250.
// Trust: the peer is hostile. Its address is used for limits, DNSBL and greylisting only, and
// is logged only through log::ip(). Nothing is granted because a client connects from loopback.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/mail/address.h"
#include "common/smtp/server.h"
#include "common/uv/engine_pump.h"
#include "common/uv/handles.h"
#include "common/uv/tcp.h"
#include "edge/auth/sender_auth.h"
#include "edge/checks/clamd.h"
#include "edge/checks/connection_limiter.h"
#include "edge/checks/decision.h"
#include "edge/content/body_clean.h"
#include "edge/server/observe.h"

namespace nj::edge {

class EdgeServer;

class MxSession final : public smtp::Hooks {
 public:
  MxSession(EdgeServer& server, std::unique_ptr<uv::Connection> conn,
            checks::ConnectionLimiter::Ticket ticket, bool onion);
  ~MxSession() override;
  MxSession(const MxSession&) = delete;
  MxSession& operator=(const MxSession&) = delete;

  void start();
  void close();  // ends the session (used at shutdown)

  // smtp::Hooks
  std::optional<smtp::Reply> on_helo(std::string_view name, bool esmtp) override;
  std::optional<smtp::Reply> on_mail(std::string_view path,
                                     const std::vector<smtp::EsmtpParam>& params) override;
  std::optional<smtp::Reply> on_rcpt(std::string_view path,
                                     const std::vector<smtp::EsmtpParam>& params) override;
  std::optional<smtp::Reply> on_message(const smtp::Message& m) override;
  void on_rset() override;
  void on_quit() override;
  bool on_violation(smtp::Violation v) override;

 private:
  void on_bytes(std::string_view bytes);
  void greet();
  void flush();
  void finish();
  void answer(const smtp::Reply& r);  // resolves the pending hook and sends what follows
  // Logs and counts a refusal; `why` names the check for the counters.
  smtp::Reply reject(const char* stage, const checks::Decision& d, Refusal why);
  // MAIL FROM, after DNSBL: sender domain, then the usual-suspect allowlist.
  void mail_after_dnsbl();
  void mail_after_domain();
  void add_recipient(std::string rewritten);
  // The end of DATA, step by step: clamd's verdict on the message, then sanitize, seal and
  // commit (nullopt: the commit answers later).
  void message_after_scan(const smtp::Message& m, checks::ClamdResult r);
  // Headers sanitized, then sender authentication (checks.auth: SPF, DKIM, DMARC; a DMARC
  // p=reject failure is refused, otherwise the Authentication-Results field is added), then the
  // body cleaned on the thread pool; seal_message finishes.
  std::optional<smtp::Reply> queue_message(const smtp::Message& m);
  void message_after_auth(const smtp::Message& m, std::shared_ptr<std::string> input,
                          auth::AuthVerdict v);
  std::optional<smtp::Reply> clean_message(const smtp::Message& m,
                                           std::shared_ptr<std::string> input);
  std::optional<smtp::Reply> seal_message(const smtp::Message& m,
                                          Result<content::BodyCleaned> body);

  EdgeServer& srv_;
  std::unique_ptr<uv::Connection> conn_;
  checks::ConnectionLimiter::Ticket ticket_;
  bool onion_;
  std::string id_;  // random session id for the log
  std::string client_ip_;
  smtp::ServerSession smtp_;
  uv::EnginePump<smtp::ServerSession> io_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for late commit callbacks
  bool greeted_ = false;
  bool starting_tls_ = false;
  bool finished_ = false;
  std::string helo_;
  bool esmtp_ = false;

  // DNSBL runs from connect time; MAIL FROM waits for it when it has not answered yet.
  checks::Pending dnsbl_pending_;
  std::optional<checks::Decision> dnsbl_;
  bool mail_waits_for_dnsbl_ = false;

  // The transaction.
  mail::Mailbox sender_;
  bool sender_smtputf8_ = false;
  std::vector<std::string> recipients_;  // rewritten to the internal domain
  checks::Pending domain_pending_;
  checks::Pending allow_pending_;
  // The message's virus scan while it runs; dropping it (finish()) cancels it. Declared after
  // smtp_, whose message the scan reads, so it goes first.
  std::unique_ptr<checks::ClamdScan> scan_;
  // The message's sender authentication while it runs; cancelled by finish().
  auth::AuthPending auth_pending_;
  std::string auth_field_;  // its Authentication-Results field, until seal_message
  uint32_t messages_ = 0;
  // Messages this session refused in on_message; the engine's own refusals at the end of DATA
  // (size, line length, bare CR/LF) are the rest of its messages_refused.
  uint32_t messages_refused_here_ = 0;
};

}  // namespace nj::edge
