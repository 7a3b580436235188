// TraceIngest: what an OTLP export does once its transport (OTLP/HTTP in
// gateway/, OTLP/gRPC in trace_service.h) has authenticated the caller and
// parsed the request: map it to appends (export_mapping.h), drop the spans
// the log already holds (recorded_spans.h: each span is appended once,
// however exporters retry or batch), send the rest through the server's one
// append path (api/append_path.h: the role check, the client checks, the
// per-token rate limit, the in-flight bound, the log), then answer with an
// ExportTraceServiceResponse. A trace's appends go one after another (each
// expects the revision the previous one left); traces go in parallel.
//
// The answer of an export whose appends all succeeded (or were
// deduplicated: a retried export) is OK, with partial_success counting the
// spans rejected by the mapping, or by the log's checks (INVALID_ARGUMENT,
// FAILED_PRECONDITION: retrying them cannot help). When an append fails
// otherwise (PERMISSION_DENIED, rate limited or queue full
// RESOURCE_EXHAUSTED, UNAVAILABLE, ...) the export fails with the first
// such status in request order: the client retries the whole export, and
// the spans already appended are not appended again. Two exports racing on
// one trace: the loser's append fails its expected revision, and its trace
// is filtered again from the log (twice at most, then UNAVAILABLE: retry).
//
// One TraceIngest per server, shared by its transports. Thread-safe: Export
// may be called from any thread.

#ifndef VIGIL_OTLP_TRACE_INGEST_H_
#define VIGIL_OTLP_TRACE_INGEST_H_

#include <functional>

#include "absl/status/statusor.h"
#include "api/append_path.h"
#include "api/auth.h"
#include "base/metrics.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "eventlog/event_log.h"
#include "otlp/export_mapping.h"
#include "otlp/recorded_spans.h"

namespace vigil::otlp {

class TraceIngest {
 public:
  using Request =
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
  using Response =
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
  using Done = std::function<void(absl::StatusOr<Response>)>;

  // `appends`, `options.prices` and `metrics` (null: nothing counted) must
  // outlive the ingest. Counts spans in vigil_otlp_spans_total{outcome}:
  // "recorded" (appended or deduplicated) and "rejected".
  // `log` is read to learn which spans of a trace it already holds.
  TraceIngest(const eventlog::EventLog* log, api::AppendPath* appends,
              MappingOptions options, base::Metrics* metrics = nullptr);
  TraceIngest(const TraceIngest&) = delete;
  TraceIngest& operator=(const TraceIngest&) = delete;

  // Maps `request` and appends it for `principal` (auth.h Admit); `request`
  // is not used once Export returns (it may live on an arena). Calls
  // `done` exactly once: on this thread, or on the log's completion thread
  // once the last append is answered.
  void Export(const api::Principal& principal, const Request& request,
              Done done);

 private:
  api::AppendPath* const appends_;
  RecordedSpans recorded_spans_;
  const MappingOptions options_;
  base::CounterFamily* const spans_;
  base::Counter* const recorded_;
  base::Counter* const rejected_;
};

}  // namespace vigil::otlp

#endif  // VIGIL_OTLP_TRACE_INGEST_H_
