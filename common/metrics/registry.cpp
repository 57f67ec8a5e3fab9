#include "common/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/base/log.h"

namespace nj::metrics {
namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

[[noreturn]] void misuse(const std::string& what) {
  NJ_LOG_ERROR("metrics: %s", what.c_str());
  std::abort();
}

// {a="x",b="y"}, with `extra` (a histogram's le) last; "" when there are no labels at all.
std::string label_text(const Labels& labels, std::string_view extra_name = {},
                       std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](std::string_view n, std::string_view v) {
    if (!first) out += ',';
    first = false;
    out.append(n);
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  };
  for (const auto& [n, v] : labels) add(n, v);
  if (!extra_name.empty()) add(extra_name, extra_value);
  out += '}';
  return out;
}

void line(std::string& out, std::string_view name, std::string_view suffix,
          const std::string& labels, const std::string& value) {
  out.append(name);
  out.append(suffix);
  out += labels;
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double v) {
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                 bounds_.begin());
  ++counts_[i];
  sum_ += v;
}

void Histogram::assign(const std::vector<uint64_t>& per_bucket, double sum) {
  if (per_bucket.size() != counts_.size())
    misuse("histogram assign: " + std::to_string(per_bucket.size()) + " buckets for " +
           std::to_string(counts_.size()));
  counts_ = per_bucket;
  sum_ = sum;
}

uint64_t Histogram::count() const {
  uint64_t n = 0;
  for (auto c : counts_) n += c;
  return n;
}

bool Registry::valid_name(std::string_view s) {
  if (s.empty() || !(name_start(s[0]) || s[0] == ':')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return name_char(c) || c == ':'; });
}

bool Registry::valid_label_name(std::string_view s) {
  if (s.empty() || !name_start(s[0])) return false;
  if (s.size() >= 2 && s[0] == '_' && s[1] == '_') return false;  // reserved
  return std::all_of(s.begin(), s.end(), name_char);
}

Registry::Family& Registry::family(std::string_view name, std::string_view help, Type type,
                                   const Labels& labels) {
  if (!valid_name(name)) misuse("bad metric name '" + std::string(name) + "'");
  for (const auto& [n, v] : labels) {
    if (!valid_label_name(n) || (type == Type::histogram && n == "le"))
      misuse(std::string(name) + ": bad label name '" + n + "'");
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family f{type, std::string(help), {}, {}, {}, {}};
    it = families_.emplace(std::string(name), std::move(f)).first;
  } else if (it->second.type != type) {
    misuse(std::string(name) + " is already registered with another type");
  }
  return it->second;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  auto& f = family(name, help, Type::counter, labels);
  auto& slot = f.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  auto& f = family(name, help, Type::gauge, labels);
  auto& slot = f.gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::vector<double> bounds, const Labels& labels) {
  auto& f = family(name, help, Type::histogram, labels);
  Histogram probe(std::move(bounds));
  if (f.histograms.empty() && f.bounds.empty()) {
    f.bounds = probe.bounds();
  } else if (f.bounds != probe.bounds()) {
    misuse(std::string(name) + ": histogram bounds differ between series");
  }
  auto& slot = f.histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(f.bounds);
  return *slot;
}

void Registry::remove(std::string_view name, const Labels& labels) {
  auto it = families_.find(name);
  if (it == families_.end()) return;
  it->second.counters.erase(labels);
  it->second.gauges.erase(labels);
  it->second.histograms.erase(labels);
}

void Registry::on_collect(std::function<void()> fn) { collectors_.push_back(std::move(fn)); }

std::string Registry::render() {
  for (auto& c : collectors_) c();
  std::string out;
  for (const auto& [name, f] : families_) {
    if (f.counters.empty() && f.gauges.empty() && f.histograms.empty()) continue;
    out += "# HELP " + name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + name + " " +
           (f.type == Type::counter ? "counter" : f.type == Type::gauge ? "gauge" : "histogram") +
           "\n";
    for (const auto& [labels, c] : f.counters)
      line(out, name, "", label_text(labels), std::to_string(c->value()));
    for (const auto& [labels, g] : f.gauges)
      line(out, name, "", label_text(labels), format_value(g->value()));
    for (const auto& [labels, h] : f.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < h->bounds().size(); ++i) {
        cumulative += h->per_bucket()[i];
        line(out, name, "_bucket", label_text(labels, "le", format_value(h->bounds()[i])),
             std::to_string(cumulative));
      }
      cumulative += h->per_bucket().back();
      line(out, name, "_bucket", label_text(labels, "le", "+Inf"), std::to_string(cumulative));
      line(out, name, "_sum", label_text(labels), format_value(h->sum()));
      line(out, name, "_count", label_text(labels), std::to_string(cumulative));
    }
  }
  return out;
}

namespace {

// The text format's escapes: backslash and newline always, the double quote in label values.
std::string escape(std::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string escape_help(std::string_view s) { return escape(s, false); }

std::string escape_label_value(std::string_view s) { return escape(s, true); }

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0)
    return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace nj::metrics
