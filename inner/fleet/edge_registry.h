// The inner's fleet of edges: who they are, which were added by `nightjarctl edge add`, and which
// keys were revoked. inner.yaml's `edges:` list is the operator's written fleet; the registry (one
// named database, "edges", in the inner's store) holds the edges added at run time and the
// revocation list. The inner runs effective_fleet(): both, less every revoked key.
//   "a/<name>" -> an added edge: address, transport, socks, failover_after, its 32-byte key, when
//   "r/<32-byte key>" -> a revoked key: the name it had, when it was revoked
// A revoked key never opens a link again: it cannot be added back, and an inner.yaml entry
// naming it is left out of the fleet with a warning.
// Trust: the store is the inner's own; what the ctl writes is checked as the config is (the same
// name and address rules), and records read back are decoded with limits.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/crypto/crypto.h"
#include "common/store/lmdb.h"
#include "inner/config/config.h"

namespace nj::inner {

// One member of the fleet as the inner runs it.
struct EdgeSpec {
  EdgeLinkConfig link;   // name, address, transport, socks, failover_after (public_key: the path
                         // for inner.yaml entries, empty for added ones)
  crypto::PublicKey key;  // the edge's static link key
  std::string origin;    // for people: "inner.yaml edges[1]" or "added 2026-12-06 14:05 UTC"
};

struct RevokedEdge {
  std::string name;
  crypto::PublicKey key;
  int64_t revoked_at = 0;  // Unix seconds
};

class EdgeRegistry {
 public:
  static constexpr const char* kDbName = "edges";
  static constexpr const char* kSchemaName = "inner.edges";
  static constexpr uint32_t kSchemaVersion = 1;

  // Opens (creating on first use) the registry's database; at start-up (LMDB opens databases
  // only outside other transactions of the process).
  static Result<std::unique_ptr<EdgeRegistry>> open(store::Env& env);

  // The edges added with `nightjarctl edge add`, by name.
  Result<std::vector<EdgeSpec>> added();
  // Every revoked key, oldest first.
  Result<std::vector<RevokedEdge>> revoked();
  Result<bool> is_revoked(const crypto::PublicKey& key);

  // Adds an edge (e.link.public_key is ignored; e.key is stored). Refused, with a message for
  // the operator: a revoked key, a name or key already in the registry or in `configured`
  // (inner.yaml's entries), an address already used by one of them.
  Status add(const EdgeSpec& e, const std::vector<EdgeSpec>& configured, int64_t now);
  // Revokes the key of the edge called `name` (added, or one of `configured`) and forgets an
  // added entry of that name. Unknown name: an error listing the names there are.
  Result<RevokedEdge> remove(const std::string& name, const std::vector<EdgeSpec>& configured,
                             int64_t now);

 private:
  EdgeRegistry(store::Env& env, store::Dbi db) : env_(env), db_(db) {}
  store::Env& env_;
  store::Dbi db_;
};

// Key files read before, by path: the running inner has dropped the privileges it read them
// with, so at a reload a file it can no longer open keeps the key it had (with a warning).
using KnownKeys = std::map<std::string, crypto::PublicKey>;

// One registry record decoded from its key and value ("a/<name>", "r/<key>"), with limits: a
// damaged store gives an error, never a crash (tests/fuzz/fuzz_edge_registry.cpp).
Result<EdgeSpec> decode_added(std::string_view key, std::string_view value);
Result<RevokedEdge> decode_revoked(std::string_view key, std::string_view value);

// inner.yaml's edges with their keys read from their public_key files (an unreadable key file is
// an error naming the entry, unless `known` has it: then that key, and a line in `warnings`).
Result<std::vector<EdgeSpec>> configured_edges(const InnerConfig& cfg,
                                               const KnownKeys* known = nullptr,
                                               std::vector<std::string>* warnings = nullptr);

// The fleet to run: configured_edges() then the added ones, leaving out revoked keys (and an
// added edge whose name inner.yaml now uses); each one left out is explained in `warnings`.
Result<std::vector<EdgeSpec>> effective_fleet(const InnerConfig& cfg, EdgeRegistry& registry,
                                              std::vector<std::string>& warnings,
                                              const KnownKeys* known = nullptr);

}  // namespace nj::inner
