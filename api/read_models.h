// ReadModels: the queries of the PostgreSQL read models (agents, tasks,
// coordination, metrics, usage, spans, the projections' own status), typed and
// transport-neutral. The projections module implements it
// (projections/projection_service.h); the HTTP gateway parses a request
// into a ReadModelRequest and renders the answer or the error, so neither
// needs the other to build.
//
// The JSON bodies and the limits are described in projections/read_queries.h
// and docs/read-models.md "REST reads".
//
// Thread-safe: implementations take calls from any number of threads. A call
// may block (it waits for min_position and queries PostgreSQL), so callers
// run it on reader threads.

#ifndef VIGIL_API_READ_MODELS_H_
#define VIGIL_API_READ_MODELS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "absl/status/statusor.h"

namespace vigil::api {

// {"agents":[...]}
struct AgentListQuery {};
// One agent.
struct AgentQuery {
  std::string agent_id;
};
// One page of tasks, newest first; empty filters match every task.
struct TaskListQuery {
  std::string status;   // created, assigned, running, completed or failed
  std::string manager;  // manager_id
  std::string worker;   // worker_id
  std::optional<int64_t> limit;  // 1..kMaxTaskLimit; none: the default
  std::string cursor;   // next_cursor of the page before; "": the first
};
// One task.
struct TaskQuery {
  std::string task_id;
};
// {"pairs":[...],"messages":[...]}
struct CoordinationQuery {};
// The buckets of a metrics or usage answer.
struct BucketRange {
  std::string bucket;            // 1m, 5m or 1h; "": 1m
  std::optional<int64_t> from_us;  // none: one hour before `to_us`
  std::optional<int64_t> to_us;    // none: now
};
// The metrics of one agent.
struct AgentMetricsQuery {
  std::string agent_id;
  BucketRange range;
};
// LLM usage per model.
struct UsageQuery {
  BucketRange range;
};
// {"projections":[...]}: each projection's checkpoint, lag and state.
struct ProjectionsQuery {};
// {"trace_id","spans":[...]}: the spans of one trace, by start time.
struct TraceQuery {
  std::string trace_id;
};
// {"task_id","trace_id","spans":[...]}: the spans of a run's subtree.
struct TaskSpansQuery {
  std::string task_id;
};

using ReadModelQuery =
    std::variant<AgentListQuery, AgentQuery, TaskListQuery, TaskQuery,
                 CoordinationQuery, AgentMetricsQuery, UsageQuery,
                 ProjectionsQuery, TraceQuery, TaskSpansQuery>;

struct ReadModelRequest {
  ReadModelQuery query;
  // The answer waits (bounded) until the projections behind the query have
  // applied this log position; 0: no wait.
  uint64_t min_position = 0;
};

class ReadModels {
 public:
  virtual ~ReadModels() = default;

  // The JSON body answering `request`. INVALID_ARGUMENT naming the field
  // (out of range, unknown status or bucket, malformed cursor); NOT_FOUND
  // for an unknown agent, task or trace; UNAVAILABLE when PostgreSQL cannot be
  // reached, the read models are not ready, or min_position was not reached
  // in time; INTERNAL when a query fails otherwise.
  virtual absl::StatusOr<std::string> Read(const ReadModelRequest& request) = 0;
};

}  // namespace vigil::api

#endif  // VIGIL_API_READ_MODELS_H_
