// The time-travel JSON of the coordination rows (pairs and messages) and of
// LLM usage stays
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

TEST(StateJsonTest, UsageRowsRenderAsBefore) {
  SystemState state;
  state.time_us = 1764000000000000;
  state.metrics.SeedUsageMinute({"gpt", 1764000000000000},
                                {.calls = 3, .input_tokens = 100,
                                 .output_tokens = 200, .cost_usd = 1.5,
                                 .latency_ms_sum = 300});
  state.metrics.SeedUsageMinute({"idle", 1764000000000000}, {});
  const std::string json = SystemStateJson(state, ReplayStats{}, 10);
  const std::string usage =
      ",\"usage\":[{\"bucket_time_us\":1764000000000000,\"model\":\"gpt\","
      "\"calls\":3,\"input_tokens\":100,\"output_tokens\":200,"
      "\"cost_usd\":1.5,\"latency_ms_avg\":100.0},"
      "{\"bucket_time_us\":1764000000000000,\"model\":\"idle\","
      "\"calls\":0,\"input_tokens\":0,\"output_tokens\":0,"
      "\"cost_usd\":0.0,\"latency_ms_avg\":null}]}";
  ASSERT_GE(json.size(), usage.size());
  EXPECT_EQ(json.substr(json.size() - usage.size()), usage) << json;
}

}  // namespace
}  // namespace vigil::projections
