// The simulator's traced runs (tools/simulator/trace_runs.h) on their own:
// deterministic, shaped as an SDK exports them (one trace per run, children
// before their parents), and every span accepted by the real OTLP mapping.

#include "tools/simulator/trace_runs.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "otlp/export_mapping.h"
#include "otlp/price_table.h"

namespace vigil::simulator {
namespace {

using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;

constexpr uint64_t kEnd = 1'800'000'000'000'000'000ull;  // unix nanoseconds

std::string Bytes(const std::vector<TraceRuns::Export>& exports) {
  std::string bytes;
  for (const auto& request : exports) bytes += request.SerializeAsString();
  return bytes;
}

TEST(TraceRunsTest, SameSeedAndPrefixSameRuns) {
  TraceRuns a({.seed = 7, .prefix = "p"});
  TraceRuns b({.seed = 7, .prefix = "p"});
  TraceRuns other_prefix({.seed = 7, .prefix = "q"});
  for (int run = 0; run < 5; ++run) {
    const auto first = a.Next(kEnd);
    EXPECT_EQ(Bytes(first), Bytes(b.Next(kEnd)));
    EXPECT_NE(first[0].resource_spans(0).scope_spans(0).spans(0).trace_id(),
              other_prefix.Next(kEnd)[0]
                  .resource_spans(0)
                  .scope_spans(0)
                  .spans(0)
                  .trace_id());
  }
}

TEST(TraceRunsTest, RunsAreTracesAsAnSdkExportsThem) {
  TraceRuns runs({.seed = 3, .prefix = "sim"});
  const otlp::PriceTable prices = otlp::PriceTable::BuiltIn();
  std::set<std::string> trace_ids;
  int worker_runs = 0, failed_worker_runs = 0;
  for (int run = 0; run < 400; ++run) {
    const std::vector<TraceRuns::Export> exports = runs.Next(kEnd);
    ASSERT_EQ(exports.size(), 3u);  // each worker's spans, then the Planner's
    std::map<std::string, int> exported_in;  // span id -> export index
    std::map<std::string, Span> spans;
    uint64_t last_end = 0;
    for (int i = 0; i < static_cast<int>(exports.size()); ++i) {
      const otlp::MappedExport mapped =
          otlp::MapExport(exports[i], {.prices = &prices});
      EXPECT_EQ(mapped.rejected_spans, 0) << mapped.error_message;
      for (const Span& span : exports[i].resource_spans(0).scope_spans(0).spans()) {
        EXPECT_TRUE(exported_in.emplace(span.span_id(), i).second);
        spans[span.span_id()] = span;
        EXPECT_LT(span.start_time_unix_nano(), span.end_time_unix_nano());
        last_end = std::max(last_end, span.end_time_unix_nano());
      }
    }
    EXPECT_EQ(last_end, kEnd);
    int roots = 0;
    for (const auto& [id, span] : spans) {
      EXPECT_EQ(span.trace_id(), spans.begin()->second.trace_id());
      if (span.parent_span_id().empty()) {
        ++roots;
        continue;
      }
      ASSERT_TRUE(spans.contains(span.parent_span_id()));
      const Span& parent = spans[span.parent_span_id()];
      // Children end inside their parent and are sent no later than it.
      EXPECT_LE(exported_in[id], exported_in[span.parent_span_id()]);
      EXPECT_GE(span.start_time_unix_nano(), parent.start_time_unix_nano());
      EXPECT_LE(span.end_time_unix_nano(), parent.end_time_unix_nano());
      if (span.name().starts_with("invoke_agent")) {
        ++worker_runs;
        if (span.status().code() == Status::STATUS_CODE_ERROR) {
          ++failed_worker_runs;
        }
      }
    }
    EXPECT_EQ(roots, 1);
    EXPECT_TRUE(trace_ids.insert(spans.begin()->second.trace_id()).second);
  }
  EXPECT_EQ(worker_runs, 800);
  // About one in eight.
  EXPECT_GT(failed_worker_runs, 800 / 16);
  EXPECT_LT(failed_worker_runs, 800 / 4);
}

}  // namespace
}  // namespace vigil::simulator
