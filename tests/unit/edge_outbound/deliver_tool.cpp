// nj_deliver_tool: the edge's outbound path outside the daemon, for tests/e2e/t_20. It queues
// one message in an EdgeOutboundQueue (LMDB under --data) and lets the scheduler hand it to the
// Deliverer (c-ares against --dns, Router, direct TCP or SOCKS5), then prints one line per
// recipient's final result: "RESULT <address> <delivered|permanent|expired> <reply>".
// Exit 0 when every recipient is final, 2 if some are still pending at --timeout, 1 on errors.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/base/log.h"
#include "common/crypto/crypto.h"
#include "common/dns/cares_resolver.h"
#include "common/store/group_commit.h"
#include "common/tls/tls.h"
#include "common/uv/handles.h"
#include "common/uv/loop.h"
#include "edge/outbound/deliverer.h"
#include "edge/outbound/edge_outbound_queue.h"

using namespace nj;
using namespace nj::edge::outbound;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: nj_deliver_tool --data DIR --dns IP:PORT --helo NAME --public-domain D\n"
               "  --from ADDR --to ADDR [--to ADDR...] --message FILE [--smtp-port N]\n"
               "  [--our-domain D] [--onion-map FILE] [--socks IP:PORT] [--allow-private]\n"
               "  [--rewrite INTERNAL=PUBLIC] [--timeout SECONDS]\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  crypto::init();
  std::string data, dns_server, helo, public_domain, from, message_file, onion_map, socks;
  std::vector<std::string> to, ours;
  std::vector<mail::DomainRewrite> rewrites;
  uint16_t smtp_port = 25;
  bool allow_private = false;
  int timeout_s = 60;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--data")
      data = next();
    else if (a == "--dns")
      dns_server = next();
    else if (a == "--helo")
      helo = next();
    else if (a == "--public-domain")
      public_domain = next();
    else if (a == "--from")
      from = next();
    else if (a == "--to")
      to.push_back(next());
    else if (a == "--message")
      message_file = next();
    else if (a == "--smtp-port")
      smtp_port = static_cast<uint16_t>(std::atoi(next().c_str()));
    else if (a == "--our-domain")
      ours.push_back(next());
    else if (a == "--onion-map")
      onion_map = next();
    else if (a == "--socks")
      socks = next();
    else if (a == "--allow-private")
      allow_private = true;
    else if (a == "--timeout")
      timeout_s = std::atoi(next().c_str());
    else if (a == "--rewrite") {
      std::string v = next();
      auto eq = v.find('=');
      if (eq == std::string::npos) return usage();
      rewrites.push_back({v.substr(0, eq), v.substr(eq + 1)});
    } else {
      return usage();
    }
  }
  if (data.empty() || helo.empty() || public_domain.empty() || to.empty() || message_file.empty()) {
    return usage();
  }
  std::ifstream in(message_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read\n", message_file.c_str());
    return 1;
  }
  std::string message((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  uv::Loop loop;
  SystemClock clock;
  dns::CaresOptions dopt;
  if (!dns_server.empty()) dopt.servers.push_back(dns_server);
  auto resolver = dns::CaresResolver::create(loop, dopt);
  if (!resolver) {
    std::fprintf(stderr, "dns: %s\n", resolver.error().c_str());
    return 1;
  }
  RouterConfig rc;
  rc.our_domains = ours;
  rc.smtp_port = smtp_port;
  if (!onion_map.empty()) {
    auto m = OnionMap::load(onion_map);
    if (!m) {
      std::fprintf(stderr, "%s\n", m.error().c_str());
      return 1;
    }
    rc.onion_map = std::move(*m);
  }
  Router router(**resolver, rc);
  NetDialer dialer(loop, socks, 30000);
  auto tls = tls::Context::client();
  if (!tls) {
    std::fprintf(stderr, "tls: %s\n", tls.error().c_str());
    return 1;
  }
  DelivererConfig dc;
  dc.helo_name = helo;
  dc.public_domain = public_domain;
  dc.rewrites = rewrites;
  dc.allow_private_addresses = allow_private;
  Deliverer deliverer(loop, **resolver, router, dialer, &*tls, clock, dc);

  auto env = store::Env::open(data);
  if (!env) {
    std::fprintf(stderr, "store: %s\n", env.error().c_str());
    return 1;
  }
  store::GroupCommitter gc(*env, loop.raw());
  QueueOptions qo;
  qo.tick_ms = 100;
  size_t final_count = 0;
  auto q = EdgeOutboundQueue::open(
      *env, gc, loop, clock, qo,
      [&](const queue::Envelope& e, std::vector<std::string> rcpts,
          std::function<void(std::vector<RcptResult>)> done) {
        deliverer.deliver(e, std::move(rcpts), std::move(done));
      },
      [&](const std::string&, const std::vector<RcptResult>& results) {
        for (const auto& r : results) {
          std::printf("RESULT %s %s %s\n", r.address.c_str(), rcpt_status_name(r.status),
                      r.reply.c_str());
          ++final_count;
        }
        std::fflush(stdout);
      });
  if (!q) {
    std::fprintf(stderr, "queue: %s\n", q.error().c_str());
    return 1;
  }
  queue::Envelope e;
  e.id = crypto::random_id();
  e.received_at = clock.now();
  e.mail_from = from;
  e.recipients = to;
  e.message = message;
  int rc_exit = 2;
  (*q)->enqueue(std::move(e), [&](Status s) {
    if (!s) {
      std::fprintf(stderr, "enqueue: %s\n", s.error().c_str());
      rc_exit = 1;
      loop.stop();
      return;
    }
    (*q)->start();
  });
  uv::Timer check(loop);
  uint64_t started = loop.now_ms();
  check.start(50, 50, [&] {
    if (final_count >= to.size()) {
      rc_exit = 0;
      loop.stop();
    } else if (loop.now_ms() - started > static_cast<uint64_t>(timeout_s) * 1000) {
      std::printf("PENDING %zu\n", to.size() - final_count);
      loop.stop();
    }
  });
  loop.run();
  check.close();
  (*q)->stop();
  q->reset();
  gc.shutdown();
  loop.run_nowait();
  return rc_exit;
}
