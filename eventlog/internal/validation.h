// Checks of what a client proposes, before an append reaches the writer:
// names, types, ids, JSON and sizes (docs/contract.md "Concepts"). Every
// failure is an absl::Status whose message names the offending field.
// Thread-safe.

#ifndef VIGIL_EVENTLOG_INTERNAL_VALIDATION_H_
#define VIGIL_EVENTLOG_INTERNAL_VALIDATION_H_

#include <string_view>

#include "absl/status/status.h"
#include "eventlog/event.h"
#include "eventlog/options.h"

namespace vigil::eventlog::internal {

// `[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}`, or that behind a `$` for the
// system's own streams.
absl::Status ValidateStreamName(std::string_view stream);

// `[A-Za-z][A-Za-z0-9_.-]{0,99}`.
absl::Status ValidateEventType(std::string_view type);

// Up to 255 printable ASCII bytes, not empty.
absl::Status ValidateIdempotencyKey(std::string_view key);

// True when `json` is well-formed JSON whose top level is an object.
bool IsJsonObject(std::string_view json);

// Validates `request` against `options` and returns each event's record as
// PrepareRecord (codec.h) makes it, with the content type defaulted and the
// event id normalised or assigned; *total_bytes is the data + metadata sum.
absl::Status ValidateAndPrepare(const AppendRequest& request,
                                const Options& options, int64_t now_us,
                                std::vector<std::string>* records,
                                size_t* total_bytes);

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_VALIDATION_H_
