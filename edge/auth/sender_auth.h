// SenderAuth: SPF, DKIM and DMARC for one inbound message, at the end of DATA, after the header
// sanitizer and before anything rewrites the body. Every DNS lookup goes through the edge's own
// resolver (c-ares on the loop, edge.yaml dns.servers), asynchronously:
//   - SPF (spf.h) is evaluated over a cache; each evaluation names what it lacks, that is asked
//     for, and the evaluation runs again until it completes (bounded by RFC 7208's limits and
//     by kMaxSpfQueries).
//   - DKIM (dkim_verify.h): the header section gives the signatures; their key records are asked
//     for at once; then the body hashes and signature checks run on libuv's thread pool.
//   - DMARC (dmarc.h): _dmarc.<From domain>, then _dmarc.<organizational domain> when the first
//     has no record, asked for in parallel with the others.
// A deadline bounds the whole: what has not answered by then is a temperror. The result is one
// Authentication-Results field (auth_results.h) and whether DMARC asks for the message to be
// refused (p=reject, within pct=, and the operator's dmarc_reject). Temporary errors never
// refuse.
// Trust: everything in the message and in DNS is hostile; the client address is used for SPF
// only and never written into the field or the log.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/dns/resolver.h"
#include "common/uv/loop.h"
#include "edge/auth/auth_results.h"
#include "edge/auth/dkim_verify.h"
#include "edge/auth/dmarc.h"

namespace nj::edge::auth {

inline constexpr size_t kMaxSpfQueries = 150;  // 10 terms, 10 MX names each, PTRs, margin

struct SenderAuthOptions {
  std::string authserv_id;   // the edge's hostname
  bool dmarc_reject = true;  // refuse a DMARC failure whose policy (after pct) is reject
  uint64_t deadline_ms = 30000;
  // Uniform in 0..99 for pct=; tests may fix it.
  std::function<uint32_t()> draw;
};

struct AuthInput {
  std::string client_ip;
  bool check_spf = true;  // false: spf=none (onion peers all arrive from 127.0.0.1)
  std::string helo;
  std::string sender_local;   // the envelope sender's local part (normalized)
  std::string sender_domain;  // empty for the null sender
  std::string log_id;         // the session id, for libopendkim's messages
};

struct AuthVerdict {
  AuthReport report;
  std::string field;             // the Authentication-Results field, CRLF-terminated
  bool reject = false;           // DMARC failed with p=reject applied, or several author domains
  bool several_authors = false;  // From: names authors in more than one domain (refused)
  std::string summary;           // for the log: result names only
};

using VerdictCallback = std::function<void(AuthVerdict)>;

// The running check; destroying it (or cancel()) means the callback never runs.
class AuthPending {
 public:
  AuthPending() = default;
  explicit AuthPending(std::shared_ptr<VerdictCallback> slot) : slot_(std::move(slot)) {}
  AuthPending(AuthPending&&) = default;
  AuthPending& operator=(AuthPending&& o) noexcept {
    cancel();
    slot_ = std::move(o.slot_);
    return *this;
  }
  ~AuthPending() { cancel(); }
  void cancel() {
    if (slot_) *slot_ = nullptr;
    slot_.reset();
  }
  bool active() const { return slot_ && *slot_; }

 private:
  std::shared_ptr<VerdictCallback> slot_;
};

class SenderAuth {
 public:
  SenderAuth(uv::Loop& loop, dns::Resolver& resolver, std::shared_ptr<const DkimLibrary> dkim,
             const PublicSuffixList& psl, SenderAuthOptions options);

  // `message` is the whole message as received (after the header sanitizer); it is shared with
  // the thread pool while the body is hashed. The callback runs on the loop, later, once. The
  // resolver, the library and the list must outlive the check.
  [[nodiscard]] AuthPending check(std::shared_ptr<const std::string> message, AuthInput in,
                                  VerdictCallback cb);

  struct State;

 private:
  uv::Loop& loop_;
  dns::Resolver& resolver_;
  std::shared_ptr<const DkimLibrary> dkim_;
  const PublicSuffixList& psl_;
  SenderAuthOptions opt_;
};

}  // namespace nj::edge::auth
