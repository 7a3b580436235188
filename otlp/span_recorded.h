// The SpanRecorded event of one OTLP span: its JSON data exactly as
// docs/otlp.md "SpanRecorded" describes it (ids in lowercase hex, times in
// microseconds, every attribute kept, the GenAI fields normalised, the cost
// from the price table), its event id derived from trace id + span id, and
// the bounds a span must stay within.
//
// The JSON is written member by member (strings through base/json.h's
// AppendJsonString, which escapes with the library) rather than built as a
// base::Json tree: it runs once per ingested span, on the OTLP hot path,
// like the event JSON of api/event_json.h.
//
// Pure functions, safe from any thread.

#ifndef VIGIL_OTLP_SPAN_RECORDED_H_
#define VIGIL_OTLP_SPAN_RECORDED_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "opentelemetry/proto/common/v1/common.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "otlp/price_table.h"

namespace vigil::otlp {

inline constexpr char kSpanRecordedType[] = "SpanRecorded";

// What one span may hold. A span past a bound is rejected (counted in the
// export's partial_success), not cut: Vigil keeps spans whole or says so.
struct SpanLimits {
  // Attributes of the span, of each of its events and links, of the
  // resource and of the scope.
  size_t max_attributes = 256;
  size_t max_events = 256;  // span events
  size_t max_links = 128;
  // Nesting of array and kvlist attribute values.
  int max_value_depth = 16;
  // The event's JSON data (the log's eventlog::Options::max_event_bytes).
  size_t max_event_bytes = 1 << 20;  // 1 MiB
};

// Lowercase hex of raw bytes.
std::string HexId(std::string_view bytes);

// True for a valid trace id (16 bytes, not all zero) / span id (8 bytes,
// not all zero).
bool ValidTraceId(std::string_view bytes);
bool ValidSpanId(std::string_view bytes);

// The event id of a span: a UUID (version 8, RFC 9562) made of the first
// 16 bytes of SHA-256("vigil.otlp.span" || trace id || span id), so every
// copy of a span gets the same id. REQUIRES: valid ids.
std::string SpanEventId(std::string_view trace_id, std::string_view span_id);

// `attributes` as a JSON object (docs/otlp.md: strings, bools, numbers, an
// int64 beyond ±2^53 as a string, a non-finite double as "NaN",
// "Infinity" or "-Infinity", arrays, kvlists as objects, bytes as base64,
// an empty value as null; of two equal keys the first is kept), appended
// to `out`. INVALID_ARGUMENT past max_attributes or max_value_depth.
absl::Status AppendAttributesJson(
    const google::protobuf::RepeatedPtrField<
        opentelemetry::proto::common::v1::KeyValue>& attributes,
    const SpanLimits& limits, std::string* out);

// The instrumentation scope as {"name","version"}; "" when it has neither.
std::string ScopeJson(
    const opentelemetry::proto::common::v1::InstrumentationScope& scope);

// The SpanRecorded data of `span`. `resource_json` is its resource's
// attributes (AppendAttributesJson), `scope_json` its scope (ScopeJson;
// empty: no "scope"). INVALID_ARGUMENT saying why for a span to reject:
// a bad trace or span id, a parent id that is neither empty nor 8 bytes,
// end before start, a bound of `limits` exceeded.
absl::StatusOr<std::string> SpanRecordedJson(
    const opentelemetry::proto::trace::v1::Span& span,
    std::string_view resource_json, std::string_view scope_json,
    const PriceTable& prices, const SpanLimits& limits);

}  // namespace vigil::otlp

#endif  // VIGIL_OTLP_SPAN_RECORDED_H_
