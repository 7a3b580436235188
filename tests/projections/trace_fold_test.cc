// Spans fold into the same read models whatever order they arrive in
// (docs/otlp.md "How spans fold"): every permutation of a small
// multi-agent trace, shuffled orders of a larger one with spans recorded
// twice, through the in-memory folds of time travel (state_at.h). The
// PostgreSQL projections fold the same traces split across batches in
// trace_projections_test.cc.

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eventlog/event.h"
#include "gtest/gtest.h"
#include "projections/state_at.h"
#include "projections/state_json.h"
#include "tests/testing/agent_trace.h"

namespace vigil::projections {
namespace {

using testing::AgentTraceSpans;
using testing::kSmallTrace;
using testing::SpanRecordedJson;
using testing::TraceSpan;

// Folds `spans` in this order, one event each, as the log would record
// them (positions 1.., a millisecond apart); span i of trace traces[i]
// (default: all of testing::kTraceId).
SystemState Fold(const std::vector<TraceSpan>& spans,
                 const std::vector<std::string>& traces = {}) {
  SystemState state;
  ReplayStats stats;
  uint64_t position = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    const TraceSpan& span = spans[i];
    const std::string trace = traces.empty() ? testing::kTraceId : traces[i];
    eventlog::RecordedEvent event;
    event.position = ++position;
    event.recorded_time_us = 1765000000000000 + int64_t(position) * 1000;
    event.stream = absl::StrCat("trace-", trace);
    event.type = "SpanRecorded";
    event.data = SpanRecordedJson(span, trace);
    event.content_type = std::string(eventlog::kJsonContentType);
    EXPECT_TRUE(state.Fold(event, &stats)) << event.data;
  }
  EXPECT_EQ(stats.skipped_events, 0u);
  return state;
}

// Every row of every read model, without the columns that say which event
// last touched a row (its position and recorded time: those follow the
// arrival order by definition).
std::string Rows(const SystemState& state) {
  std::vector<std::string> lines;
  for (const auto& [id, row] : state.agents.rows()) {
    AgentRow r = row;
    r.updated_time_us = 0;
    r.last_position = 0;
    lines.push_back(AgentJson(r));
  }
  for (const auto& [id, row] : state.tasks.rows()) {
    TaskRow r = row;
    r.first_position = 0;
    r.updated_time_us = 0;
    r.last_position = 0;
    lines.push_back(TaskJson(r));
  }
  for (const auto& [key, row] : state.traces.rows()) {
    SpanRow r = row;
    r.position = 0;
    r.recorded_time_us = 0;
    lines.push_back(SpanJson(r));
  }
  for (const auto& [k, c] : state.tasks.pairs()) {
    lines.push_back(absl::StrCat("pair ", k.first, "->", k.second, " ",
                                 c.assigned, "/", c.completed, "/", c.failed,
                                 " ", c.complete_time_sum_us, "/",
                                 c.complete_time_count));
  }
  for (const auto& [k, m] : state.metrics.agent_minutes()) {
    lines.push_back(absl::StrCat(
        "minute ", k.first, "@", k.second, " ", m.events, " ", m.llm_calls,
        " ", m.input_tokens, " ", m.output_tokens, " ", m.cost_usd, " ",
        m.tool_calls, " ", m.tool_failures, " ", m.tasks_completed, " ",
        m.tasks_failed));
  }
  for (const auto& [k, u] : state.metrics.usage_minutes()) {
    lines.push_back(absl::StrCat("usage ", k.first, "@", k.second, " ",
                                 u.calls, " ", u.input_tokens, " ",
                                 u.output_tokens, " ", u.cost_usd, " ",
                                 u.latency_ms_sum));
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& line : lines) absl::StrAppend(&out, line, "\n");
  return out;
}

const TaskRow* Task(const SystemState& state, const std::string& span_id) {
  auto it = state.tasks.rows().find(RunTaskId(span_id));
  return it == state.tasks.rows().end() ? nullptr : &it->second;
}

TEST(TraceFoldTest, ParentsFirstGiveTheDomainRows) {
  const SystemState state = Fold(AgentTraceSpans());
  // Runs: the manager's, two workers', a workflow; no placeholder left.
  EXPECT_EQ(state.tasks.rows().size(), 4u);
  const TaskRow* researcher = Task(state, "a000000000000005");
  ASSERT_NE(researcher, nullptr);
  EXPECT_EQ(researcher->status, "completed");
  EXPECT_EQ(researcher->manager_id, "planner");  // through the hand-off span
  EXPECT_EQ(researcher->worker_id, "researcher");
  EXPECT_EQ(researcher->parent_task_id, RunTaskId("a000000000000001"));
  const TaskRow* writer = Task(state, "a000000000000008");
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->status, "failed");
  EXPECT_EQ(writer->error, "rate limited");
  const TaskRow* workflow = Task(state, "a00000000000000a");
  ASSERT_NE(workflow, nullptr);
  EXPECT_EQ(workflow->worker_id, "");
  EXPECT_EQ(workflow->parent_task_id, RunTaskId("a000000000000005"));

  EXPECT_EQ(state.agents.rows().at("planner").role, "manager");
  EXPECT_EQ(state.agents.rows().at("researcher").role, "worker");
  EXPECT_EQ(state.agents.rows().at("writer").name, "Writer");

  const PairCounts& to_researcher =
      state.tasks.pairs().at({"planner", "researcher"});
  EXPECT_EQ(to_researcher.assigned, 1);
  EXPECT_EQ(to_researcher.completed, 1);
  EXPECT_EQ(to_researcher.complete_time_sum_us, 36'900'000);
  const PairCounts& to_writer = state.tasks.pairs().at({"planner", "writer"});
  EXPECT_EQ(to_writer.failed, 1);
  EXPECT_EQ(state.tasks.pairs().size(), 2u);

  // The researcher's calls, one of them inside its workflow.
  const int64_t minute = MinuteOf(testing::kTraceStartUs);
  const AgentMinute& researcher_minute =
      state.metrics.agent_minutes().at({"researcher", minute});
  EXPECT_EQ(researcher_minute.tool_calls, 2);
  EXPECT_EQ(researcher_minute.tool_failures, 1);
  EXPECT_EQ(researcher_minute.llm_calls, 2);
  EXPECT_EQ(researcher_minute.input_tokens, 57);
  EXPECT_EQ(researcher_minute.tasks_completed, 1);
  // The manager's run ended in the next minute.
  EXPECT_EQ(state.metrics.agent_minutes()
                .at({"planner", minute + kMinuteUs})
                .tasks_completed,
            1);
  EXPECT_EQ(state.metrics.usage_minutes().at({"gpt-4o", minute}).calls, 2);
  EXPECT_EQ(state.traces.rows().size(), AgentTraceSpans().size());
}

TEST(TraceFoldTest, EveryOrderOfASmallTraceGivesTheSameRows) {
  std::vector<TraceSpan> spans = AgentTraceSpans();
  spans.resize(kSmallTrace);
  const std::string want = Rows(Fold(spans));
  std::vector<size_t> order(spans.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  int orders = 0;
  do {
    std::vector<TraceSpan> shuffled;
    for (size_t i : order) shuffled.push_back(spans[i]);
    const std::string got = Rows(Fold(shuffled));
    ASSERT_EQ(got, want) << "order #" << orders;
    ++orders;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(orders, 5040);
}

TEST(TraceFoldTest, ShuffledOrdersWithRetriesGiveTheSameRows) {
  const std::vector<TraceSpan> spans = AgentTraceSpans();
  const std::string want = Rows(Fold(spans));
  std::mt19937 random(17);
  for (int round = 0; round < 300; ++round) {
    std::vector<TraceSpan> shuffled = spans;
    // Exporters retry: some spans reach the log twice.
    for (int i = 0; i < 3; ++i) shuffled.push_back(spans[random() % spans.size()]);
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    ASSERT_EQ(Rows(Fold(shuffled)), want) << "round " << round;
  }
}

TEST(TraceFoldTest, ARunWhoseChildrenArriveFirstIsRunning) {
  const std::vector<TraceSpan> all = AgentTraceSpans();
  // The researcher's chat and tool call; its run and everything above it
  // have not arrived.
  const SystemState early = Fold({all[3], all[4]});
  const TaskRow* run = Task(early, "a000000000000005");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->status, "running");
  EXPECT_EQ(run->worker_id, "");  // unknown until the run arrives
  EXPECT_EQ(run->started_time_us, testing::kTraceStartUs + 3'200'000);
  // The calls wait for their agent: no per-agent metrics yet, but usage.
  EXPECT_TRUE(early.metrics.agent_minutes().empty());
  EXPECT_EQ(early.metrics.usage_minutes().size(), 1u);

  // The run arrives: completed, by its worker; its manager (above the
  // hand-off span) has not arrived, so the hand-off span's run is
  // running now.
  const SystemState later = Fold({all[3], all[4], all[2]});
  run = Task(later, "a000000000000005");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->status, "completed");
  EXPECT_EQ(run->worker_id, "researcher");
  EXPECT_EQ(run->manager_id, "");
  EXPECT_EQ(run->parent_task_id, RunTaskId("a000000000000004"));
  const TaskRow* above = Task(later, "a000000000000004");
  ASSERT_NE(above, nullptr);
  EXPECT_EQ(above->status, "running");
  EXPECT_EQ(later.metrics.agent_minutes()
                .at({"researcher", MinuteOf(testing::kTraceStartUs)})
                .tool_calls,
            1);

  // The hand-off span is no run: its placeholder goes, and the manager's
  // run (still missing) is the one running.
  const SystemState handoff = Fold({all[3], all[4], all[2], all[1]});
  EXPECT_EQ(Task(handoff, "a000000000000004"), nullptr);
  ASSERT_NE(Task(handoff, "a000000000000001"), nullptr);
  EXPECT_EQ(Task(handoff, "a000000000000001")->status, "running");
  EXPECT_EQ(Task(handoff, "a000000000000005")->parent_task_id,
            RunTaskId("a000000000000001"));
  EXPECT_TRUE(handoff.tasks.pairs().empty());
}

// 20 traces of 1,051 spans (a manager's run, 50 worker runs under it,
// 20 calls under each), every span shuffled across all traces: each trace's
// rows settle, and a span costs its walk up, not its trace's size (the
// test's time is the figure).
TEST(TraceFoldTest, LargeTracesShuffledSettle) {
  std::vector<TraceSpan> spans;
  std::vector<std::string> traces;
  for (int t = 0; t < 20; ++t) {
    const std::string trace =
        absl::StrCat("7777777777777777", absl::Hex(t, absl::kZeroPad16));
    const auto id = [&](int n) {
      return absl::StrCat(absl::Hex(t * 100000 + n, absl::kZeroPad16));
    };
    auto add = [&](TraceSpan span) {
      spans.push_back(std::move(span));
      traces.push_back(trace);
    };
    add({.span_id = id(0), .name = "root", .operation = "invoke_agent",
         .start_ms = 0, .end_ms = 90000, .agent_id = "boss"});
    for (int w = 1; w <= 50; ++w) {
      const int run = w * 100;
      add({.span_id = id(run), .parent_span_id = id(0), .name = "worker",
           .operation = "invoke_agent", .start_ms = w, .end_ms = 80000,
           .agent_id = absl::StrCat("w", w)});
      for (int c = 1; c <= 20; ++c) {
        add({.span_id = id(run + c), .parent_span_id = id(run),
             .name = "call", .operation = c % 2 ? "chat" : "execute_tool",
             .start_ms = w + c, .end_ms = w + c + 1, .model = "m",
             .input_tokens = 1, .output_tokens = 1, .cost_usd = 0.5});
      }
    }
  }
  std::vector<size_t> order(spans.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(17));
  std::vector<TraceSpan> shuffled;
  std::vector<std::string> shuffled_traces;
  for (size_t i : order) {
    shuffled.push_back(spans[i]);
    shuffled_traces.push_back(traces[i]);
  }
  const SystemState state = Fold(shuffled, shuffled_traces);
  EXPECT_EQ(state.traces.rows().size(), 21'020u);
  EXPECT_EQ(state.tasks.rows().size(), 20u * 51);  // no placeholder left
  for (const auto& [id, task] : state.tasks.rows()) {
    ASSERT_EQ(task.status, "completed") << id;
  }
  int64_t tool_calls = 0, llm_calls = 0;
  for (const auto& [key, minute] : state.metrics.agent_minutes()) {
    tool_calls += minute.tool_calls;
    llm_calls += minute.llm_calls;
  }
  EXPECT_EQ(tool_calls, 20 * 50 * 10);
  EXPECT_EQ(llm_calls, 20 * 50 * 10);
  EXPECT_EQ(state.tasks.pairs().size(), 50u);
  EXPECT_EQ(state.tasks.pairs().at({"boss", "w7"}).assigned, 20);
}

TEST(TraceFoldTest, ACycleOfParentIdsEnds) {
  // A run under two spans that name each other as parents.
  TraceSpan run{.span_id = "b000000000000001",
                .parent_span_id = "b000000000000002", .name = "run",
                .operation = "invoke_agent", .start_ms = 1, .end_ms = 2,
                .agent_id = "x"};
  TraceSpan b{.span_id = "b000000000000002",
              .parent_span_id = "b000000000000003", .name = "b",
              .start_ms = 1, .end_ms = 2};
  TraceSpan c{.span_id = "b000000000000003",
              .parent_span_id = "b000000000000002", .name = "c",
              .start_ms = 1, .end_ms = 2};
  const SystemState state = Fold({run, b, c});
  EXPECT_EQ(state.traces.rows().size(), 3u);
  ASSERT_NE(Task(state, "b000000000000001"), nullptr);
  EXPECT_EQ(Task(state, "b000000000000001")->manager_id, "");
  EXPECT_EQ(Rows(Fold({c, b, run})), Rows(state));
}

}  // namespace
}  // namespace vigil::projections
