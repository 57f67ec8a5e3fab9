// metrics::Registry: a daemon's counters, gauges and histograms, and their exposition in
// Prometheus' text format 0.0.4 (docs/metrics.md lists every metric the daemons export).
// Series are created by the daemon's own code with names and labels it spells out; a label value
// must come from a fixed set the code names (an enum, a listener kind, an edge's configured
// name), never from the network, so no address, account or domain of a user can reach a scrape.
// Figures kept elsewhere (queue lengths, the store's commit statistics) are copied in at scrape
// time by collect callbacks, so nothing is computed for a scrape nobody makes.
// Trust: only the daemon's code calls this. Names and label names are checked when a series is
// created; a bad one is a programming error and aborts at start-up. Single-threaded: the loop
// thread creates, updates and renders.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nj::metrics {

// Label name -> value, in the order the series is written.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { value_ += n; }
  // For a total kept elsewhere (copied in by a collect callback); it must never decrease.
  void set(uint64_t total) { value_ = total; }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_ = 0;
};

class Gauge {
 public:
  void set(double v) { value_ = v; }
  void add(double d) { value_ += d; }
  double value() const { return value_; }

 private:
  double value_ = 0;
};

// Cumulative buckets as Prometheus defines them: bucket i counts observations <= bounds[i];
// +Inf is implicit.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // For a distribution kept elsewhere: `per_bucket` has bounds().size() + 1 entries, each the
  // count of observations that fell in that bucket alone (the last: above every bound).
  void assign(const std::vector<uint64_t>& per_bucket, double sum);

  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative, bounds().size() + 1 entries.
  const std::vector<uint64_t>& per_bucket() const { return counts_; }
  uint64_t count() const;
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The series `name` with `labels`, created on first use (later calls return the same object;
  // references stay valid until remove()). Every series of one name shares its type, help and
  // (for histograms) bounds; a clash aborts, as does a name or label name Prometheus would
  // refuse.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                       const Labels& labels = {});

  // Forgets one series (an edge removed from the fleet). Unknown ones are ignored.
  void remove(std::string_view name, const Labels& labels);

  // Runs before every render(), in the order added; it sets gauges (and totals kept elsewhere)
  // from the daemon's live state.
  void on_collect(std::function<void()> fn);

  // Runs the collect callbacks, then writes every family (HELP, TYPE, samples) in name order.
  std::string render();

  // True when Prometheus accepts `s` as a metric name / label name.
  static bool valid_name(std::string_view s);
  static bool valid_label_name(std::string_view s);

 private:
  enum class Type { counter, gauge, histogram };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> bounds;  // histograms
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& family(std::string_view name, std::string_view help, Type type, const Labels& labels);

  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::function<void()>> collectors_;
};

// Text-format escaping: a HELP text escapes backslash and newline; a label value also the
// double quote.
std::string escape_help(std::string_view s);
std::string escape_label_value(std::string_view s);
// A sample value: integers without a fraction, "+Inf", "-Inf", "NaN".
std::string format_value(double v);

}  // namespace nj::metrics
