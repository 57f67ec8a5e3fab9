// ConnectionLimiter: caps concurrent SMTP connections in total and per client network
// (IPv4 /24, IPv6 /64), so one sender farm cannot take every slot of the edge.
// State is memory only and keyed by the binary network prefix; nothing is persisted or logged.
// Trust: the client address comes from accept(); an unparseable one is counted in a bucket of
// its own rather than escaping the per-network limit.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

#include "edge/checks/decision.h"

namespace nj::checks {

struct ConnectionLimits {
  size_t max_total = 500;
  size_t max_per_network = 20;
};

class ConnectionLimiter {
 public:
  // Holds one connection slot; releases it when destroyed. Move-only. The limiter must outlive
  // its tickets.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& o) noexcept;
    Ticket& operator=(Ticket&& o) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { release(); }
    bool held() const { return owner_ != nullptr; }
    void release();

   private:
    friend class ConnectionLimiter;
    Ticket(ConnectionLimiter* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    ConnectionLimiter* owner_ = nullptr;
    std::string key_;
  };

  struct Admission {
    Ticket ticket;      // held() when admitted
    Decision decision;  // accept, or 421 4.7.0 Too many connections, try again later
    bool admitted() const { return ticket.held(); }
  };

  explicit ConnectionLimiter(ConnectionLimits limits) : limits_(limits) {}
  ConnectionLimiter(const ConnectionLimiter&) = delete;
  ConnectionLimiter& operator=(const ConnectionLimiter&) = delete;

  Admission acquire(std::string_view client_ip);

  size_t total() const { return total_; }
  size_t networks() const { return per_network_.size(); }
  size_t count_for(std::string_view client_ip) const;

 private:
  static std::string key_for(std::string_view client_ip);
  void release(const std::string& key);

  ConnectionLimits limits_;
  size_t total_ = 0;
  std::unordered_map<std::string, size_t> per_network_;
};

}  // namespace nj::checks
