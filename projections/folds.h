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
//
// Not thread-safe; one fold per projection batch or replay.

#ifndef VIGIL_PROJECTIONS_FOLDS_H_
#define VIGIL_PROJECTIONS_FOLDS_H_

#include <cstdint>
#include <string>
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
  // The agent ids `event` may change.
  static void Keys(const DomainEvent& event, std::vector<std::string>* ids);

  // Seeds the fold with a stored row (before Apply).
  void Seed(AgentRow row);
  void Apply(const DomainEvent& event);

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
  static void Keys(const DomainEvent& event, std::vector<std::string>* ids);

  void Seed(TaskRow row);
  // Seeds totals (time travel restoring a snapshot; a projection's fold
  // starts from zero increments instead).
  void SeedPair(const AgentPair& key, const PairCounts& counts);
  void SeedMessages(const AgentPair& key, const MessageCounts& counts);
  void Apply(const DomainEvent& event);

  const absl::flat_hash_map<std::string, TaskRow>& rows() const {
    return rows_;
  }
  const absl::btree_set<std::string>& dirty() const { return dirty_; }
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
    dirty_pairs_.clear();
    dirty_messages_.clear();
  }

 private:
  TaskRow& Row(const std::string& task_id, const DomainEvent& event);
  void Finish(TaskRow& task, const DomainEvent& event, bool completed);

  absl::flat_hash_map<std::string, TaskRow> rows_;
  absl::btree_set<std::string> dirty_;
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

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_FOLDS_H_
