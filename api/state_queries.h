// StateQueries: what the gRPC service (StateAt, Diff) and the REST gateway
// (GET /v1/state, GET /v1/diff) ask of time travel. The projections module
// implements it (projections/state_json.h); api and gateway only parse
// (the REST form: gateway/internal/state_routes.h), authorize (role
// "reader" or better) and map errors, so they need neither the folds nor
// PostgreSQL to build. Both answer with the same JSON bodies,
// described in docs/time-travel.md.
//
// Thread-safe: implementations take calls from any number of threads. A
// call may block (it reads the log), so callers run it on reader threads.

#ifndef VIGIL_API_STATE_QUERIES_H_
#define VIGIL_API_STATE_QUERIES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace vigil::api {

// A point of the log: a position, a time (the last position recorded at or
// before it), or neither (the head).
struct LogPoint {
  std::optional<uint64_t> position;
  std::optional<int64_t> time_us;
};

struct StateQuery {
  LogPoint at;
  // At most one: the state of one agent or one task; neither: every read
  // model.
  std::string agent_id;
  std::string task_id;
  // Tasks listed in a whole-system answer (newest first); 0: the default.
  uint64_t task_limit = 0;
  // The spans listed in a whole-system answer: this trace's; "": all
  // (bounded).
  std::string trace_id;
};

struct DiffQuery {
  LogPoint from;  // neither: position 0 (the empty state)
  LogPoint to;    // neither: the head
};

class StateQueries {
 public:
  virtual ~StateQueries() = default;

  // The JSON body of a state or diff. INVALID_ARGUMENT for a point past the
  // head or a bad range; NOT_FOUND for an agent or task that did not exist
  // at that point; UNAVAILABLE when the log cannot be read.
  virtual absl::StatusOr<std::string> State(const StateQuery& query) = 0;
  virtual absl::StatusOr<std::string> Diff(const DiffQuery& query) = 0;
};

}  // namespace vigil::api

#endif  // VIGIL_API_STATE_QUERIES_H_
