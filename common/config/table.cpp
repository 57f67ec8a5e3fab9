#include "common/config/table.h"

namespace nj::config {

void Context::error(int line, const std::string& key, const std::string& problem) {
  errors_.emplace_back(line, file_ + ":" + std::to_string(line) + ": " + key + ": " + problem);
}

int Context::line_of(const std::string& key, int fallback) const {
  auto it = lines_.find(key);
  return it == lines_.end() ? fallback : it->second;
}

Status Context::status() const {
  if (errors_.empty()) return {};
  std::vector<std::pair<int, std::string>> sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string all;
  std::size_t n = std::min(sorted.size(), kMaxReportedErrors);
  for (std::size_t i = 0; i < n; ++i) all += (i ? "\n" : "") + sorted[i].second;
  if (sorted.size() > n)
    all += "\n" + file_ + ": " + std::to_string(sorted.size() - n) + " more errors not shown";
  return make_error(all);
}

}  // namespace nj::config
