// ExportMapping: an OTLP ExportTraceServiceRequest as appends to the log
// (docs/otlp.md "Idempotency"): the spans grouped by trace, each trace's
// SpanRecorded events appended to stream `trace-<trace_id>`, split into as
// few appends as the log's per-append bounds allow, a trace's appends next
// to each other. Each event's id is derived from trace id + span id, which
// is how the ingest (trace_ingest.h, recorded_spans.h) appends a span once.
// Spans to reject are counted, with the first few reasons, for the answer's
// partial_success.
//
// Pure functions, safe from any thread.

#ifndef VIGIL_OTLP_EXPORT_MAPPING_H_
#define VIGIL_OTLP_EXPORT_MAPPING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "eventlog/event.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "otlp/price_table.h"
#include "otlp/span_recorded.h"

namespace vigil::otlp {

struct MappingOptions {
  // Not null; must outlive the calls.
  const PriceTable* prices = nullptr;
  SpanLimits span_limits;
  // The log's bounds on one append (eventlog::Options): its events and the
  // sum of their data.
  size_t max_append_events = 1000;
  size_t max_append_bytes = 4 << 20;  // 4 MiB
};

struct MappedExport {
  // In the order each trace first appears in the request.
  std::vector<eventlog::AppendRequest> appends;
  int64_t rejected_spans = 0;
  // "span <trace>/<span>: <why>; ..." for the first few rejected spans,
  // then how many more. Empty when none was rejected.
  std::string error_message;
};

// The stream of a trace: "trace-" and the trace id in lowercase hex.
std::string TraceStream(std::string_view trace_id);

// Maps every span of `request`. A span that appears twice in the request
// (same trace and span id) is kept once.
MappedExport MapExport(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest&
        request,
    const MappingOptions& options);

}  // namespace vigil::otlp

#endif  // VIGIL_OTLP_EXPORT_MAPPING_H_
