// Spans through the real PostgreSQL projections (docs/otlp.md "How spans
// fold"): a multi-agent trace appended in several orders and applied in
// batches of several sizes gives the same rows; spans recorded twice fold
// once; the REST reads of traces and of a run's spans; task pages stay
// exact when one span makes two tasks in one event.

#include <simdjson.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/read_models.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "gtest/gtest.h"
#include "projections/internal/domain_projections.h"
#include "projections/migrations.h"
#include "projections/projection_runner.h"
#include "projections/read_queries.h"
#include "projections/rebuild.h"
#include "tests/testing/agent_trace.h"
#include "tests/testing/pg_database.h"
#include "tests/testing/temp_dir.h"

namespace vigil::projections {
namespace {

using testing::AgentTraceSpans;
using testing::SpanRecordedJson;
using testing::TraceSpan;

// A log and a database of their own.
class Store {
 public:
  Store() {
    auto log = eventlog::EventLog::Open(eventlog::Options(), dir_.Sub("log"));
    EXPECT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    auto applied = ApplyMigrations(db_.url());
    EXPECT_TRUE(applied.ok()) << applied.status();
  }

  // Appends `spans` of `trace` in this order, `per_append` to an append
  // (an export).
  void Append(const std::vector<TraceSpan>& spans, size_t per_append,
              const std::string& trace = testing::kTraceId) {
    for (size_t i = 0; i < spans.size(); i += per_append) {
      eventlog::AppendRequest request;
      request.stream = absl::StrCat("trace-", trace);
      for (size_t j = i; j < std::min(spans.size(), i + per_append); ++j) {
        request.events.push_back({.type = "SpanRecorded",
                                  .data = SpanRecordedJson(spans[j], trace)});
      }
      auto result = log_->Append(request);
      ASSERT_TRUE(result.ok()) << result.status();
    }
  }

  // Applies the log with every domain projection, `batch` events a batch.
  void Project(size_t batch) {
    for (auto& projection : NewDomainProjections(
             DomainProjectionOptions{.metrics_retention_days = 100000})) {
      RunnerOptions options;
      options.pg_url = db_.url();
      options.max_batch_events = batch;
      ProjectionRunner runner(projection.get(), log_.get(), options);
      absl::Status status = runner.CatchUp(log_->HeadPosition());
      ASSERT_TRUE(status.ok()) << projection->name() << ": " << status;
      ASSERT_EQ(runner.status().parked, 0u) << projection->name();
    }
  }

  // Every row of the read models spans fold into, without the columns
  // that name the event that last touched a row.
  std::vector<std::string> Rows() const {
    const char* kQueries[] = {
        "SELECT agent_id, role, name, model, status, stopped_reason, "
        "current_task_id, registered_at, last_heartbeat_at FROM vigil.agents "
        "ORDER BY agent_id",
        "SELECT task_id, manager_id, worker_id, title, priority, "
        "parent_task_id, status, created_at, assigned_at, started_at, "
        "finished_at, progress, progress_note, result, error FROM vigil.tasks "
        "ORDER BY task_id",
        "SELECT * FROM vigil.coordination ORDER BY manager_id, worker_id",
        "SELECT * FROM vigil.agent_metrics ORDER BY agent_id, bucket",
        "SELECT * FROM vigil.llm_usage ORDER BY model, bucket",
        "SELECT trace_id, span_id, parent_span_id, name, kind, start_at, "
        "end_at, duration_ms, status, error, operation, agent_id, agent_name, "
        "caller_agent_id, tool, tool_call_id, provider, model, input_tokens, "
        "output_tokens, cached_tokens, cost_usd, attributes, events, links, "
        "resource, scope FROM vigil.spans ORDER BY trace_id, span_id",
        "SELECT 'agents_spans', count(*) FROM vigil.agents_spans",
        "SELECT 'metrics_spans', count(*), count(attributes) "
        "FROM vigil.metrics_spans",
    };
    std::vector<std::string> rows;
    for (const char* sql : kQueries) {
      for (std::string& row : testing::QueryRows(db_.url(), sql)) {
        rows.push_back(std::move(row));
      }
    }
    return rows;
  }

  const std::string& url() const { return db_.url(); }

  // Rebuilds projection `name` into fresh tables and swaps them in.
  absl::Status RebuildProjection(const std::string& name) {
    RebuildOptions options;
    options.pg_url = db_.url();
    options.domain.metrics_retention_days = 100000;
    return Rebuild(name, log_.get(), options);
  }

 private:
  testing::TempDir dir_;
  testing::PgDatabase db_;
  std::unique_ptr<eventlog::EventLog> log_;
};

TEST(TraceProjectionsTest, AnyOrderAndBatchingGivesTheSameRows) {
  const std::vector<TraceSpan> spans = AgentTraceSpans();
  Store parents_first;
  parents_first.Append(spans, spans.size());
  parents_first.Project(20000);
  const std::vector<std::string> want = parents_first.Rows();
  // Runs, pairs, minutes, usage and spans are there.
  ASSERT_GE(want.size(), 4u + 2u + spans.size());

  std::vector<TraceSpan> reversed(spans.rbegin(), spans.rend());
  struct Case {
    std::vector<TraceSpan> order;
    size_t per_append;
    size_t batch;
  };
  std::vector<Case> cases = {{reversed, 1, 1}, {reversed, 4, 3}};
  std::mt19937 random(17);
  for (size_t batch : {1, 2, 5, 7}) {
    std::vector<TraceSpan> shuffled = spans;
    // Exporters retry: two spans reach the log twice.
    shuffled.push_back(spans[random() % spans.size()]);
    shuffled.push_back(spans[random() % spans.size()]);
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    cases.push_back({shuffled, 3, batch});
  }
  for (const Case& c : cases) {
    Store store;
    store.Append(c.order, c.per_append);
    store.Project(c.batch);
    EXPECT_EQ(store.Rows(), want)
        << "batch " << c.batch << ", first span " << c.order[0].span_id;
  }
}

TEST(TraceProjectionsTest, ARunWhoseChildrenArrivedFirstIsRunningThenDone) {
  const std::vector<TraceSpan> all = AgentTraceSpans();
  Store store;
  store.Append({all[3], all[4]}, 2);  // the researcher's calls
  store.Project(1);
  EXPECT_EQ(testing::QueryRows(store.url(),
                               "SELECT task_id, status, worker_id FROM "
                               "vigil.tasks ORDER BY task_id"),
            std::vector<std::string>{"run-a000000000000005|running|∅"});
  store.Append({all[2], all[1], all[0]}, 1);
  store.Project(2);
  EXPECT_EQ(testing::QueryRows(store.url(),
                               "SELECT task_id, status, worker_id, manager_id "
                               "FROM vigil.tasks ORDER BY task_id"),
            (std::vector<std::string>{
                "run-a000000000000001|completed|planner|∅",
                "run-a000000000000005|completed|researcher|planner"}));
}

// 20 traces of 1,051 spans (a manager's run, 50 worker runs, 20 calls
// each), children first in exports of 512, through the three projections
// in their default batches. The figure (spans/s of the three together) is
// printed; the rows are checked.
TEST(TraceProjectionsTest, ManySpansChildrenFirst) {
  Store store;
  size_t total = 0;
  for (int t = 0; t < 20; ++t) {
    const std::string trace =
        absl::StrCat("8888888888888888", absl::Hex(t, absl::kZeroPad16));
    // Span ids are unique across traces, as random ones are.
    const auto id = [&](int n) {
      return absl::StrCat(absl::Hex(t * 100000 + n, absl::kZeroPad16));
    };
    std::vector<TraceSpan> spans;
    spans.push_back({.span_id = id(1), .name = "root",
                     .operation = "invoke_agent", .start_ms = 0,
                     .end_ms = 90000, .agent_id = "boss"});
    for (int w = 1; w <= 50; ++w) {
      spans.push_back({.span_id = id(w * 100), .parent_span_id = id(1),
                       .name = "worker", .operation = "invoke_agent",
                       .start_ms = w, .end_ms = 80000,
                       .agent_id = absl::StrCat("w", w)});
      for (int c = 1; c <= 20; ++c) {
        spans.push_back({.span_id = id(w * 100 + c),
                         .parent_span_id = id(w * 100), .name = "call",
                         .operation = c % 2 ? "chat" : "execute_tool",
                         .start_ms = w + c, .end_ms = w + c + 1, .model = "m",
                         .input_tokens = 1, .output_tokens = 1,
                         .cost_usd = 0.5});
      }
    }
    std::reverse(spans.begin(), spans.end());
    total += spans.size();
    store.Append(spans, 512, trace);
  }
  const absl::Time start = absl::Now();
  store.Project(20000);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::cout << total << " spans through the three projections in " << seconds
            << " s: " << total / seconds << " spans/s\n";
  EXPECT_EQ(testing::QueryRows(store.url(),
                               "SELECT count(*), count(DISTINCT trace_id) "
                               "FROM vigil.spans"),
            std::vector<std::string>{"21020|20"});
  EXPECT_EQ(testing::QueryRows(store.url(),
                               "SELECT status, count(*) FROM vigil.tasks "
                               "GROUP BY status"),
            std::vector<std::string>{"completed|1020"});
  EXPECT_EQ(testing::QueryRows(store.url(),
                               "SELECT sum(tool_calls), sum(llm_calls) "
                               "FROM vigil.agent_metrics"),
            std::vector<std::string>{"10000|10000"});
  EXPECT_EQ(testing::QueryRows(store.url(),
                               "SELECT sum(tasks_assigned) FROM "
                               "vigil.coordination WHERE manager_id = 'boss'"),
            std::vector<std::string>{"1000"});
}

// A rebuild of each projection recreates its copy of the spans and gives
// the same rows.
TEST(TraceProjectionsTest, RebuildsGiveTheSameRows) {
  std::vector<TraceSpan> spans = AgentTraceSpans();
  std::reverse(spans.begin(), spans.end());
  Store store;
  store.Append(spans, 3);
  store.Project(4);
  const std::vector<std::string> before = store.Rows();
  for (const char* name : {"agents", "tasks", "metrics"}) {
    absl::Status status = store.RebuildProjection(name);
    ASSERT_TRUE(status.ok()) << name << ": " << status;
    EXPECT_EQ(store.Rows(), before) << name;
  }
}

class TraceReadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A worker's run first (its run and its manager's placeholder are made
    // by one event), then children first, in exports of two; the worker's
    // run is recorded twice.
    std::vector<TraceSpan> spans = AgentTraceSpans();
    std::reverse(spans.begin(), spans.end());
    spans.insert(spans.begin(), AgentTraceSpans()[5]);
    store_.Append(spans, 2);
    store_.Project(3);
  }

  absl::StatusOr<std::string> Read(api::ReadModelQuery query) {
    return ReadQueries(store_.url(), 1).Read(query);
  }

  Store store_;
};

std::vector<std::string> SpanIds(const std::string& body, std::string* trace) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
  std::vector<std::string> ids;
  std::string_view trace_id;
  if (root["trace_id"].get(trace_id) == simdjson::SUCCESS) {
    *trace = std::string(trace_id);
  }
  int64_t last_start = 0;
  for (simdjson::dom::element span : root["spans"].get_array()) {
    ids.emplace_back(std::string_view(span["span_id"]));
    const int64_t start = int64_t(span["start_time_us"]);
    EXPECT_LE(last_start, start) << "not by start time";
    last_start = start;
  }
  return ids;
}

TEST_F(TraceReadsTest, ATraceListsItsSpansByStartTime) {
  absl::StatusOr<std::string> body =
      Read(api::TraceQuery{.trace_id = testing::kTraceId});
  ASSERT_TRUE(body.ok()) << body.status();
  std::string trace;
  EXPECT_EQ(SpanIds(*body, &trace).size(), AgentTraceSpans().size());
  EXPECT_EQ(trace, testing::kTraceId);
  // Every field of a span row, as docs/otlp.md "Reads" lists them.
  for (const char* field :
       {"\"parent_span_id\":null", "\"kind\":\"internal\"",
        "\"start_time_us\":1764000000000000", "\"duration_ms\":61000.0",
        "\"status\":\"ok\"", "\"operation\":\"invoke_agent\"",
        "\"agent_id\":\"planner\"", "\"input_tokens\":100",
        "\"cached_tokens\":null", "\"cost_usd\":0.5",
        "\"resource\":{\"service.name\":\"crew\"}", "\"events\":null",
        "\"error\":\"timeout\"", "\"position\":", "\"recorded_time_us\":"}) {
    EXPECT_NE(body->find(field), std::string::npos) << field << " in " << *body;
  }
  EXPECT_EQ(Read(api::TraceQuery{.trace_id = "00"}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TraceReadsTest, ARunListsItsSubtree) {
  absl::StatusOr<std::string> body =
      Read(api::TaskSpansQuery{.task_id = "run-a000000000000005"});
  ASSERT_TRUE(body.ok()) << body.status();
  std::string trace;
  std::vector<std::string> ids = SpanIds(*body, &trace);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{
                     "a000000000000005", "a000000000000006",
                     "a000000000000007", "a00000000000000a",
                     "a00000000000000b", "a00000000000000d"}));
  EXPECT_EQ(trace, testing::kTraceId);
  EXPECT_EQ(Read(api::TaskSpansQuery{.task_id = "run-ffff"}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TraceReadsTest, TaskPagesVisitEveryRunOnce) {
  // Two runs share their first position.
  EXPECT_EQ(testing::QueryRows(store_.url(),
                               "SELECT count(*) - count(DISTINCT "
                               "first_position) FROM vigil.tasks"),
            std::vector<std::string>{"1"});
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 20; ++page) {
    absl::StatusOr<std::string> body =
        Read(api::TaskListQuery{.limit = 1, .cursor = cursor});
    ASSERT_TRUE(body.ok()) << body.status();
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(*body).get(root), simdjson::SUCCESS);
    for (simdjson::dom::element task : root["tasks"].get_array()) {
      seen.emplace_back(std::string_view(task["task_id"]));
    }
    if (root["next_cursor"].is_null()) break;
    cursor = std::string(std::string_view(root["next_cursor"]));
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "run-a000000000000001", "run-a000000000000005",
                      "run-a000000000000008", "run-a00000000000000a"}));
}

}  // namespace
}  // namespace vigil::projections
