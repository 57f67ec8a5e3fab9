// GreylistStore: where the greylist keeps its entries. Keys are keyed hashes made by Greylist (no
// address or IP ever reaches a store); values are small records. MemoryGreylistStore is for tests
// and small deployments.
// Trust: the store holds only our own records; decoders still check lengths.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/base/result.h"

namespace nj::checks {

struct GreylistRecord {
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  // Triplet: passes made (0 = still greylisted). Client network: counted passes (auto-allowlist).
  uint32_t count = 0;
  bool operator==(const GreylistRecord&) const = default;
};

class GreylistStore {
 public:
  virtual ~GreylistStore() = default;
  virtual Result<std::optional<GreylistRecord>> get(std::string_view key) = 0;
  virtual Status put(std::string_view key, const GreylistRecord& r) = 0;
  virtual Status erase(std::string_view key) = 0;
  // Removes every record with last_seen < cutoff; returns how many went.
  virtual Result<size_t> purge_older_than(int64_t cutoff) = 0;
};

class MemoryGreylistStore final : public GreylistStore {
 public:
  Result<std::optional<GreylistRecord>> get(std::string_view key) override;
  Status put(std::string_view key, const GreylistRecord& r) override;
  Status erase(std::string_view key) override;
  Result<size_t> purge_older_than(int64_t cutoff) override;
  size_t size() const { return map_.size(); }

 private:
  std::unordered_map<std::string, GreylistRecord> map_;
};

// Fixed 20-byte encoding (be64 first_seen, be64 last_seen, be32 count) for byte stores.
std::string encode_greylist_record(const GreylistRecord& r);
std::optional<GreylistRecord> decode_greylist_record(std::string_view bytes);

}  // namespace nj::checks
