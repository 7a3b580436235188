// The JSON of time travel (docs/time-travel.md), and TimeTravelQueries,
// the api::StateQueries that the gRPC service and the REST gateway call.
// Rows use the field names of the REST read models (read_queries.h): an
// empty text is null, a zero time is null, doubles always carry a '.' or
// an exponent. Pure functions; TimeTravelQueries is thread-safe.

#ifndef VIGIL_PROJECTIONS_STATE_JSON_H_
#define VIGIL_PROJECTIONS_STATE_JSON_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "api/state_queries.h"
#include "projections/state_at.h"

namespace vigil::projections {

// Tasks a whole-system state lists by default, and at most.
inline constexpr uint64_t kDefaultStateTasks = 100;
inline constexpr uint64_t kMaxStateTasks = 10'000;
// Agents, pairs and message pairs a whole-system state lists at most.
inline constexpr size_t kMaxStateListRows = 10'000;

// Spans a whole-system state lists at most.
inline constexpr size_t kMaxStateSpans = 10'000;

std::string AgentJson(const AgentRow& row);
std::string TaskJson(const TaskRow& row);
std::string SpanJson(const SpanRow& row);

// {"position","time_us","snapshot_position","replayed_events",
//  "skipped_events","agents":[...],"task_count","tasks":[...newest first,
//  at most task_limit],"coordination":{"pairs":[...],"messages":[...]},
//  "agent_metrics":[...],"usage":[...],"span_count","spans":[...by trace
//  id, start time, span id; at most kMaxStateSpans]}; with `trace_id`,
//  the spans (and span_count) of that trace only. A state without spans
//  leaves span_count and spans out, unless `trace_id` is given.
std::string SystemStateJson(const SystemState& state, const ReplayStats& stats,
                            uint64_t task_limit,
                            const std::string& trace_id = "");
// The same body from the scrubber's page (TimeTravel::StatePageAt), with
// its task_count: equal to SystemStateJson of StateAt at the same position
// for any task_limit up to the page's.
std::string StatePageJson(const StatePage& page, const ReplayStats& stats,
                          uint64_t task_limit);

// {"from":{"position","time_us"},"to":{...},"change_count",
//  "changes":[{"kind","key":{...},"before":row|null,"after":row|null,
//  "positions":[...],"position_count"}]}
std::string DiffJson(const StateDiff& diff);

class TimeTravelQueries final : public api::StateQueries {
 public:
  // `time_travel` must outlive this object.
  explicit TimeTravelQueries(TimeTravel* time_travel)
      : time_travel_(time_travel) {}

  absl::StatusOr<std::string> State(const api::StateQuery& query) override;
  absl::StatusOr<std::string> Diff(const api::DiffQuery& query) override;

 private:
  // The position of `point`; `fallback` when it names none.
  absl::StatusOr<uint64_t> Resolve(const api::LogPoint& point,
                                   uint64_t fallback) const;

  TimeTravel* const time_travel_;
};

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_STATE_JSON_H_
