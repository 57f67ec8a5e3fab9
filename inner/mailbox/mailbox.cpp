#include "inner/mailbox/mailbox.h"

#include <sodium.h>

#include <algorithm>

namespace nj::inner {
namespace {

constexpr uint8_t kMetaVersion = 1;
constexpr size_t kMetaBytes = 1 + 8 + 8 + 1;  // without the UIDL
constexpr size_t kStateBytes = 24;

std::string data_key(std::string_view id, uint64_t seq) {
  std::string k(id);
  k.push_back('/');
  store::append_be64(k, seq);
  return k;
}
std::string meta_prefix(std::string_view id) {
  return "m/" + std::string(id) + "/";
}
std::string meta_key(std::string_view id, uint64_t seq) {
  std::string k = meta_prefix(id);
  store::append_be64(k, seq);
  return k;
}
std::string state_key(std::string_view id) {
  return "s/" + std::string(id);
}

struct State {
  uint64_t next_seq = 1;
  uint64_t stored_bytes = 0;
  uint64_t messages = 0;
};

std::string encode_state(const State& s) {
  std::string out;
  store::append_be64(out, s.next_seq);
  store::append_be64(out, s.stored_bytes);
  store::append_be64(out, s.messages);
  return out;
}

Result<State> read_state(store::Txn& txn, store::Dbi meta, std::string_view id) {
  auto v = txn.get(meta, state_key(id));
  if (!v) return make_error(v.error());
  State s;
  if (!*v) return s;
  if ((*v)->size() != kStateBytes) return make_error("mailbox: state record damaged");
  s.next_seq = *store::read_be64(**v, 0);
  s.stored_bytes = *store::read_be64(**v, 8);
  s.messages = *store::read_be64(**v, 16);
  return s;
}

uint64_t stored_size(uint64_t plain) {
  return plain + crypto::kSealOverhead;
}

bool valid_uidl(std::string_view u) {
  // RFC 1939 7: 1 to 70 characters in the range 0x21 to 0x7E.
  return !u.empty() && u.size() <= kMaxUidl &&
         std::all_of(u.begin(), u.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// A stored message is one format byte and its ciphertext:
//   'S' sealed to the account's public key at delivery (the inner cannot read it);
//   'A' XChaCha20-Poly1305 under the mailbox key, which is derived from the account's secret key
//       and so exists only while the user is logged in. Messages are moved from 'S' to 'A' at
//       login (unseal_all): opening a sealed box costs an X25519 operation, and paying it once per
//       message instead of on every RETR is what makes retrieval fast.
constexpr char kSealed = 'S';
constexpr char kMailboxKey = 'A';

}  // namespace

crypto::AeadKey Mailbox::mailbox_key(const crypto::KeyPair& key) {
  auto hk = crypto::HashKey::from_bytes(
      std::string_view(reinterpret_cast<const char*>(key.sec.data()), key.sec.size()));
  // A 32-byte secret key always makes a hash key; the digest is always 32 bytes.
  auto d = crypto::keyed_hash(*hk, "nightjar mailbox key v1");
  auto k = crypto::AeadKey::from_bytes(crypto::digest_view(d));
  sodium_memzero(d.data(), d.size());
  return std::move(*k);
}

const char* to_string(DeliveryStatus s) {
  switch (s) {
    case DeliveryStatus::ok:
      return "ok";
    case DeliveryStatus::no_such_account:
      return "no such account";
    case DeliveryStatus::over_quota:
      return "mailbox full";
    case DeliveryStatus::too_large:
      return "message larger than the mailbox quota";
    case DeliveryStatus::temp_failure:
      return "temporary store failure";
  }
  return "?";
}

std::string encode_meta(const MessageMeta& m) {
  std::string out;
  out.push_back(static_cast<char>(kMetaVersion));
  store::append_be64(out, m.size);
  store::append_be64(out, static_cast<uint64_t>(m.received));
  out.push_back(static_cast<char>(m.uidl.size()));
  out.append(m.uidl);
  return out;
}

Result<MessageMeta> decode_meta(std::string_view in) {
  if (in.size() < kMetaBytes || in.size() > kMetaBytes + kMaxUidl) {
    return make_error("mailbox: meta record size");
  }
  if (static_cast<uint8_t>(in[0]) != kMetaVersion) return make_error("mailbox: meta version");
  MessageMeta m;
  m.size = *store::read_be64(in, 1);
  m.received = static_cast<int64_t>(*store::read_be64(in, 9));
  size_t n = static_cast<uint8_t>(in[17]);
  if (in.size() != kMetaBytes + n) return make_error("mailbox: meta record length");
  m.uidl.assign(in.substr(kMetaBytes));
  if (!valid_uidl(m.uidl)) return make_error("mailbox: meta UIDL");
  return m;
}

Result<std::unique_ptr<Mailbox>> Mailbox::open(store::Env& env, Accounts& accounts, Options options,
                                               const Clock& clock) {
  if (auto s = env.ensure_schema(kSchemaName, kSchemaVersion); !s) return make_error(s.error());
  auto data = env.open_dbi("mailbox");
  if (!data) return make_error(data.error());
  auto meta = env.open_dbi("mailbox_meta");
  if (!meta) return make_error(meta.error());
  auto d = *data, m = *meta;
  accounts.add_eraser(
      [d, m](store::Txn& txn, std::string_view id) { return erase_all(txn, d, m, id); });
  return std::unique_ptr<Mailbox>(new Mailbox(env, d, m, accounts, options, clock));
}

DeliveryResult Mailbox::deliver_in(store::Txn& txn, std::string_view account_id,
                                  std::string_view message) const {
  DeliveryResult res;
  if (stored_size(message.size()) > options_.max_size) {
    res.status = DeliveryStatus::too_large;
    return res;
  }
  auto pub = accounts_.public_key_in(txn, account_id);
  if (!pub) {
    res.error = pub.error();
    return res;
  }
  if (!*pub) {
    res.status = DeliveryStatus::no_such_account;
    return res;
  }
  auto st = read_state(txn, meta_, account_id);
  if (!st) {
    res.error = st.error();
    return res;
  }
  if (st->stored_bytes + stored_size(message.size()) > options_.max_size) {
    res.status = DeliveryStatus::over_quota;
    return res;
  }
  const uint64_t seq = st->next_seq++;
  MessageMeta meta{message.size(), clock_.now(), crypto::random_id()};
  auto ins = txn.insert(data_, data_key(account_id, seq), kSealed + crypto::seal(**pub, message));
  if (!ins || !*ins) {
    res.error = ins ? "mailbox: sequence number reused" : ins.error();
    return res;
  }
  st->stored_bytes += stored_size(message.size());
  st->messages++;
  Status put = txn.put(meta_, meta_key(account_id, seq), encode_meta(meta));
  if (put) put = txn.put(meta_, state_key(account_id), encode_state(*st));
  if (!put) {
    res.error = put.error();
    return res;
  }
  res.status = DeliveryStatus::ok;
  res.seq = seq;
  return res;
}

void Mailbox::deliver(store::GroupCommitter& gc, std::string account_id, std::string message,
                      DeliverDone done) {
  auto res = std::make_shared<DeliveryResult>();
  auto msg = std::make_shared<const std::string>(std::move(message));
  const Mailbox* self = this;
  gc.submit(
      [=](store::Txn& txn) -> Status {
        // May run again after a map grow: start from nothing each time.
        *res = self->deliver_in(txn, account_id, *msg);
        if (res->status != DeliveryStatus::ok)
          return make_error(res->error.empty() ? to_string(res->status) : res->error);
        return {};
      },
      [res, done = std::move(done)](Status s) {
        DeliveryResult out = *res;
        if (s.ok()) {
          out.status = DeliveryStatus::ok;
        } else if (out.status == DeliveryStatus::ok || out.status == DeliveryStatus::temp_failure) {
          // The work succeeded but its batch did not commit, or the store failed.
          out.status = DeliveryStatus::temp_failure;
          out.seq = 0;
          out.error = s.error();
        }
        done(std::move(out));
      });
}

Result<std::vector<MessageInfo>> Mailbox::list(std::string_view account_id) {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  std::vector<MessageInfo> out;
  std::string problem;
  const std::string prefix = meta_prefix(account_id);
  auto s = store::scan_prefix(*txn, meta_, prefix, [&](std::string_view k, std::string_view v) {
    auto seq = store::read_be64(k, prefix.size());
    auto m = decode_meta(v);
    if (!seq || k.size() != prefix.size() + 8 || !m) {
      problem = "mailbox: damaged meta record";
      return false;
    }
    out.push_back(MessageInfo{*seq, m->size, m->received, m->uidl});
    return true;
  });
  if (!s) return make_error(s.error());
  if (!problem.empty()) return make_error(problem);
  return out;
}

Result<Mailbox::Usage> Mailbox::usage(std::string_view account_id) {
  auto txn = env_.begin_read();
  if (!txn) return make_error(txn.error());
  auto st = read_state(*txn, meta_, account_id);
  if (!st) return make_error(st.error());
  return Usage{st->stored_bytes, st->messages};
}

Result<bool> Mailbox::full(std::string_view account_id) {
  auto use = usage(account_id);
  if (!use) return make_error(use.error());
  return use->stored_bytes + kMinRoom > options_.max_size;
}

Result<std::string> Mailbox::read(std::string_view account_id, uint64_t seq,
                                  const crypto::KeyPair& key) {
  return read(account_id, seq, key, mailbox_key(key));
}

Result<std::string> Mailbox::read(std::string_view account_id, uint64_t seq,
                                  const crypto::KeyPair& key, const crypto::AeadKey& mkey) {
  std::string stored;
  const std::string k = data_key(account_id, seq);
  {
    auto txn = env_.begin_read();
    if (!txn) return make_error(txn.error());
    auto v = txn->get(data_, k);
    if (!v) return make_error(v.error());
    if (!*v) return make_error("no such message");
    stored.assign(**v);
  }
  Result<std::string> plain = make_error("message record damaged");
  if (!stored.empty() && stored[0] == kSealed)
    plain = crypto::open_sealed(key, std::string_view(stored).substr(1));
  else if (!stored.empty() && stored[0] == kMailboxKey)
    plain = crypto::aead_decrypt(mkey, std::string_view(stored).substr(1), k);
  if (!plain) return make_error("message does not open with this key");
  return plain;
}

Result<uint64_t> Mailbox::unseal_all(store::GroupCommitter& gc, std::string_view account_id,
                                     const crypto::KeyPair& key) {
  // Read and convert outside the write transaction (the X25519 work is the slow part), then
  // write every record that is still the sealed one we converted.
  std::vector<std::pair<std::string, std::string>> sealed;  // key, stored value
  {
    auto txn = env_.begin_read();
    if (!txn) return make_error(txn.error());
    auto s = store::scan_prefix(*txn, data_, std::string(account_id) + "/",
                                [&](std::string_view k, std::string_view v) {
                                  if (!v.empty() && v[0] == kSealed) sealed.emplace_back(k, v);
                                  return true;
                                });
    if (!s) return make_error(s.error());
  }
  if (sealed.empty()) return uint64_t{0};
  const crypto::AeadKey mkey = mailbox_key(key);
  auto converted = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  for (const auto& [k, v] : sealed) {
    auto plain = crypto::open_sealed(key, std::string_view(v).substr(1));
    if (!plain) return make_error("message does not open with this key");
    converted->emplace_back(k, kMailboxKey + crypto::aead_encrypt(mkey, *plain, k));
    sodium_memzero(plain->data(), plain->size());
  }
  auto old = std::make_shared<decltype(sealed)>(std::move(sealed));
  auto data = data_;
  auto done = std::make_shared<uint64_t>(0);
  Status st = gc.commit_now([old, converted, data, done](store::Txn& txn) -> Status {
    *done = 0;
    for (size_t i = 0; i < converted->size(); ++i) {
      auto cur = txn.get(data, (*old)[i].first);
      if (!cur) return make_error(cur.error());
      if (!*cur || **cur != (*old)[i].second) continue;  // deleted or converted meanwhile
      if (auto s = txn.put(data, (*converted)[i].first, (*converted)[i].second); !s) return s;
      ++*done;
    }
    return {};
  });
  if (!st) return make_error(st.error());
  return *done;
}

void Mailbox::remove(store::GroupCommitter& gc, std::string account_id, std::vector<uint64_t> seqs,
                     std::function<void(Result<uint64_t>)> done) {
  auto removed = std::make_shared<uint64_t>(0);
  auto data = data_, mdb = meta_;
  gc.submit(
      [=](store::Txn& txn) -> Status {
        *removed = 0;
        auto st = read_state(txn, mdb, account_id);
        if (!st) return make_error(st.error());
        for (uint64_t seq : seqs) {
          auto mk = meta_key(account_id, seq);
          auto v = txn.get(mdb, mk);
          if (!v) return make_error(v.error());
          if (!*v) continue;
          auto m = decode_meta(**v);
          if (!m) return make_error(m.error());
          auto d = txn.del(data, data_key(account_id, seq));
          if (!d) return make_error(d.error());
          auto dm = txn.del(mdb, mk);
          if (!dm) return make_error(dm.error());
          st->stored_bytes -= std::min(st->stored_bytes, stored_size(m->size));
          st->messages -= std::min<uint64_t>(st->messages, 1);
          ++*removed;
        }
        if (*removed == 0) return {};
        return txn.put(mdb, state_key(account_id), encode_state(*st));
      },
      [removed, done = std::move(done)](Status s) {
        if (!s) {
          done(make_error(s.error()));
        } else {
          done(*removed);
        }
      });
}

Status Mailbox::erase_all(store::Txn& txn, store::Dbi data, store::Dbi meta,
                          std::string_view account_id) {
  std::vector<std::string> keys;
  std::string data_prefix(account_id);
  data_prefix.push_back('/');
  auto collect = [&keys](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  };
  if (auto s = store::scan_prefix(txn, data, data_prefix, collect); !s) return s;
  for (const auto& k : keys) {
    if (auto d = txn.del(data, k); !d) return make_error(d.error());
  }
  keys.clear();
  if (auto s = store::scan_prefix(txn, meta, meta_prefix(account_id), collect); !s) return s;
  keys.push_back(state_key(account_id));
  for (const auto& k : keys) {
    if (auto s = zero_then_delete(txn, meta, k); !s) return s;
  }
  return {};
}

}  // namespace nj::inner
