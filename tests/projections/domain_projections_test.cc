// The domain projections against a real PostgreSQL: given these events,
// these rows. Also the runner's guarantees: poison events parked, two
// runners never double-apply, a batch applied once per checkpoint.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/internal/domain_projections.h"
#include "projections/migrations.h"
#include "projections/projection_runner.h"
#include "tests/testing/pg_database.h"
#include "tests/testing/temp_dir.h"

namespace vigil::projections {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

struct Input {
  std::string stream;
  std::string type;
  std::string data;
  std::string content_type = "";
};

class DomainProjectionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = eventlog::EventLog::Open(eventlog::Options(), dir_.Sub("log"));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    auto applied = ApplyMigrations(db_.url());
    ASSERT_TRUE(applied.ok()) << applied.status();
    projections_ = NewDomainProjections(DomainProjectionOptions{
        .metrics_retention_days = 100000});  // the test's times are old
  }

  void Append(const std::vector<Input>& inputs) {
    for (const Input& input : inputs) {
      eventlog::AppendRequest request;
      request.stream = input.stream;
      request.events.push_back({.type = input.type,
                                .data = input.data,
                                .content_type = input.content_type});
      auto result = log_->Append(request);
      ASSERT_TRUE(result.ok()) << result.status();
    }
  }

  RunnerOptions Options() const {
    RunnerOptions options;
    options.pg_url = db_.url();
    options.min_backoff = absl::Milliseconds(10);
    return options;
  }

  // Applies the whole log with every projection.
  void Project(size_t max_batch = 5000) {
    for (auto& projection : projections_) {
      RunnerOptions options = Options();
      options.max_batch_events = max_batch;
      ProjectionRunner runner(projection.get(), log_.get(), options);
      absl::Status status = runner.CatchUp(log_->HeadPosition());
      ASSERT_TRUE(status.ok()) << projection->name() << ": " << status;
      EXPECT_EQ(runner.checkpoint(), log_->HeadPosition());
    }
  }

  testing::TempDir dir_;
  testing::PgDatabase db_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::vector<std::unique_ptr<Projection>> projections_;
};

const std::vector<Input> kLifecycle = {
    {"agent-m1", "AgentRegistered",
     R"({"agent_id":"m1","role":"manager","name":"Planner","model":"gpt-4o"})"},
    {"agent-w1", "AgentRegistered",
     R"({"agent_id":"w1","role":"worker","name":"Coder"})"},
    {"agent-w1", "AgentHeartbeat",
     R"({"agent_id":"w1","cpu_pct":50,"mem_bytes":1000,"queue_depth":2})"},
    {"agent-w1", "AgentHeartbeat",
     R"({"agent_id":"w1","cpu_pct":30,"mem_bytes":3000,"queue_depth":0})"},
    {"task-t1", "TaskCreated",
     R"({"task_id":"t1","manager_id":"m1","title":"Write it","priority":2})"},
    {"task-t1", "TaskAssigned",
     R"({"task_id":"t1","manager_id":"m1","worker_id":"w1"})"},
    {"task-t1", "TaskStarted", R"({"task_id":"t1","worker_id":"w1"})"},
    {"task-t1", "TaskProgress",
     R"({"task_id":"t1","worker_id":"w1","percent":40,"note":"half"})"},
    {"agent-w1", "ToolCalled",
     R"({"agent_id":"w1","task_id":"t1","tool":"grep","duration_ms":5,"ok":false})"},
    {"agent-w1", "LlmCallCompleted",
     R"({"agent_id":"w1","task_id":"t1","model":"gpt-4o","input_tokens":100,)"
     R"("output_tokens":20,"cost_usd":0.5,"latency_ms":800})"},
    {"task-t2", "TaskCreated",
     R"({"task_id":"t2","manager_id":"m1","title":"Test it","parent_task_id":"t1"})"},
    {"agent-w1", "MessageSent",
     R"({"from_agent":"w1","to_agent":"m1","task_id":"t1","kind":"question"})"},
    {"agent-w1", "MessageSent",
     R"({"from_agent":"w1","to_agent":"m1","kind":"status","summary":"ok"})"},
    {"task-t1", "TaskCompleted",
     R"({"task_id":"t1","worker_id":"w1","result":{"lines":3}})"},
    {"task-t2", "TaskAssigned",
     R"({"task_id":"t2","manager_id":"m1","worker_id":"w1"})"},
    {"task-t2", "TaskFailed",
     R"({"task_id":"t2","worker_id":"w1","error":"flaky"})"},
    {"agent-x", "SomethingCustom", R"({"whatever":1})"},
    {"agent-m1", "AgentStopped", R"({"agent_id":"m1","reason":"done"})"},
};

void ExpectLifecycleRows(const testing::PgDatabase& db) {
  EXPECT_THAT(db.Rows("SELECT agent_id, role, name, model, status, "
                      "stopped_reason, current_task_id, cpu_pct, mem_bytes, "
                      "queue_depth, last_heartbeat_at IS NOT NULL "
                      "FROM vigil.agents ORDER BY 1"),
              ElementsAre("m1|manager|Planner|gpt-4o|stopped|done|∅|0|0|0|f",
                          "w1|worker|Coder|∅|idle|∅|∅|30|3000|0|t"));
  EXPECT_THAT(
      db.Rows("SELECT task_id, manager_id, worker_id, title, priority, "
              "parent_task_id, status, progress, progress_note, result, error, "
              "created_at IS NOT NULL, assigned_at IS NOT NULL, "
              "started_at IS NOT NULL, finished_at IS NOT NULL "
              "FROM vigil.tasks ORDER BY 1"),
      ElementsAre(
          "t1|m1|w1|Write it|2|∅|completed|100|half|{\"lines\": 3}|∅|t|t|t|t",
          "t2|m1|w1|Test it|∅|t1|failed|0|∅|∅|flaky|t|t|f|t"));
  EXPECT_THAT(db.Rows("SELECT manager_id, worker_id, tasks_assigned, "
                      "tasks_completed, tasks_failed, complete_time_count, "
                      "complete_time_sum_us >= 0 FROM vigil.coordination"),
              ElementsAre("m1|w1|2|1|1|1|t"));
  EXPECT_THAT(db.Rows("SELECT from_agent, to_agent, messages, last_kind, "
                      "last_summary FROM vigil.agent_messages"),
              ElementsAre("w1|m1|2|status|ok"));
  EXPECT_THAT(db.Rows("SELECT agent_id, sum(events), sum(heartbeats), "
                      "sum(cpu_pct_sum), sum(mem_bytes_sum), sum(llm_calls), "
                      "sum(input_tokens), sum(output_tokens), sum(cost_usd), "
                      "sum(tool_calls), sum(tool_failures), "
                      "sum(tasks_completed), sum(tasks_failed) "
                      "FROM vigil.agent_metrics GROUP BY 1 ORDER BY 1"),
              ElementsAre("m1|6|0|0|0|0|0|0|0|0|0|0|0",
                          "w1|11|2|80|4000|1|100|20|0.5|1|1|1|1"));
  EXPECT_THAT(db.Rows("SELECT model, sum(calls), sum(input_tokens), "
                      "sum(output_tokens), sum(cost_usd), sum(latency_ms_sum) "
                      "FROM vigil.llm_usage GROUP BY 1"),
              ElementsAre("gpt-4o|1|100|20|0.5|800"));
}

TEST_F(DomainProjectionsTest, LifecycleInOneBatch) {
  Append(kLifecycle);
  Project();
  ExpectLifecycleRows(db_);
}

TEST_F(DomainProjectionsTest, LifecycleOneEventPerBatchGivesTheSameRows) {
  Append(kLifecycle);
  Project(/*max_batch=*/1);
  ExpectLifecycleRows(db_);
}

TEST_F(DomainProjectionsTest, CheckpointsCommitWithTheirBatches) {
  Append(kLifecycle);
  Project(/*max_batch=*/4);
  EXPECT_THAT(db_.Rows("SELECT name, position FROM "
                       "vigil.projection_checkpoints ORDER BY 1"),
              ElementsAre("agents|18", "metrics|18", "tasks|18"));
  // A second pass over an up-to-date checkpoint changes nothing.
  Project();
  ExpectLifecycleRows(db_);
}

TEST_F(DomainProjectionsTest, HeartbeatOfAnUnregisteredAgentMakesARow) {
  Append({{"agent-z", "AgentHeartbeat",
           R"({"agent_id":"z","cpu_pct":1.25,"mem_bytes":7,"queue_depth":1})"}});
  Project();
  EXPECT_THAT(db_.Rows("SELECT agent_id, role, status, cpu_pct FROM "
                       "vigil.agents"),
              ElementsAre("z|∅|idle|1.25"));
}

TEST_F(DomainProjectionsTest, PoisonEventsAreParkedAndTheRestApplied) {
  Append({
      {"agent-a", "AgentRegistered",
       R"({"agent_id":"a","role":"worker","name":"A"})"},
      // Not JSON although a known type: the parser cannot read it.
      {"agent-a", "AgentHeartbeat", "cpu=1", "text/plain"},
      // A count that is not a whole number.
      {"agent-a", "LlmCallCompleted",
       R"({"agent_id":"a","model":"m","input_tokens":1.5,"output_tokens":1,)"
       R"("cost_usd":0,"latency_ms":1})"},
      {"task-t", "TaskCreated",
       R"({"task_id":"t","manager_id":"m","title":"T"})"},
      // Parses, but PostgreSQL's jsonb refuses \u0000: an SQL-level poison
      // found by redoing the batch one event at a time.
      {"task-t", "TaskCompleted",
       R"({"task_id":"t","worker_id":"a","result":"a\u0000b"})"},
      {"agent-a", "AgentHeartbeat",
       R"({"agent_id":"a","cpu_pct":9,"mem_bytes":1,"queue_depth":0})"},
  });
  Project();
  EXPECT_THAT(db_.Rows("SELECT projection, position, type FROM "
                       "vigil.parked_events ORDER BY 1, 2"),
              ElementsAre("agents|2|AgentHeartbeat", "agents|3|LlmCallCompleted",
                          "metrics|2|AgentHeartbeat",
                          "metrics|3|LlmCallCompleted",
                          "tasks|2|AgentHeartbeat", "tasks|3|LlmCallCompleted",
                          "tasks|5|TaskCompleted"));
  EXPECT_THAT(db_.Rows("SELECT error FROM vigil.parked_events WHERE "
                       "projection = 'tasks' AND position = 5")[0],
              HasSubstr("SQL error"));
  EXPECT_THAT(db_.Rows("SELECT agent_id, cpu_pct FROM vigil.agents"),
              ElementsAre("a|9"));
  EXPECT_THAT(db_.Rows("SELECT task_id, status FROM vigil.tasks"),
              ElementsAre("t|created"));
  EXPECT_THAT(db_.Rows("SELECT name, position FROM "
                       "vigil.projection_checkpoints ORDER BY 1"),
              ElementsAre("agents|6", "metrics|6", "tasks|6"));
}

// Two runners of one projection at once: the compare-and-set on the
// checkpoint lets exactly one apply each batch, so counters are not doubled.
TEST_F(DomainProjectionsTest, TwoRunnersNeverDoubleApply) {
  std::vector<Input> inputs;
  for (int i = 0; i < 400; ++i) {
    const std::string task = absl::StrCat("t", i);
    inputs.push_back({"task-" + task, "TaskAssigned",
                      absl::StrCat(R"({"task_id":")", task,
                                   R"(","manager_id":"m","worker_id":"w"})")});
  }
  Append(inputs);
  Projection* tasks = projections_[1].get();
  RunnerOptions options = Options();
  options.max_batch_events = 7;
  ProjectionRunner first(tasks, log_.get(), options);
  ProjectionRunner second(tasks, log_.get(), options);
  first.Start();
  second.Start();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  ASSERT_TRUE(first.WaitFor(400, deadline));
  ASSERT_TRUE(second.WaitFor(400, deadline));
  first.Stop();
  second.Stop();
  // Between them they committed every event exactly once (whichever won
  // each batch: a runner whose compare-and-set fails counts nothing).
  EXPECT_EQ(first.status().events_applied + second.status().events_applied,
            400u);
  EXPECT_THAT(db_.Rows("SELECT tasks_assigned FROM vigil.coordination"),
              ElementsAre("400"));
  EXPECT_THAT(db_.Rows("SELECT count(*) FROM vigil.tasks"),
              ElementsAre("400"));
}

TEST_F(DomainProjectionsTest, LiveRunnerFollowsNewEventsAndNotifies) {
  pqxx::connection listener(db_.url());
  struct Receiver : pqxx::notification_receiver {
    using pqxx::notification_receiver::notification_receiver;
    void operator()(const std::string& payload, int) override {
      payloads.push_back(payload);
    }
    std::vector<std::string> payloads;
  } receiver(listener, "vigil_projections");

  ProjectionRunner runner(projections_[0].get(), log_.get(), Options());
  runner.Start();
  Append({{"agent-a", "AgentRegistered",
           R"({"agent_id":"a","role":"worker","name":"A"})"}});
  ASSERT_TRUE(runner.WaitFor(1, absl::Now() + absl::Seconds(30)));
  EXPECT_THAT(db_.Rows("SELECT agent_id FROM vigil.agents"), ElementsAre("a"));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (receiver.payloads.empty() && absl::Now() < deadline) {
    listener.await_notification(0, 100000);
  }
  EXPECT_THAT(receiver.payloads,
              ElementsAre(R"({"projection":"agents","checkpoint":1})"));
  const ProjectionStatus status = runner.status();
  EXPECT_EQ(status.checkpoint, 1u);
  EXPECT_EQ(status.lag_events, 0u);
  runner.Stop();
  EXPECT_EQ(runner.status().state, "stopped");
}

TEST_F(DomainProjectionsTest, MigrationsAreRecordedAndAppliedOnce) {
  auto again = ApplyMigrations(db_.url());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0);
  EXPECT_THAT(db_.Rows("SELECT version, name FROM vigil.schema_migrations"),
              ElementsAre("1|0001_read_models.sql", "2|0002_spans.sql"));
}

TEST_F(DomainProjectionsTest, ExpiredMetricPartitionsAreDropped) {
  Append(kLifecycle);
  Project();
  ASSERT_NE(db_.Rows("SELECT count(*) FROM vigil.agent_metrics")[0], "0");
  pqxx::connection c(db_.url());
  pqxx::work tx(c);
  // Ten days from now, with one day kept, today's partition has expired.
  DomainProjectionOptions later{.metrics_retention_days = 1,
                                .now = [] {
                                  return absl::Now() + absl::Hours(24 * 10);
                                }};
  // One partition, or two if the test ran across midnight UTC.
  EXPECT_GE(DropExpiredMetricPartitions(tx, "vigil", later), 1);
  tx.commit();
  EXPECT_THAT(db_.Rows("SELECT count(*) FROM vigil.agent_metrics"),
              ElementsAre("0"));
}

}  // namespace
}  // namespace vigil::projections
