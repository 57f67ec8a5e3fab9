#include "edge/outbound/onion_map.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/config/document.h"

namespace nj::edge::outbound {

std::string normalize_domain(std::string_view d) {
  std::string out(d);
  while (!out.empty() && out.back() == '.') out.pop_back();
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_domain_name(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = d.find('.', start);
    std::string_view label = d.substr(start, dot == std::string_view::npos ? d.npos : dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_onion_domain(std::string_view d) {
  std::string n = normalize_domain(d);
  return n == "onion" || (n.size() > 6 && n.compare(n.size() - 6, 6, ".onion") == 0);
}

bool is_onion_name(std::string_view d) {
  std::string n = normalize_domain(d);
  // The bare "onion" is an onion domain but names no service (and has no label to check).
  if (n.size() <= 6 || !is_onion_domain(n) || !is_domain_name(n)) return false;
  std::string_view rest(n.data(), n.size() - 6);
  size_t dot = rest.rfind('.');
  std::string_view label = dot == std::string_view::npos ? rest : rest.substr(dot + 1);
  if (label.size() != 16 && label.size() != 56) return false;
  for (char c : label) {
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return false;
  }
  return true;
}

void OnionMap::add(std::string domain, std::string onion) {
  by_domain_[normalize_domain(domain)] = normalize_domain(onion);
}

std::optional<std::string> OnionMap::lookup(std::string_view domain) const {
  auto it = by_domain_.find(normalize_domain(domain));
  if (it == by_domain_.end()) return std::nullopt;
  return it->second;
}

Result<OnionMap> OnionMap::parse(std::string_view yaml, std::string_view name,
                                 const OnionMapLimits& limits) {
  auto doc = config::parse_yaml(yaml, name);
  if (!doc) return make_error(doc.error());
  const config::Node& root = *doc;
  auto at = [&](int line, const std::string& what) {
    return make_error(std::string(name) + ":" + std::to_string(line) + ": " + what);
  };
  OnionMap map;
  if (root.kind == config::Node::Kind::null) return map;  // an empty file maps nothing
  if (root.kind != config::Node::Kind::map) {
    return at(root.line,
              std::string("onion map must be a map of onion names to domain lists, not ") +
                  config::kind_name(root.kind));
  }
  if (root.entries.size() > limits.max_onions) {
    return at(root.line, "more than " + std::to_string(limits.max_onions) + " onion names");
  }
  std::map<std::string, int> onion_seen;
  std::map<std::string, int> domain_line;
  size_t total = 0;
  for (const auto& e : root.entries) {
    std::string onion = normalize_domain(e.key);
    if (!is_onion_name(onion)) return at(e.key_line, "'" + e.key + "' is not an onion name");
    if (auto [it, fresh] = onion_seen.emplace(onion, e.key_line); !fresh) {
      return at(e.key_line,
                onion + ": listed twice (first on line " + std::to_string(it->second) + ")");
    }
    if (e.value.kind != config::Node::Kind::list || e.value.items.empty()) {
      return at(e.value.line ? e.value.line : e.key_line,
                onion + ": needs a non-empty list of domains");
    }
    for (const auto& item : e.value.items) {
      if (item.kind != config::Node::Kind::scalar) {
        return at(item.line, onion + ": each domain must be a plain value, not " +
                                 std::string(config::kind_name(item.kind)));
      }
      std::string d = normalize_domain(item.scalar);
      if (!is_domain_name(d) || d.find('.') == std::string::npos) {
        return at(item.line, "'" + item.scalar + "' is not a domain name");
      }
      if (is_onion_domain(d)) {
        return at(item.line, d + ": an onion name is delivered to directly; do not map it");
      }
      if (auto [it, fresh] = domain_line.emplace(d, item.line); !fresh) {
        return at(item.line,
                  d + ": mapped twice (first on line " + std::to_string(it->second) + ")");
      }
      if (++total > limits.max_domains) {
        return at(item.line, "more than " + std::to_string(limits.max_domains) + " domains");
      }
      map.add(d, onion);
    }
  }
  return map;
}

Result<OnionMap> OnionMap::load(const std::string& path, const OnionMapLimits& limits) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return make_error(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, n);
    if (text.size() > config::kMaxFileBytes) {
      std::fclose(f);
      return make_error(path + ": larger than " + std::to_string(config::kMaxFileBytes) + " bytes");
    }
  }
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return make_error(path + ": cannot read");
  return parse(text, path, limits);
}

}  // namespace nj::edge::outbound
