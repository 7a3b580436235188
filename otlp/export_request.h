// The body of an OTLP export as it arrives over HTTP: gzip inflated within a
// bound, then parsed as protobuf or as the OTLP JSON mapping
// (docs/otlp.md "Endpoints").
//
// The JSON mapping is protobuf's (util::JsonStringToMessage: lowerCamelCase
// or proto field names, enums as integers or names, int64 as strings or
// numbers, unknown fields ignored) except for the ids, which OTLP sends as
// hex where protobuf expects base64. A hex id is also valid base64 (its
// letters are base64's), and for the lengths OTLP uses (32 and 16
// characters, multiples of 4) it decodes to bytes that re-encode to exactly
// the same text. So the parsed ids are re-encoded with base64 and that text
// hex-decoded; an id whose text is not hex is refused (INVALID_ARGUMENT).
// Attribute values of type bytes stay base64, as OTLP JSON sends them.
//
// Pure functions, safe from any thread.

#ifndef VIGIL_OTLP_EXPORT_REQUEST_H_
#define VIGIL_OTLP_EXPORT_REQUEST_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace vigil::otlp {

enum class BodyFormat { kProtobuf, kJson };

// Inflates a gzip (RFC 1952) body. RESOURCE_EXHAUSTED (HTTP 413) once the
// output would pass `max_bytes` (a gzip bomb stops there, having used at
// most `max_bytes` of memory); INVALID_ARGUMENT for a corrupt or truncated
// stream or bytes after it.
absl::StatusOr<std::string> Gunzip(std::string_view body, size_t max_bytes);

// Parses `body` into `request` (which may live on a protobuf Arena: a
// large export is tens of thousands of small strings). INVALID_ARGUMENT
// saying why for a body that does not parse (a malformed or truncated
// message, bad JSON, an id that is not hex).
absl::Status ParseExportRequest(
    std::string_view body, BodyFormat format,
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest*
        request);

// The answer in the same format: protobuf bytes, or JSON
// (util::MessageToJsonString, lowerCamelCase, "{}" when all was accepted).
std::string SerializeExportResponse(
    const opentelemetry::proto::collector::trace::v1::
        ExportTraceServiceResponse& response,
    BodyFormat format);

}  // namespace vigil::otlp

#endif  // VIGIL_OTLP_EXPORT_REQUEST_H_
