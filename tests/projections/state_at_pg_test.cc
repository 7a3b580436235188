// The fold at the head equals the PostgreSQL read models row for row: the
// simulator drives a log past 100,000 events, the domain projections
// replay it into a fresh database, and time travel's folds (from their
// snapshots) are written into a second fresh database with the same
// schema; both are dumped and compared.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "projections/internal/domain_projections.h"
#include "projections/internal/sql.h"
#include "projections/migrations.h"
#include "projections/projection_runner.h"
#include "projections/state_at.h"
#include "tests/testing/pg_database.h"
#include "tests/testing/read_model_dump.h"
#include "tests/testing/temp_dir.h"
#include "tools/simulator/fill_log.h"
#include "tools/simulator/scenario.h"

namespace vigil::projections {
namespace {

using internal::SqlDouble;
using internal::SqlText;
using internal::SqlTextOrNull;
using internal::SqlTime;

// Writes `state` into the read-model tables of `url` (migrated, empty).
void WriteFolds(const SystemState& state, const std::string& url) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec(
      "CREATE TABLE vigil.agent_metrics_all PARTITION OF vigil.agent_metrics "
      "DEFAULT");
  auto insert = [&](const std::string& table, const std::string& values) {
    tx.exec(absl::StrCat("INSERT INTO vigil.", table, " VALUES ", values));
  };
  for (const auto& [id, a] : state.agents.rows()) {
    insert("agents",
           absl::StrCat("(", SqlText(tx, a.agent_id), ",",
                        SqlTextOrNull(tx, a.role), ",",
                        SqlTextOrNull(tx, a.name), ",",
                        SqlTextOrNull(tx, a.model), ",", SqlText(tx, a.status),
                        ",", SqlTextOrNull(tx, a.stopped_reason), ",",
                        SqlTextOrNull(tx, a.current_task_id), ",",
                        SqlTime(a.registered_time_us), ",",
                        SqlTime(a.last_heartbeat_time_us), ",",
                        SqlDouble(a.cpu_pct), ",", a.mem_bytes, ",",
                        a.queue_depth, ",", SqlTime(a.updated_time_us), ",",
                        a.last_position, ")"));
  }
  for (const auto& [id, t] : state.tasks.rows()) {
    insert("tasks",
           absl::StrCat(
               "(", SqlText(tx, t.task_id), ",", t.first_position, ",",
               SqlTextOrNull(tx, t.manager_id), ",",
               SqlTextOrNull(tx, t.worker_id), ",", SqlTextOrNull(tx, t.title),
               ",", t.has_priority ? absl::StrCat(t.priority) : "NULL", ",",
               SqlTextOrNull(tx, t.parent_task_id), ",", SqlText(tx, t.status),
               ",", SqlTime(t.created_time_us), ",",
               SqlTime(t.assigned_time_us), ",", SqlTime(t.started_time_us),
               ",", SqlTime(t.finished_time_us), ",", SqlDouble(t.progress),
               ",", SqlTextOrNull(tx, t.progress_note), ",",
               t.result.empty() ? "NULL"
                                : absl::StrCat(SqlText(tx, t.result), "::jsonb"),
               ",", SqlTextOrNull(tx, t.error), ",",
               SqlTime(t.updated_time_us), ",", t.last_position, ")"));
  }
  for (const auto& [k, p] : state.tasks.pairs()) {
    insert("coordination",
           absl::StrCat("(", SqlText(tx, k.first), ",", SqlText(tx, k.second),
                        ",", p.assigned, ",", p.completed, ",", p.failed, ",",
                        p.complete_time_sum_us, ",", p.complete_time_count,
                        ")"));
  }
  for (const auto& [k, m] : state.tasks.messages()) {
    insert("agent_messages",
           absl::StrCat("(", SqlText(tx, k.first), ",", SqlText(tx, k.second),
                        ",", m.messages, ",", SqlText(tx, m.last_kind), ",",
                        SqlTextOrNull(tx, m.last_summary), ",",
                        SqlTime(m.last_time_us), ",", m.last_position, ")"));
  }
  for (const auto& [k, m] : state.metrics.agent_minutes()) {
    insert("agent_metrics",
           absl::StrCat("(", SqlText(tx, k.first), ",", SqlTime(k.second), ",",
                        m.events, ",", m.heartbeats, ",",
                        SqlDouble(m.cpu_pct_sum), ",",
                        SqlDouble(m.mem_bytes_sum), ",",
                        SqlDouble(m.queue_depth_sum), ",", m.llm_calls, ",",
                        m.input_tokens, ",", m.output_tokens, ",",
                        SqlDouble(m.cost_usd), ",", m.tool_calls, ",",
                        m.tool_failures, ",", m.tasks_completed, ",",
                        m.tasks_failed, ")"));
  }
  for (const auto& [k, u] : state.metrics.usage_minutes()) {
    insert("llm_usage",
           absl::StrCat("(", SqlText(tx, k.first), ",", SqlTime(k.second), ",",
                        u.calls, ",", u.input_tokens, ",", u.output_tokens,
                        ",", SqlDouble(u.cost_usd), ",",
                        SqlDouble(u.latency_ms_sum), ")"));
  }
  tx.commit();
}

TEST(StateAtPgTest, FoldAtHeadEqualsTheReadModelsRowForRow) {
  testing::TempDir dir;
  auto log = eventlog::EventLog::Open(eventlog::Options(), dir.Sub("log"));
  ASSERT_TRUE(log.ok()) << log.status();
  auto scenario = simulator::Scenario::Create(
      {.managers = 4, .workers = 30, .seed = 3, .id_prefix = "pg"});
  ASSERT_TRUE(scenario.ok());
  ASSERT_TRUE(simulator::FillLog(log->get(), scenario->get(), 100'000).ok());
  const uint64_t head = (*log)->HeadPosition();
  ASSERT_GE(head, 100'000u);

  testing::PgDatabase projected;
  ASSERT_TRUE(ApplyMigrations(projected.url()).ok());
  for (auto& projection : NewDomainProjections({})) {
    RunnerOptions options;
    options.pg_url = projected.url();
    ProjectionRunner runner(projection.get(), log->get(), options);
    ASSERT_TRUE(runner.CatchUp(head).ok());
  }

  TimeTravel time_travel(log->get(), {.snapshot_interval = 10'000});
  ASSERT_TRUE(time_travel.CatchUpSnapshots().ok());
  ReplayStats stats;
  auto state = time_travel.StateAt(head, &stats);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(stats.snapshot_position, head - head % 10'000);
  testing::PgDatabase folded;
  ASSERT_TRUE(ApplyMigrations(folded.url()).ok());
  WriteFolds(*state, folded.url());

  const std::vector<std::string> want = testing::DumpReadModels(projected.url());
  const std::vector<std::string> got = testing::DumpReadModels(folded.url());
  ASSERT_GT(want.size(), 1000u);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << "row " << i;
  }
}

}  // namespace
}  // namespace vigil::projections
