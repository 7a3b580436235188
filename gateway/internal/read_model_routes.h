// The HTTP form of the read-model queries (api/read_models.h): which paths
// they are and how a path and query string become a ReadModelRequest.
//
//   /v1/agents                  AgentListQuery
//   /v1/agents/{id}             AgentQuery
//   /v1/tasks?status=&manager=&worker=&limit=&cursor=
//                               TaskListQuery
//   /v1/tasks/{id}              TaskQuery
//   /v1/coordination            CoordinationQuery
//   /v1/metrics/agents/{id}?from=&to=&bucket=
//                               AgentMetricsQuery
//   /v1/usage?from=&to=&bucket= UsageQuery
//   /v1/projections             ProjectionsQuery
//   /v1/traces/{id}             TraceQuery
//   /v1/tasks/{id}/spans        TaskSpansQuery
//
// Every path also takes min_position=P. The query string is decoded by
// api/query_string.h; the id in a path is percent-decoded ('+' is itself).
// A parameter given with an empty value counts as not given. `from` and `to`
// are RFC 3339 times or integer microseconds, years 1 to 9999.
//
// Pure functions; any thread.

#ifndef VIGIL_GATEWAY_INTERNAL_READ_MODEL_ROUTES_H_
#define VIGIL_GATEWAY_INTERNAL_READ_MODEL_ROUTES_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "api/read_models.h"

namespace vigil::gateway::internal {

// True for the paths above (without the query string).
bool IsReadModelPath(std::string_view path);

// The request for GET `path`?`query` (`query` still percent-encoded).
// NOT_FOUND for a path IsReadModelPath rejects; INVALID_ARGUMENT naming the
// parameter or the id: malformed encoding, unknown or repeated parameter, or
// a value that is not a number or time where one is expected.
absl::StatusOr<api::ReadModelRequest> ParseReadModelRequest(
    std::string_view path, std::string_view query);

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_READ_MODEL_ROUTES_H_
