// OTLP/HTTP: POST /v1/traces (docs/otlp.md "Endpoints"). The body is an
// ExportTraceServiceRequest as application/x-protobuf or application/json
// (the OTLP JSON mapping), optionally Content-Encoding: gzip, at most
// `max_body_bytes` whether compressed or inflated (413 past it). The export
// goes through otlp::TraceIngest; the answer is an
// ExportTraceServiceResponse in the request's content type, or
// problem+json: 400 malformed, 413 too large, 415 another content type or
// encoding, 429/503 with Retry-After when the log's queue is full.
//
// The body is decoded on the calling (network) thread: CPU only, bounded
// by max_body_bytes; the appends go to the log's queue.
//
// Thread-safe: call from any thread.

#ifndef VIGIL_GATEWAY_INTERNAL_OTLP_ROUTE_H_
#define VIGIL_GATEWAY_INTERNAL_OTLP_ROUTE_H_

#include <cstddef>
#include <functional>

#include "api/auth.h"
#include "gateway/internal/http_message.h"
#include "otlp/trace_ingest.h"

namespace vigil::gateway::internal {

// Answers `request` (authenticated as `principal`) by calling `done`
// exactly once: on this thread, or on the log's completion thread.
void ServeOtlpTraces(otlp::TraceIngest& ingest, size_t max_body_bytes,
                     const HttpRequest& request,
                     const api::Principal& principal,
                     std::function<void(HttpResponse)> done);

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_OTLP_ROUTE_H_
