#include "inner/accounts/accounts.h"

#include <algorithm>
#include <cstring>

#include "common/mail/address.h"

namespace nj::inner {
namespace {

constexpr uint8_t kRecordVersion = 1;
constexpr size_t kMaxAddressBox = mail::kMaxPath + crypto::kAeadOverhead;
constexpr size_t kMaxPwhash = 256;
constexpr size_t kWrappedBytes = crypto::kKeyBytes + crypto::kAeadOverhead;
constexpr size_t kDirKeyBytes = 64;  // 32 for the address AEAD, 32 for the index hash

const std::string kDirKeyName = "dirkey";

std::string record_key(std::string_view id) {
  return "a/" + std::string(id);
}
std::string addr_ad(std::string_view id) {
  return "addr/" + std::string(id);
}
std::string secret_ad(std::string_view id) {
  return "sk/" + std::string(id);
}

// ---- bounded binary encoding ----

void put_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}
void put_u32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}
void put_str(std::string& out, std::string_view s) {
  put_u16(out, static_cast<uint16_t>(s.size()));
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(uint8_t& v) {
    if (in_.size() < 1) return false;
    v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool u32(uint32_t& v) {
    if (in_.size() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(4);
    return true;
  }
  bool u64(uint64_t& v) {
    auto r = store::read_be64(in_);
    if (!r) return false;
    v = *r;
    in_.remove_prefix(8);
    return true;
  }
  bool str(std::string& s, size_t max) {
    if (in_.size() < 2) return false;
    size_t n = (static_cast<uint8_t>(in_[0]) << 8) | static_cast<uint8_t>(in_[1]);
    if (n > max || in_.size() < 2 + n) return false;
    s.assign(in_.substr(2, n));
    in_.remove_prefix(2 + n);
    return true;
  }
  bool exact(std::string& s, size_t n) { return str(s, n) && s.size() == n; }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

bool printable_no_space(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

// ---- settings ----

Status validate_setting(std::string_view key, std::string_view value) {
  if (key.empty() || key.size() > kMaxSettingKey) return make_error("setting name length");
  if (key[0] < 'a' || key[0] > 'z') return make_error("setting name must start with a-z");
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return make_error("setting name may hold only a-z 0-9 _ . -");
  }
  if (value.empty() || value.size() > kMaxSettingValue) return make_error("setting value length");
  if (!printable_no_space(value)) {
    return make_error("setting value must be printable ASCII without spaces");
  }
  return {};
}

Result<std::pair<std::string, std::string>> parse_setting(std::string_view kv) {
  auto eq = kv.find('=');
  if (eq == std::string_view::npos) return make_error("setting must be KEY=VALUE");
  auto key = kv.substr(0, eq), value = kv.substr(eq + 1);
  if (auto s = validate_setting(key, value); !s) return make_error(s.error());
  return std::make_pair(std::string(key), std::string(value));
}

// ---- record ----

std::string encode_record(const AccountRecord& r) {
  std::string out;
  out.push_back(static_cast<char>(kRecordVersion));
  put_str(out, r.address_box);
  put_str(out, r.pwhash);
  put_str(out, r.salt);
  store::append_be64(out, r.kdf_ops);
  store::append_be64(out, r.kdf_mem);
  put_str(out, r.pub.view());
  put_str(out, r.wrapped_secret);
  store::append_be64(out, static_cast<uint64_t>(r.created));
  store::append_be64(out, static_cast<uint64_t>(r.key_created));
  put_u32(out, r.key_generation);
  put_u32(out, static_cast<uint32_t>(r.settings.size()));
  for (const auto& [k, v] : r.settings) {
    put_str(out, k);
    put_str(out, v);
  }
  return out;
}

Result<AccountRecord> decode_record(std::string_view in) {
  if (in.size() > kMaxRecordBytes) return make_error("account record too large");
  Reader rd(in);
  AccountRecord r;
  uint8_t version = 0;
  uint64_t created = 0, key_created = 0;
  uint32_t nsettings = 0;
  std::string pub;
  if (!rd.u8(version) || version != kRecordVersion) return make_error("account record version");
  if (!rd.str(r.address_box, kMaxAddressBox) || r.address_box.size() <= crypto::kAeadOverhead ||
      !rd.str(r.pwhash, kMaxPwhash) || r.pwhash.empty() || !rd.exact(r.salt, crypto::kSaltBytes) ||
      !rd.u64(r.kdf_ops) || !rd.u64(r.kdf_mem) || !rd.exact(pub, crypto::kKeyBytes) ||
      !rd.exact(r.wrapped_secret, kWrappedBytes) || !rd.u64(created) || !rd.u64(key_created) ||
      !rd.u32(r.key_generation) || !rd.u32(nsettings)) {
    return make_error("account record truncated or malformed");
  }
  if (nsettings > kMaxSettings) return make_error("account record: too many settings");
  for (uint32_t i = 0; i < nsettings; ++i) {
    std::string k, v;
    if (!rd.str(k, kMaxSettingKey) || !rd.str(v, kMaxSettingValue)) {
      return make_error("account record: malformed setting");
    }
    if (!validate_setting(k, v)) return make_error("account record: invalid setting");
    if (!r.settings.emplace(std::move(k), std::move(v)).second) {
      return make_error("account record: duplicate setting");
    }
  }
  if (!rd.done()) return make_error("account record: trailing bytes");
  r.pub = *crypto::PublicKey::from_bytes(pub);
  r.created = static_cast<int64_t>(created);
  r.key_created = static_cast<int64_t>(key_created);
  return r;
}

Status zero_then_delete(store::Txn& txn, store::Dbi db, std::string_view key) {
  auto v = txn.get(db, key);
  if (!v) return make_error(v.error());
  if (!*v) return {};
  std::string zeros((*v)->size(), '\0');
  if (auto s = txn.put(db, key, zeros); !s) return s;
  auto d = txn.del(db, key);
  if (!d) return make_error(d.error());
  return {};
}

// ---- Accounts ----

Accounts::Accounts(store::Env& env, store::Dbi db, Options options, const Clock& clock,
                   crypto::AeadKey dirkey, crypto::HashKey index_key)
    : env_(env),
      db_(db),
      options_(std::move(options)),
      clock_(clock),
      dirkey_(std::move(dirkey)),
      index_hash_key_(std::move(index_key)) {}

Result<std::unique_ptr<Accounts>> Accounts::open(store::Env& env, Options options,
                                                 const Clock& clock) {
  crypto::init();
  if (!mail::is_valid_domain(options.internal_domain)) {
    return make_error("accounts: the internal domain is not a valid domain name");
  }
  std::transform(options.internal_domain.begin(), options.internal_domain.end(),
                 options.internal_domain.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (auto s = env.ensure_schema(kSchemaName, kSchemaVersion); !s) return make_error(s.error());
  auto db = env.open_dbi("accounts");
  if (!db) return make_error(db.error());

  // The directory key is made once, by whichever process opens the store first.
  {
    auto txn = env.begin_write();
    if (!txn) return make_error(txn.error());
    auto ins = txn->insert(*db, kDirKeyName, crypto::random_bytes(kDirKeyBytes));
    if (!ins) return make_error(ins.error());
    if (*ins) {
      if (auto s = txn->commit(); !s) return make_error(s.error());
    }
  }
  auto txn = env.begin_read();
  if (!txn) return make_error(txn.error());
  auto raw = txn->get(*db, kDirKeyName);
  if (!raw) return make_error(raw.error());
  if (!*raw || (*raw)->size() != kDirKeyBytes) return make_error("accounts: directory key damaged");
  auto aead = crypto::AeadKey::from_bytes((*raw)->substr(0, 32));
  auto hash = crypto::HashKey::from_bytes((*raw)->substr(32, 32));
  if (!aead || !hash) return make_error("accounts: directory key damaged");
  return std::unique_ptr<Accounts>(
      new Accounts(env, *db, std::move(options), clock, std::move(*aead), std::move(*hash)));
}

Result<std::string> Accounts::canonical_address(std::string_view address) const {
  if (address.empty() || address.size() + 2 > mail::kMaxPath) {
    return make_error("address is empty or too long");
  }
  auto m = mail::parse_forward_path("<" + std::string(address) + ">", false);
  if (!m) return make_error("not a valid address: " + m.error());
  if (m->is_postmaster_only() || m->domain.empty()) return make_error("address needs a domain");
  if (m->quoted) return make_error("quoted local parts are not allowed for accounts");
  if (m->domain != options_.internal_domain) {
    return make_error("address is not on the internal domain");
  }
  std::string local = m->normalized_local();
  std::transform(local.begin(), local.end(), local.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return local + "@" + m->domain;
}

std::string Accounts::index_key(std::string_view canonical) const {
  return "i/" + std::string(crypto::digest_view(crypto::keyed_hash(index_hash_key_, canonical)));
}

Result<std::optional<std::pair<std::string, AccountRecord>>> Accounts::lookup(
    store::Txn& txn, std::string_view canonical) {
  using Found = std::optional<std::pair<std::string, AccountRecord>>;
  auto id = txn.get(db_, index_key(canonical));
  if (!id) return make_error(id.error());
  if (!*id) return Found{};
  std::string account_id(**id);
  auto rec = txn.get(db_, record_key(account_id));
  if (!rec) return make_error(rec.error());
  if (!*rec) return make_error("accounts: index entry without a record");
  auto r = decode_record(**rec);
  if (!r) return make_error(r.error());
  return Found{std::make_pair(std::move(account_id), std::move(*r))};
}

Status Accounts::set_password(AccountRecord& r, const std::string& id, std::string_view password,
                              const crypto::SecretKey& secret) const {
  if (password.empty()) return make_error("empty password");
  if (password.size() > kMaxPasswordBytes) return make_error("password too long");
  auto hash = crypto::hash_password(password, options_.limits);
  if (!hash) return make_error(hash.error());
  std::string salt = crypto::random_bytes(crypto::kSaltBytes);
  auto wrap = crypto::derive_key(password, salt, options_.limits);
  if (!wrap) return make_error(wrap.error());
  auto key = crypto::AeadKey::from_bytes(wrap->view());
  if (!key) return make_error(key.error());
  r.pwhash = std::move(*hash);
  r.salt = std::move(salt);
  r.kdf_ops = options_.limits.ops;
  r.kdf_mem = options_.limits.mem;
  r.wrapped_secret = crypto::aead_encrypt(
      *key, std::string_view(reinterpret_cast<const char*>(secret.data()), secret.size()),
      secret_ad(id));
  return {};
}

Result<crypto::KeyPair> Accounts::unwrap(const AccountRecord& r, const std::string& id,
                                         std::string_view password) const {
  crypto::PwhashLimits limits{r.kdf_ops, static_cast<size_t>(r.kdf_mem)};
  auto wrap = crypto::derive_key(password, r.salt, limits);
  if (!wrap) return make_error(wrap.error());
  auto key = crypto::AeadKey::from_bytes(wrap->view());
  if (!key) return make_error(key.error());
  auto secret = crypto::aead_decrypt(*key, r.wrapped_secret, secret_ad(id));
  if (!secret) return make_error("secret key does not unwrap");
  auto sb = crypto::SecureBytes::copy_of(*secret);
  // The plain copy in a std::string is wiped before it is freed.
  std::fill(secret->begin(), secret->end(), '\0');
  auto kp = crypto::KeyPair::from_secret(crypto::SecretKey(std::move(sb)));
  if (!kp) return make_error(kp.error());
  if (!(kp->pub == r.pub)) return make_error("unwrapped secret key does not match the public key");
  return kp;
}

Result<AccountInfo> Accounts::info_of(const std::string& id, const AccountRecord& r) const {
  auto addr = crypto::aead_decrypt(dirkey_, r.address_box, addr_ad(id));
  if (!addr) return make_error("accounts: address of an account does not decrypt");
  AccountInfo i;
  i.address = std::move(*addr);
  i.id = id;
  i.created = r.created;
  i.key_created = r.key_created;
  i.key_generation = r.key_generation;
  i.pub = r.pub;
  i.kdf_ops = r.kdf_ops;
  i.kdf_mem = r.kdf_mem;
  i.settings = r.settings;
  return i;
}

Status Accounts::create(store::GroupCommitter& gc, std::string_view address,
                        std::string_view password) {
  auto canonical = canonical_address(address);
  if (!canonical) return make_error(canonical.error());
  std::string id = crypto::random_id();
  auto kp = crypto::KeyPair::generate();
  AccountRecord r;
  r.address_box = crypto::aead_encrypt(dirkey_, *canonical, addr_ad(id));
  r.pub = kp.pub;
  r.created = r.key_created = clock_.now();
  r.key_generation = 1;
  if (auto s = set_password(r, id, password, kp.sec); !s) return s;
  auto db = db_;
  auto ikey = index_key(*canonical);
  auto value = encode_record(r);
  return gc.commit_now([db, ikey, id, value](store::Txn& txn) -> Status {
    auto ins = txn.insert(db, ikey, id);
    if (!ins) return make_error(ins.error());
    if (!*ins) return make_error("account exists");
    auto rec = txn.insert(db, record_key(id), value);
    if (!rec) return make_error(rec.error());
    if (!*rec) return make_error("account id collision");
    return {};
  });
}

VerifyResult Accounts::verify(std::string_view address, std::string_view password) {
  VerifyResult out;
  auto canonical = canonical_address(address);
  std::optional<std::pair<std::string, AccountRecord>> found;
  if (canonical) {
    auto txn = env_.begin_read();
    if (!txn) {
      out.error = txn.error();
      return out;
    }
    auto f = lookup(*txn, *canonical);
    if (!f) {
      out.error = f.error();
      return out;
    }
    found = std::move(*f);
  }
  if (!found) {
    // Spend the same Argon2id work as for a real account, so response time does not say which
    // names exist.
    std::string salt(crypto::kSaltBytes, '\0');
    (void)crypto::derive_key(password.substr(0, kMaxPasswordBytes), salt, options_.limits);
    (void)crypto::derive_key(password.substr(0, kMaxPasswordBytes), salt, options_.limits);
    out.status = VerifyStatus::no_such_account;
    return out;
  }
  const auto& [id, rec] = *found;
  if (password.size() > kMaxPasswordBytes || !crypto::verify_password(rec.pwhash, password)) {
    out.status = VerifyStatus::bad_password;
    return out;
  }
  auto kp = unwrap(rec, id, password);
  if (!kp) {
    out.error = kp.error();
    return out;
  }
  auto info = info_of(id, rec);
  if (!info) {
    out.error = info.error();
    return out;
  }
  out.status = VerifyStatus::ok;
  out.session = Session{id, info->address, std::move(*kp)};
  return out;
}

Result<std::optional<Recipient>> Accounts::recipient(std::string_view address) {
  auto canonical = canonical_address(address);
  if (!canonical) return std::optional<Recipient>{};
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  auto f = lookup(*txn, *canonical);
  if (!f) return make_error(f.error());
  if (!*f) return std::optional<Recipient>{};
  return std::optional<Recipient>{Recipient{(*f)->first, (*f)->second.pub}};
}

Result<crypto::PublicKey> Accounts::public_key(std::string_view address) {
  auto r = recipient(address);
  if (!r) return make_error(r.error());
  if (!*r) return make_error("no such account");
  return (*r)->pub;
}

Result<std::optional<crypto::PublicKey>> Accounts::public_key_in(store::Txn& txn,
                                                                 std::string_view account_id) {
  auto rec = txn.get(db_, record_key(account_id));
  if (!rec) return make_error(rec.error());
  if (!*rec) return std::optional<crypto::PublicKey>{};
  auto r = decode_record(**rec);
  if (!r) return make_error(r.error());
  return std::optional<crypto::PublicKey>{r->pub};
}

Status Accounts::update(store::GroupCommitter& gc, std::string_view canonical,
                        const std::function<Status(const std::string&, AccountRecord&)>& edit) {
  auto db = db_;
  auto ikey = index_key(canonical);
  // The edit is applied to the record as it is inside the write transaction, so a concurrent
  // change from another process is not overwritten with a stale copy.
  return gc.commit_now([db, ikey, &edit](store::Txn& txn) -> Status {
    auto id = txn.get(db, ikey);
    if (!id) return make_error(id.error());
    if (!*id) return make_error("no such account");
    std::string account_id(**id);
    auto raw = txn.get(db, record_key(account_id));
    if (!raw) return make_error(raw.error());
    if (!*raw) return make_error("accounts: index entry without a record");
    auto r = decode_record(**raw);
    if (!r) return make_error(r.error());
    if (auto s = edit(account_id, *r); !s) return s;
    return txn.put(db, record_key(account_id), encode_record(*r));
  });
}

VerifyResult Accounts::change_password(store::GroupCommitter& gc, std::string_view address,
                                       std::string_view old_password,
                                       std::string_view new_password) {
  auto v = verify(address, old_password);
  if (v.status != VerifyStatus::ok) return v;
  const Session& s = *v.session;
  AccountRecord fresh;
  if (auto st = set_password(fresh, s.id, new_password, s.keys.sec); !st) {
    v.status = VerifyStatus::store_error;
    v.error = st.error();
    v.session.reset();
    return v;
  }
  auto canonical = canonical_address(address);
  auto st = update(gc, *canonical, [&](const std::string& id, AccountRecord& r) -> Status {
    // A reset between our verify and this commit minted another key pair: do not wrap the old
    // secret over it.
    if (id != s.id || !(r.pub == s.keys.pub)) return make_error("account changed meanwhile");
    r.pwhash = fresh.pwhash;
    r.salt = fresh.salt;
    r.kdf_ops = fresh.kdf_ops;
    r.kdf_mem = fresh.kdf_mem;
    r.wrapped_secret = fresh.wrapped_secret;
    return {};
  });
  if (!st) {
    v.status = VerifyStatus::store_error;
    v.error = st.error();
    v.session.reset();
  }
  return v;
}

Result<ResetResult> Accounts::reset_password(store::GroupCommitter& gc, std::string_view address,
                                             std::string_view new_password) {
  auto canonical = canonical_address(address);
  if (!canonical) return make_error(canonical.error());
  auto who = recipient(*canonical);
  if (!who) return make_error(who.error());
  if (!*who) return make_error("no such account");
  const std::string id = (*who)->id;
  auto kp = crypto::KeyPair::generate();
  AccountRecord fresh;
  if (auto s = set_password(fresh, id, new_password, kp.sec); !s) return make_error(s.error());
  const int64_t now = clock_.now();
  auto st = update(gc, *canonical, [&](const std::string& got, AccountRecord& r) -> Status {
    if (got != id) return make_error("account changed meanwhile");
    r.pwhash = fresh.pwhash;
    r.salt = fresh.salt;
    r.kdf_ops = fresh.kdf_ops;
    r.kdf_mem = fresh.kdf_mem;
    r.wrapped_secret = fresh.wrapped_secret;
    r.pub = kp.pub;
    r.key_created = now;
    r.key_generation++;
    return {};
  });
  if (!st) return make_error(st.error());
  ResetResult out;
  out.old_mail_unreadable = true;
  out.new_pub = kp.pub;
  return out;
}

Status Accounts::remove(store::GroupCommitter& gc, std::string_view address) {
  auto canonical = canonical_address(address);
  if (!canonical) return make_error(canonical.error());
  auto db = db_;
  auto ikey = index_key(*canonical);
  return gc.commit_now([this, db, ikey](store::Txn& txn) -> Status {
    auto id = txn.get(db, ikey);
    if (!id) return make_error(id.error());
    if (!*id) return make_error("no such account");
    std::string account_id(**id);
    for (const auto& erase : erasers_) {
      if (auto s = erase(txn, account_id); !s) return s;
    }
    if (auto s = zero_then_delete(txn, db, record_key(account_id)); !s) return s;
    return zero_then_delete(txn, db, ikey);
  });
}

Result<std::vector<AccountInfo>> Accounts::list() {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  std::vector<AccountInfo> out;
  std::string problem;
  auto s = store::scan_prefix(*txn, db_, "a/", [&](std::string_view k, std::string_view v) {
    auto r = decode_record(v);
    if (!r) {
      problem = r.error();
      return false;
    }
    auto info = info_of(std::string(k.substr(2)), *r);
    if (!info) {
      problem = info.error();
      return false;
    }
    out.push_back(std::move(*info));
    return true;
  });
  if (!s) return make_error(s.error());
  if (!problem.empty()) return make_error(problem);
  std::sort(out.begin(), out.end(),
            [](const AccountInfo& a, const AccountInfo& b) { return a.address < b.address; });
  return out;
}

Result<std::optional<AccountInfo>> Accounts::show(std::string_view address) {
  auto canonical = canonical_address(address);
  if (!canonical) return make_error(canonical.error());
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  auto f = lookup(*txn, *canonical);
  if (!f) return make_error(f.error());
  if (!*f) return std::optional<AccountInfo>{};
  auto info = info_of((*f)->first, (*f)->second);
  if (!info) return make_error(info.error());
  return std::optional<AccountInfo>{std::move(*info)};
}

Status Accounts::set_setting(store::GroupCommitter& gc, std::string_view address,
                             std::string_view key, std::string_view value) {
  if (auto s = validate_setting(key, value); !s) return s;
  auto canonical = canonical_address(address);
  if (!canonical) return make_error(canonical.error());
  return update(gc, *canonical, [&](const std::string&, AccountRecord& r) -> Status {
    if (!r.settings.count(std::string(key)) && r.settings.size() >= kMaxSettings) {
      return make_error("too many settings");
    }
    r.settings[std::string(key)] = std::string(value);
    return {};
  });
}

Status Accounts::clear_setting(store::GroupCommitter& gc, std::string_view address,
                               std::string_view key) {
  auto canonical = canonical_address(address);
  if (!canonical) return make_error(canonical.error());
  return update(gc, *canonical, [&](const std::string&, AccountRecord& r) -> Status {
    if (r.settings.erase(std::string(key)) == 0) return make_error("no such setting");
    return {};
  });
}

}  // namespace nj::inner
