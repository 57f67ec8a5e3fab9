#include "common/ctl/args.h"

#include <algorithm>
#include <cstdio>

namespace nj::ctl {
namespace {

void say(std::FILE* to, const CommandText& cmd, std::string_view problem) {
  std::fprintf(to, "%.*s %.*s: %.*s\n", static_cast<int>(kProgram.size()), kProgram.data(),
               static_cast<int>(cmd.name.size()), cmd.name.data(), static_cast<int>(problem.size()),
               problem.data());
}

const Option* find_option(std::span<const Option> options, std::string_view spelling) {
  for (const auto& o : options)
    if (spelling == o.name || (!o.also.empty() && spelling == o.also)) return &o;
  return nullptr;
}

bool is_option(std::string_view a) {
  return a.size() > 1 && a[0] == '-';
}

}  // namespace

int usage_error(const CommandText& cmd, std::string_view problem) {
  say(stderr, cmd, problem);
  std::fwrite(cmd.usage.data(), 1, cmd.usage.size(), stderr);
  return kExitUsage;
}

int fail(const CommandText& cmd, std::string_view problem) {
  say(stderr, cmd, problem);
  return kExitFailure;
}

std::string unexpected(std::string_view arg) {
  return "unexpected argument '" + std::string(arg) + "'";
}

bool Parsed::has(std::string_view name) const {
  return std::any_of(given_.begin(), given_.end(), [&](const auto& g) { return g.first == name; });
}

std::string Parsed::value(std::string_view name) const {
  for (const auto& [n, v] : given_)
    if (n == name) return v;
  return {};
}

std::vector<std::string> Parsed::values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : given_)
    if (n == name) out.push_back(v);
  return out;
}

Result<Parsed> parse_args(const Args& args, std::span<const Option> options) {
  Parsed p;
  if (std::any_of(args.begin(), args.end(),
                  [](std::string_view a) { return a == "--help" || a == "-h"; })) {
    p.help_ = true;
    return p;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (!is_option(a)) {
      p.positionals_.emplace_back(a);
      continue;
    }
    std::string_view spelling = a;
    std::optional<std::string_view> inline_value;  // --x=VALUE
    if (size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string_view::npos) {
      spelling = a.substr(0, eq);
      inline_value = a.substr(eq + 1);
    }
    const Option* o = find_option(options, spelling);
    if (!o) return make_error("unknown option '" + std::string(spelling) + "'");
    const std::string name(o->name);
    if (o->kind == Option::gone) return make_error(name + ": " + std::string(o->why));
    if (o->kind != Option::repeated && p.has(name)) return make_error(name + " is given twice");
    if (o->kind == Option::flag) {
      if (inline_value) return make_error(name + " takes no value");
      p.given_.emplace_back(name, std::string());
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) return make_error(name + " needs a value");
      inline_value = args[++i];
    }
    if (inline_value->empty()) return make_error(name + " needs a value");
    p.given_.emplace_back(name, std::string(*inline_value));
  }
  return p;
}

Parse parse(const CommandText& cmd, const Args& args, std::span<const Option> options) {
  auto r = parse_args(args, options);
  if (!r) return Parse{{}, usage_error(cmd, r.error())};
  if (r->help()) {
    std::fwrite(cmd.usage.data(), 1, cmd.usage.size(), stdout);
    std::fwrite(cmd.help.data(), 1, cmd.help.size(), stdout);
    return Parse{std::move(*r), 0};
  }
  return Parse{std::move(*r), std::nullopt};
}

}  // namespace nj::ctl
