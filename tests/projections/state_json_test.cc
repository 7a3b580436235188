// The time-travel JSON of the coordination rows (pairs and messages), of
// LLM usage and of per-agent metrics stays
// byte for byte what it was before they were described in
// projections/row_columns.h: the expected text below was written by the
// hand-built renderer of commit b70c4f9.

#include "projections/state_json.h"

#include <string>

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

}  // namespace
}  // namespace vigil::projections
