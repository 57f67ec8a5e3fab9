// Declarative configuration tables: one table per daemon lists every key with its type, its
// default (or that it is required), an optional check, and the struct member it fills. The table
// both reads a YAML file into the struct and prints the effective configuration back as YAML.
// It trusts nothing in the file.
//
// Errors: every problem is one line "file:line: key: problem", where key is the dotted path
// (`checks.greylist.delay`, `domains[1].public`). All problems are reported, sorted by line
// (at most kMaxReportedErrors, then a count), joined by '\n'; a struct's cross-key checks run
// only when its own keys decoded cleanly, so one mistake does not cascade. A missing required
// key is reported at the line of the map that should hold it. A file that cannot be read gives
// "path: cannot read: reason"; a YAML syntax error gives "file:line: (syntax): problem".
//
// Whose configuration: a daemon loads its own (Host::this_one, the default), and every value
// that names something on the machine is looked up there too (Type::check_here: files and
// directories exist and are readable, the account exists). A tool that reads another machine's
// configuration for its names, ports and addresses (nightjarctl overlay) loads it with
// Host::other: every syntax, range and cross-key check still runs, with the same errors, but
// nothing is looked up on this machine.
//
// Presence: `required` (missing is an error), `optional` (missing leaves the member as the
// struct initialises it; print_effective shows it as a comment), or a typed default value.
// An empty value (`key:` with nothing after it) is an error for single values, an empty list for
// lists, and an empty map (all defaults) for sections.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/base/result.h"
#include "common/config/document.h"
#include "common/config/types.h"

namespace nj::config {

inline constexpr std::size_t kMaxReportedErrors = 20;
inline constexpr std::size_t kMaxListItems = 1000;

struct Required {};
struct Optional {};
inline constexpr Required required{};
inline constexpr Optional optional{};

struct Items {
  std::size_t min = 0;
  std::size_t max = kMaxListItems;
  bool unique = false;  // scalar lists: no two items may print the same
};

// Collects errors and the line of every key seen, for one load.
class Context {
 public:
  explicit Context(std::string file, Host host = Host::this_one)
      : file_(std::move(file)), host_(host) {}

  void error(int line, const std::string& key, const std::string& problem);
  void note_line(const std::string& key, int line) { lines_.emplace(key, line); }
  int line_of(const std::string& key, int fallback) const;
  std::size_t error_count() const { return errors_.size(); }
  Status status() const;
  // Whether values are checked against this machine (Type::check_here).
  bool checks_here() const { return host_ == Host::this_one; }

 private:
  std::string file_;
  Host host_;
  std::vector<std::pair<int, std::string>> errors_;
  std::map<std::string, int> lines_;
};

inline std::string join_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Given to a table's cross-key checks; keys are relative to the struct being checked
// ("cert", "domains[1].public"; "" is the struct itself).
class Checker {
 public:
  Checker(Context& ctx, std::string path, int line)
      : ctx_(ctx), path_(std::move(path)), line_(line) {}
  void fail(std::string_view key, const std::string& problem) {
    std::string full = key.empty()
                           ? path_
                           : (key.front() == '[' ? path_ + std::string(key) : join_key(path_, key));
    ctx_.error(ctx_.line_of(full, line_), full.empty() ? "(top)" : full, problem);
  }
  // Whether a check may look at this machine (a file's contents): Host::this_one.
  bool checks_here() const { return ctx_.checks_here(); }

 private:
  Context& ctx_;
  std::string path_;
  int line_;
};

class Printer {
 public:
  void line(int indent, const std::string& s) { out_ += std::string(indent, ' ') + s + "\n"; }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

template <class S>
class Table {
 public:
  using CheckFn = std::function<void(const S&, Checker&)>;

  // A single value.
  template <class T>
  Table& key(std::string name, T S::*member, Type<T> type, Required,
             std::type_identity_t<std::function<std::string(const T&)>> check = {}) {
    return scalar(std::move(name), member, std::move(type), Presence::must, {}, std::move(check));
  }
  template <class T>
  Table& key(std::string name, T S::*member, Type<T> type, Optional,
             std::type_identity_t<std::function<std::string(const T&)>> check = {}) {
    return scalar(std::move(name), member, std::move(type), Presence::may, {}, std::move(check));
  }
  template <class T>
  Table& key(std::string name, T S::*member, Type<T> type, std::type_identity_t<T> dflt,
             std::type_identity_t<std::function<std::string(const T&)>> check = {}) {
    return scalar(std::move(name), member, std::move(type), Presence::dflt, std::move(dflt),
                  std::move(check));
  }

  // A list of single values; missing means empty.
  template <class T>
  Table& list(std::string name, std::vector<T> S::*member, Type<T> type, Items items = {}) {
    Field f;
    f.name = name;
    f.decode = [member, type, items](const Node& n, S& out, Context& ctx, const std::string& path,
                                     int line) {
      out.*member = decode_list<T>(
          n, ctx, path, line, items, [&](const Node& item, const std::string& ipath, T& v) {
            return decode_scalar(item, ctx, ipath, item.line ? item.line : line, type, {}, v);
          });
      if (items.unique) {
        std::map<std::string, std::size_t> seen;
        for (std::size_t i = 0; i < (out.*member).size(); ++i) {
          auto [it, fresh] = seen.emplace(type.print((out.*member)[i]), i);
          if (!fresh) {
            std::string ipath = path + "[" + std::to_string(i) + "]";
            ctx.error(ctx.line_of(ipath, line), ipath,
                      "duplicate of " + path + "[" + std::to_string(it->second) + "]");
          }
        }
      }
    };
    f.missing = [items, name](S&, Context& ctx, const std::string& path, int line) {
      if (items.min > 0) ctx.error(line, join_key(path, name), "required key missing");
    };
    f.print = [member, type](const S& v, Printer& p, int indent, const std::string& nm) {
      std::string s = nm + ": [";
      for (std::size_t i = 0; i < (v.*member).size(); ++i)
        s += (i ? ", " : "") + type.print((v.*member)[i]);
      p.line(indent, s + "]");
    };
    fields_.push_back(std::move(f));
    return *this;
  }

  // A nested map; missing means all its defaults (and errors for its required keys).
  template <class T>
  Table& section(std::string name, T S::*member, Table<T> sub) {
    Field f;
    f.name = name;
    auto shared = std::make_shared<Table<T>>(std::move(sub));
    f.decode = [member, shared](const Node& n, S& out, Context& ctx, const std::string& path,
                                int line) { shared->decode(n, out.*member, ctx, path, line); };
    f.missing = [member, shared, name](S& out, Context& ctx, const std::string& path, int line) {
      Node empty;
      empty.kind = Node::Kind::map;
      empty.line = line;
      shared->decode(empty, out.*member, ctx, join_key(path, name), line);
    };
    f.print = [member, shared](const S& v, Printer& p, int indent, const std::string& nm) {
      p.line(indent, nm + ":");
      shared->print(v.*member, p, indent + 2);
    };
    fields_.push_back(std::move(f));
    return *this;
  }

  // A nested map that may be left out altogether: the member then keeps its default, and
  // `present` (which tells a configured value from that default) keeps it out of print().
  template <class T, class Present>
  Table& optional_section(std::string name, T S::*member, Table<T> sub, Present present) {
    Field f;
    f.name = name;
    auto shared = std::make_shared<Table<T>>(std::move(sub));
    f.decode = [member, shared](const Node& n, S& out, Context& ctx, const std::string& path,
                                int line) { shared->decode(n, out.*member, ctx, path, line); };
    f.missing = [](S&, Context&, const std::string&, int) {};
    f.print = [member, shared, present](const S& v, Printer& p, int indent,
                                        const std::string& nm) {
      if (!present(v.*member)) return;
      p.line(indent, nm + ":");
      shared->print(v.*member, p, indent + 2);
    };
    fields_.push_back(std::move(f));
    return *this;
  }

  // A list of maps.
  template <class T>
  Table& list(std::string name, std::vector<T> S::*member, Table<T> item_table, Items items = {}) {
    Field f;
    f.name = name;
    auto shared = std::make_shared<Table<T>>(std::move(item_table));
    f.decode = [member, shared, items](const Node& n, S& out, Context& ctx, const std::string& path,
                                       int line) {
      out.*member = decode_list<T>(
          n, ctx, path, line, items, [&](const Node& item, const std::string& ipath, T& v) {
            std::size_t before = ctx.error_count();
            shared->decode(item, v, ctx, ipath, item.line ? item.line : line);
            return ctx.error_count() == before;
          });
    };
    f.missing = [items, name](S&, Context& ctx, const std::string& path, int line) {
      if (items.min > 0) ctx.error(line, join_key(path, name), "required key missing");
    };
    f.print = [member, shared](const S& v, Printer& p, int indent, const std::string& nm) {
      if ((v.*member).empty()) {
        p.line(indent, nm + ": []");
        return;
      }
      p.line(indent, nm + ":");
      for (const T& item : v.*member) {
        Printer sub;
        shared->print(item, sub, indent + 4);
        std::string s = sub.out();
        s.replace(0, static_cast<std::size_t>(indent + 4), std::string(indent + 2, ' ') + "- ");
        p.out() += s;
      }
    };
    fields_.push_back(std::move(f));
    return *this;
  }

  // A check across keys of this struct; runs only if the struct decoded without errors.
  Table& check(CheckFn fn) {
    checks_.push_back(std::move(fn));
    return *this;
  }

  // Fills `out` from `n` (a map, or null for an empty map). `path` is this map's dotted key
  // ("" at the top); `line` is the map's own line for errors about the whole map (its key's
  // line for a section, the item's line in a list), so a missing key points at "tls:", not at
  // whichever key happens to come first inside it.
  void decode(const Node& n, S& out, Context& ctx, const std::string& path, int line) const {
    int here = line ? line : n.line;
    std::string shown_path = path.empty() ? "(top)" : path;
    if (n.kind != Node::Kind::map && n.kind != Node::Kind::null) {
      ctx.error(n.line ? n.line : here, shown_path,
                std::string("expected a map, got ") + kind_name(n.kind));
      return;
    }
    std::size_t before = ctx.error_count();
    std::map<std::string, int> seen;
    for (const Node::Entry& e : n.entries) {
      std::string full = join_key(path, e.key);
      auto [it, fresh] = seen.emplace(e.key, e.key_line);
      if (!fresh) {
        ctx.error(e.key_line, full,
                  "duplicate key (first at line " + std::to_string(it->second) + ")");
        continue;
      }
      const Field* f = find(e.key);
      if (!f) {
        ctx.error(e.key_line, full, "unknown key");
        continue;
      }
      ctx.note_line(full, e.key_line);
      f->decode(e.value, out, ctx, full, e.key_line);
    }
    for (const Field& f : fields_) {
      if (!seen.count(f.name) && f.missing) f.missing(out, ctx, path, here);
    }
    if (ctx.error_count() != before) return;
    Checker checker(ctx, path, here);
    for (const CheckFn& c : checks_) c(out, checker);
  }

  void print(const S& v, Printer& p, int indent) const {
    for (const Field& f : fields_) f.print(v, p, indent, f.name);
  }

 private:
  enum class Presence { must, may, dflt };
  struct Field {
    std::string name;
    std::function<void(const Node&, S&, Context&, const std::string& path, int line)> decode;
    std::function<void(S&, Context&, const std::string& map_path, int map_line)> missing;
    std::function<void(const S&, Printer&, int indent, const std::string& name)> print;
  };
  std::vector<Field> fields_;
  std::vector<CheckFn> checks_;

  const Field* find(const std::string& name) const {
    for (const Field& f : fields_)
      if (f.name == name) return &f;
    return nullptr;
  }

  template <class T>
  static bool decode_scalar(const Node& n, Context& ctx, const std::string& path, int line,
                            const Type<T>& type, const std::function<std::string(const T&)>& check,
                            T& out) {
    int here = n.line ? n.line : line;
    if (n.kind == Node::Kind::null) {
      ctx.error(here, path, "no value (expected " + type.what + ")");
      return false;
    }
    if (n.kind != Node::Kind::scalar) {
      ctx.error(here, path, "expected " + type.what + ", got " + kind_name(n.kind));
      return false;
    }
    auto r = type.parse(n.scalar);
    if (!r) {
      ctx.error(here, path, r.error());
      return false;
    }
    if (check) {
      std::string problem = check(*r);
      if (!problem.empty()) {
        ctx.error(here, path, problem);
        return false;
      }
    }
    if (type.check_here && ctx.checks_here()) {
      std::string problem = type.check_here(*r);
      if (!problem.empty()) {
        ctx.error(here, path, problem);
        return false;
      }
    }
    out = std::move(*r);
    return true;
  }

  template <class T, class ItemFn>
  static std::vector<T> decode_list(const Node& n, Context& ctx, const std::string& path, int line,
                                    const Items& items, ItemFn&& item_fn) {
    std::vector<T> out;
    int here = n.line ? n.line : line;
    if (n.kind == Node::Kind::null) {
      // An empty value is an empty list.
    } else if (n.kind != Node::Kind::list) {
      ctx.error(here, path, std::string("expected a list, got ") + kind_name(n.kind));
      return out;
    } else if (n.items.size() > items.max) {
      ctx.error(here, path, "more than " + std::to_string(items.max) + " items");
      return out;
    }
    if (n.items.size() < items.min) {
      ctx.error(here, path,
                items.min == 1 ? "must not be empty"
                               : "needs at least " + std::to_string(items.min) + " items");
      return out;
    }
    out.resize(n.items.size());
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      std::string ipath = path + "[" + std::to_string(i) + "]";
      ctx.note_line(ipath, n.items[i].line ? n.items[i].line : here);
      item_fn(n.items[i], ipath, out[i]);
    }
    return out;
  }

  template <class T>
  Table& scalar(std::string name, T S::*member, Type<T> type, Presence presence, T dflt,
                std::function<std::string(const T&)> check) {
    Field f;
    f.name = name;
    f.decode = [member, type, check](const Node& n, S& out, Context& ctx, const std::string& path,
                                     int line) {
      decode_scalar(n, ctx, path, line, type, check, out.*member);
    };
    f.missing = [member, presence, dflt, name](S& out, Context& ctx, const std::string& path,
                                               int line) {
      if (presence == Presence::must)
        ctx.error(line, join_key(path, name), "required key missing");
      else if (presence == Presence::dflt)
        out.*member = dflt;
    };
    f.print = [member, type, presence](const S& v, Printer& p, int indent, const std::string& nm) {
      if constexpr (std::equality_comparable<T>) {
        if (presence == Presence::may && v.*member == T{}) {
          p.line(indent, "# " + nm + ": (not set)");
          return;
        }
      }
      p.line(indent, nm + ": " + type.print(v.*member));
    };
    fields_.push_back(std::move(f));
    return *this;
  }
};

// Reads `file` into S using `table`; `host` says whose configuration it is.
template <class S>
Result<S> decode(const Node& root, const std::string& name, const Table<S>& table,
                 Host host = Host::this_one) {
  Context ctx(name, host);
  S out{};
  table.decode(root, out, ctx, "", root.line ? root.line : 1);
  Status st = ctx.status();
  if (!st) return make_error(st.error());
  return out;
}

template <class S>
Result<S> load_file(const std::string& file, const Table<S>& table, Host host = Host::this_one) {
  auto root = read_yaml_file(file);
  if (!root) return make_error(root.error());
  return decode(*root, file, table, host);
}

template <class S>
Result<S> load_text(std::string_view text, const std::string& name, const Table<S>& table,
                    Host host = Host::this_one) {
  auto root = parse_yaml(text, name);
  if (!root) return make_error(root.error());
  return decode(*root, name, table, host);
}

// The effective configuration as YAML (every key, defaults included); it loads back to `v`.
template <class S>
std::string print(const S& v, const Table<S>& table) {
  Printer p;
  table.print(v, p, 0);
  return p.out();
}

// Both daemons' `log` section: level and redact.
inline Table<LogConfig> log_table() {
  return Table<LogConfig>()
      .key("level", &LogConfig::level, log_level(), nj::log::Level::info)
      .key("redact", &LogConfig::redact, boolean(), true);
}

}  // namespace nj::config
