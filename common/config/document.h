// A parsed YAML configuration file as a small tree that remembers the line of every node.
// It trusts nothing in the file: yaml-cpp's event parser feeds it, and the tree builder enforces
// the limits below, rejects aliases (no shared or exploding subtrees) and keeps duplicate map
// keys so the typed layer (table.h) can report them instead of silently keeping one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/result.h"

namespace nj::config {

// Limits for one configuration file. A real config is a few kilobytes.
inline constexpr std::size_t kMaxFileBytes = 1 << 20;
inline constexpr int kMaxDepth = 32;
inline constexpr std::size_t kMaxNodes = 100000;

struct Node {
  enum class Kind { null, scalar, list, map };
  struct Entry;

  Kind kind = Kind::null;
  int line = 0;        // 1-based
  std::string scalar;  // Kind::scalar
  std::vector<Node> items;
  std::vector<Entry> entries;  // Kind::map, in file order, duplicates kept
};

struct Node::Entry {
  std::string key;
  int key_line = 0;
  Node value;
};

const char* kind_name(Node::Kind k);  // "nothing", "a value", "a list", "a map"

// Parses one YAML document. Errors are "name:line: (syntax): problem".
Result<Node> parse_yaml(std::string_view text, std::string_view name);

// Reads and parses a file (at most kMaxFileBytes). Errors are "path: cannot read: reason" or
// as parse_yaml.
Result<Node> read_yaml_file(const std::string& path);

}  // namespace nj::config
