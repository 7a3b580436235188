// Rebuild: replays the whole log into fresh copies of one projection's
// tables while the live ones keep serving, then swaps them in.
//
//  1. Tables `vigil_rebuild_<name>.<table>` are created like the live ones
//     (LIKE ... INCLUDING ALL), with a checkpoint "rebuild:<name>", in one
//     transaction. If that checkpoint already exists, the rebuild resumes
//     from it instead: a rebuild that was interrupted continues.
//  2. A ProjectionRunner fills them from position 1, batch after batch.
//  3. Near the head, one transaction locks the live checkpoint (the live
//     runner waits), applies what the rebuild still lacks, moves the live
//     tables (and their day partitions) out, the rebuilt ones in, sets the
//     live checkpoint, moves the rebuild's parked events under the live
//     name, and drops the old tables. Readers see the old tables or the new
//     ones, never a mix; the live runner's next compare-and-set fails and
//     it reloads the checkpoint and continues after it.

#ifndef VIGIL_PROJECTIONS_REBUILD_H_
#define VIGIL_PROJECTIONS_REBUILD_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "projections/domain_projection_options.h"

namespace vigil::projections {

struct RebuildProgress {
  uint64_t checkpoint = 0;  // events done (the rebuild's position)
  uint64_t head = 0;
  double events_per_second = 0;  // since the start of this run
  double eta_seconds = 0;        // at that rate; 0 when unknown
  bool resumed = false;          // continued an interrupted rebuild
  bool swapped = false;          // the final report
};

struct RebuildOptions {
  std::string pg_url;
  DomainProjectionOptions domain;
  size_t max_batch_events = 20000;
  // For a log from EventLog::OpenReader (another process writes it).
  bool refresh_log = false;
  // Called about every `progress_interval`, and once after the swap.
  std::function<void(const RebuildProgress&)> progress;
  absl::Duration progress_interval = absl::Seconds(1);
  // Swap once the rebuild is this close to the head.
  uint64_t swap_lag_events = 2000;
  // Stop (ABORTED) once this run has applied at least this many events,
  // without swapping; the next call resumes. 0: no bound. Lets a caller
  // spread a long rebuild over several runs (and tests interrupt one).
  uint64_t max_events_this_run = 0;
};

// Rebuilds the projection `name` ("agents", "tasks" or "metrics").
// NOT_FOUND for another name; UNAVAILABLE when PostgreSQL or the log
// fails (the rebuild can be resumed by calling again).
absl::Status Rebuild(const std::string& name, eventlog::EventLog* log,
                     const RebuildOptions& options);

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_REBUILD_H_
