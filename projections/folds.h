// The folds of the domain read models: plain C++ over DomainEvents, no SQL.
// A PostgreSQL projection preloads the rows a batch touches, folds the batch
// and writes the rows back; time travel folds the log from position 1 in
// memory. Both therefore see exactly the same logic.
//
// Two kinds of state:
//  - entity rows (agents, tasks): a fold keeps whole rows; the caller seeds
//    it with the current rows of the keys a batch touches (Keys), and
//    writes back the rows it changed (Dirty).
//  - counters (coordination pairs, messages, per-minute metrics, LLM usage):
//    a fold keeps what happened since it started, as increments; a
//    projection adds them to the stored rows, an in-memory replay from
//    position 1 simply has the totals.
//  - traces (TraceFold): the spans of each trace, kept whole; the domain
//    rows a span changes depend on the other spans of its trace, so a
//    projection seeds the fold with every stored span of the traces a
//    batch touches (Keys: trace ids), and the fold passes what each new
//    span settles to the three folds above (Apply's sinks).
//
// Not thread-safe; one fold per projection batch or replay.

#ifndef VIGIL_PROJECTIONS_FOLDS_H_
#define VIGIL_PROJECTIONS_FOLDS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "projections/domain_event.h"

namespace vigil::projections {

inline constexpr int64_t kMinuteUs = 60'000'000;

// ---------------------------------------------------------------- agents

struct AgentRow {
  std::string agent_id;
  std::string role;    // "manager" | "worker"; empty until registered
  std::string name;
  std::string model;
  std::string status;  // "idle" | "busy" | "stopped"
  std::string stopped_reason;
  std::string current_task_id;  // the task it started and has not finished
  int64_t registered_time_us = 0;
  int64_t last_heartbeat_time_us = 0;  // 0: never
  double cpu_pct = 0;
  int64_t mem_bytes = 0;
  int64_t queue_depth = 0;
  int64_t updated_time_us = 0;
  uint64_t last_position = 0;  // the last event that changed the row

  friend bool operator==(const AgentRow&, const AgentRow&) = default;
};

class AgentFold {
 public:
  // The agent ids `event` may change (SpanRecorded: TraceFold::AgentKeys).
  static void Keys(const DomainEvent& event, std::vector<std::string>* ids);

  // Seeds the fold with a stored row (before Apply).
  void Seed(AgentRow row);
  void Apply(const DomainEvent& event);

  // From traces (TraceFold): an agent run of `agent_id` started at
  // `start_time_us`. Registers the agent (role worker unless it has one);
  // keeps the earliest start as registered_time_us and, of the names and
  // models given, the greatest non-empty one, so that the row does not
  // depend on the order runs arrive in.
  void SpanAgent(const std::string& agent_id, const std::string& name,
                 const std::string& model, int64_t start_time_us,
                 const DomainEvent& event);
  // From traces: `agent_id` delegated a run; its role becomes manager.
  void SpanManager(const std::string& agent_id, const DomainEvent& event);

  const absl::flat_hash_map<std::string, AgentRow>& rows() const {
    return rows_;
  }
  // Ids of the rows Apply changed, sorted.
  const absl::btree_set<std::string>& dirty() const { return dirty_; }
  // Forgets which rows changed (time travel: per snapshot, per event).
  void ClearDirty() { dirty_.clear(); }

 private:
  AgentRow& Row(const std::string& agent_id, const DomainEvent& event);

  absl::flat_hash_map<std::string, AgentRow> rows_;
  absl::btree_set<std::string> dirty_;
};

// ---------------------------------------------------------------- tasks

struct TaskRow {
  std::string task_id;
  uint64_t first_position = 0;  // the first event about it: list order
  std::string manager_id;
  std::string worker_id;
  std::string title;
  bool has_priority = false;
  int64_t priority = 0;
  std::string parent_task_id;
  // "created" | "assigned" | "running" | "completed" | "failed"
  std::string status;
  int64_t created_time_us = 0;  // 0: not (yet) seen
  int64_t assigned_time_us = 0;
  int64_t started_time_us = 0;
  int64_t finished_time_us = 0;
  double progress = 0;  // percent
  std::string progress_note;
  std::string result;  // JSON text
  std::string error;
  int64_t updated_time_us = 0;
  uint64_t last_position = 0;

  friend bool operator==(const TaskRow&, const TaskRow&) = default;
};

// Increments for one manager → worker pair.
struct PairCounts {
  int64_t assigned = 0;
  int64_t completed = 0;
  int64_t failed = 0;
  // Sum and count of assignment-to-completion times, for the mean.
  int64_t complete_time_sum_us = 0;
  int64_t complete_time_count = 0;

  friend bool operator==(const PairCounts&, const PairCounts&) = default;
};

// Increments for messages from one agent to another.
struct MessageCounts {
  int64_t messages = 0;
  std::string last_kind;  // of the latest message
  std::string last_summary;
  int64_t last_time_us = 0;
  uint64_t last_position = 0;

  friend bool operator==(const MessageCounts&, const MessageCounts&) = default;
};

using AgentPair = std::pair<std::string, std::string>;  // (from, to)

// Tasks and the coordination between agents (assignments, outcomes and
// messages per pair).
class TaskFold {
 public:
  // The task ids `event` may change (SpanRecorded: TraceFold::TaskKeys).
  static void Keys(const DomainEvent& event, std::vector<std::string>* ids);

  void Seed(TaskRow row);
  // Seeds totals (time travel restoring a snapshot; a projection's fold
  // starts from zero increments instead).
  void SeedPair(const AgentPair& key, const PairCounts& counts);
  void SeedMessages(const AgentPair& key, const MessageCounts& counts);
  void Apply(const DomainEvent& event);

  // From traces (TraceFold). The run task `run` (its derived columns; the
  // bookkeeping ones are the fold's) replaces the row of its id.
  void SpanRun(const TaskRow& run, const DomainEvent& event);
  // A run some spans of which arrived before it: task `task_id` is running
  // since the earliest of their starts (unless a task of that id is there
  // and not running).
  void SpanPlaceholder(const std::string& task_id, int64_t start_time_us,
                       const DomainEvent& event);
  // The placeholder `task_id` was no run after all: the row goes.
  void Remove(const std::string& task_id);
  // A run of `worker` delegated by `manager` that took `duration_us` ended.
  void SpanPair(const std::string& manager, const std::string& worker,
                bool completed, int64_t duration_us);

  const absl::flat_hash_map<std::string, TaskRow>& rows() const {
    return rows_;
  }
  const absl::btree_set<std::string>& dirty() const { return dirty_; }
  // Ids of the rows removed since the last ClearDirty, sorted.
  const absl::btree_set<std::string>& removed() const { return removed_; }
  // Keyed by (manager, worker).
  const absl::btree_map<AgentPair, PairCounts>& pairs() const {
    return pairs_;
  }
  // Keyed by (from_agent, to_agent).
  const absl::btree_map<AgentPair, MessageCounts>& messages() const {
    return messages_;
  }
  // Keys of the pairs and messages Apply changed.
  const absl::btree_set<AgentPair>& dirty_pairs() const { return dirty_pairs_; }
  const absl::btree_set<AgentPair>& dirty_messages() const {
    return dirty_messages_;
  }
  void ClearDirty() {
    dirty_.clear();
    removed_.clear();
    dirty_pairs_.clear();
    dirty_messages_.clear();
  }

 private:
  TaskRow& Row(const std::string& task_id, const DomainEvent& event);
  void Finish(TaskRow& task, const DomainEvent& event, bool completed);

  absl::flat_hash_map<std::string, TaskRow> rows_;
  absl::btree_set<std::string> dirty_;
  absl::btree_set<std::string> removed_;
  absl::btree_map<AgentPair, PairCounts> pairs_;
  absl::btree_map<AgentPair, MessageCounts> messages_;
  absl::btree_set<AgentPair> dirty_pairs_;
  absl::btree_set<AgentPair> dirty_messages_;
};

// ---------------------------------------------------------------- metrics

// Increments for one agent in one minute.
struct AgentMinute {
  int64_t events = 0;
  int64_t heartbeats = 0;
  double cpu_pct_sum = 0;  // averages are sum / heartbeats
  double mem_bytes_sum = 0;
  double queue_depth_sum = 0;
  int64_t llm_calls = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
  int64_t tool_calls = 0;
  int64_t tool_failures = 0;
  int64_t tasks_completed = 0;
  int64_t tasks_failed = 0;

  friend bool operator==(const AgentMinute&, const AgentMinute&) = default;
};

// Increments for one model in one minute.
struct UsageMinute {
  int64_t calls = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
  double latency_ms_sum = 0;

  friend bool operator==(const UsageMinute&, const UsageMinute&) = default;
};

// (agent_id or model, minute start in µs)
using MinuteKey = std::pair<std::string, int64_t>;

class MetricsFold {
 public:
  // Seed totals (time travel restoring a snapshot).
  void SeedAgentMinute(const MinuteKey& key, const AgentMinute& minute);
  void SeedUsageMinute(const MinuteKey& key, const UsageMinute& minute);
  void Apply(const DomainEvent& event);

  // From traces (TraceFold), each in the minute of the span's end: an
  // agent run that ended; a tool call, a model call of an agent; a model
  // call's usage.
  void SpanRun(const std::string& agent_id, int64_t minute, bool completed);
  void SpanTool(const std::string& agent_id, int64_t minute, bool ok);
  void SpanModel(const std::string& agent_id, int64_t minute,
                 int64_t input_tokens, int64_t output_tokens, double cost_usd);
  void SpanUsage(const std::string& model, int64_t minute,
                 int64_t input_tokens, int64_t output_tokens, double cost_usd,
                 double latency_ms);

  const absl::btree_map<MinuteKey, AgentMinute>& agent_minutes() const {
    return agent_minutes_;
  }
  const absl::btree_map<MinuteKey, UsageMinute>& usage_minutes() const {
    return usage_minutes_;
  }
  // Keys of the minutes Apply changed.
  const absl::btree_set<MinuteKey>& dirty_agent_minutes() const {
    return dirty_agent_minutes_;
  }
  const absl::btree_set<MinuteKey>& dirty_usage_minutes() const {
    return dirty_usage_minutes_;
  }
  void ClearDirty() {
    dirty_agent_minutes_.clear();
    dirty_usage_minutes_.clear();
  }

 private:
  absl::btree_map<MinuteKey, AgentMinute> agent_minutes_;
  absl::btree_map<MinuteKey, UsageMinute> usage_minutes_;
  absl::btree_set<MinuteKey> dirty_agent_minutes_;
  absl::btree_set<MinuteKey> dirty_usage_minutes_;
};

// The agent an event is about, for per-agent metrics: agent_id, the worker
// of task events, the manager of TaskCreated/TaskAssigned, the sender of a
// message. Empty for other events.
const std::string& ActingAgent(const DomainEvent& event);

inline int64_t MinuteOf(int64_t time_us) {
  return time_us - ((time_us % kMinuteUs) + kMinuteUs) % kMinuteUs;
}

// ---------------------------------------------------------------- traces

// One span (SpanRecorded, docs/otlp.md): the event's fields, and the
// position and recorded time of the event that first recorded it. Rows
// never change once written: a span recorded again is the same span.
struct SpanRow {
  std::string trace_id;
  std::string span_id;
  std::string parent_span_id;
  std::string name;
  std::string kind;
  int64_t start_time_us = 0;
  int64_t end_time_us = 0;
  double duration_ms = 0;
  std::string status;
  std::string error;
  std::string operation;
  std::string agent_id;
  std::string agent_name;
  std::string caller_agent_id;
  std::string tool;
  std::string tool_call_id;
  std::string provider;
  std::string model;
  bool has_input_tokens = false;
  int64_t input_tokens = 0;
  bool has_output_tokens = false;
  int64_t output_tokens = 0;
  bool has_cached_tokens = false;
  int64_t cached_tokens = 0;
  double cost_usd = 0;
  std::string attributes;  // JSON text
  std::string events;      // JSON text
  std::string links;       // JSON text
  std::string resource;    // JSON text
  std::string scope;       // JSON text
  uint64_t position = 0;
  int64_t recorded_time_us = 0;

  friend bool operator==(const SpanRow&, const SpanRow&) = default;
};

using SpanKey = std::pair<std::string, std::string>;  // (trace, span)

// The task of the run span `span_id`: "run-<span_id>".
std::string RunTaskId(std::string_view span_id);

// The spans read model, and how spans fold into the domain read models
// (docs/otlp.md "How spans fold"). Every domain row a trace gives is a
// function of the set of its spans, not of their order: a span's context
// (the agent whose run it belongs to, the manager of a run) is settled
// once every span between it and the nearest agent run has arrived; until
// then it waits in its trace's state on the first missing ancestor, whose
// task shows as a running placeholder. Each fact is passed to the sinks
// exactly once, when it is settled.
class TraceFold {
 public:
  // The trace id of a SpanRecorded event.
  static void Keys(const DomainEvent& event, std::vector<std::string>* ids);

  // Seeds the fold with a stored span (before Apply). What seeded spans
  // settled is taken as already folded.
  void Seed(SpanRow row);

  // Folds a SpanRecorded event (others are ignored): records the span,
  // once per (trace id, span id), and passes what it settles to the sinks
  // that are not null.
  void Apply(const DomainEvent& event, AgentFold* agents, TaskFold* tasks,
             MetricsFold* metrics);

  // After seeding: the task ids and agent ids Apply of `events` may touch
  // (every run and placeholder of their traces), for a projection's
  // preload.
  void TaskKeys(const std::vector<DomainEvent>& events,
                std::vector<std::string>* ids) const;
  void AgentKeys(const std::vector<DomainEvent>& events,
                 std::vector<std::string>* ids) const;

  // Every span, by trace id then span id.
  const absl::btree_map<SpanKey, SpanRow>& rows() const { return rows_; }
  // Whether the fold holds spans of `trace_id` (seeded or applied).
  bool HasTrace(const std::string& trace_id) const {
    return traces_.contains(trace_id);
  }
  // When more than `max_spans` spans are held: forgets whole traces, the
  // least recently applied or seeded first, until a quarter under it,
  // never one with a dirty span. A forgotten trace's spans must be seeded
  // again before another span of it is applied (TimeTravel reloads them
  // from its last snapshot). Returns the traces forgotten.
  size_t EvictTraces(size_t max_spans);
  // Keys of the spans Apply recorded.
  const absl::btree_set<SpanKey>& dirty() const { return dirty_; }
  void ClearDirty() { dirty_.clear(); }

 private:
  struct Trace {
    // Span ids waiting on a span that has not arrived, by its id.
    absl::flat_hash_map<std::string, std::vector<std::string>> waiting;
    bool indexed = false;
    uint64_t touched = 0;  // touch_ when last applied or seeded
  };
  struct Context;
  struct Sinks;

  const SpanRow* Find(const std::string& trace_id,
                      const std::string& span_id) const;
  Context Up(const SpanRow& span) const;
  Context AgentContext(const SpanRow& span) const;
  void Index(const std::string& trace_id, Trace& trace);
  // Calls `visit` for every span `events` record and every stored span of
  // their traces.
  void VisitTouched(
      const std::vector<DomainEvent>& events,
      const std::function<void(const std::string& span_id,
                               const std::string& parent_span_id,
                               const std::string& agent_id,
                               const std::string& caller_agent_id)>& visit)
      const;
  void Settle(const SpanRow& span, Trace& trace, const Sinks& sinks);

  absl::btree_map<SpanKey, SpanRow> rows_;
  absl::flat_hash_map<std::string, Trace> traces_;
  absl::btree_set<SpanKey> dirty_;
  uint64_t touch_ = 0;
};

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_FOLDS_H_
