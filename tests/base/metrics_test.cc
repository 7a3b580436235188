// The metrics registry: exact text exposition output, labels and their
// escaping, histogram buckets, sharing of families, the series bound, and
// concurrent recording.

#include "base/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::base {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, EmptyRegistryRendersNothing) {
  Metrics metrics;
  EXPECT_EQ(metrics.Render(), "");
}

TEST(MetricsTest, CounterWithoutLabelsStartsAtZero) {
  Metrics metrics;
  Counter* counter = metrics.AddCounter("jobs_total", "Jobs done.")->Get();
  EXPECT_EQ(metrics.Render(),
            "# HELP jobs_total Jobs done.\n"
            "# TYPE jobs_total counter\n"
            "jobs_total 0\n");
  counter->Increment();
  counter->Increment(41);
  EXPECT_EQ(counter->Value(), 42u);
  EXPECT_THAT(metrics.Render(), HasSubstr("\njobs_total 42\n"));
}

TEST(MetricsTest, LabelledSeriesSortedByLabelValues) {
  Metrics metrics;
  CounterFamily* requests =
      metrics.AddCounter("requests_total", "Requests.", {"method", "code"});
  requests->WithLabels({"POST", "201"})->Increment(2);
  requests->WithLabels({"GET", "200"})->Increment();
  requests->WithLabels({"GET", "404"})->Increment(3);
  requests->WithLabels({"GET", "200"})->Increment();
  EXPECT_EQ(metrics.Render(),
            "# HELP requests_total Requests.\n"
            "# TYPE requests_total counter\n"
            "requests_total{method=\"GET\",code=\"200\"} 2\n"
            "requests_total{method=\"GET\",code=\"404\"} 3\n"
            "requests_total{method=\"POST\",code=\"201\"} 2\n");
}

TEST(MetricsTest, SameLabelsGiveTheSameSeries) {
  Metrics metrics;
  CounterFamily* family = metrics.AddCounter("x_total", "X.", {"a"});
  EXPECT_EQ(family->WithLabels({"1"}), family->WithLabels({"1"}));
  EXPECT_NE(family->WithLabels({"1"}), family->WithLabels({"2"}));
}

TEST(MetricsTest, LabelValueAndHelpEscaping) {
  Metrics metrics;
  metrics.AddGauge("g", "Line one\nback\\slash \"quoted\"", {"path"})
      ->WithLabels({"a\"b\\c\nd"})
      ->Set(1);
  EXPECT_EQ(metrics.Render(),
            "# HELP g Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE g gauge\n"
            "g{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsTest, LabelValuesThatWouldCollideWhenJoinedStayApart) {
  Metrics metrics;
  CounterFamily* family = metrics.AddCounter("c_total", "C.", {"a", "b"});
  family->WithLabels({"x:", "y"})->Increment();
  family->WithLabels({"x", ":y"})->Increment(2);
  EXPECT_THAT(metrics.Render(), HasSubstr("c_total{a=\"x\",b=\":y\"} 2\n"));
  EXPECT_THAT(metrics.Render(), HasSubstr("c_total{a=\"x:\",b=\"y\"} 1\n"));
}

TEST(MetricsTest, GaugeValues) {
  Metrics metrics;
  Gauge* gauge = metrics.AddGauge("head", "Head.")->Get();
  gauge->Set(123456789012.0);
  EXPECT_THAT(metrics.Render(), HasSubstr("\nhead 123456789012\n"));
  gauge->Add(-0.5);
  EXPECT_THAT(metrics.Render(), HasSubstr("\nhead 123456789011.5\n"));
  gauge->Set(0.1);
  EXPECT_THAT(metrics.Render(), HasSubstr("\nhead 0.1\n"));
  gauge->Set(-3);
  EXPECT_THAT(metrics.Render(), HasSubstr("\nhead -3\n"));
  gauge->Set(0.0005);
  EXPECT_THAT(metrics.Render(), HasSubstr("\nhead 0.0005\n"));
  gauge->Set(1.5e-9);
  EXPECT_THAT(metrics.Render(), HasSubstr("\nhead 1.5e-09\n"));
  gauge->Set(2e20);
  EXPECT_THAT(metrics.Render(), HasSubstr("\nhead 2e+20\n"));
  gauge->Set(0);
  EXPECT_THAT(metrics.Render(), HasSubstr("\nhead 0\n"));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInclusiveBounds) {
  Metrics metrics;
  Histogram* histogram =
      metrics.AddHistogram("latency_seconds", "Latency.", {}, {0.1, 1, 10})
          ->Get();
  for (double value : {0.05, 0.1, 0.5, 1.0, 2.0, 100.0}) {
    histogram->Observe(value);
  }
  EXPECT_EQ(metrics.Render(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 2\n"
            "latency_seconds_bucket{le=\"1\"} 4\n"
            "latency_seconds_bucket{le=\"10\"} 5\n"
            "latency_seconds_bucket{le=\"+Inf\"} 6\n"
            "latency_seconds_sum 103.65\n"
            "latency_seconds_count 6\n");
}

TEST(MetricsTest, HistogramWithLabelsPutsLeLast) {
  Metrics metrics;
  metrics.AddHistogram("d_seconds", "D.", {"route"}, {1})
      ->WithLabels({"/a"})
      ->Observe(0.5);
  EXPECT_EQ(metrics.Render(),
            "# HELP d_seconds D.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{route=\"/a\",le=\"1\"} 1\n"
            "d_seconds_bucket{route=\"/a\",le=\"+Inf\"} 1\n"
            "d_seconds_sum{route=\"/a\"} 0.5\n"
            "d_seconds_count{route=\"/a\"} 1\n");
}

TEST(MetricsTest, FamiliesSortedByName) {
  Metrics metrics;
  metrics.AddCounter("b_total", "B.");
  metrics.AddCounter("a_total", "A.");
  const std::string text = metrics.Render();
  EXPECT_LT(text.find("a_total"), text.find("b_total"));
}

TEST(MetricsTest, RegisteringTheSameShapeAgainSharesTheFamily) {
  Metrics metrics;
  CounterFamily* first = metrics.AddCounter("shared_total", "S.", {"a"});
  CounterFamily* second = metrics.AddCounter("shared_total", "S.", {"a"});
  EXPECT_EQ(first, second);
  AppendMetrics one = AppendMetrics::Register(&metrics);
  AppendMetrics two = AppendMetrics::Register(&metrics);
  EXPECT_EQ(one.events, two.events);
  EXPECT_EQ(one.duration, two.duration);
}

TEST(MetricsDeathTest, ProgrammingErrorsAbort) {
  Metrics metrics;
  metrics.AddCounter("taken_total", "T.", {"a"});
  EXPECT_DEATH(metrics.AddGauge("taken_total", "T.", {"a"}),
               "another shape");
  EXPECT_DEATH(metrics.AddCounter("taken_total", "T.", {"b"}),
               "another shape");
  EXPECT_DEATH(metrics.AddCounter("bad-name", "B."), "bad metric name");
  EXPECT_DEATH(metrics.AddCounter("ok_total", "B.", {"__reserved"}),
               "bad label name");
  EXPECT_DEATH(metrics.AddHistogram("h", "H.", {"le"}, {1}), "bad label name");
  EXPECT_DEATH(metrics.AddHistogram("h", "H.", {}, {2, 1}), "increasing");
  CounterFamily* family = metrics.AddCounter("two_total", "T.", {"a", "b"});
  EXPECT_DEATH(family->WithLabels({"only one"}), "label values");
}

TEST(MetricsTest, SeriesPastTheBoundShareTheOverflowSeries) {
  Metrics metrics;
  CounterFamily* family = metrics.AddCounter("many_total", "M.", {"id"});
  for (size_t i = 0; i < Metrics::kMaxSeriesPerFamily; ++i) {
    family->WithLabels({std::to_string(i)})->Increment();
  }
  Counter* overflow = family->WithLabels({"one more"});
  EXPECT_EQ(overflow, family->WithLabels({"and another"}));
  overflow->Increment(7);
  EXPECT_THAT(metrics.Render(), HasSubstr("many_total{id=\"_overflow\"} 7\n"));
  // Series made before the bound are still their own.
  EXPECT_EQ(family->WithLabels({"5"})->Value(), 1u);
}

TEST(MetricsTest, ConcurrentRecordingLosesNothing) {
  Metrics metrics;
  CounterFamily* counters = metrics.AddCounter("n_total", "N.", {"t"});
  Histogram* histogram =
      metrics.AddHistogram("v", "V.", {}, LatencyBuckets())->Get();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        counters->WithLabels({std::to_string(i % 3)})->Increment();
        histogram->Observe(0.001 * (t + 1));
        if (i % 1000 == 0) metrics.Render();  // rendering races recording
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  uint64_t total = 0;
  for (const char* label : {"0", "1", "2"}) {
    total += counters->WithLabels({label})->Value();
  }
  EXPECT_EQ(total, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(histogram->Take().cumulative.back(),
            uint64_t{kThreads} * kPerThread);
  EXPECT_NEAR(histogram->Take().sum, 0.001 * (1 + 2 + 3 + 4) * kPerThread,
              1e-6);
}

}  // namespace
}  // namespace vigil::base
