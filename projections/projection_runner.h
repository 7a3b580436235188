// ProjectionRunner: the loop that keeps one Projection's read models up to
// date with the log.
//
//  - It reads the log from the projection's checkpoint in batches whose size
//    follows the lag: what is there, up to max_batch_events/bytes. Live, a
//    batch is the few events that just arrived; catching up, a full one.
//  - Each batch commits in one PostgreSQL transaction together with the new
//    checkpoint, which is set by compare-and-set on the previous one: if
//    another runner moved it, this one applies nothing, reloads and goes on
//    from there. Effects are therefore applied exactly once.
//  - After the commit, `NOTIFY vigil_projections` carries
//    {"projection":NAME,"checkpoint":P}; a consumer may wake up on it, but
//    must also poll, since notifications are not queued across reconnects.
//  - Transient errors (connection lost, server shutting down, serialization
//    failures, PostgreSQL's disk full: SQLSTATE 53100) are retried with
//    exponential backoff, forever: the projection stalls, its lag grows,
//    and it catches up once PostgreSQL takes writes again. The loop says so
//    on stderr once when it stalls ("vigild: projection NAME stalled ...")
//    and once when it resumes; meanwhile state "retrying", last_error and
//    the gauge vigil_projection_stalled tell the same. Any other SQL
//    error makes the runner redo the batch one event at a time; the event
//    that still fails alone is a poison event, as is one whose data cannot
//    be parsed: it is parked in vigil.parked_events with the error and the
//    projection continues past it.
//
// Thread safety: Start/Stop from one thread; status() and WaitFor from any.

#ifndef VIGIL_PROJECTIONS_PROJECTION_RUNNER_H_
#define VIGIL_PROJECTIONS_PROJECTION_RUNNER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "eventlog/log_cursor.h"
#include "projections/domain_event.h"

namespace vigil::projections {

class Projection;  // internal/projection.h: libpqxx stays out of this header
namespace internal {
class PgConnection;  // internal/pg_connection.h
}  // namespace internal

struct RunnerOptions {
  std::string pg_url;
  // The schema of the projection's tables ("vigil", or a rebuild's).
  std::string schema = "vigil";
  // The checkpoint's name; empty: the projection's name.
  std::string checkpoint_name;
  // A batch's bounds (whichever is reached first).
  size_t max_batch_events = 20000;
  size_t max_batch_bytes = 16 << 20;
  // How long a live runner sleeps when the log has nothing new. Bounds how
  // late Stop() is noticed; new events wake it at once.
  absl::Duration idle_wait = absl::Milliseconds(200);
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Optional: per-projection series in the shared registry.
  base::Metrics* metrics = nullptr;
  // For a log opened with EventLog::OpenReader (the CLI's rebuild): call
  // Refresh() to see what the writer appended.
  bool refresh_log = false;
};

struct ProjectionStatus {
  std::string name;
  uint64_t checkpoint = 0;
  uint64_t head = 0;
  uint64_t lag_events = 0;
  double lag_seconds = 0;  // age of the oldest event not yet applied
  // "starting" | "catching_up" | "live" | "retrying" | "stopped"
  std::string state;
  std::string last_error;  // of the latest failed attempt, "" after success
  uint64_t parked = 0;     // events parked so far (all time)
  uint64_t retries = 0;    // failed attempts since start
  uint64_t events_applied = 0;  // since start
};

// An event a projection could not apply (its data does not parse, or it
// alone breaks a statement): parked in vigil.parked_events.
struct ParkedEvent {
  uint64_t position = 0;
  std::string stream;
  std::string type;
  std::string error;
};

// A page of the log, parsed once: what a runner commits as one batch (and
// what a shared reader hands to several, shared_catch_up.h).
struct ParsedBatch {
  uint64_t first = 0;  // the position of the first event; 0: empty
  uint64_t last = 0;   // and of the last (positions are contiguous)
  int64_t first_time_us = 0;  // the first event's recorded time
  // The first event's stream and type, to park it when it alone breaks a
  // statement.
  std::string first_stream;
  std::string first_type;
  std::vector<DomainEvent> events;  // those that parse, in position order
  std::vector<ParkedEvent> parked;  // those that do not

  size_t size() const { return first == 0 ? 0 : last - first + 1; }
};

// Parses `page` (events in position order) into `*batch`, reusing its
// arrays: a batch's arrays are megabytes, and allocating them afresh each
// time costs more in page faults than the parsing.
void ParseBatch(const std::vector<eventlog::RecordedEvent>& page,
                ParsedBatch* batch);

class ProjectionRunner {
 public:
  // `projection` and `log` must outlive the runner.
  ProjectionRunner(Projection* projection, eventlog::EventLog* log,
                   RunnerOptions options);
  ~ProjectionRunner();  // Stop()
  ProjectionRunner(const ProjectionRunner&) = delete;
  ProjectionRunner& operator=(const ProjectionRunner&) = delete;

  // Runs the loop on a thread of its own.
  void Start();
  // Ends the loop after the batch in flight; idempotent.
  void Stop();

  // Without a thread: applies batches until the checkpoint reaches
  // `position` (or the head, whichever is lower at the call). Errors are
  // returned, not retried. For rebuilds, benchmarks and tests.
  absl::Status CatchUp(uint64_t position);

  ProjectionStatus status() const;
  uint64_t checkpoint() const;

  // Blocks until the checkpoint is at least `position` or `deadline`
  // passes; true if it got there.
  bool WaitFor(uint64_t position, absl::Time deadline) const;

  const std::string& checkpoint_name() const { return checkpoint_name_; }

 private:
  friend class SharedCatchUp;  // commits the batches it reads and parses

  // One batch. OK with *applied = 0 when there was nothing to do.
  absl::Status Step(size_t* applied);
  // Commits `batch`, which must start right after the checkpoint, with the
  // checkpoint in one transaction. OK with *applied = 0 when it left the
  // batch to be redone one event at a time (isolate_until_).
  absl::Status Commit(const ParsedBatch& batch, size_t* applied);
  // Connects and loads the checkpoint unless that is done.
  absl::Status Connect();
  void Loop();
  bool SleepUnlessStopped(absl::Duration duration);
  void Publish();

  Projection* const projection_;
  eventlog::EventLog* const log_;
  const RunnerOptions options_;
  const std::string checkpoint_name_;

  // Touched only by the thread running Step.
  std::unique_ptr<internal::PgConnection> connection_;
  bool checkpoint_loaded_ = false;
  uint64_t isolate_until_ = 0;  // apply one event at a time up to here
  // Reads the log from the checkpoint; only Run's (or CatchUp's) thread.
  eventlog::LogCursor cursor_;
  ParsedBatch parsed_;

  mutable absl::Mutex mu_;
  ProjectionStatus status_ ABSL_GUARDED_BY(mu_);
  int64_t pending_time_us_ ABSL_GUARDED_BY(mu_) = 0;  // of checkpoint + 1
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;

  base::Gauge* checkpoint_gauge_ = nullptr;
  base::Gauge* lag_events_gauge_ = nullptr;
  base::Gauge* lag_seconds_gauge_ = nullptr;
  base::Counter* events_counter_ = nullptr;
  base::Counter* parked_counter_ = nullptr;
  base::Counter* retries_counter_ = nullptr;
  base::Gauge* parked_gauge_ = nullptr;
  base::Gauge* stalled_gauge_ = nullptr;
};

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_PROJECTION_RUNNER_H_
