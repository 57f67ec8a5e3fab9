// Deliverer: one delivery attempt of one queued message to its recipients' domains. Per domain
// it asks the Router, then tries the destinations in order: an MX host by its A/AAAA addresses
// over direct TCP with opportunistic STARTTLS, or an onion by name through the SOCKS5 proxy
// (no STARTTLS: the onion circuit is already end-to-end encrypted and authenticated). It speaks
// SMTP with common/smtp ClientSession (PIPELINING when offered) under a fixed public HELO name.
// Right before sending, the message is sanitized again (common/mail/outbound.h, Date = now in
// UTC), signed with DKIM when its From: domain has a key, and gets the edge's one redacted
// Received line.
// Connections per destination host are limited (ConcurrencyLimiter); a waiting attempt gets the
// next free slot in FIFO order.
// Connection cache (as Postfix's on-demand cache): after a delivery over the clearnet, the
// connection waits up to `connection_cache_ms` for the next message to the same recipient
// domain, which then skips routing, DNS, connect, greeting, EHLO and STARTTLS and holds only a
// slot of the host. Never for onion destinations: there every message gets its own circuit, so
// deliveries of different messages are not linkable by circuit.
// Trust: remote servers and DNS are hostile (replies are parsed with bounds by ClientSession;
// private and reserved addresses from DNS are refused unless a test allows them). The message
// comes from the inner, but what its user's client wrote is not trusted: hence the sanitizer.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/dns/resolver.h"
#include "common/mail/outbound.h"
#include "common/queue/envelope.h"
#include "common/smtp/client.h"
#include "common/socks/connect.h"
#include "common/tls/tls.h"
#include "common/uv/loop.h"
#include "common/uv/tcp.h"
#include "edge/dkim/signer.h"
#include "edge/outbound/router.h"
#include "edge/outbound/status.h"

namespace nj::edge::outbound {

// At most `limit` holders per key at once; others wait in FIFO order.
class ConcurrencyLimiter {
 public:
  explicit ConcurrencyLimiter(size_t limit) : limit_(limit ? limit : 1) {}
  // Runs `granted` now (from inside acquire) when a slot is free, else when one is released.
  // The returned ticket withdraws a waiting request when cancel()ed.
  uint64_t acquire(const std::string& key, std::function<void()> granted);
  void cancel(const std::string& key, uint64_t ticket);
  void release(const std::string& key);
  size_t active(const std::string& key) const;
  size_t waiting(const std::string& key) const;

 private:
  struct Slot {
    size_t active = 0;
    std::deque<std::pair<uint64_t, std::function<void()>>> waiters;
  };
  size_t limit_;
  uint64_t next_ticket_ = 1;
  std::map<std::string, Slot> slots_;
};

// The connection seam: direct TCP to an IP, or SOCKS5 to a name. Tests may fake it.
class Dialer {
 public:
  using Callback = std::function<void(Result<socks::Connected>)>;
  // Destroying it cancels the dial; the callback then never runs.
  struct Pending {
    virtual ~Pending() = default;
  };
  virtual ~Dialer() = default;
  // `ip` is set for direct destinations (already resolved); empty for via_socks ones.
  virtual Result<std::unique_ptr<Pending>> dial(const Destination& d, const std::string& ip,
                                                const std::string& isolation_tag, Callback cb) = 0;
};

// uv::Connection::connect for direct destinations; socks::connect for onion ones. An onion
// destination without a proxy fails: there is no clearnet path to an onion.
class NetDialer final : public Dialer {
 public:
  NetDialer(uv::Loop& loop, std::string socks_proxy, uint64_t connect_timeout_ms = 120000)
      : loop_(loop), proxy_(std::move(socks_proxy)), timeout_ms_(connect_timeout_ms) {}
  Result<std::unique_ptr<Pending>> dial(const Destination& d, const std::string& ip,
                                        const std::string& isolation_tag, Callback cb) override;

 private:
  uv::Loop& loop_;
  std::string proxy_;
  uint64_t timeout_ms_;
};

struct DelivererConfig {
  std::string helo_name;      // the edge's fixed public host name (EHLO, Received "by")
  std::string public_domain;  // Message-ID right-hand side; Received "from"
  std::vector<mail::DomainRewrite> rewrites;  // internal -> public domains
  size_t per_destination_limit = 2;           // connections per destination host
  size_t max_addresses_per_host = 4;          // A/AAAA addresses tried per MX host
  bool allow_private_addresses = false;       // tests deliver to 127.0.0.1
  uint64_t connection_cache_ms = 2000;        // idle clearnet connections kept; 0: none
  size_t connection_reuse_limit = 100;        // messages per cached connection
  smtp::ClientTimeouts timeouts;
  mail::MimeLimits mime_limits;
  // Signs what leaves when its From: is in a signing domain (edge/dkim/signer.h); null: nothing
  // is signed. Shared with nobody else: used on the loop thread only.
  std::shared_ptr<nj::edge::dkim::Signer> dkim;
};

// "550 5.1.1 text" from a reply.
std::string reply_text(const smtp::Reply& r);

// The message as it leaves: sanitized for `send_time`, signed (config.dkim, t= send_time: the
// second its Date names), with the edge's Received line first and the DKIM-Signature fields
// below it. Each attempt prepares the message afresh (a fresh Message-ID, Date the time it
// leaves), so each attempt is signed over what it sends; the signature of given bytes at a given
// second is always the same (ed25519 and RSA PKCS#1 v1.5 are deterministic).
Result<std::string> prepare_outbound(const queue::Envelope& e, const DelivererConfig& config,
                                     std::time_t send_time);

class Deliverer {
 public:
  using Done = std::function<void(std::vector<RcptResult>)>;

  // `tls_client` may be null (no STARTTLS at all). Everything passed by reference must outlive
  // the Deliverer.
  Deliverer(uv::Loop& loop, dns::Resolver& resolver, Router& router, Dialer& dialer,
            const tls::Context* tls_client, const Clock& clock, DelivererConfig config);
  ~Deliverer();
  Deliverer(const Deliverer&) = delete;
  Deliverer& operator=(const Deliverer&) = delete;

  // One attempt for `recipients` of `e`. `done` runs exactly once on the loop thread (never from
  // inside deliver) with one result per recipient: delivered, permanent, or pending (transient),
  // unless the Deliverer is destroyed or the attempt cancelled first.
  void deliver(const queue::Envelope& e, std::vector<std::string> recipients, Done done);
  // Ends every attempt for message `id` now: its `done` never runs. A connection it holds is
  // closed at once (what is still queued for it is not sent; a remote server that already has
  // the whole message may still deliver it), its host's slot goes to the next waiter. Returns
  // the number of recipient domains whose attempt ended.
  size_t cancel(const std::string& id);

  ConcurrencyLimiter& limiter() { return limiter_; }
  // Connections waiting in the cache for another message.
  size_t idle_connections() const;

  struct Job;
  struct Domain;
  struct Idle;

 private:
  friend struct Job;
  friend struct Domain;
  void park(const std::string& domain, std::unique_ptr<Idle> idle);
  // A cached connection for `domain` (to `host` when not empty) that is still usable, or null.
  using IdleMap = std::multimap<std::string, std::unique_ptr<Idle>>;  // by recipient domain
  IdleMap::const_iterator usable_idle(const std::string& domain, const std::string& host) const;
  const Idle* find_idle(const std::string& domain, const std::string& host) const;
  std::unique_ptr<Idle> take_idle(const std::string& domain, const std::string& host);
  void sweep_later();

  uv::Loop& loop_;
  dns::Resolver& resolver_;
  Router& router_;
  Dialer& dialer_;
  const tls::Context* tls_;
  const Clock& clock_;
  DelivererConfig config_;
  ConcurrencyLimiter limiter_;
  std::set<std::shared_ptr<Domain>> live_;
  IdleMap idle_;
  std::unique_ptr<uv::Timer> sweep_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace nj::edge::outbound
