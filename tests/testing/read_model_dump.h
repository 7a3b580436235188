// Every row of the domain read models as text, for "equal to a fresh
// rebuild, row for row" checks. Double columns that hold sums are rounded
// to 6 decimals: a sum depends on how events were grouped into batches by
// the last bits of its floating-point rounding, nothing else.

#ifndef VIGIL_TESTS_TESTING_READ_MODEL_DUMP_H_
#define VIGIL_TESTS_TESTING_READ_MODEL_DUMP_H_

#include <string>
#include <vector>

#include "tests/testing/pg_database.h"

namespace vigil::testing {

inline std::vector<std::string> DumpReadModels(const std::string& url,
                                               const std::string& schema =
                                                   "vigil") {
  const std::vector<std::pair<std::string, std::string>> tables = {
      {"agents", "SELECT * FROM " + schema + ".agents ORDER BY agent_id"},
      {"tasks", "SELECT * FROM " + schema + ".tasks ORDER BY task_id"},
      {"coordination", "SELECT * FROM " + schema +
                           ".coordination ORDER BY manager_id, worker_id"},
      {"agent_messages", "SELECT * FROM " + schema +
                             ".agent_messages ORDER BY from_agent, to_agent"},
      {"agent_metrics",
       "SELECT agent_id, bucket, events, heartbeats, "
       "round(cpu_pct_sum::numeric, 6), round(mem_bytes_sum::numeric, 6), "
       "round(queue_depth_sum::numeric, 6), llm_calls, input_tokens, "
       "output_tokens, round(cost_usd::numeric, 6), tool_calls, "
       "tool_failures, tasks_completed, tasks_failed FROM " +
           schema + ".agent_metrics ORDER BY agent_id, bucket"},
      {"llm_usage",
       "SELECT model, bucket, calls, input_tokens, output_tokens, "
       "round(cost_usd::numeric, 6), round(latency_ms_sum::numeric, 6) FROM " +
           schema + ".llm_usage ORDER BY model, bucket"},
  };
  std::vector<std::string> dump;
  for (const auto& [table, sql] : tables) {
    for (std::string& row : QueryRows(url, sql)) dump.push_back(table + ": " + row);
  }
  return dump;
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_READ_MODEL_DUMP_H_
