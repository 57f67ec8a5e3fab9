#include "inner/server/pop3_session.h"

#include <sodium.h>

#include <chrono>

#include "common/base/log.h"
#include "common/pop3/multiline.h"
#include "common/uv/work.h"

namespace nj::inner {

Pop3Session::Pop3Session(InnerServer& server, std::unique_ptr<uv::Connection> conn)
    : srv_(server),
      conn_(std::move(conn)),
      id_(crypto::random_id()),
      conn_id_(server.next_connection_id()),
      pop3_(pop3::Config{}, *this),
      io_(server.loop(), *conn_, pop3_, [this] { flush(); }),
      auth_timer_(server.loop()) {}

Pop3Session::~Pop3Session() {
  auth_timer_.close();
  pop3_.abandon();
  release();
  srv_.guard().connection_closed(conn_id_);
}

void Pop3Session::start() {
  NJ_LOG_INFO("session=%s connect listener=pop3", id_.c_str());
  conn_->on_read([this](std::string_view b) { on_bytes(b); });
  conn_->on_close([this](const Status&) { finish(); });
  conn_->on_drain([this] {
    if (!io_.closed() && pop3_.needs_resume()) {
      pop3_.resume();
      flush();
    }
  });
  pop3_.greet();
  flush();
}

void Pop3Session::on_bytes(std::string_view bytes) {
  if (io_.closed()) return;
  pop3_.feed(bytes);
  flush();
}

void Pop3Session::flush() {
  if (io_.write_output()) io_.arm_timeout();
}

void Pop3Session::close() { io_.close(); }

void Pop3Session::finish() {
  if (finished_) return;
  finished_ = true;
  io_.connection_gone();
  auth_timer_.stop();
  pop3_.abandon();  // a session that ends without QUIT deletes nothing
  release();
  const auto& st = pop3_.stats();
  NJ_LOG_INFO("session=%s disconnect retrieved=%u deleted=%u errors=%u", id_.c_str(),
              st.retrieved, st.deleted, st.errors);
  srv_.finished(this);
}

void Pop3Session::release() {
  if (locked_ && session_) srv_.unlock_mailbox(session_->id);
  locked_ = false;
  session_.reset();  // the key pair's locked memory is wiped here
  mailbox_key_.reset();
  if (!plaintext_.empty()) sodium_memzero(plaintext_.data(), plaintext_.size());
  plaintext_.clear();
}

void Pop3Session::on_end(pop3::End reason) {
  if (reason != pop3::End::quit) {
    NJ_LOG_INFO("session=%s end=%s", id_.c_str(), pop3::end_name(reason));
  }
  release();
}

std::optional<pop3::AuthAnswer> Pop3Session::on_auth(std::string_view user,
                                                     std::string_view password) {
  std::string account(user);
  if (account.find('@') == std::string::npos)
    account += "@" + srv_.config().domain.internal_domain;
  auto canonical = srv_.accounts().canonical_address(account);
  if (canonical) account = *canonical;
  auto d = srv_.guard().before_attempt(account, conn_id_);
  if (d.verdict == LoginGuard::Verdict::refuse) {
    NJ_LOG_INFO("session=%s auth refused reason=locked out", id_.c_str());
    srv_.counted_refusal("auth_locked_out");
    return pop3::AuthAnswer::denied();
  }
  auto pw = std::make_shared<crypto::SecureBytes>(crypto::SecureBytes::copy_of(password));
  if (d.verdict == LoginGuard::Verdict::hold) {
    auth_timer_.start(d.wait_ms, 0, [this, account, pw] { check_password(account, pw); });
  } else {
    check_password(account, pw);
  }
  return std::nullopt;
}

void Pop3Session::check_password(std::string account,
                                 std::shared_ptr<crypto::SecureBytes> password) {
  auto result = std::make_shared<VerifyResult>();
  auto* accounts = &srv_.accounts();
  auto* mailbox = &srv_.mailbox();
  auto* gc = &srv_.committer();
  std::weak_ptr<bool> alive = alive_;
  uv::queue_work(
      srv_.loop(), [result, accounts, mailbox, gc, account, password] {
        *result = accounts->verify(account, password->view());
        // Messages delivered since the last login move from sealed boxes to the mailbox key
        // now, once, rather than costing an X25519 operation on every RETR. A failure here
        // costs only speed: read() opens either form.
        if (result->status == VerifyStatus::ok)
          (void)mailbox->unseal_all(*gc, result->session->id, result->session->keys);
      },
      [this, alive, result, account] {
        if (alive.expired() || io_.closed()) return;
        if (result->status == VerifyStatus::store_error) {
          NJ_LOG_ERROR("session=%s auth store error: %s", id_.c_str(), result->error.c_str());
          pop3_.resolve_auth(pop3::AuthAnswer::unavailable());
          flush();
          return;
        }
        if (result->status != VerifyStatus::ok) {
          uint64_t wait = srv_.guard().record_failure(account, conn_id_);
          NJ_LOG_INFO("session=%s auth failed account=%s", id_.c_str(),
                      log::addr(account).c_str());
          srv_.counted_refusal("auth_failed");
          auth_timer_.start(wait, 0, [this] {
            pop3_.resolve_auth(pop3::AuthAnswer::denied());
            flush();
          });
          return;
        }
        srv_.guard().record_success(account, conn_id_);
        const std::string acct_id = result->session->id;
        if (!srv_.lock_mailbox(acct_id)) {
          NJ_LOG_INFO("session=%s auth ok but mailbox in use", id_.c_str());
          pop3_.resolve_auth(pop3::AuthAnswer::locked());
          flush();
          return;
        }
        locked_ = true;
        session_ = std::move(result->session);
        mailbox_key_.emplace(Mailbox::mailbox_key(session_->keys));
        auto list = srv_.mailbox().list(acct_id);
        if (!list) {
          NJ_LOG_ERROR("session=%s mailbox list failed: %s", id_.c_str(), list.error().c_str());
          release();
          pop3_.resolve_auth(pop3::AuthAnswer::unavailable());
          flush();
          return;
        }
        std::vector<pop3::MaildropEntry> drop;
        seqs_.clear();
        for (const auto& m : *list) {
          // Stored messages have CRLF line ends, so the plaintext size is the wire size.
          drop.push_back(pop3::MaildropEntry{m.size, m.uidl});
          seqs_.push_back(m.seq);
        }
        NJ_LOG_INFO("session=%s auth ok account=%s messages=%zu", id_.c_str(),
                    log::addr(account).c_str(), drop.size());
        pop3_.resolve_auth(pop3::AuthAnswer::granted(std::move(drop)));
        flush();
      });
}

std::optional<pop3::FetchAnswer> Pop3Session::on_fetch(uint32_t number, std::string_view) {
  if (!session_ || number == 0 || number > seqs_.size()) return pop3::FetchAnswer::failed();
  auto plain =
      srv_.mailbox().read(session_->id, seqs_[number - 1], session_->keys, *mailbox_key_);
  if (!plain) {
    NJ_LOG_ERROR("session=%s fetch failed: %s", id_.c_str(), plain.error().c_str());
    return pop3::FetchAnswer::failed();
  }
  if (!plaintext_.empty()) sodium_memzero(plaintext_.data(), plaintext_.size());
  plaintext_ = std::move(*plain);
  // The engine copies what it sends before this returns; plaintext_ is wiped on the next fetch
  // and when the session ends.
  return pop3::FetchAnswer::found(plaintext_);
}

std::optional<Status> Pop3Session::on_commit(const std::vector<uint32_t>& deleted) {
  if (deleted.empty()) return Status{};
  if (!session_) return Status(make_error("not logged in"));
  std::vector<uint64_t> seqs;
  for (uint32_t n : deleted)
    if (n >= 1 && n <= seqs_.size()) seqs.push_back(seqs_[n - 1]);
  std::weak_ptr<bool> alive = alive_;
  srv_.mailbox().remove(srv_.committer(), session_->id, std::move(seqs),
                        [this, alive](Result<uint64_t> r) {
                          if (alive.expired() || io_.closed()) return;
                          if (!r) {
                            NJ_LOG_ERROR("session=%s delete failed: %s", id_.c_str(),
                                         r.error().c_str());
                            pop3_.resolve_commit(Status(make_error(r.error())));
                          } else {
                            pop3_.resolve_commit(Status{});
                          }
                          flush();
                        });
  return std::nullopt;
}

}  // namespace nj::inner
