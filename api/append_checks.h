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

// PERMISSION_DENIED for a reserved stream; INVALID_ARGUMENT for a known
// domain event that is malformed (ValidateDomainEvents). Names, types, JSON
// and sizes in general are left to the log.
absl::Status CheckClientAppend(const eventlog::AppendRequest& request);

}  // namespace vigil::api

#endif  // VIGIL_API_APPEND_CHECKS_H_
