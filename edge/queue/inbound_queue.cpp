#include "edge/queue/inbound_queue.h"

namespace nj::edge {

Result<std::unique_ptr<InboundQueue>> InboundQueue::open(store::Env& env,
                                                         crypto::PublicKey inner) {
  if (auto s = env.ensure_schema(kSchemaName, kSchemaVersion); !s) return make_error(s.error());
  auto db = env.open_dbi("inbound");
  if (!db) return make_error(db.error());
  return std::unique_ptr<InboundQueue>(new InboundQueue(env, *db, inner));
}

void InboundQueue::enqueue(store::GroupCommitter& committer, queue::Envelope e,
                           std::function<void(Status)> done) {
  // Sealing runs on the writer thread, inside the batch, so the loop thread keeps serving
  // sessions while messages are encrypted. The plaintext never reaches the store.
  auto env = std::make_shared<queue::Envelope>(std::move(e));
  auto db = db_;
  auto inner = inner_;
  committer.submit(
      [env, db, inner](store::Txn& txn) -> Status {
        std::string sealed = crypto::seal(inner, queue::encode(*env));
        auto inserted = txn.insert(db, key_for(env->id), sealed);
        if (!inserted) return make_error(inserted.error());
        if (!*inserted) return make_error("queue id collision");
        return {};
      },
      std::move(done));
}

void InboundQueue::remove(store::GroupCommitter& committer, const std::string& id,
                          std::function<void(Status)> done) {
  auto db = db_;
  committer.submit(
      [db, key = key_for(id)](store::Txn& txn) -> Status {
        auto r = txn.del(db, key);
        if (!r) return make_error(r.error());
        return {};
      },
      std::move(done));
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
  return std::string(**v);
}

Result<size_t> InboundQueue::count() {
  auto ids = list();
  if (!ids) return make_error(ids.error());
  return ids->size();
}

}  // namespace nj::edge
