#include "inner/server/inner_server.h"

#include <algorithm>

#include "common/base/log.h"
#include "common/crypto/keyfile.h"
#include "inner/server/pop3_session.h"
#include "inner/server/submission_session.h"

namespace nj::inner {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

InnerServer::InnerServer(const InnerConfig& config, uv::Loop& loop, const Clock& clock)
    : cfg_(config),
      loop_(loop),
      clock_(clock),
      guard_(clock, LoginGuard::Options{
                        static_cast<unsigned>(config.auth.max_failures),
                        static_cast<uint64_t>(config.auth.lockout.count())}) {}

InnerServer::~InnerServer() {
  shutdown();
  sessions_.reset();
}

Result<std::unique_ptr<InnerServer>> InnerServer::create(const InnerConfig& config,
                                                         uv::Loop& loop, const Clock& clock) {
  crypto::init();
  std::unique_ptr<InnerServer> s(new InnerServer(config, loop, clock));
  auto key = crypto::load_secret_key(config.keys.inner_secret);
  if (!key) return make_error(key.error());
  s->inner_key_.emplace(std::move(*key));

  const std::string dir = config.data_dir + "/store";
  auto env = store::Env::open(dir);
  if (!env) return make_error(dir + ": " + env.error());
  s->env_.emplace(std::move(*env));
  auto accounts = Accounts::open(*s->env_, Accounts::Options{config.domain.internal_domain}, clock);
  if (!accounts) return make_error(dir + ": " + accounts.error());
  s->accounts_ = std::move(*accounts);
  auto mailbox = Mailbox::open(*s->env_, *s->accounts_, Mailbox::Options{config.mailbox.max_size},
                               clock);
  if (!mailbox) return make_error(dir + ": " + mailbox.error());
  s->mailbox_ = std::move(*mailbox);
  auto outbound = OutboundQueue::open(*s->env_, s->inner_key_->pub);
  if (!outbound) return make_error(dir + ": " + outbound.error());
  s->outbound_ = std::move(*outbound);
  s->committer_ = std::make_unique<store::GroupCommitter>(*s->env_, loop.raw());

  auto& smtp = s->smtp_;
  smtp.hostname = config.hostname;
  smtp.max_message_size = config.limits.max_message_size;
  smtp.max_recipients = static_cast<size_t>(config.limits.max_recipients);
  smtp.auth_enabled = true;
  smtp.auth_required = true;
  s->sessions_ = std::make_unique<uv::SessionSet<InnerSession>>(loop);
  return s;
}

Status InnerServer::listen() {
  auto bind_all = [&](const std::vector<config::Endpoint>& eps, bool pop3) -> Status {
    const char* what = pop3 ? "listen.pop3" : "listen.submission";
    for (const auto& ep : eps) {
      // The config refuses these already; binding is where it must never slip.
      if (!is_loopback(ep))
        return make_error(std::string(what) + " " + ep.str() + ": not a loopback address");
      auto l = uv::TcpListener::bind(
          loop_, ep.str(),
          [this, pop3](std::unique_ptr<uv::Connection> c) { accept(std::move(c), pop3); });
      if (!l) return make_error(std::string(what) + " " + ep.str() + ": " + l.error());
      NJ_LOG_INFO("listening %s on %s", pop3 ? "pop3" : "submission", ep.str().c_str());
      listeners_.push_back(std::move(*l));
    }
    return {};
  };
  if (auto st = bind_all(cfg_.listen.submission, false); !st) return st;
  return bind_all(cfg_.listen.pop3, true);
}

void InnerServer::accept(std::unique_ptr<uv::Connection> conn, bool pop3) {
  if (stopping_ || sessions_->size() >= static_cast<size_t>(cfg_.limits.max_connections)) {
    NJ_LOG_INFO("reject stage=connect reason=%s", stopping_ ? "stopping" : "too many connections");
    conn->close();
    return;
  }
  std::unique_ptr<InnerSession> s;
  if (pop3)
    s = std::make_unique<Pop3Session>(*this, std::move(conn));
  else
    s = std::make_unique<SubmissionSession>(*this, std::move(conn));
  sessions_->add(std::move(s))->start();
}

std::optional<std::string> InnerServer::local_address(std::string_view local,
                                                      std::string_view domain) const {
  if (iequals(domain, cfg_.domain.internal_domain) || iequals(domain, cfg_.domain.public_domain))
    return std::string(local) + "@" + cfg_.domain.internal_domain;
  return std::nullopt;
}

void InnerServer::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& l : listeners_) l->close();
  listeners_.clear();
  if (sessions_)
    for (auto* p : sessions_->snapshot()) p->close();
  if (committer_) committer_->shutdown();
}

}  // namespace nj::inner
