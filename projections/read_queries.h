// ReadQueries: the SQL behind the read-model queries of api/read_models.h.
// It answers each with a JSON body read from the read models of schema
// `vigil` (schemas/sql/0001_read_models.sql); the gateway maps the HTTP
// paths to the queries (gateway/internal/read_model_routes.h).
//
//   AgentListQuery     {"agents":[agent...]} by agent_id, at most
//                      kMaxListRows (the rest are left out)
//   AgentQuery         agent
//   TaskListQuery      {"tasks":[task...],"next_cursor":"..."|null}
//                      newest first (first_position DESC, then task_id
//                      DESC), keyset pages of
//                      `limit` (default kDefaultTaskLimit, 1..kMaxTaskLimit);
//                      filters combine with AND; status is created|assigned
//                      |running|completed|failed; cursor is next_cursor of
//                      the page before, opaque
//   TaskQuery          task
//   CoordinationQuery  {"pairs":[pair...],"messages":[message...]}
//                      each by its key, at most kMaxListRows
//   AgentMetricsQuery  {"agent_id","bucket","points":[metric...]}
//   UsageQuery         {"bucket","points":[usage...]}
//   TraceQuery         {"trace_id","spans":[span...]} by start time, then
//                      span id, at most kMaxTraceSpans; NOT_FOUND for a
//                      trace without spans
//   TaskSpansQuery     {"task_id","trace_id"|null,"spans":[span...]}: the
//                      span of run task "run-<span_id>" and every span
//                      below it, ordered and bounded as a trace; a task
//                      not from spans has none
//
//   agent   {agent_id, role, name, model, status, stopped_reason,
//            current_task_id, registered_time_us, last_heartbeat_time_us,
//            cpu_pct, mem_bytes, queue_depth, updated_time_us,
//            last_position}
//   task    {task_id, first_position, manager_id, worker_id, title,
//            priority, parent_task_id, status, created_time_us,
//            assigned_time_us, started_time_us, finished_time_us, progress,
//            progress_note, result (inline JSON), error, updated_time_us,
//            last_position}
//   pair    {manager_id, worker_id, tasks_assigned, tasks_completed,
//            tasks_failed, mean_time_to_complete_ms (null when none
//            completed)}
//   message {from_agent, to_agent, messages, last_kind, last_summary,
//            last_time_us}
//   metric  {bucket_time_us, events, heartbeats, cpu_pct_avg, mem_bytes_avg,
//            queue_depth_avg (averages over heartbeats, null without any),
//            llm_calls, input_tokens, output_tokens, cost_usd, tool_calls,
//            tool_failures, tasks_completed, tasks_failed}
//   usage   {bucket_time_us, model, calls, input_tokens, output_tokens,
//            cost_usd, latency_ms_avg (null without calls)}
//   span    {trace_id, span_id, parent_span_id, name, kind, start_time_us,
//            end_time_us, duration_ms, status, error, operation, agent_id,
//            agent_name, caller_agent_id, tool, tool_call_id, provider,
//            model, input_tokens, output_tokens, cached_tokens, cost_usd,
//            attributes, events, links, resource, scope (inline JSON),
//            position, recorded_time_us} (docs/otlp.md "Reads")
//
// Every column that is NULL in PostgreSQL is null in JSON. Times are
// integer UTC microseconds in fields named *_time_us. Counts are integers;
// the double columns (cpu_pct, progress, averages, cost_usd) always have a
// '.' or an exponent ("10.0"), and are null when not finite.
//
// Metrics and usage: `bucket` is 1m (the default), 5m or 1h; buckets are
// aligned to the Unix epoch (date_bin). The 1-minute rows whose minute
// starts in [from, to) are summed per bucket; buckets without rows are left
// out, and points come by bucket_time_us (then model). `to` defaults to now
// and `from` to one hour before `to`. A range touching more than kMaxBuckets
// buckets, or usage with more than kMaxUsagePoints points, is
// INVALID_ARGUMENT.
//
// Thread-safe: any number of threads may call Read at once; each call takes
// one connection of the pool for its duration.

#ifndef VIGIL_PROJECTIONS_READ_QUERIES_H_
#define VIGIL_PROJECTIONS_READ_QUERIES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/read_models.h"

namespace vigil::projections {

namespace internal {
class ReadPool;
}  // namespace internal

class ReadQueries {
 public:
  // Rows of /v1/agents, and of each list of /v1/coordination.
  static constexpr int kMaxListRows = 10'000;
  static constexpr int kDefaultTaskLimit = 100;
  static constexpr int kMaxTaskLimit = 1'000;
  // Buckets a metrics or usage range may touch.
  static constexpr int64_t kMaxBuckets = 10'000;
  // Points (bucket × model) of one usage answer.
  static constexpr int kMaxUsagePoints = 10'000;
  // Spans of one trace or task answer (the rest are left out).
  static constexpr int kMaxTraceSpans = 10'000;

  // A pool of at most `connections` (>= 1) connections to `pg_url`, opened
  // when first needed and reopened after one breaks. A call waits at most
  // `wait` for a free connection. Opening one is bounded by libpq alone:
  // put connect_timeout in pg_url to bound it.
  explicit ReadQueries(std::string pg_url, int connections = 4,
                       absl::Duration wait = absl::Seconds(5));
  ~ReadQueries();

  ReadQueries(const ReadQueries&) = delete;
  ReadQueries& operator=(const ReadQueries&) = delete;

  // The JSON body answering `query`. Errors: INVALID_ARGUMENT naming the
  // field (out of range, unknown status or bucket, malformed cursor);
  // NOT_FOUND for an unknown agent or task id; UNAVAILABLE when no
  // connection is free within `wait` or PostgreSQL cannot be reached (a
  // connection that broke is retried once on a new one); UNIMPLEMENTED for
  // ProjectionsQuery (ProjectionService answers it); INTERNAL when a query
  // fails otherwise. Fields are checked before any connection is taken.
  absl::StatusOr<std::string> Read(const api::ReadModelQuery& query);

  // Read on a server that may lag the one the projections write to (a
  // streaming replica): answers only from a snapshot in which the
  // checkpoints of all of `projections` are at or past `min_position`,
  // read in the query's own transaction, so the answer holds every effect
  // up to it. Until then it reads again every `poll`; past `deadline`,
  // UNAVAILABLE naming the position the server has reached. Other errors
  // as Read.
  absl::StatusOr<std::string> ReadAtLeast(
      const api::ReadModelQuery& query,
      const std::vector<std::string>& projections, uint64_t min_position,
      absl::Time deadline, absl::Duration poll = absl::Milliseconds(5));

 private:
  std::unique_ptr<internal::ReadPool> pool_;
};

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_READ_QUERIES_H_
