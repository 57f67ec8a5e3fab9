// SubmissionSession: one mail client on the inner's submission port (RFC 6409 with AUTH,
// RFC 4954). AUTH PLAIN or LOGIN is required before MAIL; the envelope sender and the From:
// header must be the logged-in account. Local recipients get a sealed copy in their mailbox;
// Internet recipients get one sanitized copy in the outbound queue; all of it is one synced
// commit before the single 250.
// Trust: the client is hostile until AUTH succeeds and limited to its own address afterwards.
// Passwords live only as long as the check needs them; nothing about them is logged.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/mail/address.h"
#include "common/smtp/server.h"
#include "common/uv/engine_pump.h"
#include "common/uv/handles.h"
#include "common/uv/tcp.h"
#include "inner/server/inner_server.h"

namespace nj::inner {

class SubmissionSession final : public InnerSession, public smtp::Hooks {
 public:
  SubmissionSession(InnerServer& server, std::unique_ptr<uv::Connection> conn);
  ~SubmissionSession() override;

  void start() override;
  void close() override;

  std::optional<smtp::Reply> on_helo(std::string_view name, bool esmtp) override;
  std::optional<smtp::Reply> on_auth(std::string_view mechanism, std::string_view authzid,
                                     std::string_view authcid, std::string_view password) override;
  std::optional<smtp::Reply> on_mail(std::string_view path,
                                     const std::vector<smtp::EsmtpParam>& params) override;
  std::optional<smtp::Reply> on_rcpt(std::string_view path,
                                     const std::vector<smtp::EsmtpParam>& params) override;
  std::optional<smtp::Reply> on_message(const smtp::Message& m) override;
  void on_rset() override;
  bool on_violation(smtp::Violation v) override;

 private:
  struct LocalRecipient {
    std::string account_id;
    std::string address;
  };

  void on_bytes(std::string_view bytes);
  void flush();
  void finish();
  void answer(const smtp::Reply& r);
  void check_password(std::string account, std::shared_ptr<crypto::SecureBytes> password);
  // True when `m` names the logged-in account, in its internal or public form.
  bool is_own(const mail::Mailbox& m) const;

  InnerServer& srv_;
  std::unique_ptr<uv::Connection> conn_;
  std::string id_;
  uint64_t conn_id_;
  smtp::ServerSession smtp_;
  uv::EnginePump<smtp::ServerSession> io_;
  uv::Timer auth_timer_;  // failed logins are answered late
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool finished_ = false;

  std::string login_;              // canonical internal address once authenticated
  std::string login_id_;           // its account id (set at MAIL)
  bool to_quota_service_ = false;  // quota@internal is a recipient: stamps to check, a reply
  std::vector<LocalRecipient> local_;
  std::vector<std::string> remote_;
};

}  // namespace nj::inner
