// What a client may append beyond what the event log itself checks, shared
// by the gRPC service and the REST mirror so both refuse the same appends.
// Pure functions, safe from any thread.

#ifndef VIGIL_API_APPEND_CHECKS_H_
#define VIGIL_API_APPEND_CHECKS_H_

#include <string_view>

#include "absl/status/status.h"
#include "eventlog/event.h"

namespace vigil::api {

// Streams whose names start with `$` are the system's own (docs/contract.md
// "Concepts").
bool IsReservedStream(std::string_view stream);

// Who shaped an append's events.
enum class EventSource {
  // As the client sent them: every check below.
  kClient,
  // Built by the server from a client's request in another format (OTLP
  // spans: otlp/span_recorded.h), by a builder that writes only valid
  // domain events (tests/otlp/span_mapping_test.cc checks its output with
  // ValidateDomainEvents): the domain-event check is skipped, which parsed
  // every span's JSON once more; the reserved-stream check stays.
  kServerBuilt,
};

// PERMISSION_DENIED for a reserved stream; INVALID_ARGUMENT for a known
// domain event that is malformed (ValidateDomainEvents; for kClient only).
// Names, types, JSON and sizes in general are left to the log.
absl::Status CheckClientAppend(const eventlog::AppendRequest& request,
                               EventSource source = EventSource::kClient);

}  // namespace vigil::api

#endif  // VIGIL_API_APPEND_CHECKS_H_
