#include "inner/outbound/outbound_queue.h"

namespace nj::inner {
namespace {

constexpr size_t kHeader = 12;  // be64 queued_at, be32 recipients

struct Parsed {
  int64_t queued_at;
  uint32_t recipients;
  std::string_view sealed;
};

Result<Parsed> parse(std::string_view v) {
  if (v.size() < kHeader + crypto::kSealOverhead) return make_error("outbound record too short");
  auto t = store::read_be64(v, 0);
  if (!t) return make_error("outbound record: bad time");
  uint32_t n = 0;
  for (size_t i = 8; i < 12; ++i) n = (n << 8) | static_cast<unsigned char>(v[i]);
  return Parsed{static_cast<int64_t>(*t), n, v.substr(kHeader)};
}

}  // namespace

Result<std::unique_ptr<OutboundQueue>> OutboundQueue::open(store::Env& env,
                                                           crypto::PublicKey inner) {
  if (auto s = env.ensure_schema(kSchemaName, kSchemaVersion); !s) return make_error(s.error());
  auto db = env.open_dbi("outbound");
  if (!db) return make_error(db.error());
  return std::unique_ptr<OutboundQueue>(new OutboundQueue(env, *db, inner));
}

Status OutboundQueue::add_in(store::Txn& txn, const queue::Envelope& e) const {
  std::string v = store::be64(static_cast<uint64_t>(e.received_at));
  auto n = static_cast<uint32_t>(e.recipients.size());
  for (int shift = 24; shift >= 0; shift -= 8) v.push_back(static_cast<char>(n >> shift));
  v += crypto::seal(inner_, queue::encode(e));
  auto inserted = txn.insert(db_, key_for(e.id), v);
  if (!inserted) return make_error(inserted.error());
  if (!*inserted) return make_error("outbound id collision");
  return {};
}

Result<std::vector<OutboundQueue::Item>> OutboundQueue::list() {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  std::vector<Item> out;
  std::string err;
  auto s = store::scan_prefix(*txn, db_, "q/", [&](std::string_view k, std::string_view v) {
    auto p = parse(v);
    if (!p) {
      err = p.error();
      return false;
    }
    out.push_back(Item{std::string(k.substr(2)), p->queued_at, p->recipients, p->sealed.size()});
    return true;
  });
  if (!s) return make_error(s.error());
  if (!err.empty()) return make_error(err);
  return out;
}

Result<queue::Envelope> OutboundQueue::open_one(const crypto::KeyPair& inner,
                                                const std::string& id) {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  auto v = txn->get(db_, key_for(id));
  if (!v) return make_error(v.error());
  if (!*v) return make_error("no such message");
  auto p = parse(**v);
  if (!p) return make_error(p.error());
  auto plain = crypto::open_sealed(inner, p->sealed);
  if (!plain) return make_error("cannot open (wrong key?): " + plain.error());
  return queue::decode(*plain);
}

}  // namespace nj::inner
