#include "inner/outbound/outbound_queue.h"

#include <algorithm>
#include <map>

#include "common/mail/headers.h"
#include "common/mail/sanitize.h"

namespace nj::inner {
namespace {

constexpr size_t kHeader = 12;   // be64 queued_at, be32 recipients
constexpr char kFormatAead = 1;  // r/ records: XChaCha20-Poly1305 under the queue key

struct Parsed {
  int64_t queued_at;
  uint32_t recipients;
  std::string_view clear;  // everything before the body (authenticated in r/ records)
  std::string_view body;
};

// An r/ record (`tagged`: header, format byte, AEAD body) or a q/ one (header, sealed box).
Result<Parsed> parse(std::string_view v, bool tagged) {
  const size_t at = kHeader + (tagged ? 1 : 0);
  if (v.size() < at + (tagged ? crypto::kAeadOverhead : crypto::kSealOverhead)) {
    return make_error("outbound record too short");
  }
  if (tagged && v[kHeader] != kFormatAead) return make_error("outbound record: unknown format");
  auto t = store::read_be64(v, 0);
  if (!t) return make_error("outbound record: bad time");
  uint32_t n = 0;
  for (size_t i = 8; i < 12; ++i) n = (n << 8) | static_cast<unsigned char>(v[i]);
  return Parsed{static_cast<int64_t>(*t), n, v.substr(0, at), v.substr(at)};
}

// The associated data of an r/ record: its clear bytes (fixed length), then its id.
std::string associated_data(std::string_view clear, const std::string& id) {
  std::string ad(clear);
  ad += id;
  return ad;
}

}  // namespace

Result<std::unique_ptr<OutboundQueue>> OutboundQueue::open(store::Env& env,
                                                           const crypto::KeyPair& inner) {
  // Version 2 writes r/ records; the version 1 records (q/, untagged sealed boxes) stay where
  // they are and are read as such, so the step from 1 needs no rewrite and no key. A format byte
  // inside q/ records would be ambiguous (byte 12 of an old record is the first byte of a random
  // ephemeral public key); the prefix is not, even for a q/ record an older inner still running
  // writes after this bump. The bump itself stops older programs, which know nothing of r/,
  // from opening the store.
  store::Migrations steps{{1, [](store::Txn&) -> Status { return {}; }}};
  if (auto s = env.ensure_schema(kSchemaName, kSchemaVersion, steps); !s) {
    return make_error(s.error());
  }
  auto db = env.open_dbi("outbound");
  if (!db) return make_error(db.error());
  auto key = crypto::derive_aead_key(inner.sec, kKeyContext);
  if (!key) return make_error("outbound queue key: " + key.error());
  return std::unique_ptr<OutboundQueue>(new OutboundQueue(env, *db, std::move(*key)));
}

std::string OutboundQueue::due_key(int64_t due, const std::string& id) {
  std::string k = "d/";
  store::append_be64(k, static_cast<uint64_t>(std::max<int64_t>(due, 0)));
  return k + "/" + id;
}

Status OutboundQueue::add_in(store::Txn& txn, const queue::Envelope& e, int64_t due,
                             std::string_view delay_class) const {
  if (auto s = add_in(txn, e); !s) return s;
  if (!delay_class.empty())
    if (auto s = txn.put(db_, class_key(e.id), delay_class); !s) return s;
  // d/<due>/<id> orders the release scan; i/<id> -> due finds that key again from the id.
  if (auto s = txn.put(db_, due_key(due, e.id), ""); !s) return s;
  return txn.put(db_, due_index_key(e.id),
                 store::be64(static_cast<uint64_t>(std::max<int64_t>(due, 0))));
}

std::string OutboundQueue::encrypt_record(const std::string& id, int64_t queued_at,
                                          const queue::Envelope& e) const {
  std::string v = store::be64(static_cast<uint64_t>(queued_at));
  auto n = static_cast<uint32_t>(e.recipients.size());
  for (int shift = 24; shift >= 0; shift -= 8) v.push_back(static_cast<char>(n >> shift));
  v.push_back(kFormatAead);
  v += crypto::aead_encrypt(key_, queue::encode(e), associated_data(v, id));
  return v;
}

Status OutboundQueue::add_in(store::Txn& txn, const queue::Envelope& e) const {
  auto old = txn.get(db_, sealed_key(e.id));  // an id is unique across both formats
  if (!old) return make_error(old.error());
  if (*old) return make_error("outbound id collision");
  auto inserted = txn.insert(db_, record_key(e.id), encrypt_record(e.id, e.received_at, e));
  if (!inserted) return make_error(inserted.error());
  if (!*inserted) return make_error("outbound id collision");
  return {};
}

Result<std::vector<OutboundQueue::Item>> OutboundQueue::list() {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  std::vector<Item> out;
  std::string err;
  std::map<std::string, int64_t> due, pending;
  std::map<std::string, std::string> holders, classes;
  auto dc = store::scan_prefix(*txn, db_, "c/", [&](std::string_view k, std::string_view v) {
    classes[std::string(k.substr(2))] = std::string(v.substr(0, 16));
    return true;
  });
  if (!dc) return make_error(dc.error());
  auto dh = store::scan_prefix(*txn, db_, "h/", [&](std::string_view k, std::string_view v) {
    holders[std::string(k.substr(2))] = std::string(v);
    return true;
  });
  if (!dh) return make_error(dh.error());
  auto di = store::scan_prefix(*txn, db_, "i/", [&](std::string_view k, std::string_view v) {
    auto d = store::read_be64(v, 0);
    if (d) due[std::string(k.substr(2))] = static_cast<int64_t>(*d);
    return true;
  });
  if (!di) return make_error(di.error());
  auto dd = store::scan_prefix(*txn, db_, "d/", [&](std::string_view k, std::string_view) {
    if (k.size() > 2 + 8 + 1) pending[std::string(k.substr(2 + 8 + 1))] = 0;
    return true;
  });
  if (!dd) return make_error(dd.error());
  auto visit = [&](bool tagged) -> store::Visitor {
    return [&, tagged](std::string_view k, std::string_view v) {
      auto p = parse(v, tagged);
      if (!p) {
        err = p.error();
        return false;
      }
      Item it;
      it.id = std::string(k.substr(2));
      it.queued_at = p->queued_at;
      it.recipients = p->recipients;
      it.encrypted_size = p->body.size();
      auto d = due.find(it.id);
      it.due = d == due.end() ? it.queued_at : d->second;
      it.released = d != due.end() && !pending.count(it.id);
      if (auto h = holders.find(it.id); it.released && h != holders.end()) it.holder = h->second;
      if (auto c = classes.find(it.id); c != classes.end()) it.delay_class = c->second;
      out.push_back(std::move(it));
      return true;
    };
  };
  for (bool tagged : {false, true}) {
    auto s = store::scan_prefix(*txn, db_, tagged ? "r/" : "q/", visit(tagged));
    if (!s) return make_error(s.error());
    if (!err.empty()) return make_error(err);
  }
  std::sort(out.begin(), out.end(), [](const Item& a, const Item& b) { return a.id < b.id; });
  return out;
}

Result<std::optional<OutboundQueue::Opened>> OutboundQueue::open_in(store::Txn& txn,
                                                                    const crypto::KeyPair& inner,
                                                                    const std::string& id) const {
  auto v = txn.get(db_, record_key(id));
  if (!v) return make_error(v.error());
  if (*v) {
    auto p = parse(**v, true);
    if (!p) return make_error(p.error());
    auto plain = crypto::aead_decrypt(key_, p->body, associated_data(p->clear, id));
    if (!plain) return make_error("cannot open (wrong key or moved?): " + plain.error());
    auto e = queue::decode(*plain);
    if (!e) return make_error(e.error());
    return std::optional<Opened>(Opened{std::move(*e), p->queued_at, false});
  }
  v = txn.get(db_, sealed_key(id));
  if (!v) return make_error(v.error());
  if (!*v) return std::optional<Opened>();
  auto p = parse(**v, false);
  if (!p) return make_error(p.error());
  auto plain = crypto::open_sealed(inner, p->body);
  if (!plain) return make_error("cannot open (wrong key?): " + plain.error());
  auto e = queue::decode(*plain);
  if (!e) return make_error(e.error());
  return std::optional<Opened>(Opened{std::move(*e), p->queued_at, true});
}

Result<queue::Envelope> OutboundQueue::open_one(const crypto::KeyPair& inner,
                                                const std::string& id) {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  auto o = open_in(*txn, inner, id);
  if (!o) return make_error(o.error());
  if (!*o) return make_error("no such message");
  return std::move((*o)->envelope);
}

Result<std::vector<std::string>> OutboundQueue::due_before(int64_t now, size_t limit) {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  std::vector<std::string> ids;
  std::string end = "d/";
  store::append_be64(end, static_cast<uint64_t>(std::max<int64_t>(now, 0)) + 1);
  auto s = store::scan_range(*txn, db_, "d/", end, [&](std::string_view k, std::string_view) {
    if (k.size() > 2 + 8 + 1) ids.emplace_back(k.substr(2 + 8 + 1));
    return ids.size() < limit;
  });
  if (!s) return make_error(s.error());
  return ids;
}

Result<queue::Envelope> OutboundQueue::leaving(const crypto::KeyPair& inner, const std::string& id,
                                               int64_t now) {
  auto e = open_one(inner, id);
  if (!e) return make_error(id + ": " + e.error());
  // Date is the time the message leaves the inner, in UTC, not the time it was written.
  auto h = mail::parse_headers(e->message);
  if (!h) return make_error(id + ": " + h.error());
  std::string date = "Date: " + mail::rfc5322_date(static_cast<std::time_t>(now)) + "\r\n";
  std::string msg;
  bool replaced = false;
  size_t at = 0;
  for (const auto& f : h->fields) {
    msg.append(e->message, at, f.offset - at);
    if (f.is("Date")) {
      if (!replaced) msg += date;
      replaced = true;
    } else {
      msg.append(f.raw);
    }
    at = f.offset + f.raw.size();
  }
  if (!replaced) msg = date + msg;
  msg.append(e->message, at, std::string::npos);
  e->message = std::move(msg);
  return e;
}

Result<std::vector<queue::Envelope>> OutboundQueue::released(const crypto::KeyPair& inner,
                                                             int64_t now, size_t limit) {
  auto ids = due_before(now, limit);
  if (!ids) return make_error(ids.error());
  std::vector<queue::Envelope> out;
  for (const auto& id : *ids) {
    auto e = leaving(inner, id, now);
    if (!e) return make_error(e.error());
    out.push_back(std::move(*e));
  }
  return out;
}

Result<std::string> OutboundQueue::release_in(store::Txn& txn, const std::string& id,
                                              std::string_view holder) const {
  std::string before;
  if (!holder.empty()) {
    auto h = txn.get(db_, holder_key(id));
    if (!h) return make_error(h.error());
    if (*h) before = std::string(**h);
    if (before != holder) {
      if (auto s = txn.put(db_, holder_key(id), holder); !s) return make_error(s.error());
    }
  }
  auto d = txn.get(db_, due_index_key(id));
  if (!d) return make_error(d.error());
  if (!*d) return before;  // written before due times, or never held
  auto due = store::read_be64(**d, 0);
  if (!due) return make_error("outbound: corrupt due record");
  auto r = txn.del(db_, due_key(static_cast<int64_t>(*due), id));
  if (!r) return make_error(r.error());
  return before;
}

Result<std::string> OutboundQueue::holder(const std::string& id) {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  auto h = txn->get(db_, holder_key(id));
  if (!h) return make_error(h.error());
  return *h ? std::string(**h) : std::string();
}

Status OutboundQueue::withdraw_in(store::Txn& txn, std::string_view holder,
                                  const std::string& id) const {
  return txn.put(db_, withdraw_prefix(holder) + id, "");
}

Result<std::vector<std::string>> OutboundQueue::withdrawals(std::string_view holder,
                                                            size_t limit) {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  std::vector<std::string> ids;
  std::string prefix = withdraw_prefix(holder);
  auto s = store::scan_prefix(*txn, db_, prefix, [&](std::string_view k, std::string_view) {
    ids.emplace_back(k.substr(prefix.size()));
    return ids.size() < limit;
  });
  if (!s) return make_error(s.error());
  return ids;
}

Status OutboundQueue::withdrawn_in(store::Txn& txn, std::string_view holder,
                                   const std::string& id) const {
  auto d = txn.del(db_, withdraw_prefix(holder) + id);
  if (!d) return make_error(d.error());
  return {};
}

Status OutboundQueue::forget_edge_in(store::Txn& txn, std::string_view holder) const {
  std::vector<std::string> keys;
  std::string prefix = withdraw_prefix(holder);
  auto s = store::scan_prefix(txn, db_, prefix, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  if (!s) return make_error(s.error());
  for (const auto& k : keys)
    if (auto d = txn.del(db_, k); !d) return make_error(d.error());
  return {};
}

Result<bool> OutboundQueue::remove_in(store::Txn& txn, const std::string& id) const {
  if (auto s = release_in(txn, id); !s) return make_error(s.error());
  if (auto h = txn.del(db_, holder_key(id)); !h) return make_error(h.error());
  if (auto c = txn.del(db_, class_key(id)); !c) return make_error(c.error());
  if (auto d = txn.del(db_, due_index_key(id)); !d) return make_error(d.error());
  auto r = txn.del(db_, record_key(id));
  if (!r) return make_error(r.error());
  auto q = txn.del(db_, sealed_key(id));
  if (!q) return make_error(q.error());
  return *r || *q;
}

Result<OutboundQueue::Settled> OutboundQueue::settle_in(
    store::Txn& txn, const crypto::KeyPair& inner, const std::string& id,
    const std::vector<link::RecipientStatus>& results) const {
  Settled out;
  auto o = open_in(txn, inner, id);
  if (!o) return make_error(id + ": " + o.error());
  if (!*o) return out;
  out.found = true;
  // Exact match, no case folding: the stored recipients are the submission's forward paths
  // (domain already lowercased, duplicates dropped) and the edge reports those very strings.
  std::vector<std::string> left;
  for (const auto& rcpt : (*o)->envelope.recipients) {
    auto r = std::find_if(results.begin(), results.end(),
                          [&](const link::RecipientStatus& s) { return s.recipient == rcpt; });
    if (r == results.end()) {
      left.push_back(rcpt);
    } else {
      out.newly_final.push_back(*r);
    }
  }
  out.before = std::move((*o)->envelope);
  if (out.newly_final.empty()) return out;  // nothing new: the record stays as it is
  if (left.empty()) {
    auto r = remove_in(txn, id);
    if (!r) return make_error(r.error());
    out.removed = true;
    return out;
  }
  // The due index (d/, i/) is keyed by id alone, so rewriting the record keeps the message's
  // due or released state as it was.
  queue::Envelope rest = out.before;
  rest.recipients = std::move(left);
  if (auto s = txn.put(db_, record_key(id), encrypt_record(id, (*o)->queued_at, rest)); !s) {
    return make_error(s.error());
  }
  if ((*o)->sealed) {
    auto d = txn.del(db_, sealed_key(id));
    if (!d) return make_error(d.error());
  }
  return out;
}

}  // namespace nj::inner
