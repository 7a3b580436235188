// The JSON form of events and append results (docs/contract.md "HTTP"), shared
// by the REST gateway, the live WebSocket and the `vigil` CLI so that all of
// them speak the same JSON. Pure functions, safe from any thread.

#ifndef VIGIL_API_EVENT_JSON_H_
#define VIGIL_API_EVENT_JSON_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "eventlog/event.h"

namespace vigil::api {

// {"event_id","stream","revision","position","type","data","content_type",
//  "metadata","recorded_time_us","hash"}. `data` is inline JSON when the
// content type is application/json (the log only records JSON objects
// then); for any other content type it is "data_base64" with the bytes in
// standard base64. `metadata` is inline (`{}` when empty), `hash` lowercase
// hex. One line, no trailing newline. Strings are escaped by the one JSON
// writer (base/json.h); `data` and `metadata` are the log's validated text,
// spliced in unparsed (the writer's one exception, for speed).
std::string RecordedEventToJson(const eventlog::RecordedEvent& event);

// Parses one proposed event:
//   {"event_id"?, "type", "data": <JSON object>, "metadata"?: <JSON object>,
//    "content_type"?, "data_base64"?}
// Exactly one of "data" and "data_base64" is required; "data" only with the
// JSON content type (the default). Optional fields may be null. `data` and
// `metadata` come back minified. INVALID_ARGUMENT, naming the field, for
// malformed JSON, a missing or mistyped field, an unknown or repeated field.
// Names, types and sizes are checked by the log on append, not here.
absl::StatusOr<eventlog::EventData> EventDataFromJson(std::string_view json);

// A REST append body: one event object as above, or a non-empty array of
// them. Errors name the element: "events[2].type: ...".
absl::StatusOr<std::vector<eventlog::EventData>> EventBatchFromJson(
    std::string_view json);

// {"first_position":..,"last_position":..,"next_expected_revision":..,
//  "deduplicated":..}
std::string AppendResultToJson(const eventlog::AppendResult& result);

// An event the server writes itself (`$webhooks`, `$alerts`...): `type`
// with `data` as minified JSON.
eventlog::EventData JsonEventData(std::string type, const base::Json& data);

// "any", "no_stream", "stream_exists" or a decimal revision (digits only),
// as in the Vigil-Expected-Revision header and the CLI's
// --expected-revision. INVALID_ARGUMENT for anything else.
absl::StatusOr<eventlog::ExpectedRevision> ParseExpectedRevision(
    std::string_view text);

}  // namespace vigil::api

#endif  // VIGIL_API_EVENT_JSON_H_
