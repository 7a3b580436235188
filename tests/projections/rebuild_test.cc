// Rebuilds against a real PostgreSQL: under live appends and a live runner,
// a rebuild ends equal to a fresh rebuild; an interrupted one resumes.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/internal/domain_projections.h"
#include "projections/migrations.h"
#include "projections/projection_runner.h"
#include "projections/rebuild.h"
#include "tests/testing/pg_database.h"
#include "tests/testing/read_model_dump.h"
#include "tests/testing/temp_dir.h"
#include "tools/simulator/scenario.h"

namespace vigil::projections {
namespace {

class RebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = eventlog::EventLog::Open(eventlog::Options(), dir_.Sub("log"));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    ASSERT_TRUE(ApplyMigrations(live_.url()).ok());
    auto scenario = simulator::Scenario::Create(
        {.managers = 3, .workers = 12, .seed = 7, .id_prefix = "r"});
    ASSERT_TRUE(scenario.ok());
    scenario_ = *std::move(scenario);
  }

  void AppendSteps(int steps) {
    for (int i = 0; i < steps; ++i) {
      auto result = log_->Append(scenario_->Next().request);
      ASSERT_TRUE(result.ok()) << result.status();
    }
  }

  std::vector<std::string> Fresh() {
    EXPECT_TRUE(ApplyMigrations(fresh_.url()).ok());
    for (auto& projection : NewDomainProjections({})) {
      RunnerOptions options;
      options.pg_url = fresh_.url();
      ProjectionRunner runner(projection.get(), log_.get(), options);
      EXPECT_TRUE(runner.CatchUp(log_->HeadPosition()).ok());
    }
    return testing::DumpReadModels(fresh_.url());
  }

  testing::TempDir dir_;
  testing::PgDatabase live_;
  testing::PgDatabase fresh_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<simulator::Scenario> scenario_;
};

TEST_F(RebuildTest, UnderLiveAppendsEndsEqualToAFreshRebuild) {
  AppendSteps(3000);
  std::vector<std::unique_ptr<Projection>> projections =
      NewDomainProjections({});
  std::vector<std::unique_ptr<ProjectionRunner>> runners;
  for (auto& projection : projections) {
    RunnerOptions options;
    options.pg_url = live_.url();
    options.max_batch_events = 200;
    runners.push_back(std::make_unique<ProjectionRunner>(projection.get(),
                                                         log_.get(), options));
    runners.back()->Start();
  }
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop) {
      ASSERT_TRUE(log_->Append(scenario_->Next().request).ok());
      absl::SleepFor(absl::Microseconds(200));
    }
  });
  for (const std::string name : {"agents", "tasks", "metrics"}) {
    int reports = 0;
    RebuildOptions options;
    options.pg_url = live_.url();
    options.max_batch_events = 500;
    options.progress_interval = absl::ZeroDuration();
    options.progress = [&](const RebuildProgress& p) {
      ++reports;
      EXPECT_LE(p.checkpoint, p.head);
    };
    const absl::Status status = Rebuild(name, log_.get(), options);
    ASSERT_TRUE(status.ok()) << name << ": " << status;
    EXPECT_GE(reports, 2) << name;
  }
  stop = true;
  writer.join();
  for (auto& runner : runners) {
    ASSERT_TRUE(runner->WaitFor(log_->HeadPosition(),
                                absl::Now() + absl::Seconds(60)));
    runner->Stop();
  }
  EXPECT_EQ(testing::DumpReadModels(live_.url()), Fresh());
  // Nothing of the rebuild is left behind.
  EXPECT_THAT(live_.Rows("SELECT count(*) FROM pg_namespace WHERE nspname "
                         "LIKE 'vigil\\_re%'"),
              ::testing::ElementsAre("0"));
  EXPECT_THAT(live_.Rows("SELECT name FROM vigil.projection_checkpoints "
                         "ORDER BY 1"),
              ::testing::ElementsAre("agents", "metrics", "tasks"));
}

TEST_F(RebuildTest, InterruptedRebuildResumes) {
  AppendSteps(2000);
  RebuildOptions options;
  options.pg_url = live_.url();
  options.max_batch_events = 100;
  options.swap_lag_events = 0;
  options.max_events_this_run = 500;
  bool resumed = false;
  options.progress = [&](const RebuildProgress& p) { resumed = p.resumed; };
  absl::Status first = Rebuild("tasks", log_.get(), options);
  ASSERT_TRUE(absl::IsAborted(first)) << first;
  EXPECT_FALSE(resumed);
  const std::string after_first = live_.Rows(
      "SELECT position FROM vigil.projection_checkpoints WHERE name = "
      "'rebuild:tasks'")[0];
  EXPECT_NE(after_first, "0");
  options.max_events_this_run = 0;
  ASSERT_TRUE(Rebuild("tasks", log_.get(), options).ok());
  EXPECT_TRUE(resumed);
  EXPECT_THAT(live_.Rows("SELECT position FROM vigil.projection_checkpoints"),
              ::testing::ElementsAre(std::to_string(log_->HeadPosition())));
  // Only the tasks tables were rebuilt; compare those.
  std::vector<std::string> fresh = Fresh();
  std::vector<std::string> live = testing::DumpReadModels(live_.url());
  auto tasks_only = [](std::vector<std::string> rows) {
    std::erase_if(rows, [](const std::string& row) {
      return !(row.starts_with("tasks:") || row.starts_with("coordination:") ||
               row.starts_with("agent_messages:"));
    });
    return rows;
  };
  EXPECT_EQ(tasks_only(live), tasks_only(fresh));
}

TEST_F(RebuildTest, UnknownProjectionIsNotFound) {
  RebuildOptions options;
  options.pg_url = live_.url();
  EXPECT_TRUE(absl::IsNotFound(Rebuild("nope", log_.get(), options)));
}

}  // namespace
}  // namespace vigil::projections
