#include "edge/queue/inbound_queue.h"

#include <algorithm>

namespace nj::edge {
namespace {

constexpr size_t kTimeBytes = 8;  // be64 queued_at before the sealed envelope

// Version 1 -> 2: every in/<id> record gets a queued_at in front of its sealed blob. The true
// arrival time is inside the sealed envelope, which the edge cannot open (it never holds the
// inner's secret key), so the migration time stands in for it: it is the latest the message
// can have arrived, so no message is ever treated as older than it is (it gets its full
// lifetime again, at most once, rather than a last attempt it has not earned).
// One write transaction, one record in memory at a time (the keys are collected first: a
// cursor is not walked while the records under it are rewritten).
Status add_queued_at(store::Txn& txn, int64_t now, bool& map_full) {
  auto db = txn.open_dbi(InboundQueue::kDbName, true);
  if (!db) return make_error(db.error());
  std::vector<std::string> keys;
  auto s = store::scan_prefix(txn, *db, "in/", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  if (!s) return s;
  const std::string stamp = store::be64(static_cast<uint64_t>(now));
  std::string record;
  for (const auto& k : keys) {
    auto v = txn.get(*db, k);
    if (!v) return make_error(v.error());
    if (!*v) continue;
    record = stamp;
    record.append(**v);
    if (auto p = txn.put(*db, k, record); !p) {
      map_full = txn.hit_map_full();
      return p;
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<InboundQueue>> InboundQueue::open(store::Env& env, crypto::PublicKey inner,
                                                         int64_t now) {
  // The migration rewrites every record in one transaction, which needs room for the old and
  // the new pages until it commits: grow the map as the group committer would, and retry.
  for (;;) {
    bool map_full = false;
    store::Migrations steps{
        {1, [&](store::Txn& txn) { return add_queued_at(txn, now, map_full); }}};
    auto s = env.ensure_schema(kSchemaName, kSchemaVersion, steps);
    if (s) break;
    size_t size = env.map_size(), max = env.options().max_map_size;
    if (!map_full || size >= max) return make_error(s.error());
    if (auto g = env.grow_map(size > max / 2 ? max : size * 2); !g) return make_error(g.error());
  }
  auto db = env.open_dbi(kDbName);
  if (!db) return make_error(db.error());
  return std::unique_ptr<InboundQueue>(new InboundQueue(env, *db, inner, true));
}

Result<std::unique_ptr<InboundQueue>> InboundQueue::open_existing(store::Env& env) {
  auto v = env.schema_version(kSchemaName);
  if (!v) return make_error(v.error());
  if (!*v) return make_error("no inbound queue here");
  if (**v != kSchemaVersion) {
    return make_error("the inbound queue is schema version " + std::to_string(**v) +
                      ", this program reads version " + std::to_string(kSchemaVersion) +
                      (**v < kSchemaVersion ? " (the edge migrates it when it starts)" : ""));
  }
  auto db = env.open_dbi(kDbName, false);
  if (!db) return make_error(db.error());
  return std::unique_ptr<InboundQueue>(new InboundQueue(env, *db, crypto::PublicKey{}, false));
}

void InboundQueue::enqueue(store::GroupCommitter& committer, queue::Envelope e,
                           std::function<void(Status)> done) {
  if (!writable_) {
    done(make_error("inbound queue opened read-only"));
    return;
  }
  // Sealing runs on the writer thread, inside the batch, so the loop thread keeps serving
  // sessions while messages are encrypted. The plaintext never reaches the store.
  auto env = std::make_shared<queue::Envelope>(std::move(e));
  auto db = db_;
  auto inner = inner_;
  committer.submit(
      [env, db, inner](store::Txn& txn) -> Status {
        std::string record =
            store::be64(static_cast<uint64_t>(std::max<int64_t>(env->received_at, 0)));
        record += crypto::seal(inner, queue::encode(*env));
        auto inserted = txn.insert(db, key_for(env->id), record);
        if (!inserted) return make_error(inserted.error());
        if (!*inserted) return make_error("queue id collision");
        return {};
      },
      std::move(done));
}

void InboundQueue::remove(store::GroupCommitter& committer, const std::string& id,
                          std::function<void(Status)> done) {
  if (!writable_) {
    done(make_error("inbound queue opened read-only"));
    return;
  }
  auto db = db_;
  committer.submit(
      [db, key = key_for(id)](store::Txn& txn) -> Status {
        auto r = txn.del(db, key);
        if (!r) return make_error(r.error());
        return {};
      },
      std::move(done));
}

Result<std::vector<InboundQueue::Item>> InboundQueue::items() {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  std::vector<Item> out;
  std::string err;
  auto s = store::scan_prefix(*txn, db_, "in/", [&](std::string_view k, std::string_view v) {
    auto t = store::read_be64(v, 0);
    if (!t || v.size() < kTimeBytes + crypto::kSealOverhead) {
      err = "inbound record " + std::string(k.substr(3)) + " is too short";
      return false;
    }
    out.push_back(Item{std::string(k.substr(3)), static_cast<int64_t>(*t)});
    return true;
  });
  if (!s) return make_error(s.error());
  if (!err.empty()) return make_error(err);
  return out;
}

Result<std::vector<std::string>> InboundQueue::list() {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  std::vector<std::string> ids;
  auto s = store::scan_prefix(*txn, db_, "in/", [&](std::string_view k, std::string_view) {
    ids.emplace_back(k.substr(3));
    return true;
  });
  if (!s) return make_error(s.error());
  return ids;
}

Result<std::string> InboundQueue::sealed(const std::string& id) {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  auto v = txn->get(db_, key_for(id));
  if (!v) return make_error(v.error());
  if (!*v) return make_error("no such message");
  if ((*v)->size() < kTimeBytes + crypto::kSealOverhead) return make_error("record too short");
  return std::string((*v)->substr(kTimeBytes));
}

Result<size_t> InboundQueue::count() {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  size_t n = 0;
  auto s = store::scan_prefix(*txn, db_, "in/", [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  if (!s) return make_error(s.error());
  return n;
}

}  // namespace nj::edge
