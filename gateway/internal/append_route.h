// The REST append, POST /v1/streams/{stream}/events (docs/http-api.md):
// its request (Content-Type: application/json, Vigil-Expected-Revision,
// Idempotency-Key, a JSON batch of events) into an eventlog::AppendRequest
// for the core (api/core.h Append), and the core's answer into the
// response (201 Created, 200 for a deduplicated retry). Pure functions; any
// thread.

#ifndef VIGIL_GATEWAY_INTERNAL_APPEND_ROUTE_H_
#define VIGIL_GATEWAY_INTERNAL_APPEND_ROUTE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "eventlog/event.h"
#include "gateway/internal/http_message.h"

namespace vigil::gateway::internal {

// Fills `append` for `stream` (already percent-decoded) from `request`, or
// returns the refusal to send: 415 for a body that is not JSON, 400
// naming the header or the event for a malformed one.
std::optional<HttpResponse> ParseAppend(const HttpRequest& request,
                                        std::string stream,
                                        eventlog::AppendRequest* append);

// 201 (200 when deduplicated) with the append result's JSON, or the error.
HttpResponse AppendAnswer(const absl::StatusOr<eventlog::AppendResult>& result);

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_APPEND_ROUTE_H_
