// CaresResolver: nj::dns::Resolver on c-ares, driven by the libuv loop the way Envoy drives it
// (one uv poll per c-ares socket, reported through ARES_OPT_SOCK_STATE_CB, plus one timer set
// from ares_timeout). Queries go out exactly as asked: ares_query, never ares_search, with
// ARES_FLAG_NOSEARCH and no search domains, because a mail server must never append a local
// domain to a name from the Internet; /etc/hosts is never consulted (ares_query does not read
// it). Trust: every answer is untrusted; counts and sizes are capped.
#pragma once

#include <ares.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/dns/resolver.h"
#include "common/uv/handles.h"
#include "common/uv/loop.h"

namespace nj::dns {

struct CaresOptions {
  // "ip", "ip:port", "[v6]" or "[v6]:port". Empty: the system's resolv.conf.
  std::vector<std::string> servers;
  int timeout_ms = 3000;  // per try
  int tries = 2;
};

class CaresResolver final : public Resolver {
 public:
  static Result<std::unique_ptr<CaresResolver>> create(uv::Loop& loop, const CaresOptions& o);
  // Pending queries complete with Status::error before this returns. Do not destroy the
  // resolver from inside one of its own callbacks.
  ~CaresResolver() override;
  CaresResolver(const CaresResolver&) = delete;
  CaresResolver& operator=(const CaresResolver&) = delete;

  void query(std::string_view name, Type type, Callback cb) override;
  size_t pending() const { return pending_; }

 private:
  struct Query;
  explicit CaresResolver(uv::Loop& loop);
  static void sock_state_cb(void* data, ares_socket_t fd, int readable, int writable);
  static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  void complete_later(Callback cb, Answer a);
  void rearm_timer();

  uv::Loop& loop_;
  ares_channel channel_ = nullptr;
  std::map<ares_socket_t, std::unique_ptr<uv::Poll>> polls_;
  uv::Timer timer_;
  uv::Timer deferred_timer_;
  std::vector<std::pair<Callback, Answer>> deferred_;
  size_t pending_ = 0;
  bool in_query_ = false;
  bool destroying_ = false;
};

}  // namespace nj::dns
