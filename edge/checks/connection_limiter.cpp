#include "edge/checks/connection_limiter.h"

#include <cstdlib>
#include <utility>

#include "edge/checks/client_address.h"

namespace nj::checks {
namespace {

Decision too_many(const char* reason) {
  return Decision::reply(421, "4.7.0", "Too many connections, try again later", reason);
}

}  // namespace

ConnectionLimiter::Ticket::Ticket(Ticket&& o) noexcept
    : owner_(std::exchange(o.owner_, nullptr)), key_(std::move(o.key_)) {}

ConnectionLimiter::Ticket& ConnectionLimiter::Ticket::operator=(Ticket&& o) noexcept {
  if (this != &o) {
    release();
    owner_ = std::exchange(o.owner_, nullptr);
    key_ = std::move(o.key_);
  }
  return *this;
}

void ConnectionLimiter::Ticket::release() {
  if (owner_ == nullptr) return;
  std::exchange(owner_, nullptr)->release(key_);
}

std::string ConnectionLimiter::key_for(std::string_view client_ip) {
  auto ip = parse_ip(client_ip);
  return ip ? network_key(*ip) : std::string("?");
}

ConnectionLimiter::Admission ConnectionLimiter::acquire(std::string_view client_ip) {
  Admission a;
  if (total_ >= limits_.max_total) {
    a.decision = too_many("connection limit: total");
    return a;
  }
  std::string key = key_for(client_ip);
  size_t& n = per_network_[key];
  if (n >= limits_.max_per_network) {
    if (n == 0) per_network_.erase(key);  // a limit of 0 must not leave empty buckets behind
    a.decision = too_many("connection limit: client network");
    return a;
  }
  ++n;
  ++total_;
  a.ticket = Ticket(this, std::move(key));
  a.decision = Decision::pass();
  return a;
}

size_t ConnectionLimiter::count_for(std::string_view client_ip) const {
  auto it = per_network_.find(key_for(client_ip));
  return it == per_network_.end() ? 0 : it->second;
}

void ConnectionLimiter::release(const std::string& key) {
  auto it = per_network_.find(key);
  // A ticket always names a counted bucket; anything else is a bug in this class.
  if (it == per_network_.end() || it->second == 0 || total_ == 0) std::abort();
  if (--it->second == 0) per_network_.erase(it);
  --total_;
}

}  // namespace nj::checks
