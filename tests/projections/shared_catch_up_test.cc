// The shared reader against a real PostgreSQL: three projections caught up
// together from one read of a simulator log, in pages large enough that
// every big table is written with COPY into staging tables and a
// set-based merge (internal/upsert.h), hold the same rows as the per-event
// path (each projection alone, one event per transaction: multi-row VALUES
// upserts of a row or two). Also when the runners start from different
// checkpoints, and when vigild's ProjectionService starts far behind.
// And the staging table one connection reuses (upsert.h).

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "gtest/gtest.h"
#include "projections/internal/domain_projections.h"
#include "projections/internal/upsert.h"
#include "projections/migrations.h"
#include "projections/projection_runner.h"
#include "projections/projection_service.h"
#include "projections/shared_catch_up.h"
#include "tests/testing/pg_database.h"
#include "tests/testing/read_model_dump.h"
#include "tests/testing/temp_dir.h"
#include "tools/simulator/fill_log.h"
#include "tools/simulator/scenario.h"

namespace vigil::projections {
namespace {

class SharedCatchUpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = eventlog::EventLog::Open(eventlog::Options(), dir_.Sub("log"));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    auto scenario = simulator::Scenario::Create(
        {.managers = 3, .workers = 20, .seed = 11, .id_prefix = "s"});
    ASSERT_TRUE(scenario.ok());
    ASSERT_TRUE(simulator::FillLog(log_.get(), scenario->get(), 4000).ok());
    ASSERT_TRUE(ApplyMigrations(per_event_.url()).ok());
    ASSERT_TRUE(ApplyMigrations(shared_.url()).ok());

    // The per-event path: each projection alone, a transaction per event.
    for (auto& projection : NewDomainProjections({})) {
      RunnerOptions options;
      options.pg_url = per_event_.url();
      options.max_batch_events = 1;
      ProjectionRunner runner(projection.get(), log_.get(), options);
      ASSERT_TRUE(runner.CatchUp(log_->HeadPosition()).ok());
    }
  }

  // Runners of the three projections on the shared database.
  void MakeRunners() {
    projections_ = NewDomainProjections({});
    for (auto& projection : projections_) {
      RunnerOptions options;
      options.pg_url = shared_.url();
      runners_.push_back(std::make_unique<ProjectionRunner>(
          projection.get(), log_.get(), options));
    }
  }

  std::vector<ProjectionRunner*> Runners() {
    std::vector<ProjectionRunner*> out;
    for (auto& runner : runners_) out.push_back(runner.get());
    return out;
  }

  testing::TempDir dir_;
  testing::PgDatabase per_event_;
  testing::PgDatabase shared_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::vector<std::unique_ptr<Projection>> projections_;
  std::vector<std::unique_ptr<ProjectionRunner>> runners_;
};

TEST_F(SharedCatchUpTest, OnePageWithCopyEqualsThePerEventPath) {
  MakeRunners();
  const uint64_t head = log_->HeadPosition();
  SharedCatchUp shared(Runners(), log_.get(), {.max_batch_events = 100000});
  ASSERT_TRUE(shared.CatchUp(head).ok());
  for (auto& runner : runners_) EXPECT_EQ(runner->checkpoint(), head);

  // The page held the whole log: every task was written in one Upsert,
  // which took the COPY path.
  const std::vector<std::string> rows = testing::DumpReadModels(shared_.url());
  EXPECT_GE(testing::QueryRows(shared_.url(), "SELECT task_id FROM vigil.tasks")
                .size(),
            internal::kCopyMinRows);
  EXPECT_EQ(rows, testing::DumpReadModels(per_event_.url()));

  // The control: one wrong value in one row is seen.
  {
    pqxx::connection connection(shared_.url());
    pqxx::work tx(connection);
    tx.exec(
        "UPDATE vigil.tasks SET title = title || '!' WHERE task_id = "
        "(SELECT min(task_id) FROM vigil.tasks)");
    tx.commit();
  }
  EXPECT_NE(testing::DumpReadModels(shared_.url()),
            testing::DumpReadModels(per_event_.url()));
}

TEST_F(SharedCatchUpTest, RunnersFromDifferentCheckpointsEndEqual) {
  MakeRunners();
  const uint64_t head = log_->HeadPosition();
  // agents ahead (mid-page), tasks behind at 0, metrics inside the first
  // page; pages of 700 events, several of them COPY-sized for tasks.
  ASSERT_TRUE(runners_[0]->CatchUp(1234).ok());
  ASSERT_TRUE(runners_[2]->CatchUp(300).ok());
  SharedCatchUp shared(Runners(), log_.get(), {.max_batch_events = 700});
  ASSERT_TRUE(shared.CatchUp(head).ok());
  for (auto& runner : runners_) EXPECT_EQ(runner->checkpoint(), head);
  EXPECT_EQ(testing::DumpReadModels(shared_.url()),
            testing::DumpReadModels(per_event_.url()));
}

TEST_F(SharedCatchUpTest, ServiceFarBehindCatchesUpTogetherThenGoesLive) {
  // 4,000 events behind with batches of 500: the service's runners first
  // catch up together (projection_service.h), then run their own loops.
  ProjectionServiceOptions options;
  options.pg_url = shared_.url();
  options.runner.max_batch_events = 500;
  ProjectionService service(options, log_.get());
  const uint64_t head = log_->HeadPosition();
  ASSERT_TRUE(service.WaitFor({"agents", "tasks", "metrics"}, head,
                              absl::Now() + absl::Seconds(120)));
  EXPECT_EQ(testing::DumpReadModels(shared_.url()),
            testing::DumpReadModels(per_event_.url()));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  bool live = false;
  while (!live && absl::Now() < deadline) {
    live = true;
    for (const ProjectionStatus& status : service.Statuses()) {
      live = live && status.state == "live" && status.checkpoint == head;
    }
    if (!live) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(live);
}

// The staging table of one connection is reused across transactions (the
// first one, which created it, rolled back), the merges add up, and dead
// rows never let it grow past kStagingTruncateBytes plus one batch.
TEST(UpsertStagingTest, ReusedAcrossTransactionsAndTruncatedPastItsBound) {
  testing::PgDatabase db;
  ASSERT_TRUE(ApplyMigrations(db.url()).ok());
  pqxx::connection connection(db.url());
  constexpr int kPairs = 3000;
  constexpr int kBatches = 30;
  auto write_batch = [&](pqxx::work& tx) {
    internal::Upsert<PairCounts> pairs(tx, "vigil", CoordinationTable(),
                                       kPairs);
    PairCounts counts;
    counts.assigned = 1;
    for (int i = 0; i < kPairs; ++i) {
      pairs.Add(AgentPair(std::string(200, 'a') + std::to_string(i), "b"),
                counts);
    }
    pairs.Finish();
  };
  {
    pqxx::work tx(connection);
    write_batch(tx);  // created here, then rolled back
  }
  const std::string size_sql =
      "SELECT pg_relation_size('pg_temp.vigil_stage_vigil_coordination')";
  int64_t largest = 0;
  int64_t one_batch = 0;  // the size after the first batch, on a new table
  bool truncated = false;
  int64_t previous = 0;
  for (int batch = 0; batch < kBatches; ++batch) {
    pqxx::work tx(connection);
    write_batch(tx);
    const int64_t size = tx.exec1(size_sql)[0].as<int64_t>();
    tx.commit();
    if (batch == 0) one_batch = size;
    largest = std::max(largest, size);
    truncated = truncated || size < previous;
    previous = size;
  }
  // Without the truncation the table would reach kBatches * one_batch.
  ASSERT_GT(kBatches * one_batch, 2 * internal::kStagingTruncateBytes);
  EXPECT_TRUE(truncated);
  EXPECT_LE(largest, internal::kStagingTruncateBytes + 2 * one_batch);
  pqxx::work tx(connection);
  const pqxx::row sums = tx.exec1(
      "SELECT count(*), min(tasks_assigned), max(tasks_assigned) "
      "FROM vigil.coordination");
  EXPECT_EQ(sums[0].as<int64_t>(), kPairs);
  EXPECT_EQ(sums[1].as<int64_t>(), kBatches);
  EXPECT_EQ(sums[2].as<int64_t>(), kBatches);
}

}  // namespace
}  // namespace vigil::projections
