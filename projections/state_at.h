// Time travel: the read models' state as of any log position, computed by
// the same folds (folds.h) that feed PostgreSQL, replayed in memory.
//
// Snapshots of the folds are kept in the log's RocksDB beside the events
// (EventLog::WriteSnapshot, FORMAT.md "Snapshots"): every
// `snapshot_interval` positions the entities that changed since the last
// snapshot are written, so a state-at loads the last snapshot at or before
// its position and replays fewer than `snapshot_interval` events. One agent
// or one task is read from its snapshot entry alone; the whole system reads
// every entry. Without snapshots (a log no writer has snapshotted, or one
// opened with OpenReader before any were written) the replay starts at
// position 1: slower, same answer.
//
// Thread-safe: StateAt, AgentAt, TaskAt, Diff and PositionAtTime may run
// concurrently from any thread; CatchUpSnapshots serialises itself.

#ifndef VIGIL_PROJECTIONS_STATE_AT_H_
#define VIGIL_PROJECTIONS_STATE_AT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "eventlog/event_log.h"
#include "projections/folds.h"

namespace vigil::projections {

namespace internal {
class PageRowsCache;
}  // namespace internal

// The snapshot name under which the folds are kept. The suffix is the
// format of the entries (internal/fold_codec.h): change it with the format
// or with the folds' logic, and old snapshots are ignored.
// v3: every snapshot also holds its index (internal::SnapshotIndex);
// v4: and the scrubber's rows (internal::PageRows).
inline constexpr char kFoldSnapshotName[] = "folds-v4";

struct TimeTravelOptions {
  // Positions between snapshots: a state-at replays fewer events than this.
  uint64_t snapshot_interval = 1'000;
  // Events a replay reads from the log per call.
  uint64_t page_events = 1'024;
  // Spans the snapshotter keeps in memory: past it, the traces least
  // recently touched are dropped (they are in the snapshot just written)
  // and read back from the last snapshot when a span of theirs arrives
  // (TraceFold::EvictTraces). About 1.5 KB each.
  size_t live_spans = 50'000;
  // Snapshots whose whole page rows (the scrubber's agents, pairs and
  // minutes) are kept decoded in memory, a few MB each on a large log:
  // pages at neighbouring positions share them (internal/page_rows_cache.h).
  size_t page_rows_cache = 4;
  // How many nice steps StartSnapshotting's thread runs below the thread
  // that started it (its nice value is that one's plus this, at most 19;
  // 0: the same): below the threads that acknowledge appends, whose CPU it
  // would otherwise share evenly under load. Snapshots are derived and
  // may fall behind (a state-at meanwhile replays from an older one:
  // slower, same answer).
  int snapshot_nice = 10;
  // Most events between the two points of one Diff; more: INVALID_ARGUMENT.
  uint64_t max_diff_events = 1'000'000;
  // Positions listed per changed entity of a Diff; the rest are counted.
  size_t max_change_positions = 1'000;
};

struct ReplayStats;

// Per-minute metrics and usage of a whole-system state's JSON: the minutes
// that start in the hour before the state's time.
inline constexpr int64_t kStateMetricsWindowUs = int64_t{3600} * 1'000'000;

// The whole system as the folds see it after `position`.
struct SystemState {
  uint64_t position = 0;  // the last event folded; 0: none
  int64_t time_us = 0;    // its recorded time
  AgentFold agents;
  TaskFold tasks;
  MetricsFold metrics;
  TraceFold traces;  // the spans; feeds the three above
  // When set: called before a span of a trace `traces` does not hold is
  // applied, to seed the spans it has of that trace elsewhere (the
  // snapshotter's state keeps only recent traces in memory).
  std::function<void(const std::string& trace_id, TraceFold* traces)>
      load_trace;

  void Apply(const DomainEvent& event);
  // Folds the next event of the log as every state-at does: takes its
  // position and time, parses it and applies it; a known type whose data
  // does not parse is counted in `stats` and skipped (the projections park
  // it), other types are ignored. True when the folds applied it.
  bool Fold(const eventlog::RecordedEvent& event, ReplayStats* stats);
  // The same with `event` already parsed (`parsed`).
  bool Fold(const eventlog::RecordedEvent& event,
            const absl::StatusOr<DomainEvent>& parsed, ReplayStats* stats);
  void ClearDirty();
};

// A task of a StatePage that the events after its snapshot did not
// touch: its row is its snapshot entry, kept as the entry's bytes
// (internal/fold_codec.h, a task entry) and written straight into the
// page's body (StatePageJson) rather than decoded into the folds.
struct StoredTask {
  uint64_t first_position = 0;  // the row's, for the list order
  std::string task_id;
  std::string entry;  // the task's snapshot entry (EncodeTask)
};

// What the dashboard's scrubber shows of the whole system: StateAt's state
// with only the newest tasks (TimeTravel::StatePageAt).
struct StatePage {
  // The agents, pairs and message pairs whole; of the per-minute rows, at
  // least those that start in the hour before `state.time_us`
  // (kStateMetricsWindowUs: the ones the JSON lists; older ones may be
  // missing or partial); of the tasks, those the replay after the
  // snapshot touched. No spans.
  SystemState state;
  // With state.tasks, the page's tasks: the `task_limit` newest (by
  // first_position, then task id, descending) are among them, and
  // whichever are listed, newest first, are the same as StateAt's. None
  // of these is in state.tasks.
  std::vector<StoredTask> stored_tasks;
  uint64_t task_count = 0;  // all tasks after the position
};

// How a state was computed.
struct ReplayStats {
  uint64_t snapshot_position = 0;  // 0: replayed from position 1
  uint64_t replayed_events = 0;    // events read after the snapshot
  uint64_t skipped_events = 0;     // known types whose data does not parse
  // StatePageAt: its agents, pairs and minutes were copied from memory
  // (internal/page_rows_cache.h), not decoded.
  bool page_rows_cached = false;
};

// An entity of the read models: kind is one of internal/fold_codec.h's
// kinds ('a' agent, 't' task, 'p' coordination pair, 'm' message pair,
// 'g' agent-minute, 'u' model-minute, 's' span); `id`/`id2` its key (agent
// or task id; manager and worker, or from and to; agent or model; trace and
// span), `minute` the
// minute start of the per-minute kinds.
struct EntityRef {
  char kind = 0;
  std::string id;
  std::string id2;
  int64_t minute = 0;

  friend auto operator<=>(const EntityRef&, const EntityRef&) = default;
};

// The events that changed one entity between two points.
struct EntityChange {
  std::vector<uint64_t> positions;  // at most max_change_positions, in order
  uint64_t position_count = 0;      // all of them
};

// What changed between two positions: `before` and `after` are the whole
// states at `from` and `to`; `changes` the entities whose rows differ.
struct StateDiff {
  SystemState before;
  SystemState after;
  absl::btree_map<EntityRef, EntityChange> changes;
};

// The SHA-256 (hex) of each read model's state: agents, tasks,
// coordination, agent_messages, agent_metrics, llm_usage, spans, in that
// order.
// Equal states give equal digests on any machine.
std::vector<std::pair<std::string, std::string>> StateDigests(
    const SystemState& state);

class TimeTravel {
 public:
  // `log` must outlive this object.
  TimeTravel(eventlog::EventLog* log, TimeTravelOptions options);
  // Stops the snapshot thread, if started.
  ~TimeTravel();
  TimeTravel(const TimeTravel&) = delete;
  TimeTravel& operator=(const TimeTravel&) = delete;

  const TimeTravelOptions& options() const { return options_; }
  uint64_t HeadPosition() const { return log_->HeadPosition(); }

  // The recorded time of the event at `position`; 0 for position 0.
  absl::StatusOr<int64_t> TimeAt(uint64_t position) const;

  // The last position recorded at or before `time_us` (0 when none is):
  // the state "as of" that time.
  absl::StatusOr<uint64_t> PositionAtTime(int64_t time_us) const;

  // The whole system after `position`. INVALID_ARGUMENT past the head.
  absl::StatusOr<SystemState> StateAt(uint64_t position,
                                      ReplayStats* stats = nullptr) const;

  // The state the scrubber asks for: as StateAt, with the tasks cut to a
  // page (StatePage). It decodes the page's tasks, found through the
  // snapshots' index, and the tasks the events after the snapshot touch,
  // instead of every task ever seen. Falls back to StateAt's whole state
  // (with every task) when there is no snapshot at or before `position`,
  // when spans were recorded by then (their runs derive tasks from whole
  // traces), or when the snapshot is more than 4 intervals behind.
  absl::StatusOr<StatePage> StatePageAt(uint64_t position, uint64_t task_limit,
                                        ReplayStats* stats = nullptr) const;

  // One agent or task after `position`; nullopt when no event had made it
  // exist yet. INVALID_ARGUMENT past the head.
  absl::StatusOr<std::optional<AgentRow>> AgentAt(
      uint64_t position, std::string_view agent_id,
      ReplayStats* stats = nullptr) const;
  absl::StatusOr<std::optional<TaskRow>> TaskAt(
      uint64_t position, std::string_view task_id,
      ReplayStats* stats = nullptr) const;

  // The entities that changed between `from` and `to` (from <= to <= head),
  // each with the positions in (from, to] that changed it.
  absl::StatusOr<StateDiff> Diff(uint64_t from, uint64_t to) const;

  // Writes the snapshots due between the last one and the head. Keeps the
  // folded state between calls, so each call folds only the new events.
  // FAILED_PRECONDITION on a log from OpenReader.
  absl::Status CatchUpSnapshots();

  // Calls CatchUpSnapshots on a thread of its own ("vigil-snapshots",
  // snapshot_nice below its caller) whenever the head has moved `snapshot_interval`
  // positions past the last snapshot, until this object is destroyed or
  // StopSnapshotting is called. Errors are
  // retried a second later; the first of a run, and the success that ends
  // it, are told on stderr ("vigild: time travel snapshots ...").
  void StartSnapshotting();
  // Ends that thread (idempotent). Call it before closing the log, which
  // the thread waits on.
  void StopSnapshotting();

 private:
  absl::Status CheckPosition(uint64_t position) const;
  // Loads the last snapshot at or before `position`: the whole state, or
  // all but the spans when `spans` is false.
  absl::StatusOr<SystemState> LoadSnapshot(uint64_t position,
                                           ReplayStats* stats,
                                           bool spans = true) const;
  // Folds the events (state->position, to] into `state`. `wanted` (when
  // given) says which events to parse and apply; `each` (when given) runs
  // after each applied event and may clear the dirty sets.
  absl::Status Replay(SystemState* state, uint64_t to, ReplayStats* stats,
                      const std::function<bool(const eventlog::RecordedEvent&)>&
                          wanted = nullptr,
                      const std::function<void(SystemState*)>& each =
                          nullptr) const;
  template <typename Row, typename Fold>
  absl::StatusOr<std::optional<Row>> EntityAt(
      uint64_t position, std::string_view id, std::string key,
      bool (*affects)(DomainType), ReplayStats* stats) const;

  eventlog::EventLog* const log_;
  const TimeTravelOptions options_;
  const std::unique_ptr<internal::PageRowsCache> page_rows_cache_;

  // StatePageAt's work once it has a snapshot; nullopt when it must fall
  // back to StateAt.
  absl::StatusOr<std::optional<StatePage>> PageFromSnapshot(
      uint64_t snapshot, uint64_t position, uint64_t task_limit,
      ReplayStats* stats) const;

  // The page rows (internal::PageRows) of the snapshot live_ is about to
  // be written as: whole, or the changes since page_rows_base_.
  eventlog::EventLog::SnapshotEntry NextPageRows()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(snapshot_mu_);

  absl::Mutex snapshot_mu_;
  // The state at the last snapshot CatchUpSnapshots wrote or loaded, with
  // at most options_.live_spans spans in memory (the others are read back
  // from snapshot live_snapshot_ when a span of their trace comes).
  std::optional<SystemState> live_ ABSL_GUARDED_BY(snapshot_mu_);
  uint64_t live_snapshot_ ABSL_GUARDED_BY(snapshot_mu_) = 0;
  uint64_t live_span_count_ ABSL_GUARDED_BY(snapshot_mu_) = 0;
  // The snapshot whose page rows were written whole (0: none since live_
  // was loaded), and the page rows changed since.
  uint64_t page_rows_base_ ABSL_GUARDED_BY(snapshot_mu_) = 0;
  absl::btree_set<EntityRef> page_rows_changed_ ABSL_GUARDED_BY(snapshot_mu_);
  absl::Status live_load_ ABSL_GUARDED_BY(snapshot_mu_);

  absl::Mutex thread_mu_;
  bool stopping_ ABSL_GUARDED_BY(thread_mu_) = false;
  std::thread thread_;
};

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_STATE_AT_H_
