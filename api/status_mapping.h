// How an absl::Status from the core becomes an HTTP answer: an HTTP status
// with an RFC 9457 problem body (docs/contract.md "HTTP"), from one table in
// status_mapping.cc. The gRPC form (same code, same message, plus the
// `vigil-actual-revision` trailer) is grpc_status.h, which uses
// ActualRevision below, so gRPC and the REST mirror cannot disagree. No gRPC
// here: the core library (vigil::api_core) holds this file. Pure functions,
// safe from any thread.

#ifndef VIGIL_API_STATUS_MAPPING_H_
#define VIGIL_API_STATUS_MAPPING_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "eventlog/event_log.h"

namespace vigil::api {

// The payload key that marks a RESOURCE_EXHAUSTED status as a rate limit
// (HTTP 429) rather than a size limit (HTTP 413, the default for
// RESOURCE_EXHAUSTED). Its value is the number of seconds the client should
// wait, as decimal text; the REST mirror sends it as `Retry-After`.
// The log uses the same key for a full append queue.
inline constexpr const char* kRateLimitedPayload = eventlog::kRetryAfterPayload;

// The payload key that marks an UNAVAILABLE status as the event log's full
// disk (eventlog::kDiskFullPayload): still HTTP 503, as ../shared/SPEC.md
// promises REST clients (not 507), but with its own problem type
// `urn:vigil:problem:disk-full`, so a client can tell it from a shutdown.
// gRPC keeps UNAVAILABLE (grpc_status.h passes the code through). This
// table is the one place that decides it.
inline constexpr const char* kDiskFullPayload = eventlog::kDiskFullPayload;

// The payload key that marks an UNAVAILABLE status as "this server does not
// append, another does" (a standby, or a primary that lost its leader
// lease: docs/replication.md). Its value is where appends go (the
// primary's HTTP URL, or empty when no primary is known). HTTP 503 with
// problem type `urn:vigil:problem:not-primary` and the extension member
// "primary" (the value, or null when empty); gRPC UNAVAILABLE, the message
// naming the primary.
inline constexpr char kNotPrimaryPayload[] = "vigil.not_primary";

// UNAVAILABLE with kNotPrimaryPayload = `primary_url`.
absl::Status NotPrimaryError(std::string_view message,
                             std::string_view primary_url);

// RESOURCE_EXHAUSTED with kRateLimitedPayload = `retry_after_seconds`.
absl::Status RateLimitedError(std::string_view message,
                              int retry_after_seconds);

// The seconds to wait a rate-limited status carries (RESOURCE_EXHAUSTED
// with kRateLimitedPayload), as decimal text; nullopt for any other
// status, a size limit included.
std::optional<std::string> RetryAfter(const absl::Status& status);

// The stream's actual revision an ABORTED status carries
// (eventlog::kActualRevisionPayload): decimal text or "none"; nullopt when
// the status is not ABORTED or carries none.
std::optional<std::string> ActualRevision(const absl::Status& status);

// The HTTP status of docs/contract.md "HTTP" for `status`:
//   OK 200; INVALID_ARGUMENT, OUT_OF_RANGE 400; UNAUTHENTICATED 401;
//   PERMISSION_DENIED 403; NOT_FOUND 404; ALREADY_EXISTS 409;
//   ABORTED 412 (expected revision mismatch); RESOURCE_EXHAUSTED 413, or
//   429 with kRateLimitedPayload; FAILED_PRECONDITION 422 (idempotency key
//   reused); CANCELLED 499; UNIMPLEMENTED 501; UNAVAILABLE 503 (type disk-full
//   with kDiskFullPayload, not-primary with kNotPrimaryPayload);
//   DEADLINE_EXCEEDED 504; anything else (INTERNAL, DATA_LOSS, UNKNOWN) 500.
int HttpStatusFor(const absl::Status& status);

// The RFC 9457 `application/problem+json` body for a failed `status`:
//   {"type":"urn:vigil:problem:<name>","title":..,"status":http_status,
//    "detail":<the status message>}
// `type` and `title` follow the status as HttpStatusFor classifies it;
// `type` is a stable identifier to compare, not a link. An ABORTED status
// with eventlog::kActualRevisionPayload adds the extension member
// "actual_revision": the revision as a number, or null when the stream does
// not exist; with kNotPrimaryPayload, "primary": the primary's URL or
// null. `http_status` is normally HttpStatusFor(status).
std::string ProblemJson(const absl::Status& status, int http_status);

}  // namespace vigil::api

#endif  // VIGIL_API_STATUS_MAPPING_H_
