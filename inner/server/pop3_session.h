// Pop3Session: one mail client on the inner's POP3 port. The user's password unwraps the
// mailbox key for this session only; messages are opened as they are fetched; DELE marks, and
// QUIT removes the marked messages in one synced commit before its +OK. One session per mailbox.
// Trust: the client is hostile until it authenticates and limited to its own maildrop after.
// The unwrapped key lives in locked memory and goes with the session.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/pop3/server.h"
#include "common/uv/engine_pump.h"
#include "common/uv/handles.h"
#include "common/uv/tcp.h"
#include "inner/server/inner_server.h"

namespace nj::inner {

class Pop3Session final : public InnerSession, public pop3::Hooks {
 public:
  Pop3Session(InnerServer& server, std::unique_ptr<uv::Connection> conn);
  ~Pop3Session() override;

  void start() override;
  void close() override;

  std::optional<pop3::AuthAnswer> on_auth(std::string_view user,
                                          std::string_view password) override;
  std::optional<pop3::FetchAnswer> on_fetch(uint32_t number, std::string_view uidl) override;
  std::optional<Status> on_commit(const std::vector<uint32_t>& deleted) override;
  void on_end(pop3::End reason) override;

 private:
  void on_bytes(std::string_view bytes);
  void flush();
  void finish();
  void check_password(std::string account, std::shared_ptr<crypto::SecureBytes> password);
  void release();

  InnerServer& srv_;
  std::unique_ptr<uv::Connection> conn_;
  std::string id_;
  uint64_t conn_id_;
  pop3::Session pop3_;
  uv::EnginePump<pop3::Session> io_;
  uv::Timer auth_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool finished_ = false;

  std::optional<Session> session_;  // the logged-in account and its unwrapped key pair
  std::optional<crypto::AeadKey> mailbox_key_;
  bool locked_ = false;
  std::vector<uint64_t> seqs_;  // message number n is seqs_[n - 1]
  std::string plaintext_;       // the message being sent, wiped after each fetch
};

}  // namespace nj::inner
