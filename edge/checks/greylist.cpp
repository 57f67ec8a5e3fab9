#include "edge/checks/greylist.h"

#include <limits>
#include <optional>

#include "common/base/log.h"
#include "edge/checks/client_address.h"

namespace nj::checks {
namespace {

Decision greylisted(const char* why) {
  return Decision::reply(450, "4.2.0", "Greylisted, try again later", why);
}

std::string lowercase(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

Decision store_failed(const char* what, const std::string& error) {
  // The store's message names no key material, only what LMDB said.
  NJ_LOG_WARN("greylist: store %s failed: %s; passing", what, error.c_str());
  return Decision::pass(std::string("greylist: store error, passed"));
}

}  // namespace

Greylist::Greylist(GreylistStore& store, const Clock& clock, GreylistOptions options)
    : store_(store), clock_(clock), opt_(options), key_(crypto::HashKey::generate()) {}

std::string Greylist::network_of(std::string_view client_ip) const {
  auto ip = parse_ip(client_ip);
  // Unparseable peers (should not happen: the listener formats them) share one bucket per
  // distinct text rather than escaping greylisting.
  return ip ? network_key(*ip) : "?" + std::string(client_ip);
}

Decision Greylist::check(std::string_view client_ip, const mail::Mailbox& sender,
                         const mail::Mailbox& recipient) {
  const int64_t now = clock_.now();
  const std::string net = network_of(client_ip);
  const std::string client_key(crypto::digest_view(crypto::keyed_hash(key_, {"client", net})));

  if (opt_.auto_allow_after > 0) {
    auto c = store_.get(client_key);
    if (!c.ok()) return store_failed("get", c.error());
    if (*c && now - (*c)->last_seen <= opt_.max_age && (*c)->count >= opt_.auto_allow_after) {
      if (Status s = count_pass(client_key, now); !s.ok()) return store_failed("put", s.error());
      return Decision::pass("greylist: client auto-allowlisted");
    }
  }

  const std::string triplet_key(crypto::digest_view(crypto::keyed_hash(
      key_,
      {"triplet", net, mail::normalize_for_greylist(sender), lowercase(recipient.address())})));
  auto got = store_.get(triplet_key);
  if (!got.ok()) return store_failed("get", got.error());
  std::optional<GreylistRecord> e = *got;
  const char* restart = "greylist: new triplet";
  if (e && now - e->last_seen > opt_.max_age) {
    e.reset();
    restart = "greylist: expired triplet";
  } else if (e && e->count == 0 && now - e->first_seen > opt_.retry_window) {
    e.reset();
    restart = "greylist: retry after window";
  }
  if (!e) {
    if (Status s = store_.put(triplet_key, GreylistRecord{now, now, 0}); !s.ok()) {
      return store_failed("put", s.error());
    }
    return greylisted(restart);
  }
  e->last_seen = now;
  if (e->count == 0 && now - e->first_seen < opt_.delay) {
    if (Status s = store_.put(triplet_key, *e); !s.ok()) return store_failed("put", s.error());
    return greylisted("greylist: retry too early");
  }
  const bool first_pass = e->count == 0;
  if (e->count < std::numeric_limits<uint32_t>::max()) ++e->count;
  if (Status s = store_.put(triplet_key, *e); !s.ok()) return store_failed("put", s.error());
  if (opt_.auto_allow_after > 0) {
    if (Status s = count_pass(client_key, now); !s.ok()) return store_failed("put", s.error());
  }
  return Decision::pass(first_pass ? "greylist: retried in window" : "greylist: known triplet");
}

Status Greylist::count_pass(const std::string& client_key, int64_t now) {
  auto c = store_.get(client_key);
  if (!c.ok()) return make_error(c.error());
  GreylistRecord r;
  if (*c && now - (*c)->last_seen <= opt_.max_age) {
    r = **c;
    // postgrey counts a network at most once an hour, so one burst of mail does not allowlist it.
    if (now - r.last_seen < opt_.auto_allow_interval && r.count > 0) return {};
  } else {
    r.first_seen = now;
  }
  if (r.count < std::numeric_limits<uint32_t>::max()) ++r.count;
  r.last_seen = now;
  return store_.put(client_key, r);
}

Result<size_t> Greylist::purge() {
  return store_.purge_older_than(clock_.now() - opt_.max_age);
}

}  // namespace nj::checks
