// The time-travel JSON of the coordination rows (pairs and messages), of
// LLM usage and of per-agent metrics stays
// byte for byte what it was before they were described in
// projections/row_columns.h: the expected text below was written by the
// hand-built renderer of commit b70c4f9.

#include "projections/state_json.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "projections/folds.h"
#include "projections/state_at.h"

namespace vigil::projections {
namespace {

TEST(StateJsonTest, CoordinationRowsRenderAsBefore) {
  SystemState state;
  state.tasks.SeedPair({"m1", "w1"},
                       {.assigned = 3, .completed = 2, .failed = 1,
                        .complete_time_sum_us = 5000000,
                        .complete_time_count = 2});
  state.tasks.SeedPair({"m1", "w2"}, {.assigned = 1, .failed = 1});
  state.tasks.SeedMessages({"m1", "w1"},
                           {.messages = 4, .last_kind = "note",
                            .last_summary = "hi",
                            .last_time_us = 1764000007000000,
                            .last_position = 9});
  state.tasks.SeedMessages({"w1", "m\"1"}, {.messages = 1});
  const std::string json = SystemStateJson(state, ReplayStats{}, 10);
  EXPECT_EQ(json,
            "{\"position\":0,\"time_us\":null,\"snapshot_position\":0,"
            "\"replayed_events\":0,\"skipped_events\":0,\"agents\":[],"
            "\"task_count\":0,\"tasks\":[],\"coordination\":{\"pairs\":["
            "{\"manager_id\":\"m1\",\"worker_id\":\"w1\",\"tasks_assigned\":3,"
            "\"tasks_completed\":2,\"tasks_failed\":1,"
            "\"mean_time_to_complete_ms\":2500.0},"
            "{\"manager_id\":\"m1\",\"worker_id\":\"w2\",\"tasks_assigned\":1,"
            "\"tasks_completed\":0,\"tasks_failed\":1,"
            "\"mean_time_to_complete_ms\":null}],\"messages\":["
            "{\"from_agent\":\"m1\",\"to_agent\":\"w1\",\"messages\":4,"
            "\"last_kind\":\"note\",\"last_summary\":\"hi\","
            "\"last_time_us\":1764000007000000},"
            "{\"from_agent\":\"w1\",\"to_agent\":\"m\\\"1\",\"messages\":1,"
            "\"last_kind\":null,\"last_summary\":null,\"last_time_us\":null}]},"
            "\"agent_metrics\":[],\"usage\":[]}");
}

TEST(StateJsonTest, MinuteRowsRenderAsBefore) {
  SystemState state;
  state.time_us = 1764000000000000;
  state.metrics.SeedUsageMinute({"gpt", 1764000000000000},
                                {.calls = 3, .input_tokens = 100,
                                 .output_tokens = 200, .cost_usd = 1.5,
                                 .latency_ms_sum = 300});
  state.metrics.SeedUsageMinute({"idle", 1764000000000000}, {});
  state.metrics.SeedAgentMinute(
      {"w1", 1764000000000000},
      {.events = 5, .heartbeats = 2, .cpu_pct_sum = 61,
       .mem_bytes_sum = 6000, .queue_depth_sum = 4, .llm_calls = 1,
       .input_tokens = 10, .output_tokens = 20, .cost_usd = 0.25,
       .tool_calls = 3, .tool_failures = 1, .tasks_completed = 1});
  state.metrics.SeedAgentMinute({"w2", 1764000000000000}, {.events = 1});
  const std::string json = SystemStateJson(state, ReplayStats{}, 10);
  const std::string rows =
      ",\"agent_metrics\":[{\"agent_id\":\"w1\","
      "\"bucket_time_us\":1764000000000000,\"events\":5,\"heartbeats\":2,"
      "\"cpu_pct_avg\":30.5,\"mem_bytes_avg\":3000.0,"
      "\"queue_depth_avg\":2.0,\"llm_calls\":1,\"input_tokens\":10,"
      "\"output_tokens\":20,\"cost_usd\":0.25,\"tool_calls\":3,"
      "\"tool_failures\":1,\"tasks_completed\":1,\"tasks_failed\":0},"
      "{\"agent_id\":\"w2\",\"bucket_time_us\":1764000000000000,"
      "\"events\":1,\"heartbeats\":0,\"cpu_pct_avg\":null,"
      "\"mem_bytes_avg\":null,\"queue_depth_avg\":null,\"llm_calls\":0,"
      "\"input_tokens\":0,\"output_tokens\":0,\"cost_usd\":0.0,"
      "\"tool_calls\":0,\"tool_failures\":0,\"tasks_completed\":0,"
      "\"tasks_failed\":0}]"
      ",\"usage\":[{\"bucket_time_us\":1764000000000000,\"model\":\"gpt\","
      "\"calls\":3,\"input_tokens\":100,\"output_tokens\":200,"
      "\"cost_usd\":1.5,\"latency_ms_avg\":100.0},"
      "{\"bucket_time_us\":1764000000000000,\"model\":\"idle\","
      "\"calls\":0,\"input_tokens\":0,\"output_tokens\":0,"
      "\"cost_usd\":0.0,\"latency_ms_avg\":null}]}";
  ASSERT_GE(json.size(), rows.size());
  EXPECT_EQ(json.substr(json.size() - rows.size()), rows) << json;
}

// A whole state's body is written as text; each row in it is byte for
// byte the row the tree-built renderer (AgentJson, TaskJson, SpanJson)
// prints, escapes, doubles and inline JSON included.
TEST(StateJsonTest, RowsWrittenAsTextEqualTheTreeBuiltRows) {
  SystemState state;
  state.time_us = 1764000000000000;
  const AgentRow agent{.agent_id = "w\"1\xff", .role = "worker",
                       .name = "caf\xc3\xa9\n", .status = "busy",
                       .registered_time_us = 1764000000000001,
                       .cpu_pct = 1e20, .mem_bytes = -5, .last_position = 7};
  state.agents.Seed(agent);
  const std::vector<std::string> results = {
      "", R"({"summary":"Done","artifacts":1})", R"({"a": 1.50, "b":-0})",
      R"({"s":"\u00e9\/"})", "not json", R"([1e400])"};
  const std::vector<double> progress = {0.0, -0.0, 0.1, 1e-05, 1e15,
                                        std::nan(""), 1.0 / 3};
  for (size_t i = 0; i < results.size() + progress.size(); ++i) {
    state.tasks.Seed({.task_id = absl::StrCat("t", i),
                      .first_position = 100 - i,
                      .has_priority = i % 2 == 0,
                      .priority = static_cast<int64_t>(i) - 3,
                      .status = "completed",
                      .progress = progress[i % progress.size()],
                      .result = results[i % results.size()]});
  }
  const std::string json = SystemStateJson(state, ReplayStats{}, 100);
  EXPECT_NE(json.find(absl::StrCat("\"agents\":[", AgentJson(agent), "]")),
            std::string::npos)
      << json;
  std::string tasks = "\"tasks\":[";
  for (size_t i = 0; i < results.size() + progress.size(); ++i) {
    if (i > 0) tasks += ",";
    tasks += TaskJson(state.tasks.rows().at(absl::StrCat("t", i)));
  }
  EXPECT_NE(json.find(tasks + "]"), std::string::npos) << json << "\n" << tasks;
}

}  // namespace
}  // namespace vigil::projections
