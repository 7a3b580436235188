// ProjectionService: the read side as vigild runs it. It applies the SQL
// migrations, runs one ProjectionRunner per domain projection, drops
// expired metric partitions every hour, and answers the read-model queries
// (api::ReadModels): those of read_queries.h, the projections' own status
// (ProjectionsQuery), and `min_position` on every read, which waits
// (bounded) until the projections that read depends on have reached it.
//
// When its runners start far behind the log (a fresh database, a long
// PostgreSQL outage), they first catch up together through one shared
// reader (shared_catch_up.h: the log read and parsed once, not three
// times), kSharedCatchUpPages pages at a time, until the lowest checkpoint
// is within a batch (runner.max_batch_events) of the head; then each runner's
// own loop takes over. Meanwhile their status says "starting" and their
// checkpoints advance as usual.
//
// PostgreSQL may be down when vigild starts or at any later time: the
// service keeps retrying (migrations, then the runners) and reads answer
// 503 meanwhile; appends never depend on it.

#ifndef VIGIL_PROJECTIONS_PROJECTION_SERVICE_H_
#define VIGIL_PROJECTIONS_PROJECTION_SERVICE_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/read_models.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "projections/internal/domain_projections.h"
#include "projections/projection_runner.h"

namespace vigil::projections {

class ReadQueries;

struct ProjectionServiceOptions {
  std::string pg_url;
  DomainProjectionOptions domain;
  // Batch bounds and backoff of the runners (pg_url, metrics are set here).
  RunnerOptions runner;
  base::Metrics* metrics = nullptr;
  // The longest a read waits for min_position; past it, 503.
  absl::Duration min_position_wait = absl::Seconds(5);
  // Connections for reads.
  int read_connections = 4;
  // Where reads go when not pg_url: a streaming replica of it (e.g.
  // `target_session_attrs=prefer-standby` over a Patroni cluster). A read
  // with min_position then answers from a snapshot of that server in which
  // the checkpoints have reached it (ReadQueries::ReadAtLeast).
  std::string read_url;
};

class ProjectionService : public api::ReadModels {
 public:
  // Pages (of runner.max_batch_events) per shared catch-up call: bounds
  // how long Stop() waits for one.
  static constexpr uint64_t kSharedCatchUpPages = 2;

  // Starts the service's threads; never fails for want of PostgreSQL.
  // `log` must outlive the service.
  ProjectionService(ProjectionServiceOptions options, eventlog::EventLog* log);
  ~ProjectionService() override;  // Stop()
  ProjectionService(const ProjectionService&) = delete;
  ProjectionService& operator=(const ProjectionService&) = delete;

  // Stops the runners after their batches in flight (while they catch up
  // together: after the pages in flight, at most kSharedCatchUpPages).
  void Stop();

  std::vector<ProjectionStatus> Statuses() const;

  // True once every projection's checkpoint is at least `position`.
  bool WaitFor(const std::vector<std::string>& names, uint64_t position,
               absl::Time deadline) const;

  absl::StatusOr<std::string> Read(
      const api::ReadModelRequest& request) override;

 private:
  void Supervise();
  // Once the migrations are in: creates the runners, catches them up
  // together, starts them (unless stopping).
  void StartRunners();
  // The shared catch-up described above; returns when the runners are
  // near the head, on the first error, or when stopping.
  void CatchUpTogether();
  std::string ProjectionsJson() const;

  const ProjectionServiceOptions options_;
  eventlog::EventLog* const log_;
  std::vector<std::unique_ptr<Projection>> projections_;
  std::unique_ptr<ReadQueries> queries_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool migrated_ ABSL_GUARDED_BY(mu_) = false;
  std::string migration_error_ ABSL_GUARDED_BY(mu_);
  // Created once the migrations are in; never removed before Stop.
  std::vector<std::unique_ptr<ProjectionRunner>> runners_
      ABSL_GUARDED_BY(mu_);
  std::thread supervisor_;
};

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_PROJECTION_SERVICE_H_
