// The fleet registry: see edge_registry.h. Records are this file's own binary layout, decoded
// with limits, and every decoded added edge is checked again by the config's rules
// (inner::check_edge_entry), so a damaged record is an error naming it, never a crash or a link
// to an address the config would refuse.
#include "inner/fleet/edge_registry.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "common/base/clock.h"
#include "common/config/types.h"
#include "common/crypto/keyfile.h"

namespace nj::inner {
namespace {

constexpr char kAddedPrefix[] = "a/";
constexpr char kRevokedPrefix[] = "r/";
constexpr unsigned char kFormat = 1;  // the first byte of every value
// Bounds of the decoder, above what the config lets through (names 32, addresses 300).
constexpr size_t kMaxName = 32;
constexpr size_t kMaxText = 300;

std::string added_key(const std::string& name) {
  return kAddedPrefix + name;
}
std::string revoked_key(const crypto::PublicKey& k) {
  return kRevokedPrefix + std::string(k.view());
}

const char* transport_name(Transport t) {
  switch (t) {
    case Transport::tor:
      return "tor";
    case Transport::i2p:
      return "i2p";
    case Transport::direct:
      return "direct";
  }
  return "?";
}

void put_text(std::string& out, const std::string& s) {
  out.push_back(static_cast<char>(s.size() >> 8));
  out.push_back(static_cast<char>(s.size() & 0xff));
  out += s;
}

// Reads fields front to back; the first short or oversized field makes ok() false for good.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && at_ == in_.size(); }
  unsigned char byte() {
    if (!ok_ || at_ + 1 > in_.size()) return fail(), 0;
    return static_cast<unsigned char>(in_[at_++]);
  }
  uint64_t u64() {
    auto v = ok_ ? store::read_be64(in_, at_) : std::nullopt;
    if (!v) return fail(), 0;
    at_ += 8;
    return *v;
  }
  std::string_view raw(size_t n) {
    if (!ok_ || in_.size() - at_ < n) return fail(), std::string_view();
    auto v = in_.substr(at_, n);
    at_ += n;
    return v;
  }
  std::string text(size_t max) {
    size_t n = static_cast<size_t>(byte()) << 8;
    n |= byte();
    if (n > max) return fail(), std::string();
    return std::string(raw(n));
  }

 private:
  void fail() { ok_ = false; }
  std::string_view in_;
  size_t at_ = 0;
  bool ok_ = true;
};

// a/<name>: format, address, transport, socks ("" or host:port), failover_after (ms), key,
// added_at.
std::string encode_added(const EdgeSpec& e, int64_t now) {
  std::string v(1, static_cast<char>(kFormat));
  put_text(v, e.link.address);
  v.push_back(static_cast<char>(e.link.transport));
  put_text(v, e.link.socks.port == 0 ? std::string() : e.link.socks.str());
  store::append_be64(v, static_cast<uint64_t>(e.link.failover_after.count()));
  v += e.key.view();
  store::append_be64(v, static_cast<uint64_t>(now));
  return v;
}

}  // namespace

Result<EdgeSpec> decode_added(std::string_view key, std::string_view v) {
  std::string name(key.substr(std::string_view(kAddedPrefix).size()));
  auto bad = [&](const std::string& why) {
    std::string shown = name.substr(0, kMaxName);  // the key's bytes may be anything
    for (auto& c : shown)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) c = '?';
    return make_error("fleet registry: the added edge \"" + shown + "\" is damaged: " + why);
  };
  Reader r(v);
  if (r.byte() != kFormat) return bad("unknown format");
  std::string address = r.text(kMaxText);
  unsigned char transport = r.byte();
  std::string socks = r.text(kMaxText);
  uint64_t failover_ms = r.u64();
  std::string_view raw_key = r.raw(crypto::kKeyBytes);
  uint64_t added_at = r.u64();
  if (!r.done()) return bad(r.ok() ? "trailing bytes" : "truncated or oversized field");
  if (transport > static_cast<unsigned char>(Transport::direct)) return bad("unknown transport");
  auto k = crypto::PublicKey::from_bytes(raw_key);
  if (!k) return bad(k.error());
  // The failover time by the config's own type too: its text form is milliseconds.
  auto link = check_edge_entry(name, address, transport_name(static_cast<Transport>(transport)),
                               socks, std::to_string(failover_ms) + "ms");
  if (!link) return bad(link.error());
  EdgeSpec e;
  e.link = std::move(*link);
  e.key = *k;
  e.origin = "added " + utc_text(static_cast<int64_t>(added_at), UtcStyle::minutes);
  return e;
}

// r/<key>: format, revoked_at, the name it had.
std::string encode_revoked(const std::string& name, int64_t now) {
  std::string v(1, static_cast<char>(kFormat));
  store::append_be64(v, static_cast<uint64_t>(now));
  put_text(v, name);
  return v;
}

Result<RevokedEdge> decode_revoked(std::string_view key, std::string_view v) {
  auto bad = [&](const std::string& why) {
    return make_error("fleet registry: a revoked key's record is damaged: " + why);
  };
  auto k = crypto::PublicKey::from_bytes(key.substr(std::string_view(kRevokedPrefix).size()));
  if (!k) return bad(k.error());
  Reader r(v);
  if (r.byte() != kFormat) return bad("unknown format");
  RevokedEdge out;
  out.revoked_at = static_cast<int64_t>(r.u64());
  out.name = r.text(kMaxName);
  if (!r.done()) return bad(r.ok() ? "trailing bytes" : "truncated or oversized field");
  out.key = *k;
  return out;
}

namespace {

// Every record under `prefix`, decoded; the first damaged one is the error.
template <class T, class Decode>
Result<std::vector<T>> read_all(store::Txn& txn, store::Dbi db, std::string_view prefix,
                                Decode decode) {
  std::vector<T> out;
  std::string err;
  auto s = store::scan_prefix(txn, db, prefix, [&](std::string_view k, std::string_view v) {
    auto e = decode(k, v);
    if (!e) {
      err = e.error();
      return false;
    }
    out.push_back(std::move(*e));
    return true;
  });
  if (!s) return make_error(s.error());
  if (!err.empty()) return make_error(err);
  return out;
}

Result<std::vector<EdgeSpec>> read_added(store::Txn& txn, store::Dbi db) {
  return read_all<EdgeSpec>(txn, db, kAddedPrefix, decode_added);
}

Result<std::vector<RevokedEdge>> read_revoked(store::Txn& txn, store::Dbi db) {
  auto out = read_all<RevokedEdge>(txn, db, kRevokedPrefix, decode_revoked);
  if (!out) return out;
  std::stable_sort(out->begin(), out->end(), [](const RevokedEdge& a, const RevokedEdge& b) {
    return a.revoked_at < b.revoked_at;
  });
  return out;
}

std::string revoked_note(const RevokedEdge& r) {
  return "revoked on " + utc_text(r.revoked_at, UtcStyle::minutes) + " (it was \"" + r.name + "\")";
}

}  // namespace

Result<std::unique_ptr<EdgeRegistry>> EdgeRegistry::open(store::Env& env) {
  if (auto s = env.ensure_schema(kSchemaName, kSchemaVersion); !s) return make_error(s.error());
  auto db = env.open_dbi(kDbName);
  if (!db) return make_error(db.error());
  return std::unique_ptr<EdgeRegistry>(new EdgeRegistry(env, *db));
}

Result<std::vector<EdgeSpec>> EdgeRegistry::added() {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  return read_added(*txn, db_);
}

Result<std::vector<RevokedEdge>> EdgeRegistry::revoked() {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  return read_revoked(*txn, db_);
}

Result<bool> EdgeRegistry::is_revoked(const crypto::PublicKey& key) {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  auto v = txn->get(db_, revoked_key(key));
  if (!v) return make_error(v.error());
  return v->has_value();
}

Status EdgeRegistry::add(const EdgeSpec& e, const std::vector<EdgeSpec>& configured, int64_t now) {
  auto txn = env_.begin_write();
  if (!txn) return make_error(txn.error());
  auto revoked = txn->get(db_, revoked_key(e.key));
  if (!revoked) return make_error(revoked.error());
  if (*revoked) {
    auto r = decode_revoked(revoked_key(e.key), **revoked);
    if (!r) return make_error(r.error());
    return make_error("this key was " + revoked_note(*r) +
                      ": a revoked key never links again; make the edge a new key pair "
                      "(nightjarctl keygen on the edge)");
  }
  auto added = read_added(*txn, db_);
  if (!added) return make_error(added.error());
  auto clash = [&](const std::vector<EdgeSpec>& in, const char* where) -> Status {
    for (const auto& o : in) {
      std::string who = "\"" + o.link.name + "\" (" + where + ")";
      if (o.link.name == e.link.name) return make_error("the name is taken by " + who);
      if (o.key == e.key) return make_error("the key is already that of " + who);
      if (o.link.address == e.link.address)
        return make_error("the address is already that of " + who);
    }
    return {};
  };
  if (auto s = clash(configured, "in inner.yaml"); !s) return s;
  if (auto s = clash(*added, "added"); !s) return s;
  if (configured.size() + added->size() >= kMaxEdges)
    return make_error("the fleet has " + std::to_string(kMaxEdges) +
                      " edges already, the most an inner links to");
  if (auto s = txn->put(db_, added_key(e.link.name), encode_added(e, now)); !s) return s;
  return txn->commit();
}

Result<RevokedEdge> EdgeRegistry::remove(const std::string& name,
                                         const std::vector<EdgeSpec>& configured, int64_t now) {
  auto txn = env_.begin_write();
  if (!txn) return make_error(txn.error());
  auto added = read_added(*txn, db_);
  if (!added) return make_error(added.error());
  // Every key that went by this name: inner.yaml's entry (the one that runs) and an added entry
  // it may shadow. A seized edge's name covers both.
  std::vector<crypto::PublicKey> keys;
  for (const auto& c : configured)
    if (c.link.name == name) keys.push_back(c.key);
  bool was_added = false;
  for (const auto& a : *added)
    if (a.link.name == name) {
      was_added = true;
      if (std::find(keys.begin(), keys.end(), a.key) == keys.end()) keys.push_back(a.key);
    }
  if (keys.empty()) {
    std::set<std::string> names;
    for (const auto& c : configured) names.insert(c.link.name);
    for (const auto& a : *added) names.insert(a.link.name);
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    return make_error(
        "no edge is called \"" + name + "\"" +
        (list.empty() ? std::string(" (the fleet is empty)") : " (the fleet: " + list + ")"));
  }
  RevokedEdge first;
  for (size_t i = 0; i < keys.size(); ++i) {
    // A key revoked before keeps its first date.
    auto old = txn->get(db_, revoked_key(keys[i]));
    if (!old) return make_error(old.error());
    RevokedEdge r{name, keys[i], now};
    if (*old) {
      auto prev = decode_revoked(revoked_key(keys[i]), **old);
      if (!prev) return make_error(prev.error());
      r = *prev;
    } else if (auto s = txn->put(db_, revoked_key(keys[i]), encode_revoked(name, now)); !s) {
      return make_error(s.error());
    }
    if (i == 0) first = r;
  }
  if (was_added) {
    if (auto d = txn->del(db_, added_key(name)); !d) return make_error(d.error());
  }
  if (auto s = txn->commit(); !s) return make_error(s.error());
  return first;
}

Result<std::vector<EdgeSpec>> configured_edges(const InnerConfig& cfg, const KnownKeys* known,
                                               std::vector<std::string>* warnings) {
  std::vector<EdgeSpec> out;
  for (size_t i = 0; i < cfg.edges.size(); ++i) {
    const auto& l = cfg.edges[i];
    std::string at = "edges[" + std::to_string(i) + "]";
    auto k = crypto::load_public_key(config::file_for_this_process(l.public_key));
    if (!k) {
      auto was = known ? known->find(l.public_key) : KnownKeys::const_iterator{};
      if (!known || was == known->end())
        return make_error(at + " (" + l.name + "): public_key: " + k.error());
      if (warnings)
        warnings->push_back(at + " (" + l.name + "): public_key cannot be read now (" + k.error() +
                            "); the key read from it at start-up is kept");
      out.push_back(EdgeSpec{l, was->second, "inner.yaml " + at});
      continue;
    }
    out.push_back(EdgeSpec{l, *k, "inner.yaml " + at});
  }
  return out;
}

Result<std::vector<EdgeSpec>> effective_fleet(const InnerConfig& cfg, EdgeRegistry& registry,
                                              std::vector<std::string>& warnings,
                                              const KnownKeys* known) {
  auto configured = configured_edges(cfg, known, &warnings);
  if (!configured) return make_error(configured.error());
  auto added = registry.added();
  if (!added) return make_error(added.error());
  auto revoked = registry.revoked();
  if (!revoked) return make_error(revoked.error());
  auto revocation = [&](const crypto::PublicKey& k) -> const RevokedEdge* {
    for (const auto& r : *revoked)
      if (r.key == k) return &r;
    return nullptr;
  };
  std::vector<EdgeSpec> fleet;
  for (auto& c : *configured) {
    if (const RevokedEdge* r = revocation(c.key)) {
      warnings.push_back("edge " + c.link.name + " (" + c.origin + ") is left out: its key was " +
                         revoked_note(*r) + "; delete the entry from inner.yaml");
      continue;
    }
    fleet.push_back(c);  // a copy: the added edges are compared with *configured below
  }
  for (auto& a : *added) {
    // add() refused these; inner.yaml may have gained such an entry since.
    std::string why;
    for (const auto& c : *configured) {
      if (c.link.name == a.link.name)
        why = "inner.yaml now has an edge of that name";
      else if (c.key == a.key)
        why = "inner.yaml's edge " + c.link.name + " has the same key";
      else if (c.link.address == a.link.address)
        why = "inner.yaml's edge " + c.link.name + " has the same address";
      if (!why.empty()) break;
    }
    if (const RevokedEdge* r = revocation(a.key); r && why.empty())
      why = "its key was " + revoked_note(*r);
    if (why.empty() && fleet.size() >= kMaxEdges)
      why = "the fleet has " + std::to_string(kMaxEdges) + " edges already";
    if (!why.empty()) {
      warnings.push_back("edge " + a.link.name + " (" + a.origin + ") is left out: " + why);
      continue;
    }
    fleet.push_back(std::move(a));
  }
  return fleet;
}

}  // namespace nj::inner
