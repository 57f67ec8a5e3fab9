#include "common/dns/cares_resolver.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>

#include <cstring>
#include <mutex>

#include "common/uv/address.h"

namespace nj::dns {

namespace {

constexpr size_t kMaxRecords = 256;  // per answer; more is hostile or broken
constexpr size_t kMaxNameLength = 253;

std::once_flag g_library_once;

Status map_status(int ares) {
  switch (ares) {
    case ARES_SUCCESS:
      return Status::ok;
    case ARES_ENOTFOUND:
      return Status::nxdomain;
    case ARES_ENODATA:
      return Status::nodata;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    // No server reachable is as temporary as a server failure; treating it as permanent
    // would bounce mail during a resolver restart.
    case ARES_ECONNREFUSED:
      return Status::servfail;
    case ARES_ETIMEOUT:
      return Status::timeout;
    default:
      return Status::error;
  }
}

bool valid_query_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength + 1) return false;
  std::string_view n = name;
  if (n.back() == '.') n.remove_suffix(1);
  if (n.empty()) return false;
  size_t label = 0;
  for (char c : n) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    // Printable ASCII except space; DNS allows more, mail names never need it.
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F)
      return false;
    if (++label > 63) return false;
  }
  return label > 0;
}

int ns_type(Type t) {
  switch (t) {
    case Type::A:
      return ns_t_a;
    case Type::AAAA:
      return ns_t_aaaa;
    case Type::MX:
      return ns_t_mx;
    case Type::TXT:
      return ns_t_txt;
    case Type::NS:
      return ns_t_ns;
    case Type::SRV:
      return ns_t_srv;
    case Type::PTR:
      return ns_t_ptr;
  }
  return ns_t_a;
}

// Fills a; returns the c-ares parse status.
int parse(Type t, const unsigned char* abuf, int alen, Answer& a) {
  switch (t) {
    case Type::A:
    case Type::AAAA: {
      hostent* h = nullptr;
      int rc = t == Type::A ? ares_parse_a_reply(abuf, alen, &h, nullptr, nullptr)
                            : ares_parse_aaaa_reply(abuf, alen, &h, nullptr, nullptr);
      if (rc != ARES_SUCCESS) return rc;
      char buf[INET6_ADDRSTRLEN];
      for (char** p = h->h_addr_list; p && *p && a.addresses.size() < kMaxRecords; ++p) {
        if (inet_ntop(h->h_addrtype, *p, buf, sizeof buf)) a.addresses.emplace_back(buf);
      }
      ares_free_hostent(h);
      return ARES_SUCCESS;
    }
    case Type::MX: {
      ares_mx_reply* mx = nullptr;
      int rc = ares_parse_mx_reply(abuf, alen, &mx);
      if (rc != ARES_SUCCESS) return rc;
      for (auto* p = mx; p && a.mx.size() < kMaxRecords; p = p->next)
        a.mx.push_back({p->priority, p->host});
      ares_free_data(mx);
      return ARES_SUCCESS;
    }
    case Type::TXT: {
      ares_txt_ext* txt = nullptr;
      int rc = ares_parse_txt_reply_ext(abuf, alen, &txt);
      if (rc != ARES_SUCCESS) return rc;
      for (auto* p = txt; p; p = p->next) {
        if (p->record_start || a.txt.empty()) {
          if (a.txt.size() >= kMaxRecords) break;
          a.txt.emplace_back();
        }
        a.txt.back().append(reinterpret_cast<const char*>(p->txt), p->length);
      }
      ares_free_data(txt);
      return ARES_SUCCESS;
    }
    case Type::NS: {
      hostent* h = nullptr;
      int rc = ares_parse_ns_reply(abuf, alen, &h);
      if (rc != ARES_SUCCESS) return rc;
      for (char** p = h->h_aliases; p && *p && a.names.size() < kMaxRecords; ++p)
        a.names.emplace_back(*p);
      ares_free_hostent(h);
      return ARES_SUCCESS;
    }
    case Type::SRV: {
      ares_srv_reply* srv = nullptr;
      int rc = ares_parse_srv_reply(abuf, alen, &srv);
      if (rc != ARES_SUCCESS) return rc;
      for (auto* p = srv; p && a.srv.size() < kMaxRecords; p = p->next)
        a.srv.push_back({p->priority, p->weight, p->port, p->host});
      ares_free_data(srv);
      return ARES_SUCCESS;
    }
    case Type::PTR: {
      hostent* h = nullptr;
      // The address only ends up in the returned hostent; we never read it back.
      unsigned char dummy[4] = {0};
      int rc = ares_parse_ptr_reply(abuf, alen, dummy, sizeof dummy, AF_INET, &h);
      if (rc != ARES_SUCCESS) return rc;
      for (char** p = h->h_aliases; p && *p && a.names.size() < kMaxRecords; ++p)
        a.names.emplace_back(*p);
      if (a.names.empty() && h->h_name) a.names.emplace_back(h->h_name);
      ares_free_hostent(h);
      return ARES_SUCCESS;
    }
  }
  return ARES_EBADRESP;
}

}  // namespace

struct CaresResolver::Query {
  CaresResolver* self;
  Type type;
  Callback cb;
};

CaresResolver::CaresResolver(uv::Loop& loop) : loop_(loop), timer_(loop), deferred_timer_(loop) {}

Result<std::unique_ptr<CaresResolver>> CaresResolver::create(uv::Loop& loop,
                                                             const CaresOptions& o) {
  int lib = ARES_SUCCESS;
  std::call_once(g_library_once, [&] { lib = ares_library_init(ARES_LIB_INIT_ALL); });
  if (lib != ARES_SUCCESS) return make_error(std::string("c-ares init: ") + ares_strerror(lib));
  if (o.timeout_ms <= 0 || o.tries <= 0) return make_error("dns: timeout and tries must be > 0");

  // Parse servers before touching c-ares so errors name the bad entry.
  std::vector<ares_addr_port_node> nodes(o.servers.size());
  for (size_t i = 0; i < o.servers.size(); ++i) {
    auto hp = uv::parse_host_port(o.servers[i], 53);
    if (!hp) return make_error("dns server '" + o.servers[i] + "': " + hp.error());
    auto& n = nodes[i];
    std::memset(&n, 0, sizeof n);
    if (inet_pton(AF_INET, hp->host.c_str(), &n.addr.addr4) == 1) {
      n.family = AF_INET;
    } else if (inet_pton(AF_INET6, hp->host.c_str(), &n.addr.addr6) == 1) {
      n.family = AF_INET6;
    } else {
      return make_error("dns server '" + o.servers[i] + "': not an IP address");
    }
    n.udp_port = hp->port;
    n.tcp_port = hp->port;
    n.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
  }

  std::unique_ptr<CaresResolver> r(new CaresResolver(loop));
  ares_options opts{};
  opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS;
  opts.timeout = o.timeout_ms;
  opts.tries = o.tries;
  opts.ndots = 1;
  opts.ndomains = 0;
  opts.domains = nullptr;
  opts.ednspsz = 1232;   // the DNS flag day 2020 size: avoids fragmented UDP
  char lookups[] = "b";  // DNS only, never the hosts file
  opts.lookups = lookups;
  opts.sock_state_cb = &CaresResolver::sock_state_cb;
  opts.sock_state_cb_data = r.get();
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_NDOTS |
             ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_EDNSPSZ;
  int rc = ares_init_options(&r->channel_, &opts, mask);
  if (rc != ARES_SUCCESS) return make_error(std::string("c-ares: ") + ares_strerror(rc));
  if (!nodes.empty()) {
    rc = ares_set_servers_ports(r->channel_, nodes.data());
    if (rc != ARES_SUCCESS)
      return make_error(std::string("c-ares set servers: ") + ares_strerror(rc));
  }
  return r;
}

CaresResolver::~CaresResolver() {
  destroying_ = true;
  if (channel_) {
    // Runs every pending callback with ARES_EDESTRUCTION (mapped to Status::error) and
    // closes sockets through sock_state_cb, which needs polls_ to still exist.
    ares_destroy(channel_);
    channel_ = nullptr;
  }
  auto deferred = std::move(deferred_);
  for (auto& [cb, a] : deferred) cb(a);
  polls_.clear();
}

void CaresResolver::sock_state_cb(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<CaresResolver*>(data);
  if (!readable && !writable) {
    self->polls_.erase(fd);  // closes the poll; c-ares closes the socket after this returns
    return;
  }
  auto& p = self->polls_[fd];
  if (!p) {
    p = std::make_unique<uv::Poll>(self->loop_, fd);
    if (!p->ok()) {
      self->polls_.erase(fd);
      return;  // the query will time out through the timer
    }
  }
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  (void)p->start(events, [self, fd](int status, int ev) {
    if (status < 0) {
      // Let c-ares see the error on both directions so it drops the socket.
      ares_process_fd(self->channel_, fd, fd);
    } else {
      ares_process_fd(self->channel_, (ev & UV_READABLE) ? fd : ARES_SOCKET_BAD,
                      (ev & UV_WRITABLE) ? fd : ARES_SOCKET_BAD);
    }
    self->rearm_timer();
  });
}

void CaresResolver::rearm_timer() {
  if (destroying_ || pending_ == 0) {
    timer_.stop();
    return;
  }
  timeval tv{};
  timeval* t = ares_timeout(channel_, nullptr, &tv);
  uint64_t ms = t ? static_cast<uint64_t>(t->tv_sec) * 1000 + t->tv_usec / 1000 : 1000;
  if (ms == 0) ms = 1;
  timer_.start(ms, 0, [this] {
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm_timer();
  });
}

void CaresResolver::complete_later(Callback cb, Answer a) {
  deferred_.emplace_back(std::move(cb), std::move(a));
  deferred_timer_.start(0, 0, [this] {
    auto batch = std::move(deferred_);
    deferred_.clear();
    for (auto& [fn, ans] : batch) fn(ans);
  });
}

void CaresResolver::on_answer(void* arg, int status, int, unsigned char* abuf, int alen) {
  std::unique_ptr<Query> q(static_cast<Query*>(arg));
  CaresResolver* self = q->self;
  --self->pending_;
  Answer a;
  a.status = map_status(status);
  if (status == ARES_SUCCESS) {
    int prc = parse(q->type, abuf, alen, a);
    a.status = prc == ARES_SUCCESS ? Status::ok : map_status(prc);
    if (a.status == Status::ok && a.addresses.empty() && a.mx.empty() && a.names.empty() &&
        a.txt.empty() && a.srv.empty())
      a.status = Status::nodata;
  }
  if (self->in_query_ && !self->destroying_) {
    // c-ares answered synchronously (bad name, no servers): the contract is "later".
    self->complete_later(std::move(q->cb), std::move(a));
    return;
  }
  q->cb(a);
}

void CaresResolver::query(std::string_view name, Type type, Callback cb) {
  if (destroying_ || !channel_) {
    Answer a;
    a.status = Status::error;
    cb(a);  // only reachable from a callback running during destruction
    return;
  }
  if (!valid_query_name(name)) {
    Answer a;
    a.status = Status::error;
    complete_later(std::move(cb), std::move(a));
    return;
  }
  auto* q = new Query{this, type, std::move(cb)};
  ++pending_;
  std::string n(name);
  in_query_ = true;
  ares_query(channel_, n.c_str(), ns_c_in, ns_type(type), &CaresResolver::on_answer, q);
  in_query_ = false;
  rearm_timer();
}

}  // namespace nj::dns
