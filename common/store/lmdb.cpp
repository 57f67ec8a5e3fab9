#include "common/store/lmdb.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <shared_mutex>

namespace nj::store {

namespace detail {
struct EnvState {
  MDB_env* env = nullptr;
  Options options;
  std::string path;
  // Top-level transactions hold this shared; a map resize holds it exclusively, because
  // mdb_env_set_mapsize remaps and would pull the pages from under a live transaction.
  std::shared_timed_mutex gate;
  ~EnvState() {
    if (env) mdb_env_close(env);
  }
};
}  // namespace detail

namespace {

MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
std::string_view from_val(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}
Error lmdb_error(const char* what, int rc) {
  return make_error(std::string("store: ") + what + ": " + mdb_strerror(rc));
}

Status make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_error("store: " + dir + ": cannot create directory: " + std::strerror(errno));
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error("store: " + dir + ": not a directory");
  }
  return {};
}

}  // namespace

// ---- Env ----

Env::Env(std::unique_ptr<detail::EnvState> s) : s_(std::move(s)) {}
Env::Env(Env&&) noexcept = default;
Env& Env::operator=(Env&&) noexcept = default;
Env::~Env() = default;

Result<Env> Env::open(const std::string& dir, const Options& options) {
  if (auto st = make_dir(dir); !st) return make_error(st.error());
  auto s = std::make_unique<detail::EnvState>();
  s->options = options;
  s->path = dir;
  int rc = mdb_env_create(&s->env);
  if (rc != 0) return lmdb_error("mdb_env_create", rc);
  if ((rc = mdb_env_set_mapsize(s->env, options.map_size)) != 0)
    return lmdb_error("set_mapsize", rc);
  if ((rc = mdb_env_set_maxdbs(s->env, options.max_dbs)) != 0) return lmdb_error("set_maxdbs", rc);
  if ((rc = mdb_env_set_maxreaders(s->env, options.max_readers)) != 0)
    return lmdb_error("set_maxreaders", rc);
  // No MDB_NOSYNC / MDB_NOMETASYNC / MDB_WRITEMAP: durability on commit, nested txns allowed.
  rc = mdb_env_open(s->env, dir.c_str(), MDB_NOTLS, 0600);
  if (rc != 0) {
    return make_error("store: " + dir + ": cannot open: " + mdb_strerror(rc));
  }
  // A store created earlier with a bigger map keeps its size.
  MDB_envinfo info;
  if (mdb_env_info(s->env, &info) == 0 && info.me_mapsize > s->options.map_size) {
    s->options.map_size = info.me_mapsize;
  }
  return Env(std::move(s));
}

Result<Txn> Env::begin_read() {
  s_->gate.lock_shared();
  MDB_txn* t = nullptr;
  int rc = mdb_txn_begin(s_->env, nullptr, MDB_RDONLY, &t);
  if (rc == MDB_MAP_RESIZED) {
    // Another process grew the map; adopt its size (needs no open transaction here).
    s_->gate.unlock_shared();
    if (auto st = grow_map(0); !st) return make_error(st.error());
    s_->gate.lock_shared();
    rc = mdb_txn_begin(s_->env, nullptr, MDB_RDONLY, &t);
  }
  if (rc != 0) {
    s_->gate.unlock_shared();
    return lmdb_error("begin read transaction", rc);
  }
  return Txn(t, true, s_.get(), true);
}

Result<Txn> Env::begin_write() {
  s_->gate.lock_shared();
  MDB_txn* t = nullptr;
  int rc = mdb_txn_begin(s_->env, nullptr, 0, &t);
  if (rc == MDB_MAP_RESIZED) {
    s_->gate.unlock_shared();
    if (auto st = grow_map(0); !st) return make_error(st.error());
    s_->gate.lock_shared();
    rc = mdb_txn_begin(s_->env, nullptr, 0, &t);
  }
  if (rc != 0) {
    s_->gate.unlock_shared();
    return lmdb_error("begin write transaction", rc);
  }
  return Txn(t, false, s_.get(), true);
}

Result<Dbi> Env::open_dbi(std::string_view name, bool create) {
  auto txn = begin_write();
  if (!txn) return make_error(txn.error());
  auto db = txn->open_dbi(name, create);
  if (!db) return db;
  if (auto st = txn->commit(); !st) return make_error(st.error());
  return db;
}

namespace {
Result<uint32_t> parse_version(std::string_view s) {
  if (s.empty() || s.size() > 9) return make_error("store: meta: bad schema version record");
  uint32_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return make_error("store: meta: bad schema version record");
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  return n;
}
}  // namespace

Result<std::optional<uint32_t>> Env::schema_version(std::string_view name) {
  auto txn = begin_read();
  if (!txn) return make_error(txn.error());
  Dbi meta;
  int rc = mdb_dbi_open(txn->raw(), "meta", 0, &meta.id);
  if (rc == MDB_NOTFOUND) return std::optional<uint32_t>{};
  if (rc != 0) return lmdb_error("open meta", rc);
  auto v = txn->get(meta, "schema/" + std::string(name));
  if (!v) return make_error(v.error());
  if (!v->has_value()) return std::optional<uint32_t>{};
  auto n = parse_version(**v);
  if (!n) return make_error(n.error());
  return std::optional<uint32_t>(*n);
}

Status Env::ensure_schema(std::string_view name, uint32_t version, const Migrations& migrations) {
  // One write transaction from the version check to the last migration step, so two processes
  // cannot both migrate and a failing step leaves the store as it was.
  auto txn = begin_write();
  if (!txn) return make_error(txn.error());
  auto meta = txn->open_dbi("meta", true);
  if (!meta) return make_error(meta.error());
  const std::string key = "schema/" + std::string(name);
  auto cur = txn->get(*meta, key);
  if (!cur) return make_error(cur.error());
  if (!cur->has_value()) {
    if (auto st = txn->put(*meta, key, std::to_string(version)); !st) return st;
    return txn->commit();
  }
  auto have = parse_version(**cur);
  if (!have) return make_error(have.error());
  if (*have > version) {
    return make_error("store: " + s_->path + ": schema '" + std::string(name) + "' is version " +
                      std::to_string(*have) + ", newer than this program's " +
                      std::to_string(version) + "; refusing to open (downgrade is not supported)");
  }
  if (*have == version) return {};
  for (uint32_t v = *have; v < version; ++v) {
    auto it = migrations.find(v);
    if (it == migrations.end()) {
      return make_error("store: schema '" + std::string(name) + "': no migration from version " +
                        std::to_string(v) + " to " + std::to_string(v + 1));
    }
    if (auto st = it->second(*txn); !st) {
      return make_error("store: schema '" + std::string(name) + "': migration " +
                        std::to_string(v) + " -> " + std::to_string(v + 1) +
                        " failed: " + st.error());
    }
  }
  if (auto st = txn->put(*meta, key, std::to_string(version)); !st) return st;
  return txn->commit();
}

Status Env::grow_map(size_t new_size, unsigned wait_ms) {
  std::unique_lock<std::shared_timed_mutex> lock(s_->gate, std::defer_lock);
  if (!lock.try_lock_for(std::chrono::milliseconds(wait_ms))) {
    return make_error("store: temporarily full: cannot grow the map while transactions are open");
  }
  int rc = mdb_env_set_mapsize(s_->env, new_size);
  if (rc != 0) return lmdb_error("grow map", rc);
  MDB_envinfo info;
  if (mdb_env_info(s_->env, &info) == 0) s_->options.map_size = info.me_mapsize;
  return {};
}

size_t Env::map_size() const {
  return s_->options.map_size;
}
const Options& Env::options() const {
  return s_->options;
}
const std::string& Env::path() const {
  return s_->path;
}
MDB_env* Env::raw() const {
  return s_->env;
}

// ---- Txn ----

Txn::Txn(MDB_txn* t, bool read_only, detail::EnvState* env, bool holds_gate)
    : txn_(t), read_only_(read_only), holds_gate_(holds_gate), env_(env) {}

Txn::Txn(Txn&& o) noexcept
    : txn_(o.txn_),
      read_only_(o.read_only_),
      map_full_(o.map_full_),
      holds_gate_(o.holds_gate_),
      env_(o.env_) {
  o.txn_ = nullptr;
  o.holds_gate_ = false;
}

Txn& Txn::operator=(Txn&& o) noexcept {
  if (this != &o) {
    abort();
    txn_ = o.txn_;
    read_only_ = o.read_only_;
    map_full_ = o.map_full_;
    holds_gate_ = o.holds_gate_;
    env_ = o.env_;
    o.txn_ = nullptr;
    o.holds_gate_ = false;
  }
  return *this;
}

Txn::~Txn() {
  abort();
}

void Txn::release() {
  txn_ = nullptr;
  if (holds_gate_) {
    holds_gate_ = false;
    env_->gate.unlock_shared();
  }
}

void Txn::abort() {
  if (txn_) mdb_txn_abort(txn_);
  release();
}

Status Txn::fail(int rc, const char* what) {
  if (rc == MDB_MAP_FULL) map_full_ = true;
  return lmdb_error(what, rc);
}

Status Txn::commit() {
  if (!txn_) return make_error("store: commit: transaction is not live");
  int rc = mdb_txn_commit(txn_);
  // LMDB frees the handle on commit whether or not it succeeded.
  release();
  if (rc != 0) return fail(rc, "commit");
  return {};
}

Result<Txn> Txn::child() {
  if (!txn_ || read_only_) return make_error("store: child transaction needs a live write txn");
  MDB_txn* c = nullptr;
  int rc = mdb_txn_begin(env_->env, txn_, 0, &c);
  if (rc != 0) return make_error(fail(rc, "begin child transaction").error());
  return Txn(c, false, env_, false);
}

Result<Dbi> Txn::open_dbi(std::string_view name, bool create) {
  if (!txn_) return make_error("store: open_dbi: transaction is not live");
  std::string n(name);
  Dbi db;
  int rc = mdb_dbi_open(txn_, n.c_str(), create && !read_only_ ? MDB_CREATE : 0, &db.id);
  if (rc != 0) return make_error("store: open database '" + n + "': " + mdb_strerror(rc));
  return db;
}

Result<std::optional<std::string_view>> Txn::get(Dbi db, std::string_view key) {
  if (!txn_) return make_error("store: get: transaction is not live");
  MDB_val k = to_val(key), v{0, nullptr};
  int rc = mdb_get(txn_, db.id, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>{};
  if (rc != 0) return make_error(fail(rc, "get").error());
  return std::optional<std::string_view>(from_val(v));
}

Status Txn::put(Dbi db, std::string_view key, std::string_view value) {
  if (!txn_) return make_error("store: put: transaction is not live");
  MDB_val k = to_val(key), v = to_val(value);
  int rc = mdb_put(txn_, db.id, &k, &v, 0);
  if (rc != 0) return fail(rc, "put");
  return {};
}

Result<bool> Txn::insert(Dbi db, std::string_view key, std::string_view value) {
  if (!txn_) return make_error("store: insert: transaction is not live");
  MDB_val k = to_val(key), v = to_val(value);
  int rc = mdb_put(txn_, db.id, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return false;
  if (rc != 0) return make_error(fail(rc, "insert").error());
  return true;
}

Result<bool> Txn::del(Dbi db, std::string_view key) {
  if (!txn_) return make_error("store: del: transaction is not live");
  MDB_val k = to_val(key);
  int rc = mdb_del(txn_, db.id, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return make_error(fail(rc, "del").error());
  return true;
}

// ---- Cursor ----

Result<Cursor> Cursor::open(Txn& txn, Dbi db) {
  if (!txn.live()) return make_error("store: cursor: transaction is not live");
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(txn.raw(), db.id, &c);
  if (rc != 0) return lmdb_error("cursor open", rc);
  return Cursor(c);
}

Cursor::Cursor(Cursor&& o) noexcept : c_(o.c_), key_(o.key_), value_(o.value_) {
  o.c_ = nullptr;
}
Cursor& Cursor::operator=(Cursor&& o) noexcept {
  if (this != &o) {
    if (c_) mdb_cursor_close(c_);
    c_ = o.c_;
    key_ = o.key_;
    value_ = o.value_;
    o.c_ = nullptr;
  }
  return *this;
}
Cursor::~Cursor() {
  if (c_) mdb_cursor_close(c_);
}

Result<bool> Cursor::move(MDB_cursor_op op, std::string_view seek_key) {
  MDB_val k = to_val(seek_key), v{0, nullptr};
  int rc = mdb_cursor_get(c_, &k, &v, op);
  if (rc == MDB_NOTFOUND) {
    key_ = value_ = {};
    return false;
  }
  if (rc != 0) return lmdb_error("cursor", rc);
  key_ = from_val(k);
  value_ = from_val(v);
  return true;
}

Result<bool> Cursor::first() {
  return move(MDB_FIRST);
}
Result<bool> Cursor::last() {
  return move(MDB_LAST);
}
Result<bool> Cursor::next() {
  return move(MDB_NEXT);
}
Result<bool> Cursor::prev() {
  return move(MDB_PREV);
}
Result<bool> Cursor::current() {
  return move(MDB_GET_CURRENT);
}
Result<bool> Cursor::seek(std::string_view key) {
  // LMDB rejects zero-length keys; "the first key >= empty" is simply the first key.
  if (key.empty()) return first();
  return move(MDB_SET_RANGE, key);
}

Status Cursor::del() {
  int rc = mdb_cursor_del(c_, 0);
  if (rc != 0) return lmdb_error("cursor del", rc);
  return {};
}

// ---- scans ----

Status scan_range(Txn& txn, Dbi db, std::string_view from, std::string_view to,
                  const Visitor& visit) {
  auto c = Cursor::open(txn, db);
  if (!c) return make_error(c.error());
  for (auto r = c->seek(from);; r = c->next()) {
    if (!r) return make_error(r.error());
    if (!*r) return {};
    if (!to.empty() && c->key() >= to) return {};
    if (!visit(c->key(), c->value())) return {};
  }
}

Status scan_prefix(Txn& txn, Dbi db, std::string_view prefix, const Visitor& visit) {
  auto c = Cursor::open(txn, db);
  if (!c) return make_error(c.error());
  for (auto r = c->seek(prefix);; r = c->next()) {
    if (!r) return make_error(r.error());
    if (!*r) return {};
    if (c->key().substr(0, prefix.size()) != prefix) return {};
    if (!visit(c->key(), c->value())) return {};
  }
}

// ---- big-endian keys ----

void append_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

std::string be64(uint64_t v) {
  std::string s;
  s.reserve(8);
  append_be64(s, v);
  return s;
}

std::optional<uint64_t> read_be64(std::string_view in, size_t offset) {
  if (offset > in.size() || in.size() - offset < 8) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[offset + i]);
  return v;
}

}  // namespace nj::store
