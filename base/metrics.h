// Metrics: a small Prometheus registry (counters, gauges, histograms with
// fixed buckets, labels) rendered in the text exposition format 0.0.4 for
// `GET /metrics`. One registry per process, made by main and passed to every
// front end (REST, gRPC, live gateway) that records into it; there is no
// global instance.
//
// Thread safety: everything may be called from any thread. Recording into a
// series is one or two relaxed atomic operations; finding a series by its
// label values takes a reader lock on its family (keep the pointer when the
// labels are fixed). Series are never removed, so their pointers stay valid
// for the registry's lifetime. Depends only on Abseil, so any module can
// record into it.

#ifndef VIGIL_BASE_METRICS_H_
#define VIGIL_BASE_METRICS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace vigil::base {

// A monotonically increasing count.
class Counter {
 public:
  void Increment(uint64_t n = 1) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets, with their sum.
class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, strictly increasing and finite;
  // +Inf is implied. Must outlive the histogram (its family owns them).
  explicit Histogram(const std::vector<double>* bounds);

  void Observe(double value);

  // A consistent-enough copy: `cumulative[i]` counts observations
  // <= bounds[i]; the last element (+Inf) is the total count.
  struct Snapshot {
    std::vector<uint64_t> cumulative;
    double sum = 0;
  };
  Snapshot Take() const;

 private:
  const std::vector<double>* const bounds_;
  // Per bucket, not cumulative (one increment per observation); the last
  // one is +Inf.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Bucket bounds for latencies in seconds: 0.5 ms to 10 s.
std::vector<double> LatencyBuckets();

// All series of one metric name, one per combination of label values.
template <typename Metric>
class Family {
 public:
  // The series for `label_values` (one per label name, in order), made on
  // first use. A family holds at most Metrics::kMaxSeriesPerFamily series;
  // past it new combinations share one series whose every label value is
  // "_overflow", so a bug that puts unbounded values in a label cannot
  // exhaust memory.
  // REQUIRES: label_values.size() == the number of label names.
  Metric* WithLabels(const std::vector<std::string_view>& label_values);

  // The only series of a family without labels.
  // REQUIRES: the family has no label names.
  Metric* Get() { return WithLabels({}); }

 private:
  friend class Metrics;
  struct Series {
    std::vector<std::string> label_values;
    std::unique_ptr<Metric> metric;
  };

  Family(std::string name, std::string help,
         std::vector<std::string> label_names, std::vector<double> bounds);
  std::unique_ptr<Metric> Make() const;
  void Render(std::string_view type, std::string* out) const;

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only

  mutable absl::Mutex mu_;
  // Keyed by the length-prefixed label values (see SeriesKey in the .cc).
  absl::flat_hash_map<std::string, Series> series_ ABSL_GUARDED_BY(mu_);
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;
using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Metrics {
 public:
  // Past this many label combinations a family folds new ones into its
  // "_overflow" series.
  static constexpr size_t kMaxSeriesPerFamily = 1000;

  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Registers a metric family, or returns the one already registered under
  // `name` when it has the same kind, label names and buckets, so that
  // several front ends can share a metric such as vigil_append_events_total.
  // `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
  // [a-zA-Z_][a-zA-Z0-9_]* without a leading "__" (and not "le" for a
  // histogram), bounds strictly increasing. Breaking these, or registering
  // a name again with a different shape, is a programming error: the
  // process aborts with a message.
  CounterFamily* AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  GaugeFamily* AddGauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  HistogramFamily* AddHistogram(std::string name, std::string help,
                                std::vector<std::string> label_names,
                                std::vector<double> bounds);

  // Every family in the Prometheus text exposition format 0.0.4 (content
  // type `text/plain; version=0.0.4`): families sorted by name, series by
  // label values, each family with its # HELP and # TYPE lines.
  std::string Render() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Entry {
    Kind kind;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
  };
  Entry* FindOrAdd(Kind kind, std::string name, std::string help,
                   std::vector<std::string> label_names,
                   std::vector<double> bounds);

  mutable absl::Mutex mu_;
  // Node-based: FindOrAdd hands out pointers to entries.
  absl::node_hash_map<std::string, Entry> families_ ABSL_GUARDED_BY(mu_);
};

// The append metrics every front end records (REST and gRPC alike), named
// in one place. Register() returns the same families on every call.
struct AppendMetrics {
  static AppendMetrics Register(Metrics* metrics);

  // One successful append that was not deduplicated: its events, their
  // data + metadata bytes, and the seconds from submission to durable.
  void Record(size_t events, size_t bytes, double seconds) const;

  Counter* events = nullptr;    // vigil_append_events_total
  Counter* bytes = nullptr;     // vigil_append_bytes_total
  Histogram* duration = nullptr;  // vigil_append_duration_seconds
};

}  // namespace vigil::base

#endif  // VIGIL_BASE_METRICS_H_
