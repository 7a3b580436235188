#include "projections/projection_service.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/json.h"
#include "projections/internal/domain_projections.h"
#include "projections/migrations.h"
#include "projections/read_queries.h"
#include "projections/shared_catch_up.h"

namespace vigil::projections {
namespace {

// The projections whose read models a query reads.
std::vector<std::string> ProjectionsFor(const api::ReadModelQuery& query) {
  if (std::holds_alternative<api::AgentListQuery>(query) ||
      std::holds_alternative<api::AgentQuery>(query)) {
    return {"agents"};
  }
  if (std::holds_alternative<api::TaskListQuery>(query) ||
      std::holds_alternative<api::TaskQuery>(query) ||
      std::holds_alternative<api::CoordinationQuery>(query) ||
      std::holds_alternative<api::TraceQuery>(query) ||
      std::holds_alternative<api::TaskSpansQuery>(query)) {
    return {"tasks"};
  }
  if (std::holds_alternative<api::AgentMetricsQuery>(query) ||
      std::holds_alternative<api::UsageQuery>(query)) {
    return {"metrics"};
  }
  return {};
}

}  // namespace

ProjectionService::ProjectionService(ProjectionServiceOptions options,
                                     eventlog::EventLog* log)
    : options_(std::move(options)),
      log_(log),
      projections_(NewDomainProjections(options_.domain)),
      queries_(std::make_unique<ReadQueries>(
          options_.read_url.empty() ? options_.pg_url : options_.read_url,
          options_.read_connections)) {
  supervisor_ = std::thread([this] { Supervise(); });
}

ProjectionService::~ProjectionService() { Stop(); }

void ProjectionService::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (supervisor_.joinable()) supervisor_.join();
  absl::MutexLock lock(&mu_);
  for (auto& runner : runners_) runner->Stop();
}

void ProjectionService::Supervise() {
  absl::Duration backoff = absl::Milliseconds(100);
  absl::Time next_retention = absl::InfinitePast();
  while (true) {
    bool migrated;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      migrated = migrated_;
    }
    absl::Duration sleep = absl::Seconds(1);
    if (!migrated) {
      absl::StatusOr<int> applied = ApplyMigrations(options_.pg_url);
      if (applied.ok()) {
        StartRunners();
        sleep = absl::ZeroDuration();
      }
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      if (!applied.ok()) {
        migration_error_ = std::string(applied.status().message());
        sleep = backoff;
        backoff = std::min(backoff * 2, absl::Seconds(5));
      }
    } else if (absl::Now() >= next_retention) {
      // Hourly: drop the metric partitions past the retention. A failure
      // (PostgreSQL down) is retried at the next round.
      try {
        pqxx::connection connection(options_.pg_url);
        pqxx::work tx(connection);
        DropExpiredMetricPartitions(tx, "vigil", options_.domain);
        tx.commit();
        next_retention = absl::Now() + absl::Hours(1);
      } catch (const std::exception&) {
        next_retention = absl::Now() + absl::Minutes(1);
      }
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), sleep);
  }
}

void ProjectionService::StartRunners() {
  {
    absl::MutexLock lock(&mu_);
    migrated_ = true;
    migration_error_.clear();
    for (auto& projection : projections_) {
      RunnerOptions runner = options_.runner;
      runner.pg_url = options_.pg_url;
      runner.metrics = options_.metrics;
      runners_.push_back(std::make_unique<ProjectionRunner>(
          projection.get(), log_, std::move(runner)));
    }
  }
  CatchUpTogether();
  absl::MutexLock lock(&mu_);
  if (stopping_) return;  // Stop() stops the runners
  for (auto& runner : runners_) runner->Start();
}

void ProjectionService::CatchUpTogether() {
  std::vector<ProjectionRunner*> runners;
  {
    absl::MutexLock lock(&mu_);
    for (auto& runner : runners_) runners.push_back(runner.get());
  }
  const size_t page = options_.runner.max_batch_events;
  SharedCatchUp shared(runners, log_,
                       {.max_batch_events = page,
                        .max_batch_bytes = options_.runner.max_batch_bytes});
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    // Checkpoints read 0 until the first CatchUp has loaded them.
    uint64_t lowest = UINT64_MAX;
    for (ProjectionRunner* runner : runners) {
      lowest = std::min(lowest, runner->checkpoint());
    }
    if (log_->HeadPosition() <= lowest + page) return;
    // A failure (PostgreSQL down) leaves it to the runners' loops, which
    // retry with backoff.
    if (!shared.CatchUp(lowest + kSharedCatchUpPages * page).ok()) return;
  }
}

std::vector<ProjectionStatus> ProjectionService::Statuses() const {
  absl::MutexLock lock(&mu_);
  std::vector<ProjectionStatus> statuses;
  if (runners_.empty()) {
    const uint64_t head = log_->HeadPosition();
    for (const auto& projection : projections_) {
      ProjectionStatus status;
      status.name = projection->name();
      status.head = head;
      status.lag_events = head;
      status.state = migration_error_.empty() ? "starting" : "retrying";
      status.last_error = migration_error_;
      statuses.push_back(std::move(status));
    }
    return statuses;
  }
  for (const auto& runner : runners_) statuses.push_back(runner->status());
  return statuses;
}

bool ProjectionService::WaitFor(const std::vector<std::string>& names,
                                uint64_t position, absl::Time deadline) const {
  std::vector<ProjectionRunner*> runners;
  {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return !runners_.empty() || stopping_;
    };
    mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
    for (const auto& runner : runners_) {
      if (std::find(names.begin(), names.end(), runner->checkpoint_name()) !=
          names.end()) {
        runners.push_back(runner.get());
      }
    }
    if (runners.size() != names.size()) return false;
  }
  for (ProjectionRunner* runner : runners) {
    if (!runner->WaitFor(position, deadline)) return false;
  }
  return true;
}

absl::StatusOr<std::string> ProjectionService::Read(
    const api::ReadModelRequest& request) {
  if (std::holds_alternative<api::ProjectionsQuery>(request.query)) {
    return ProjectionsJson();
  }
  const uint64_t min_position = request.min_position;
  const std::vector<std::string> names = ProjectionsFor(request.query);
  {
    absl::MutexLock lock(&mu_);
    if (!migrated_ && min_position == 0) {
      return absl::UnavailableError(absl::StrCat(
          "the read models are not ready yet",
          migration_error_.empty() ? "" : ": ", migration_error_));
    }
  }
  const absl::Time deadline = absl::Now() + options_.min_position_wait;
  if (min_position > 0 && !WaitFor(names, min_position, deadline)) {
    std::string where;
    for (const ProjectionStatus& status : Statuses()) {
      if (std::find(names.begin(), names.end(), status.name) != names.end()) {
        absl::StrAppend(&where, where.empty() ? "" : ", ", status.name,
                        " is at ", status.checkpoint);
      }
    }
    return absl::UnavailableError(absl::StrCat(
        "the read models have not reached min_position ", min_position,
        " within ", absl::FormatDuration(options_.min_position_wait), " (",
        where, "); retry"));
  }
  // On a replica the projections' checkpoints may not have arrived yet.
  if (min_position > 0 && !options_.read_url.empty()) {
    return queries_->ReadAtLeast(request.query, names, min_position,
                                 deadline);
  }
  return queries_->Read(request.query);
}

std::string ProjectionService::ProjectionsJson() const {
  base::Json projections = base::Json::array();
  for (const ProjectionStatus& s : Statuses()) {
    projections.push_back(
        {{"name", s.name},
         {"checkpoint", s.checkpoint},
         {"head", s.head},
         {"lag_events", s.lag_events},
         // To the millisecond, as it was always shown.
         {"lag_seconds", base::RoundedNumber(s.lag_seconds, 3)},
         {"status", s.state},
         {"parked", s.parked},
         {"retries", s.retries},
         {"events_applied", s.events_applied},
         {"last_error",
          s.last_error.empty() ? base::Json() : base::Json(s.last_error)}});
  }
  return base::DumpJson({{"projections", std::move(projections)}});
}

}  // namespace vigil::projections
