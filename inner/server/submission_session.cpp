#include "inner/server/submission_session.h"

#include <algorithm>
#include <chrono>

#include "common/base/log.h"
#include "common/mail/address.h"
#include "common/mail/address_list.h"
#include "common/mail/headers.h"
#include "common/mail/outbound.h"
#include "common/mail/sanitize.h"
#include "common/queue/envelope.h"
#include "common/uv/work.h"
#include "inner/policy/delay.h"

namespace nj::inner {
namespace {

bool has_param(const std::vector<smtp::EsmtpParam>& params, std::string_view keyword) {
  return std::any_of(params.begin(), params.end(),
                     [&](const smtp::EsmtpParam& p) { return p.keyword == keyword; });
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The header section without the fields named `drop` (case-insensitive), body untouched.
Result<std::string> without_fields(std::string_view message, std::string_view drop) {
  auto h = mail::parse_headers(message);
  if (!h) return make_error(h.error());
  std::vector<mail::HeaderField> kept;
  for (const auto& f : h->fields)
    if (!f.is(drop)) kept.push_back(f);
  std::string out = mail::serialize_fields(kept);
  out.append(message.substr(
      h->fields.empty() ? 0 : h->fields.back().offset + h->fields.back().raw.size()));
  return out;
}

// The reply of the quota service: what each X-Hashcash stamp bought or why it was refused.
std::string quota_reply(const std::string& to, const std::string& internal_domain,
                        const std::vector<policy::StampResult>& results,
                        const policy::Allowance& after, int64_t now) {
  uint64_t credited = 0;
  std::string body;
  for (size_t i = 0; i < results.size(); ++i) {
    credited += results[i].credited;
    body += "Stamp " + std::to_string(i + 1) + ": ";
    if (results[i].verdict == policy::StampVerdict::ok)
      body += "accepted, " + std::to_string(results[i].credited) +
              " Internet recipients for 24 hours\r\n";
    else
      body += std::string("refused: ") + policy::to_string(results[i].verdict) + "\r\n";
  }
  if (results.empty())
    body +=
        "No X-Hashcash header was found. Send stamps made with\r\n"
        "  hashcash -m -b 20 quota:" +
        to +
        "\r\n"
        "in X-Hashcash: header fields, one stamp per field.\r\n";
  body += "\r\nInternet recipients you can send to now: " + std::to_string(after.remaining()) +
          " (" +
          std::to_string(after.daily > after.used_today ? after.daily - after.used_today : 0) +
          " left of today's " + std::to_string(after.daily) + ", " + std::to_string(after.credits) +
          " bought).\r\n";
  return "Return-Path: <>\r\nFrom: Recipient quota <quota@" + internal_domain + ">\r\nTo: <" + to +
         ">\r\nSubject: Recipient quota: " + std::to_string(credited) +
         " credited\r\nDate: " + mail::rfc5322_date(static_cast<std::time_t>(now)) +
         "\r\nMessage-ID: <" + crypto::random_id() + "@" + internal_domain +
         ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + body;
}

}  // namespace

SubmissionSession::SubmissionSession(InnerServer& server, std::unique_ptr<uv::Connection> conn)
    : srv_(server),
      conn_(std::move(conn)),
      id_(crypto::random_id()),
      conn_id_(server.next_connection_id()),
      smtp_(server.smtp_config(), *this),
      io_(server.loop(), *conn_, smtp_, [this] { flush(); }),
      auth_timer_(server.loop()) {}

SubmissionSession::~SubmissionSession() {
  auth_timer_.close();
  srv_.guard().connection_closed(conn_id_);
}

void SubmissionSession::start() {
  NJ_LOG_INFO("session=%s connect listener=submission", id_.c_str());
  conn_->on_read([this](std::string_view b) { on_bytes(b); });
  conn_->on_close([this](const Status&) { finish(); });
  smtp_.greet();
  flush();
}

void SubmissionSession::on_bytes(std::string_view bytes) {
  if (io_.closed()) return;
  smtp_.feed(bytes);
  flush();
}

void SubmissionSession::flush() {
  if (io_.write_output()) io_.arm_timeout();
}

void SubmissionSession::close() { io_.close(); }

void SubmissionSession::finish() {
  if (finished_) return;
  finished_ = true;
  io_.connection_gone();
  auth_timer_.stop();
  const auto& st = smtp_.stats();
  NJ_LOG_INFO("session=%s disconnect messages=%u refused=%u rcpts=%u errors=%u", id_.c_str(),
              st.messages_accepted, st.messages_refused, st.recipients_accepted, st.errors);
  srv_.finished(this);
}

void SubmissionSession::answer(const smtp::Reply& r) {
  if (io_.closed()) return;
  smtp_.resolve(r);
  flush();
}

std::optional<smtp::Reply> SubmissionSession::on_helo(std::string_view, bool) {
  // The client's name is never recorded: it may be the user's machine name.
  return smtp::Reply::ok();
}

std::optional<smtp::Reply> SubmissionSession::on_auth(std::string_view mechanism,
                                                      std::string_view authzid,
                                                      std::string_view authcid,
                                                      std::string_view password) {
  if (!authzid.empty() && authzid != authcid) {
    NJ_LOG_INFO("session=%s auth refused reason=authzid differs", id_.c_str());
    srv_.counted_refusal("auth_failed");
    return smtp::Reply::make(535, "5.7.8", "Authorization identity must be the login");
  }
  // Users may log in with their local part alone.
  std::string account(authcid);
  if (account.find('@') == std::string::npos) account += "@" + srv_.config().domain.internal_domain;
  auto canonical = srv_.accounts().canonical_address(account);
  if (canonical) account = *canonical;

  auto d = srv_.guard().before_attempt(account, conn_id_);
  if (d.verdict == LoginGuard::Verdict::refuse) {
    srv_.counted_refusal("auth_locked_out");
    NJ_LOG_INFO("session=%s auth refused reason=locked out mech=%.*s", id_.c_str(),
                static_cast<int>(mechanism.size()), mechanism.data());
    return smtp::Reply::make(454, "4.7.0", "Too many failed logins, try again later");
  }
  auto pw = std::make_shared<crypto::SecureBytes>(crypto::SecureBytes::copy_of(password));
  if (d.verdict == LoginGuard::Verdict::hold) {
    auth_timer_.start(d.wait_ms, 0, [this, account, pw] { check_password(account, pw); });
  } else {
    check_password(account, pw);
  }
  return std::nullopt;
}

void SubmissionSession::check_password(std::string account,
                                       std::shared_ptr<crypto::SecureBytes> password) {
  // Argon2id takes tens of milliseconds: off the loop.
  auto result = std::make_shared<VerifyResult>();
  auto* accounts = &srv_.accounts();
  std::weak_ptr<bool> alive = alive_;
  uv::queue_work(
      srv_.loop(),
      [result, accounts, account, password] {
        *result = accounts->verify(account, password->view());
        result->session.reset();  // submission needs no keys: drop them at once
      },
      [this, alive, result, account] {
        if (alive.expired() || io_.closed()) return;
        if (result->status == VerifyStatus::ok) {
          srv_.guard().record_success(account, conn_id_);
          login_ = account;
          NJ_LOG_INFO("session=%s auth ok account=%s", id_.c_str(), log::addr(account).c_str());
          answer(smtp::Reply::auth_ok());
          return;
        }
        if (result->status == VerifyStatus::store_error) {
          NJ_LOG_ERROR("session=%s auth store error: %s", id_.c_str(), result->error.c_str());
          answer(smtp::Reply::make(454, "4.7.0", "Temporary authentication failure"));
          return;
        }
        uint64_t wait = srv_.guard().record_failure(account, conn_id_);
        NJ_LOG_INFO("session=%s auth failed account=%s", id_.c_str(), log::addr(account).c_str());
        srv_.counted_refusal("auth_failed");
        auth_timer_.start(wait, 0, [this] { answer(smtp::Reply::auth_failed()); });
      });
}

bool SubmissionSession::is_own(const mail::Mailbox& m) const {
  if (m.null_path || m.quoted) return false;
  auto local = srv_.local_address(lower(m.normalized_local()), m.domain);
  return local && *local == login_;
}

std::optional<smtp::Reply> SubmissionSession::on_mail(std::string_view path,
                                                      const std::vector<smtp::EsmtpParam>& params) {
  auto mb = mail::parse_reverse_path(path, has_param(params, "SMTPUTF8"));
  if (!mb) return smtp::Reply::make(501, "5.1.7", "Bad sender address syntax");
  local_.clear();
  remote_.clear();
  to_quota_service_ = false;
  if (!is_own(*mb)) {
    NJ_LOG_INFO("session=%s reject stage=mail code=553 reason=not the login", id_.c_str());
    srv_.counted_refusal("sender_not_login");
    return smtp::Reply::make(553, "5.7.1", "Sender address must be your own address");
  }
  auto me = srv_.accounts().recipient(login_);
  if (!me || !*me) {
    NJ_LOG_ERROR("session=%s own account lookup failed", id_.c_str());
    return smtp::Reply::make(451, "4.3.0", "Temporary lookup failure");
  }
  login_id_ = (*me)->id;
  return smtp::Reply::make(250, "2.1.0", "Sender ok");
}

std::optional<smtp::Reply> SubmissionSession::on_rcpt(std::string_view path,
                                                      const std::vector<smtp::EsmtpParam>& params) {
  auto mb = mail::parse_forward_path(path, true);
  if (!mb) return smtp::Reply::make(501, "5.1.3", "Bad recipient address syntax");
  std::optional<std::string> local;
  if (mb->is_postmaster_only())
    local = "postmaster@" + srv_.config().domain.internal_domain;
  else if (!mb->quoted)
    local = srv_.local_address(lower(mb->normalized_local()), mb->domain);
  const std::string quota_service = "quota@" + srv_.config().domain.internal_domain;
  if (local && *local == quota_service) {
    // Not a mailbox: the message's stamps are checked and the answer goes to the sender.
    to_quota_service_ = true;
    return smtp::Reply::make(250, "2.1.5", "Recipient ok (quota service)");
  }
  if (local) {
    auto r = srv_.accounts().recipient(*local);
    if (!r) {
      NJ_LOG_ERROR("session=%s account lookup failed: %s", id_.c_str(), r.error().c_str());
      return smtp::Reply::make(451, "4.3.0", "Temporary lookup failure");
    }
    if (!*r) {
      NJ_LOG_INFO("session=%s reject stage=rcpt code=550 reason=no such local user", id_.c_str());
      return smtp::Reply::make(550, "5.1.1", "No such user here");
    }
    // The same "full" the edge's RCPT hears over the link (Mailbox::kMinRoom).
    auto full = srv_.mailbox().full((*r)->id);
    if (full && *full) {
      NJ_LOG_INFO("session=%s reject stage=rcpt code=552 reason=mailbox full", id_.c_str());
      return smtp::Reply::make(552, "5.2.2", "Mailbox full");
    }
    bool dup = std::any_of(local_.begin(), local_.end(),
                           [&](const LocalRecipient& l) { return l.account_id == (*r)->id; });
    if (!dup) local_.push_back(LocalRecipient{(*r)->id, *local});
  } else {
    std::string addr = mb->address();
    if (std::find(remote_.begin(), remote_.end(), addr) == remote_.end()) {
      // The quota is checked here, against what this message already holds; it is charged in
      // the message's own commit, so a message that fails after RCPT costs nothing.
      auto a = srv_.quota().allowance(login_id_, srv_.clock().now());
      if (!a) {
        NJ_LOG_ERROR("session=%s quota lookup failed: %s", id_.c_str(), a.error().c_str());
        return smtp::Reply::make(451, "4.3.0", "Temporary lookup failure");
      }
      if (a->remaining() <= remote_.size()) {
        NJ_LOG_INFO("session=%s reject stage=rcpt code=452 reason=recipient quota", id_.c_str());
        return smtp::Reply::make(
            452, "4.5.3",
            "Recipient quota reached: 0 more Internet recipients today (" +
                std::to_string(a->daily) +
                " a day, resets 00:00 UTC). Buy more: mail X-Hashcash stamps from "
                "\"hashcash -m -b 20 quota:" +
                login_ + "\" to quota@" + srv_.config().domain.internal_domain);
      }
      remote_.push_back(std::move(addr));
      uint64_t left = a->remaining() - remote_.size();
      return smtp::Reply::make(
          250, "2.1.5", "Recipient ok; " + std::to_string(left) + " more Internet recipients left");
    }
  }
  return smtp::Reply::make(250, "2.1.5", "Recipient ok");
}

std::optional<smtp::Reply> SubmissionSession::on_message(const smtp::Message& m) {
  auto h = mail::parse_headers(m.data);
  if (!h) return smtp::Reply::make(554, "5.6.0", "Message header section is malformed");
  // From: must name exactly the logged-in account (RFC 5322 allows several authors; then
  // Sender would be required, and we do not let one account speak for others).
  bool from_ok = h->count("From") == 1;
  if (from_ok) {
    auto list = mail::parse_mailbox_list(h->find("From")->unfolded());
    from_ok = list && list->size() == 1 && is_own(list->front());
  }
  if (!from_ok) {
    NJ_LOG_INFO("session=%s reject stage=data code=550 reason=From is not the login", id_.c_str());
    srv_.counted_refusal("sender_not_login");
    return smtp::Reply::make(550, "5.7.1", "From: must be your own address");
  }

  const auto& cfg = srv_.config();
  const int64_t now = srv_.clock().now();
  std::string msg_id = crypto::random_id();

  // The local copy: trace fields of our own, no Bcc, nothing that claims delivery or our checks,
  // and no origin mark (sanitize_inbound drops it, common/mail/origin.h): only mail that came
  // from the Internet carries one, and only the inner's own.
  std::string local_copy;
  if (!local_.empty()) {
    mail::InboundPolicy policy;
    policy.our_hostname = cfg.hostname;
    auto clean = mail::sanitize_inbound(m.data, policy);
    if (clean) clean = without_fields(*clean, "Bcc");
    if (!clean) return smtp::Reply::make(554, "5.6.0", "Message header section is malformed");
    // The Received line names no client: over the overlay it would only say 127.0.0.1, and the
    // HELO name may be the user's machine.
    local_copy = "Return-Path: <" + login_ + ">\r\nReceived: by " + cfg.hostname +
                 " with ESMTPA id " + msg_id + ";\r\n\t" + mail::rfc5322_date(now) + "\r\n" +
                 *clean;
  }

  // The Internet copy: the outbound allowlist sanitizer, internal addresses rewritten.
  std::optional<queue::Envelope> out;
  if (!remote_.empty()) {
    mail::OutboundPolicy policy;
    policy.public_domain = cfg.domain.public_domain;
    policy.send_time = static_cast<std::time_t>(now);
    policy.rewrites.push_back({cfg.domain.internal_domain, cfg.domain.public_domain});
    auto clean = mail::sanitize_outbound(m.data, policy);
    if (!clean) {
      NJ_LOG_INFO("session=%s reject stage=data code=554 reason=outbound sanitizer: %s",
                  id_.c_str(), clean.error().c_str());
      return smtp::Reply::make(554, "5.6.0", "Message cannot be made safe to send");
    }
    queue::Envelope e;
    e.id = msg_id;
    e.received_at = now;
    e.mail_from = login_.substr(0, login_.find('@')) + "@" + cfg.domain.public_domain;
    e.recipients = remote_;
    e.smtputf8 = m.smtputf8;
    e.eight_bit = m.body == smtp::BodyType::eight_bit_mime;
    e.message = std::move(*clean);
    out = std::move(e);
  }

  // The quota service's input: every X-Hashcash field (bounded: a message is not a stamp mine).
  auto stamps = std::make_shared<std::vector<std::string>>();
  if (to_quota_service_) {
    for (const auto& f : h->fields)
      if (f.is("X-Hashcash") && stamps->size() < 64) stamps->push_back(f.unfolded());
  }
  int64_t due = now;
  const policy::DelayClass delay = srv_.delay_class(login_);
  if (out) {
    due = policy::due_time(delay, now, srv_.delay_rules(), [](uint64_t bound) {
      return crypto::random_uniform(static_cast<uint32_t>(std::min<uint64_t>(bound, UINT32_MAX)));
    });
  }

  // Every copy in one transaction: one synced commit, then one reply.
  struct Outcome {
    DeliveryStatus status = DeliveryStatus::temp_failure;
    std::string error;
  };
  auto outcome = std::make_shared<Outcome>();
  auto locals = std::make_shared<std::vector<LocalRecipient>>(local_);
  auto copy = std::make_shared<std::string>(std::move(local_copy));
  auto envelope = std::make_shared<std::optional<queue::Envelope>>(std::move(out));
  Mailbox* mbox = &srv_.mailbox();
  OutboundQueue* outbound = &srv_.outbound();
  policy::QuotaStore* quota = &srv_.quota();
  std::string account_id = login_id_, login = login_;
  std::string internal_domain = cfg.domain.internal_domain;
  bool quota_service = to_quota_service_;
  std::weak_ptr<bool> alive = alive_;
  std::string sid = id_;
  size_t n_local = local_.size(), n_remote = remote_.size();
  srv_.committer().submit(
      [=](store::Txn& txn) -> Status {
        *outcome = Outcome{};
        for (const auto& l : *locals) {
          auto r = mbox->deliver_in(txn, l.account_id, *copy);
          if (r.status != DeliveryStatus::ok) {
            outcome->status = r.status;
            outcome->error = r.error;
            return make_error(to_string(r.status));
          }
        }
        if (*envelope) {
          if (auto s = quota->charge_in(txn, account_id,
                                        static_cast<uint32_t>((*envelope)->recipients.size()), now);
              !s) {
            // Another session of the same account spent the quota since RCPT.
            outcome->status = DeliveryStatus::temp_failure;
            outcome->error = "recipient quota";
            return s;
          }
          if (auto s = outbound->add_in(txn, **envelope, due, policy::to_string(delay)); !s) {
            outcome->error = s.error();
            return s;
          }
        }
        if (quota_service) {
          std::vector<policy::StampResult> results;
          for (const auto& st : *stamps) {
            auto r = quota->spend_stamp_in(txn, account_id, login, st, now);
            if (!r) {
              outcome->error = r.error();
              return make_error(r.error());
            }
            results.push_back(*r);
          }
          auto after = quota->allowance_in(txn, account_id, now);
          if (!after) return make_error(after.error());
          auto d = mbox->deliver_in(txn, account_id,
                                    quota_reply(login, internal_domain, results, *after, now));
          if (d.status != DeliveryStatus::ok) {
            outcome->status = d.status;
            outcome->error = d.error;
            return make_error(to_string(d.status));
          }
        }
        outcome->status = DeliveryStatus::ok;
        return {};
      },
      [this, srv = &srv_, alive, outcome, msg_id, sid, n_local, n_remote, due](Status s) {
        smtp::Reply r;
        if (s && outcome->status == DeliveryStatus::ok) {
          NJ_LOG_INFO("session=%s msg=%s accepted local=%zu outbound=%zu", sid.c_str(),
                      msg_id.c_str(), n_local, n_remote);
          if (n_remote) srv->outbound_committed(msg_id, due);  // the server outlives its sessions
          srv->counted_message(n_local, n_remote);
          r = smtp::Reply::make(250, "2.0.0", "Ok: queued as " + msg_id);
        } else {
          NJ_LOG_INFO("session=%s msg=%s refused: %s %s", sid.c_str(), msg_id.c_str(),
                      to_string(outcome->status), outcome->error.c_str());
          srv->counted_refusal(s ? outcome->status : DeliveryStatus::temp_failure);
          switch (outcome->status) {
            case DeliveryStatus::over_quota:
              r = smtp::Reply::make(552, "5.2.2", "Mailbox full");
              break;
            case DeliveryStatus::too_large:
              r = smtp::Reply::make(552, "5.2.2", "Mailbox full: message larger than the mailbox");
              break;
            case DeliveryStatus::no_such_account:
              r = smtp::Reply::make(550, "5.1.1", "No such user here");
              break;
            case DeliveryStatus::temp_failure:
              r = outcome->error == "recipient quota"
                      ? smtp::Reply::make(452, "4.5.3", "Recipient quota reached, nothing sent")
                      : smtp::Reply::make(451, "4.3.0", "Temporary failure, try again later");
              break;
            default:
              r = smtp::Reply::make(451, "4.3.0", "Temporary failure, try again later");
          }
        }
        if (!alive.expired()) answer(r);
      });
  return std::nullopt;
}

void SubmissionSession::on_rset() {
  local_.clear();
  remote_.clear();
  to_quota_service_ = false;
}

bool SubmissionSession::on_violation(smtp::Violation v) {
  NJ_LOG_INFO("session=%s violation=%s", id_.c_str(), smtp::violation_name(v));
  // Mail clients behind Tor are real programs; only non-SMTP traffic is dropped.
  return v == smtp::Violation::non_smtp_command;
}

}  // namespace nj::inner
