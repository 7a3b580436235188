#include "base/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace vigil::base {
namespace {

// Registration mistakes are programming errors, found the first time the
// binary runs; there is no caller that could handle them.
[[noreturn]] void Fatal(const std::string& message) {
  std::fprintf(stderr, "vigil metrics: %s\n", message.c_str());
  std::abort();
}

bool IsNameChar(char c, bool first, bool colon_ok) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
    return true;
  }
  if (c == ':') return colon_ok;
  return !first && c >= '0' && c <= '9';
}

bool IsValidName(std::string_view name, bool colon_ok) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, colon_ok)) return false;
  }
  return true;
}

// Prometheus sample values: shortest text that reads back as the same
// double; "+Inf", "-Inf", "NaN" as the format spells them.
void AppendValue(double value, std::string* out) {
  if (std::isnan(value)) {
    out->append("NaN");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
  } else {
    // Fixed notation where it stays short ("0.0005", not "5e-04"), the
    // shortest form that reads back as the same double either way.
    char buffer[64];
    const double magnitude = std::fabs(value);
    const std::chars_format format =
        magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e15)
            ? std::chars_format::fixed
            : std::chars_format::general;
    auto [end, ec] =
        std::to_chars(buffer, buffer + sizeof(buffer), value, format);
    out->append(buffer, ec == std::errc() ? end : buffer);
  }
}

void AppendValue(uint64_t value, std::string* out) {
  out->append(std::to_string(value));
}

// A label value: backslash, double quote and line feed escaped.
void AppendLabelValue(std::string_view value, std::string* out) {
  for (char c : value) {
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '"': out->append("\\\""); break;
      case '\n': out->append("\\n"); break;
      default: out->push_back(c);
    }
  }
}

// HELP text: backslash and line feed escaped.
void AppendHelp(std::string_view help, std::string* out) {
  for (char c : help) {
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      default: out->push_back(c);
    }
  }
}

// `{a="x",b="y"}` plus an optional extra label (a histogram's `le`); nothing
// when there are no labels at all.
void AppendLabels(const std::vector<std::string>& names,
                  const std::vector<std::string>& values,
                  std::string_view extra_name, std::string_view extra_value,
                  std::string* out) {
  if (names.empty() && extra_name.empty()) return;
  out->push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append(names[i]).append("=\"");
    AppendLabelValue(values[i], out);
    out->push_back('"');
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out->push_back(',');
    out->append(extra_name).append("=\"");
    out->append(extra_value);
    out->push_back('"');
  }
  out->push_back('}');
}

// Label values as one unambiguous map key: each value prefixed by its
// length, so no choice of separator can make two combinations collide.
std::string SeriesKey(const std::vector<std::string_view>& values) {
  std::string key;
  for (std::string_view value : values) {
    key.append(std::to_string(value.size())).push_back(':');
    key.append(value);
  }
  return key;
}

template <typename Metric>
void RenderSeries(std::string_view name,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values,
                  const std::vector<double>& /*bounds*/, const Metric& metric,
                  std::string* out) {
  out->append(name);
  AppendLabels(label_names, label_values, {}, {}, out);
  out->push_back(' ');
  AppendValue(metric.Value(), out);
  out->push_back('\n');
}

template <>
void RenderSeries<Histogram>(std::string_view name,
                             const std::vector<std::string>& label_names,
                             const std::vector<std::string>& label_values,
                             const std::vector<double>& bounds,
                             const Histogram& metric, std::string* out) {
  const Histogram::Snapshot snapshot = metric.Take();
  for (size_t i = 0; i <= bounds.size(); ++i) {
    std::string le;
    AppendValue(i < bounds.size() ? bounds[i] : INFINITY, &le);
    out->append(name).append("_bucket");
    AppendLabels(label_names, label_values, "le", le, out);
    out->push_back(' ');
    AppendValue(snapshot.cumulative[i], out);
    out->push_back('\n');
  }
  out->append(name).append("_sum");
  AppendLabels(label_names, label_values, {}, {}, out);
  out->push_back(' ');
  AppendValue(snapshot.sum, out);
  out->push_back('\n');
  out->append(name).append("_count");
  AppendLabels(label_names, label_values, {}, {}, out);
  out->push_back(' ');
  AppendValue(snapshot.cumulative.back(), out);
  out->push_back('\n');
}

}  // namespace

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds),
      counts_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double value) {
  // The first bucket whose upper bound is >= value (`le` is inclusive);
  // NaN lands in +Inf.
  const size_t bucket =
      std::lower_bound(bounds_->begin(), bounds_->end(), value) -
      bounds_->begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot snapshot;
  snapshot.cumulative.resize(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative[i] = total;
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help,
                       std::vector<std::string> label_names,
                       std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <typename Metric>
std::unique_ptr<Metric> Family<Metric>::Make() const {
  if constexpr (std::is_same_v<Metric, Histogram>) {
    return std::make_unique<Histogram>(&bounds_);
  } else {
    return std::make_unique<Metric>();
  }
}

template <typename Metric>
Metric* Family<Metric>::WithLabels(
    const std::vector<std::string_view>& label_values) {
  if (label_values.size() != label_names_.size()) {
    Fatal(name_ + ": " + std::to_string(label_values.size()) +
          " label values for " + std::to_string(label_names_.size()) +
          " label names");
  }
  std::string key = SeriesKey(label_values);
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = series_.find(key);
    if (it != series_.end()) return it->second.metric.get();
  }
  absl::MutexLock lock(&mu_);
  auto it = series_.find(key);
  if (it != series_.end()) return it->second.metric.get();
  std::vector<std::string> values(label_values.begin(), label_values.end());
  if (series_.size() >= Metrics::kMaxSeriesPerFamily) {
    values.assign(label_names_.size(), "_overflow");
    key = SeriesKey(std::vector<std::string_view>(values.begin(), values.end()));
    it = series_.find(key);
    if (it != series_.end()) return it->second.metric.get();
  }
  Series& series = series_[key];
  series.label_values = std::move(values);
  series.metric = Make();
  return series.metric.get();
}

template <typename Metric>
void Family<Metric>::Render(std::string_view type, std::string* out) const {
  out->append("# HELP ").append(name_).push_back(' ');
  AppendHelp(help_, out);
  out->append("\n# TYPE ").append(name_).push_back(' ');
  out->append(type).push_back('\n');
  // Series may move when the map grows, so they are read under the lock;
  // recording is not blocked by it (it touches only the atomics).
  absl::ReaderMutexLock lock(&mu_);
  std::vector<const Series*> sorted;
  sorted.reserve(series_.size());
  for (const auto& [key, series] : series_) sorted.push_back(&series);
  std::sort(sorted.begin(), sorted.end(),
            [](const Series* a, const Series* b) {
              return a->label_values < b->label_values;
            });
  for (const Series* series : sorted) {
    RenderSeries(name_, label_names_, series->label_values, bounds_,
                 *series->metric, out);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Metrics::Entry* Metrics::FindOrAdd(Kind kind, std::string name,
                                   std::string help,
                                   std::vector<std::string> label_names,
                                   std::vector<double> bounds) {
  if (!IsValidName(name, /*colon_ok=*/true)) Fatal("bad metric name " + name);
  for (const std::string& label : label_names) {
    if (!IsValidName(label, /*colon_ok=*/false) || label.rfind("__", 0) == 0 ||
        (kind == Kind::kHistogram && label == "le")) {
      Fatal(name + ": bad label name " + label);
    }
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      Fatal(name + ": bucket bounds must be finite and strictly increasing");
    }
  }
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    Entry& entry = it->second;
    const bool same =
        entry.kind == kind &&
        (kind == Kind::kCounter ? entry.counter->label_names_ == label_names
         : kind == Kind::kGauge ? entry.gauge->label_names_ == label_names
                                : entry.histogram->label_names_ == label_names &&
                                      entry.histogram->bounds_ == bounds);
    if (!same) Fatal(name + " is already registered with another shape");
    return &entry;
  }
  Entry& entry = families_[name];
  entry.kind = kind;
  const bool unlabelled = label_names.empty();
  switch (kind) {
    case Kind::kCounter:
      entry.counter.reset(new CounterFamily(std::move(name), std::move(help),
                                            std::move(label_names), {}));
      if (unlabelled) entry.counter->Get();
      break;
    case Kind::kGauge:
      entry.gauge.reset(new GaugeFamily(std::move(name), std::move(help),
                                        std::move(label_names), {}));
      if (unlabelled) entry.gauge->Get();
      break;
    case Kind::kHistogram:
      entry.histogram.reset(new HistogramFamily(std::move(name),
                                                std::move(help),
                                                std::move(label_names),
                                                std::move(bounds)));
      if (unlabelled) entry.histogram->Get();
      break;
  }
  return &entry;
}

CounterFamily* Metrics::AddCounter(std::string name, std::string help,
                                   std::vector<std::string> label_names) {
  return FindOrAdd(Kind::kCounter, std::move(name), std::move(help),
                   std::move(label_names), {})
      ->counter.get();
}

GaugeFamily* Metrics::AddGauge(std::string name, std::string help,
                               std::vector<std::string> label_names) {
  return FindOrAdd(Kind::kGauge, std::move(name), std::move(help),
                   std::move(label_names), {})
      ->gauge.get();
}

HistogramFamily* Metrics::AddHistogram(std::string name, std::string help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  return FindOrAdd(Kind::kHistogram, std::move(name), std::move(help),
                   std::move(label_names), std::move(bounds))
      ->histogram.get();
}

std::string Metrics::Render() const {
  std::string out;
  absl::ReaderMutexLock lock(&mu_);
  std::vector<const std::pair<const std::string, Entry>*> sorted;
  sorted.reserve(families_.size());
  for (const auto& family : families_) sorted.push_back(&family);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* family : sorted) {
    const Entry& entry = family->second;
    switch (entry.kind) {
      case Kind::kCounter: entry.counter->Render("counter", &out); break;
      case Kind::kGauge: entry.gauge->Render("gauge", &out); break;
      case Kind::kHistogram: entry.histogram->Render("histogram", &out); break;
    }
  }
  return out;
}

AppendMetrics AppendMetrics::Register(Metrics* metrics) {
  AppendMetrics result;
  result.events =
      metrics
          ->AddCounter("vigil_append_events_total",
                       "Events appended (deduplicated appends not counted).")
          ->Get();
  result.bytes =
      metrics
          ->AddCounter("vigil_append_bytes_total",
                       "Data plus metadata bytes of the events appended.")
          ->Get();
  result.duration =
      metrics
          ->AddHistogram("vigil_append_duration_seconds",
                         "Time from an append's submission until it is "
                         "durable, in seconds.",
                         {}, LatencyBuckets())
          ->Get();
  return result;
}

void AppendMetrics::Record(size_t events_appended, size_t bytes_appended,
                           double seconds) const {
  events->Increment(events_appended);
  bytes->Increment(bytes_appended);
  duration->Observe(seconds);
}

}  // namespace vigil::base
