#include "edge/checks/greylist_store.h"

namespace nj::checks {
namespace {

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_be(std::string_view in, size_t off, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[off + i]);
  return v;
}

constexpr size_t kRecordBytes = 20;

}  // namespace

Result<std::optional<GreylistRecord>> MemoryGreylistStore::get(std::string_view key) {
  auto it = map_.find(std::string(key));
  if (it == map_.end()) return std::optional<GreylistRecord>();
  return std::optional<GreylistRecord>(it->second);
}

Status MemoryGreylistStore::put(std::string_view key, const GreylistRecord& r) {
  map_[std::string(key)] = r;
  return {};
}

Status MemoryGreylistStore::erase(std::string_view key) {
  map_.erase(std::string(key));
  return {};
}

Result<size_t> MemoryGreylistStore::purge_older_than(int64_t cutoff) {
  return std::erase_if(map_, [cutoff](const auto& kv) { return kv.second.last_seen < cutoff; });
}

std::string encode_greylist_record(const GreylistRecord& r) {
  std::string out;
  out.reserve(kRecordBytes);
  put_be(out, static_cast<uint64_t>(r.first_seen), 8);
  put_be(out, static_cast<uint64_t>(r.last_seen), 8);
  put_be(out, r.count, 4);
  return out;
}

std::optional<GreylistRecord> decode_greylist_record(std::string_view bytes) {
  if (bytes.size() != kRecordBytes) return std::nullopt;
  GreylistRecord r;
  r.first_seen = static_cast<int64_t>(get_be(bytes, 0, 8));
  r.last_seen = static_cast<int64_t>(get_be(bytes, 8, 8));
  r.count = static_cast<uint32_t>(get_be(bytes, 16, 4));
  return r;
}

}  // namespace nj::checks
