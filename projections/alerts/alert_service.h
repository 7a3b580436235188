// AlertService: alert rules over the log (docs/alerts.md). Rules are
// registered through api::AlertAdmin (over REST: /v1/alert-rules, role
// "admin") as events of `$alert-rules`; one thread follows the log from
// position 1 (or from its last snapshot, below) with an Evaluator and
// appends each alert raised or resolved to `$alerts`.
//
// Exactly once, without a checkpoint of its own: at start the service
// folds `$alerts` into the alerts the log holds open and the highest
// `evaluated_position` any of them names (the checkpoint). The evaluator
// replays the log up to the checkpoint appending nothing (what it returns
// there is already in the log), then appends what it returns, except a
// raise of an alert the log holds open or a resolve of one it does not;
// each append carries TransitionIdempotencyKey. A crash after an alert's
// append but before anything else is therefore repaired, not repeated, and
// a crash before it appends it on the next start.
//
// Snapshots: every `snapshot_every` events evaluated, and when it stops,
// the service stores the evaluator's state in the log's snapshots
// (EventLog::WriteSnapshot, name kSnapshotName, only the entries that
// changed); a start restores the last one and evaluates from the position
// after it instead of position 1. Taken after the alerts of every event up
// to it are in the log, a snapshot is a state the evaluator had on its way,
// so resuming from it appends what continuing would have: the checkpoint
// argument above is unchanged. A snapshot that is missing, unreadable or
// does not restore means an evaluation from position 1, as before.
//
// Thread safety: the AlertAdmin methods may be called from any thread;
// Stop and the destructor from one.

#ifndef VIGIL_PROJECTIONS_ALERTS_ALERT_SERVICE_H_
#define VIGIL_PROJECTIONS_ALERTS_ALERT_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/alert_admin.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "projections/alerts/evaluator.h"
#include "projections/alerts/rule_set.h"

namespace vigil::alerts {

struct AlertOptions {
  // Registered rules at most (docs/alerts.md "Bounds").
  size_t max_rules = 100;
  // Subjects per rule, samples per window, tasks remembered.
  EvaluatorOptions evaluator;
  // Clock-based rules are evaluated at wall time minus this margin, so that
  // an event being made durable as the clock is read is applied first.
  absl::Duration clock_margin = absl::Seconds(1);
  // How long the evaluator waits for new events before it looks at the
  // clock again.
  absl::Duration idle_wait = absl::Milliseconds(200);
  // A snapshot of the evaluator's state is written when this many events
  // were evaluated since the last one (and when the service stops).
  uint64_t snapshot_every = 10000;
  // A state larger than this (the sum of its entries' JSON) is not
  // snapshotted; the next start then resumes from an older snapshot.
  size_t max_snapshot_bytes = size_t{64} << 20;
  base::Metrics* metrics = nullptr;  // required
};

// The name of the evaluator's snapshots in the log (FORMAT.md
// "Snapshots"); the version changes with the entries' format.
inline constexpr char kSnapshotName[] = "alerts-evaluator-v1";

class AlertService : public api::AlertAdmin {
 public:
  // Replays `$alert-rules` and starts the evaluator thread. `log` must
  // outlive the service. DATA_LOSS for a malformed `$alert-rules`.
  static absl::StatusOr<std::unique_ptr<AlertService>> Start(
      AlertOptions options, eventlog::EventLog* log);
  ~AlertService() override;  // Stop()
  AlertService(const AlertService&) = delete;
  AlertService& operator=(const AlertService&) = delete;

  // Stops the evaluator (within idle_wait); later requests answer 503.
  // Idempotent.
  void Stop();

  absl::StatusOr<std::string> RegisterRule(std::string_view body) override;
  absl::StatusOr<std::string> ListRules() override;
  absl::StatusOr<std::string> GetRule(const std::string& id) override;
  absl::StatusOr<std::string> DeleteRule(const std::string& id) override;
  absl::StatusOr<std::string> OpenAlerts() override;

 private:
  struct LogAlert;
  struct Gauges;
  AlertService(AlertOptions options, eventlog::EventLog* log);

  // Appends `event` to `$alert-rules` and applies it to rules_.
  absl::Status Record(eventlog::EventData event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(record_mu_);
  void Run();
  // One evaluation from position 1, until Stop or an error.
  absl::Status Evaluate();
  // Restores `*evaluator` (fresh) from the last snapshot; its position, or
  // 0 (and a fresh evaluator) when there is none it can use.
  uint64_t Resume(std::unique_ptr<Evaluator>* evaluator);
  // Evaluate's turn when it has read up to the head (`next` is the next
  // position to read): the clock's tick, once past `checkpoint` and if the
  // head has not moved on, then a wait for the head (at most idle_wait).
  absl::Status CaughtUp(Evaluator& evaluator, uint64_t next,
                        uint64_t checkpoint);
  // Writes the entries of `evaluator` that changed since the last snapshot
  // (written_), when the state is within max_snapshot_bytes.
  void Snapshot(const Evaluator& evaluator);
  // Appends what `transitions` change of what the log holds open.
  absl::Status Append(const std::vector<Transition>& transitions,
                      const Evaluator& evaluator);
  // Resolves the alerts the log holds open whose rule is deleted but that
  // the evaluator did not raise (a clock-based one fired before a restart).
  absl::Status ResolveOrphans(const Evaluator& evaluator);
  // Appends `batch` (at most kMaxBatch, each with its rule) in one append.
  absl::Status AppendBatch(
      const std::vector<std::pair<Transition, const AlertRule*>>& batch);
  void Count(const std::string& rule_id, const char* state, double delta)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AlertOptions options_;
  eventlog::EventLog* const log_;
  std::unique_ptr<Gauges> gauges_;
  std::atomic<bool> stopping_{false};
  // The evaluator thread's: a hash of each entry's text in the snapshots
  // written or restored by this evaluation.
  std::map<std::string, size_t> written_;
  std::thread thread_;

  absl::Mutex record_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  RuleSet rules_ ABSL_GUARDED_BY(mu_);
  // The alerts `$alerts` holds open, by SlotKey (the evaluator thread
  // writes it).
  std::map<std::string, LogAlert> log_open_ ABSL_GUARDED_BY(mu_);
  uint64_t evaluated_position_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vigil::alerts

#endif  // VIGIL_PROJECTIONS_ALERTS_ALERT_SERVICE_H_
