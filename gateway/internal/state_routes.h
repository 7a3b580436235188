// The REST form of time travel (api/state_queries.h): the query strings of
// GET /v1/state and GET /v1/diff, decoded by api/query_string.h ('+' is a
// space in agent and task ids, itself in positions and times):
//
//   /v1/state?at=<position>|at_time=<time>&agent=<id>|task=<id>&limit=<n>
//             &trace=<trace id> (the spans listed: that trace's only)
//   /v1/diff?from=<position>|from_time=<time>&to=<position>|to_time=<time>
//
// Times are RFC 3339 or integer microseconds. A parameter given with an
// empty value counts as not given.
//
// Pure functions; any thread.

#ifndef VIGIL_GATEWAY_INTERNAL_STATE_ROUTES_H_
#define VIGIL_GATEWAY_INTERNAL_STATE_ROUTES_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "api/state_queries.h"

namespace vigil::gateway::internal {

// INVALID_ARGUMENT naming the parameter: unknown or repeated, malformed, or
// both forms of one point (or both agent and task).
absl::StatusOr<api::StateQuery> ParseStateQuery(std::string_view raw_query);
absl::StatusOr<api::DiffQuery> ParseDiffQuery(std::string_view raw_query);

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_STATE_ROUTES_H_
