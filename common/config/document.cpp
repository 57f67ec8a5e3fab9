#include "common/config/document.h"

#include <sys/stat.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace nj::config {

const char* kind_name(Node::Kind k) {
  switch (k) {
    case Node::Kind::null:
      return "nothing";
    case Node::Kind::scalar:
      return "a single value";
    case Node::Kind::list:
      return "a list";
    case Node::Kind::map:
      return "a map";
  }
  return "?";
}

namespace {

int line_of(const YAML::Mark& m) {
  return m.is_null() ? 0 : m.line + 1;
}

// Builds the tree from parser events. The first problem is kept and later events are ignored;
// the caller turns it into the error.
class Builder : public YAML::EventHandler {
 public:
  std::string problem;
  int problem_line = 0;
  std::vector<Node> roots;

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {
    Node n;
    n.kind = Node::Kind::null;
    // yaml-cpp marks an empty value where the next token starts, often the next line; 0 makes
    // the reader blame the key's line instead.
    n.line = 0;
    add(std::move(n));
  }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override {
    fail(line_of(m), "aliases (*name) are not supported in configuration files");
  }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string& value) override {
    Node n;
    n.kind = Node::Kind::scalar;
    n.line = line_of(m);
    n.scalar = value;
    add(std::move(n));
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    open(Node::Kind::list, m);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    open(Node::Kind::map, m);
  }
  void OnMapEnd() override { close(); }

 private:
  // An open collection; for maps, a key waiting for its value.
  struct Open {
    Node node;
    bool have_key = false;
    std::string key;
    int key_line = 0;
  };
  std::vector<Open> stack_;
  std::size_t count_ = 0;

  void fail(int line, std::string p) {
    if (problem.empty()) {
      problem = std::move(p);
      problem_line = line;
    }
  }

  void open(Node::Kind k, const YAML::Mark& m) {
    if (stack_.size() >= static_cast<std::size_t>(kMaxDepth)) {
      fail(line_of(m), "nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    Open o;
    o.node.kind = k;
    o.node.line = line_of(m);
    stack_.push_back(std::move(o));
  }

  void close() {
    if (stack_.empty()) return;
    Node n = std::move(stack_.back().node);
    stack_.pop_back();
    add(std::move(n));
  }

  void add(Node n) {
    if (!problem.empty()) return;
    if (++count_ > kMaxNodes) {
      fail(n.line, "more than " + std::to_string(kMaxNodes) + " values");
      return;
    }
    if (stack_.empty()) {
      roots.push_back(std::move(n));
      return;
    }
    Open& top = stack_.back();
    if (top.node.kind == Node::Kind::list) {
      top.node.items.push_back(std::move(n));
    } else if (!top.have_key) {
      if (n.kind != Node::Kind::scalar) {
        fail(n.line, "map keys must be plain names");
        return;
      }
      top.have_key = true;
      top.key = std::move(n.scalar);
      top.key_line = n.line;
    } else {
      top.node.entries.push_back(Node::Entry{std::move(top.key), top.key_line, std::move(n)});
      top.have_key = false;
    }
  }
};

}  // namespace

Result<Node> parse_yaml(std::string_view text, std::string_view name) {
  auto err = [&](int line, const std::string& p) {
    return make_error(std::string(name) + ":" + std::to_string(line) + ": (syntax): " + p);
  };
  if (text.size() > kMaxFileBytes) {
    return err(1, "file is larger than " + std::to_string(kMaxFileBytes) + " bytes");
  }
  if (text.find('\0') != std::string_view::npos) return err(1, "file contains a NUL byte");
  std::istringstream in{std::string(text)};
  Builder b;
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(b)) {
      if (!b.problem.empty()) break;
      if (b.roots.size() > 1) return err(b.roots.back().line, "more than one YAML document");
    }
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports syntax errors (and its own recursion limit) by exception; this is
    // start-up code, and the exception ends here as a value.
    return err(line_of(e.mark) > 0 ? line_of(e.mark) : 1, e.msg);
  }
  if (!b.problem.empty()) return err(b.problem_line, b.problem);
  if (b.roots.empty()) {
    Node empty;
    empty.kind = Node::Kind::null;
    empty.line = 1;
    return empty;
  }
  Node root = std::move(b.roots.front());
  if (root.line == 0) root.line = 1;
  return root;
}

Result<Node> read_yaml_file(const std::string& path) {
  // A directory opens as a stream on Linux and then reads as empty, which would look like an
  // empty configuration; refuse anything that is not a regular file.
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return make_error(path + ": cannot read: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error(path + ": cannot read: not a regular file");
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buf[8192];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(f.gcount()));
    if (text.size() > kMaxFileBytes) break;
  }
  if (f.bad()) return make_error(path + ": cannot read: " + std::strerror(errno));
  return parse_yaml(text, path);
}

}  // namespace nj::config
