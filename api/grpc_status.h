// How an absl::Status from the core becomes a gRPC status and back: same
// code, same message, plus the `vigil-actual-revision` trailer of
// docs/contract.md "gRPC" on an ABORTED append. The HTTP form is
// status_mapping.h; both read the actual revision the same way
// (ActualRevision). Part of the gRPC library (vigil::api), not the core.
// Pure functions, safe from any thread.

#ifndef VIGIL_API_GRPC_STATUS_H_
#define VIGIL_API_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace vigil::api {

// The gRPC trailing metadata key naming the stream's actual last revision on
// an ABORTED append (docs/contract.md "gRPC": a revision, or `none`).
inline constexpr char kActualRevisionTrailer[] = "vigil-actual-revision";

// The trailing metadata key with the seconds to wait on a rate-limited
// RESOURCE_EXHAUSTED call (the REST mirror's Retry-After). A
// RESOURCE_EXHAUSTED without it is a size limit: waiting will not help.
inline constexpr char kRetryAfterTrailer[] = "vigil-retry-after";

// Same code, same message. When `status` is ABORTED and carries
// eventlog::kActualRevisionPayload, adds the `vigil-actual-revision`
// trailer to `context` (which may be null: then no trailer); when it is
// rate limited (RetryAfter), the `vigil-retry-after` trailer. REQUIRES: the
// call of `context` is not finished yet.
grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase* context);

// The client's direction, the inverse of ToGrpcStatus: same code and
// message, and when `context` (may be null) holds the
// `vigil-actual-revision` trailer of an ABORTED call, the status carries it
// again as eventlog::kActualRevisionPayload, and `vigil-retry-after` of a
// RESOURCE_EXHAUSTED one as kRateLimitedPayload.
absl::Status FromGrpcStatus(const grpc::Status& status,
                            const grpc::ClientContext* context);

}  // namespace vigil::api

#endif  // VIGIL_API_GRPC_STATUS_H_
