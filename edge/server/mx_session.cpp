#include "edge/server/mx_session.h"

#include <algorithm>
#include <chrono>

#include "common/base/log.h"
#include "common/crypto/crypto.h"
#include "common/link/message_size.h"
#include "common/mail/sanitize.h"
#include "common/queue/envelope.h"
#include "common/uv/work.h"
#include "edge/server/edge_server.h"

namespace nj::edge {
namespace {

bool has_param(const std::vector<smtp::EsmtpParam>& params, std::string_view keyword) {
  return std::any_of(params.begin(), params.end(),
                     [&](const smtp::EsmtpParam& p) { return p.keyword == keyword; });
}

}  // namespace

MxSession::MxSession(EdgeServer& server, std::unique_ptr<uv::Connection> conn,
                     checks::ConnectionLimiter::Ticket ticket, bool onion)
    : srv_(server),
      conn_(std::move(conn)),
      ticket_(std::move(ticket)),
      onion_(onion),
      id_(crypto::random_id()),
      client_ip_(conn_->peer_ip()),
      smtp_(server.smtp_, *this),
      io_(server.loop_, *conn_, smtp_, [this] {
        NJ_LOG_INFO("session=%s timeout", id_.c_str());
        flush();
      }) {}

MxSession::~MxSession() = default;

void MxSession::start() {
  NJ_LOG_INFO("session=%s connect listener=%s client=%s", id_.c_str(), onion_ ? "onion_mx" : "mx",
              log::ip(client_ip_).c_str());
  conn_->on_read([this](std::string_view b) { on_bytes(b); });
  conn_->on_close([this](const Status&) { finish(); });

  // DNSBL answers are wanted at MAIL FROM; asking at connect time hides their latency behind
  // the greeting delay. Onion peers all arrive from 127.0.0.1, so their address means nothing.
  if (!onion_ && srv_.dnsbl_) {
    dnsbl_pending_ = srv_.dnsbl_->score(client_ip_, [this](checks::Decision d) {
      dnsbl_ = std::move(d);
      if (mail_waits_for_dnsbl_) {
        mail_waits_for_dnsbl_ = false;
        mail_after_dnsbl();
      }
    });
  } else {
    dnsbl_ = checks::Decision::pass();
  }

  auto wait = srv_.cfg_.checks.greet_wait;
  if (wait.count() > 0) {
    io_.timer().start(static_cast<uint64_t>(wait.count()), 0, [this] { greet(); });
  } else {
    greet();
  }
}

void MxSession::greet() {
  if (io_.closed()) return;
  greeted_ = true;
  smtp_.greet();
  flush();
}

void MxSession::on_bytes(std::string_view bytes) {
  if (io_.closed()) return;
  if (!greeted_) {
    // postscreen's pregreet test: a real MTA waits for the banner; a bot that talks first
    // gives itself away.
    NJ_LOG_INFO("session=%s reject stage=connect reason=pregreet", id_.c_str());
    srv_.counters_.refused(Refusal::pregreet);
    (void)conn_->write(
        smtp::Reply::make(554, "5.5.1", "Protocol error: talked before the greeting").serialize());
    io_.end_after_output();
    return;
  }
  smtp_.feed(bytes);
  flush();
}

void MxSession::flush() {
  if (!io_.write_output()) return;
  if (smtp_.want_starttls() && !starting_tls_ && srv_.tls_) {
    starting_tls_ = true;
    auto alive = std::weak_ptr<bool>(alive_);
    auto s = conn_->start_tls_server(*srv_.tls_, [this, alive](const Status& st) {
      if (alive.expired() || io_.closed()) return;
      if (!st) {
        NJ_LOG_INFO("session=%s tls handshake failed", id_.c_str());
        close();
        return;
      }
      starting_tls_ = false;
      smtp_.tls_started();
      flush();
    });
    if (!s) {
      NJ_LOG_WARN("session=%s cannot start tls: %s", id_.c_str(), s.error().c_str());
      close();
      return;
    }
  }
  io_.arm_timeout();
}

void MxSession::close() {
  io_.close();
}

void MxSession::finish() {
  if (finished_) return;
  finished_ = true;
  io_.connection_gone();
  dnsbl_pending_.cancel();
  domain_pending_.cancel();
  allow_pending_.cancel();
  scan_.reset();
  auth_pending_.cancel();
  const auto& st = smtp_.stats();
  for (uint32_t i = messages_refused_here_; i < st.messages_refused; ++i)
    srv_.counters_.refused(Refusal::data_limits);
  NJ_LOG_INFO("session=%s disconnect messages=%u refused=%u rcpts=%u errors=%u", id_.c_str(),
              st.messages_accepted, st.messages_refused, st.recipients_accepted, st.errors);
  srv_.finished(this);
}

void MxSession::answer(const smtp::Reply& r) {
  smtp_.resolve(r);
  flush();
}

smtp::Reply MxSession::reject(const char* stage, const checks::Decision& d, Refusal why) {
  srv_.counters_.refused(why);
  NJ_LOG_INFO("session=%s reject stage=%s code=%d %s reason=%s", id_.c_str(), stage, d.code,
              d.enhanced.c_str(), d.reason.c_str());
  return smtp::Reply::make(d.code, d.enhanced, d.text);
}

std::optional<smtp::Reply> MxSession::on_helo(std::string_view name, bool esmtp) {
  const auto& opt = srv_.cfg_.checks.helo;
  if (!opt.allow_address_literal && !name.empty() && name.front() == '[')
    return reject("helo",
                  checks::Decision::reply(550, "5.7.1", "Address literals are not accepted",
                                          "helo: address literal"),
                  Refusal::helo);
  auto d = checks::check_helo(name, client_ip_, srv_.our_names_);
  // check_helo judges everything; the operator's switches forgive two of its refusals.
  bool forgiven = (d.code == 504 && !opt.require_fqdn) || (d.code == 550 && !opt.reject_our_names);
  if (!d.accept && !forgiven) return reject("helo", d, Refusal::helo);
  helo_.assign(name);
  esmtp_ = esmtp;
  return smtp::Reply::ok();
}

std::optional<smtp::Reply> MxSession::on_mail(std::string_view path,
                                              const std::vector<smtp::EsmtpParam>& params) {
  bool utf8 = has_param(params, "SMTPUTF8");
  auto mb = mail::parse_reverse_path(path, utf8);
  if (!mb) {
    NJ_LOG_INFO("session=%s reject stage=mail code=501 reason=syntax: %s", id_.c_str(),
                mb.error().c_str());
    srv_.counters_.refused(Refusal::sender_syntax);
    return smtp::Reply::make(501, "5.1.7", "Bad sender address syntax");
  }
  // Our users' mail leaves through the inner and never comes back in from the Internet, so a
  // sender in one of our domains is forged, postmaster@ included (the forgery most likely to be
  // believed). The null sender stays allowed: bounces carry it.
  if (!mb->null_path && is_our_domain(srv_.cfg_.domains, mb->domain)) {
    return reject(
        "mail",
        checks::Decision::reply(550, "5.7.1", "Our users' mail never arrives from the Internet",
                                "sender in our domain"),
        Refusal::sender_forged);
  }
  sender_ = std::move(*mb);
  sender_smtputf8_ = utf8;
  recipients_.clear();
  if (!dnsbl_) {
    mail_waits_for_dnsbl_ = true;
    return std::nullopt;
  }
  mail_after_dnsbl();
  return std::nullopt;
}

void MxSession::mail_after_dnsbl() {
  if (!dnsbl_->accept) {
    answer(reject("mail", *dnsbl_, Refusal::dnsbl));
    return;
  }
  if (!srv_.sender_domain_ || sender_.null_path) {
    mail_after_domain();
    return;
  }
  domain_pending_ = srv_.sender_domain_->check(sender_, [this](checks::Decision d) {
    if (!d.accept) {
      answer(reject("mail", d, Refusal::sender_domain));
      return;
    }
    mail_after_domain();
  });
}

void MxSession::mail_after_domain() {
  if (sender_.null_path) {
    answer(smtp::Reply::make(250, "2.1.0", "Sender ok"));
    return;
  }
  allow_pending_ = srv_.allowlist_->check(sender_, client_ip_, [this](checks::Decision d) {
    if (!d.accept) {
      answer(reject("mail", d, Refusal::sender_allowlist));
      return;
    }
    answer(smtp::Reply::make(250, "2.1.0", "Sender ok"));
  });
}

std::optional<smtp::Reply> MxSession::on_rcpt(std::string_view path,
                                              const std::vector<smtp::EsmtpParam>& params) {
  auto mb = mail::parse_forward_path(path, sender_smtputf8_);
  if (!mb) {
    NJ_LOG_INFO("session=%s reject stage=rcpt code=501 reason=syntax: %s", id_.c_str(),
                mb.error().c_str());
    srv_.counters_.refused(Refusal::recipient_syntax);
    return smtp::Reply::make(501, "5.1.3", "Bad recipient address syntax");
  }
  std::optional<std::string> internal;
  std::string local = mb->normalized_local();
  if (mb->is_postmaster_only()) {
    // RFC 5321 4.5.1: <postmaster> without a domain must be accepted.
    internal = srv_.cfg_.domains.front().internal_domain;
  } else {
    internal = internal_domain_for(srv_.cfg_.domains, mb->domain);
  }
  if (!internal) {
    // No relaying, whatever the client address: 127.0.0.1 is where every onion peer comes from.
    return reject("rcpt",
                  checks::Decision::reply(554, "5.7.1", "Relay access denied", "relay denied"),
                  Refusal::relay);
  }
  if (srv_.greylist_) {
    auto d = srv_.greylist_->check(client_ip_, sender_, *mb);
    if (!d.accept) return reject("rcpt", d, Refusal::greylist);
  }
  std::string rewritten = local + "@" + *internal;
  if (rewritten.size() > queue::Limits{}.max_address) {
    // The internal domain can be longer than the public one; an envelope holds 256 bytes an
    // address (RFC 5321 4.5.3.1.3), and the link's size bound counts on it.
    return reject("rcpt",
                  checks::Decision::reply(550, "5.1.3", "Recipient address too long",
                                          "rewritten recipient too long"),
                  Refusal::recipient_too_long);
  }
  if (!srv_.link_) {
    add_recipient(std::move(rewritten));
    return smtp::Reply::make(250, "2.1.5", "Recipient ok");
  }
  // The edge holds no account list: it asks the inner (answers are cached in memory).
  std::weak_ptr<bool> alive = alive_;
  srv_.link_->verify(rewritten, [this, alive, rewritten](link::VerifyOutcome o) {
    if (alive.expired()) return;
    switch (o) {
      case link::VerifyOutcome::exists:
        add_recipient(rewritten);
        answer(smtp::Reply::make(250, "2.1.5", "Recipient ok"));
        return;
      case link::VerifyOutcome::unknown:
        answer(reject("rcpt",
                      checks::Decision::reply(550, "5.1.1", "No such user here", "no such user"),
                      Refusal::no_such_user));
        return;
      case link::VerifyOutcome::full:
        // RFC 3463 4.2.2: the sender keeps the message and tries later, so a full mailbox
        // never fills the edge's queue.
        answer(reject(
            "rcpt",
            checks::Decision::reply(452, "4.2.2", "Mailbox full, try again later", "mailbox full"),
            Refusal::mailbox_full));
        return;
      case link::VerifyOutcome::temporary:
        answer(reject(
            "rcpt",
            checks::Decision::reply(451, "4.4.3", "Recipient check unavailable, try again later",
                                    "link did not answer"),
            Refusal::recipient_check_unavailable));
        return;
    }
  });
  return std::nullopt;
}

void MxSession::add_recipient(std::string rewritten) {
  if (std::find(recipients_.begin(), recipients_.end(), rewritten) == recipients_.end())
    recipients_.push_back(std::move(rewritten));
}

std::optional<smtp::Reply> MxSession::on_message(const smtp::Message& m) {
  if (!srv_.clamd_) return queue_message(m);
  // One scan per message. The engine keeps `m` until answer() resolves it, and the scan, held in
  // scan_, never calls back into a session that has ended.
  scan_ = srv_.clamd_->scan(
      m.data, [this, &m](checks::ClamdResult r) { message_after_scan(m, std::move(r)); });
  return std::nullopt;
}

void MxSession::message_after_scan(const smtp::Message& m, checks::ClamdResult r) {
  scan_.reset();
  switch (r.kind) {
    case checks::ClamdResult::Kind::clean:
      NJ_LOG_DEBUG("session=%s virus scan clean", id_.c_str());
      break;
    case checks::ClamdResult::Kind::infected:
      // The signature is sanitized (printable ASCII, bounded): fit for the reply and the log.
      ++messages_refused_here_;
      answer(reject("data",
                    checks::Decision::reply(554, "5.7.1",
                                            "Message refused: virus found (" + r.signature + ")",
                                            "virus found: " + r.signature),
                    Refusal::virus));
      return;
    case checks::ClamdResult::Kind::error:
      if (srv_.cfg_.checks.clamd.on_error == ClamdOnError::tempfail) {
        NJ_LOG_WARN("session=%s reject stage=data code=451 4.7.1 reason=virus scan failed: %s",
                    id_.c_str(), r.reason.c_str());
        srv_.counters_.refused(Refusal::virus_scan_failed);
        ++messages_refused_here_;
        answer(smtp::Reply::make(451, "4.7.1", "Virus scan unavailable, try again later"));
        return;
      }
      NJ_LOG_WARN("session=%s virus scan failed, message accepted unscanned (on_error accept): %s",
                  id_.c_str(), r.reason.c_str());
      break;
  }
  if (auto reply = queue_message(m)) answer(*reply);
}

std::optional<smtp::Reply> MxSession::queue_message(const smtp::Message& m) {
  mail::InboundPolicy policy;
  policy.our_hostname = srv_.cfg_.hostname;
  auto clean = mail::sanitize_inbound(m.data, policy);
  if (!clean) {
    NJ_LOG_INFO("session=%s reject stage=data code=550 reason=headers: %s", id_.c_str(),
                clean.error().c_str());
    srv_.counters_.refused(Refusal::headers);
    ++messages_refused_here_;
    return smtp::Reply::make(550, "5.6.0", "Message header section is malformed");
  }
  auto input = std::make_shared<std::string>(std::move(*clean));
  auth_field_.clear();
  if (!srv_.auth_) return clean_message(m, std::move(input));
  // SPF, DKIM and DMARC see the message as it arrived (the sanitizer left the body and every
  // signed field alone) and before the cleaner rewrites the body, which would break DKIM's
  // body hashes.
  auth::AuthInput in;
  in.client_ip = client_ip_;
  in.helo = helo_;
  // Every onion peer arrives from 127.0.0.1: no SPF record can speak for that address.
  in.check_spf = !onion_;
  if (!sender_.null_path) {
    in.sender_local = sender_.normalized_local();
    in.sender_domain = sender_.domain;
  }
  in.log_id = id_;
  auth_pending_ = srv_.auth_->check(input, std::move(in), [this, &m, input](auth::AuthVerdict v) {
    // The engine keeps `m` until answer(); a session that has ended cancelled this.
    message_after_auth(m, input, std::move(v));
  });
  return std::nullopt;
}

void MxSession::message_after_auth(const smtp::Message& m, std::shared_ptr<std::string> input,
                                   auth::AuthVerdict v) {
  // The summary holds result names only: no domain, no address.
  NJ_LOG_INFO("session=%s auth %s", id_.c_str(), v.summary.c_str());
  if (v.reject) {
    ++messages_refused_here_;
    answer(
        reject("data",
               checks::Decision::reply(
                   550, "5.7.1",
                   v.several_authors ? "Message refused: From names authors in several "
                                       "domains, which DMARC cannot check"
                                     : "Message refused: DMARC authentication failed and the "
                                       "From domain's policy is reject",
                   (v.several_authors ? "dmarc: several author domains; " : "dmarc: ") + v.summary),
               Refusal::dmarc));
    return;
  }
  // The field goes first among the message's fields, under the Received line, when sealing: the
  // cleaner adds its own field at the top of what it is given.
  auth_field_ = std::move(v.field);
  if (auto reply = clean_message(m, std::move(input))) answer(*reply);
}

std::optional<smtp::Reply> MxSession::clean_message(const smtp::Message& m,
                                                    std::shared_ptr<std::string> input) {
  // HTML parts lose everything that would reach the network; one field says what went. Parsing
  // HTML is the one step whose time grows with what a stranger sends (up to a second or two at
  // the cleaner's limits), so it runs on the thread pool and the loop keeps serving everyone
  // else. Each session has at most one message here.
  auto output = std::make_shared<std::optional<Result<content::BodyCleaned>>>();
  auto alive = std::weak_ptr<bool>(alive_);
  uv::queue_work(
      srv_.loop_, [input, output] { output->emplace(content::clean_body(*input)); },
      [this, alive, output, &m] {
        // The engine keeps `m` until answer(); a session that has ended is not touched.
        if (alive.expired()) return;
        if (auto reply = seal_message(m, std::move(**output))) answer(*reply);
      });
  return std::nullopt;
}

std::optional<smtp::Reply> MxSession::seal_message(const smtp::Message& m,
                                                   Result<content::BodyCleaned> body) {
  // A part the cleaner cannot read is refused rather than passed on as it came.
  if (!body) {
    // The error may name what the message declared (a charset): printable and bounded.
    NJ_LOG_INFO("session=%s reject stage=data code=554 5.6.0 reason=content: %s", id_.c_str(),
                log::printable(body.error(), 160).c_str());
    srv_.counters_.refused(Refusal::content);
    ++messages_refused_here_;
    return smtp::Reply::make(554, "5.6.0", "Message content cannot be made safe to deliver");
  }
  // limits.max_message_size is checked against the link's frame at start-up, but the cleaner
  // may have lengthened the message (quoted-printable) and the Authentication-Results field
  // adds to it: what the link can never carry must not be acknowledged, or it would sit in the
  // queue until it expires.
  if (auth_field_.size() + body->message.size() > link::max_message_size(recipients_.size())) {
    NJ_LOG_INFO("session=%s reject stage=data code=552 5.3.4 reason=too large once cleaned",
                id_.c_str());
    srv_.counters_.refused(Refusal::data_limits);
    ++messages_refused_here_;
    return smtp::Reply::make(552, "5.3.4", "Message too large once made safe to deliver");
  }
  queue::Envelope e;
  e.id = crypto::random_id();
  e.received_at = srv_.clock_.now();
  e.mail_from = sender_.null_path ? std::string() : sender_.address();
  e.recipients = recipients_;
  e.smtputf8 = m.smtputf8;
  e.eight_bit = m.body == smtp::BodyType::eight_bit_mime;
  mail::ReceivedInfo ri;
  ri.helo = helo_;
  ri.our_hostname = srv_.cfg_.hostname;
  ri.esmtp = esmtp_;
  ri.tls = smtp_.tls_active();
  ri.smtputf8 = m.smtputf8;
  ri.id = e.id;
  ri.when = static_cast<std::time_t>(e.received_at);
  e.message = mail::received_line(ri);
  e.message += auth_field_;
  auth_field_.clear();
  e.message += body->message;

  std::string id = e.id;
  int64_t queued_at = e.received_at;
  size_t size = e.message.size();
  size_t rcpts = e.recipients.size();
  auto alive = std::weak_ptr<bool>(alive_);
  std::string sid = id_;
  srv_.queue_->enqueue(
      *srv_.committer_, std::move(e),
      [this, srv = &srv_, alive, id, queued_at, sid, size, rcpts](Status s) {
        if (!s) {
          NJ_LOG_ERROR("session=%s msg=%s queue write failed: %s", sid.c_str(), id.c_str(),
                       s.error().c_str());
          srv->counters_.refused(Refusal::queue_write);
          if (!alive.expired()) {
            ++messages_refused_here_;
            answer(smtp::Reply::make(451, "4.3.0", "Queue write failed, try again later"));
          }
          return;
        }
        srv->counters_.message_accepted();
        NJ_LOG_INFO("session=%s msg=%s queued size=%zu rcpts=%zu", sid.c_str(), id.c_str(), size,
                    rcpts);
        // The server outlives every session; the session may be gone.
        if (srv->link_) srv->link_->inbound_committed(id, queued_at);
        if (alive.expired()) return;
        answer(smtp::Reply::make(250, "2.0.0", "Ok: queued as " + id));
      });
  return std::nullopt;
}

void MxSession::on_rset() {
  recipients_.clear();
}

void MxSession::on_quit() {}

bool MxSession::on_violation(smtp::Violation v) {
  NJ_LOG_INFO("session=%s violation=%s", id_.c_str(), smtp::violation_name(v));
  srv_.counters_.refused(Refusal::protocol);
  // Real MTAs never do these; bots do. Drop them (postscreen's deep protocol tests).
  return true;
}

}  // namespace nj::edge
