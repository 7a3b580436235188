#include "otlp/export_request.h"

#include <zlib.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace vigil::otlp {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::Span;

// Ends inflation whatever way it leaves.
struct Inflater {
  z_stream stream{};
  bool open = false;
  ~Inflater() {
    if (open) inflateEnd(&stream);
  }
};

// An id parsed from JSON as base64, back to the bytes its hex text names.
absl::Status HexFromBase64(absl::string_view field, std::string* id) {
  if (id->empty()) return absl::OkStatus();
  const std::string text = absl::Base64Escape(*id);
  const bool hex = std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
  });
  if (!hex || text.size() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " must be hex (OTLP JSON encodes ids as hex, not base64)"));
  }
  *id = absl::HexStringToBytes(text);
  return absl::OkStatus();
}

absl::Status HexIds(ExportTraceServiceRequest* request) {
  for (ResourceSpans& resource : *request->mutable_resource_spans()) {
    for (ScopeSpans& scope : *resource.mutable_scope_spans()) {
      for (Span& span : *scope.mutable_spans()) {
        RETURN_IF_ERROR(HexFromBase64("traceId", span.mutable_trace_id()));
        RETURN_IF_ERROR(HexFromBase64("spanId", span.mutable_span_id()));
        RETURN_IF_ERROR(
            HexFromBase64("parentSpanId", span.mutable_parent_span_id()));
        for (Span::Link& link : *span.mutable_links()) {
          RETURN_IF_ERROR(
              HexFromBase64("links.traceId", link.mutable_trace_id()));
          RETURN_IF_ERROR(
              HexFromBase64("links.spanId", link.mutable_span_id()));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> Gunzip(std::string_view body, size_t max_bytes) {
  Inflater inflater;
  // 16 + MAX_WBITS: a gzip header and trailer, not zlib's.
  if (inflateInit2(&inflater.stream, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib: inflateInit2 failed");
  }
  inflater.open = true;
  z_stream& stream = inflater.stream;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.avail_in = static_cast<uInt>(body.size());
  std::string out;
  out.resize(
      std::min<size_t>(std::max<size_t>(body.size() * 4, 4096), max_bytes + 1));
  while (true) {
    if (stream.total_out == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(std::min(out.size() * 2, max_bytes + 1));
    }
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + stream.total_out);
    stream.avail_out = static_cast<uInt>(out.size() - stream.total_out);
    const int result = inflate(&stream, Z_NO_FLUSH);
    if (result == Z_STREAM_END) {
      if (stream.avail_in != 0) {
        return absl::InvalidArgumentError(
            "the gzip body has bytes after its end");
      }
      if (stream.total_out > max_bytes) break;
      out.resize(stream.total_out);
      return out;
    }
    if (result == Z_BUF_ERROR && stream.avail_in == 0) {
      return absl::InvalidArgumentError("the gzip body is truncated");
    }
    if (result != Z_OK && result != Z_BUF_ERROR) {
      return absl::InvalidArgumentError(
          absl::StrCat("the gzip body is corrupt: ",
                       stream.msg != nullptr ? stream.msg : "inflate failed"));
    }
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("the gzip body inflates past ", max_bytes, " bytes"));
}

absl::Status ParseExportRequest(std::string_view body, BodyFormat format,
                                ExportTraceServiceRequest* request) {
  if (format == BodyFormat::kProtobuf) {
    if (!request->ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return absl::InvalidArgumentError(
          "the body is not a valid ExportTraceServiceRequest (protobuf)");
    }
    return absl::OkStatus();
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), request,
      options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the body is not a valid ExportTraceServiceRequest "
                     "(OTLP JSON): ",
                     std::string(status.message())));
  }
  return HexIds(request);
}

std::string SerializeExportResponse(const ExportTraceServiceResponse& response,
                                    BodyFormat format) {
  std::string out;
  if (format == BodyFormat::kProtobuf) {
    response.SerializeToString(&out);
  } else {
    // Cannot fail: the response has no Any or map fields.
    (void)google::protobuf::util::MessageToJsonString(response, &out);
  }
  return out;
}

}  // namespace vigil::otlp
