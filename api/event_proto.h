// Conversions between the event log's value types and the vigil.v1
// messages of schemas/vigil/v1/event_store.proto, both ways, so that the
// server and its clients share them. Field for field, with the defaults of
// docs/contract.md: an unset expected revision is `any`. Pure functions, safe
// from any thread.

#ifndef VIGIL_API_EVENT_PROTO_H_
#define VIGIL_API_EVENT_PROTO_H_

#include "absl/status/statusor.h"
#include "eventlog/event.h"
#include "vigil/v1/event_store.pb.h"

namespace vigil::api {

void ToProto(const eventlog::RecordedEvent& event,
             vigil::v1::RecordedEvent* proto);

eventlog::Filter FromProto(const vigil::v1::Filter& proto);

// The append as the log takes it, events as sent (names, types, JSON and
// sizes are the log's to check). Never fails today: every field maps one
// to one; the StatusOr leaves room for checks the log's types cannot hold.
absl::StatusOr<eventlog::AppendRequest> FromProto(
    const vigil::v1::AppendRequest& proto);

void ToProto(const eventlog::AppendResult& result,
             vigil::v1::AppendResponse* proto);

void ToProto(const eventlog::StreamInfo& info, vigil::v1::StreamInfo* proto);

// The client's direction (the `vigil` CLI, tests), the inverse of the
// above: FromProto(ToProto(x)) == x. An `any` expected revision is sent as
// an explicit `any`.
void ToProto(const eventlog::AppendRequest& request,
             vigil::v1::AppendRequest* proto);
eventlog::AppendResult FromProto(const vigil::v1::AppendResponse& proto);
eventlog::RecordedEvent FromProto(const vigil::v1::RecordedEvent& proto);

}  // namespace vigil::api

#endif  // VIGIL_API_EVENT_PROTO_H_
