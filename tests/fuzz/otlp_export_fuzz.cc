// An OTLP/HTTP trace export as POST /v1/traces takes it
// (gateway/internal/otlp_route.cc): the body, protobuf or JSON (the first
// byte's low bit), gzip-inflated first when the second bit says so
// (otlp::Gunzip, bounded), parsed by otlp::ParseExportRequest and mapped to
// appends by otlp::MapExport (docs/otlp.md).
// Properties: Gunzip never returns more than its bound; every append the
// mapping makes stays within the log's bounds and passes the checks a
// client's append gets (api::CheckClientAppend: SpanRecorded is a known
// domain type), or vigild would refuse its own mapping; the mapped spans
// plus the rejected ones never exceed the spans sent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "api/append_checks.h"
#include "google/protobuf/stubs/logging.h"
#include "otlp/export_mapping.h"
#include "otlp/export_request.h"
#include "otlp/price_table.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using vigil::fuzz::Check;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

constexpr size_t kMaxInflated = 1 << 20;

}  // namespace

// Protobuf logs each malformed string field; the fuzzer makes millions.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const vigil::otlp::BodyFormat format = (data[0] & 1)
                                             ? vigil::otlp::BodyFormat::kJson
                                             : vigil::otlp::BodyFormat::kProtobuf;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string inflated;
  if (data[0] & 2) {
    absl::StatusOr<std::string> result =
        vigil::otlp::Gunzip(body, kMaxInflated);
    if (!result.ok()) return 0;
    Check(result->size() <= kMaxInflated);
    inflated = *std::move(result);
    body = inflated;
  }

  ExportTraceServiceRequest request;
  if (!vigil::otlp::ParseExportRequest(body, format, &request).ok()) return 0;

  static const vigil::otlp::PriceTable prices =
      vigil::otlp::PriceTable::BuiltIn();
  vigil::otlp::MappingOptions options;
  options.prices = &prices;
  vigil::otlp::MappedExport mapped = vigil::otlp::MapExport(request, options);

  int64_t spans = 0;
  for (const auto& resource : request.resource_spans()) {
    for (const auto& scope : resource.scope_spans()) {
      spans += scope.spans_size();
    }
  }
  int64_t events = 0;
  for (const vigil::eventlog::AppendRequest& append : mapped.appends) {
    Check(!append.events.empty());
    Check(append.events.size() <= options.max_append_events);
    size_t bytes = 0;
    for (const auto& event : append.events) bytes += event.data.size();
    Check(bytes <= options.max_append_bytes);
    Check(vigil::api::CheckClientAppend(append).ok());
    events += static_cast<int64_t>(append.events.size());
  }
  Check(events + mapped.rejected_spans <= spans);
  Check((mapped.rejected_spans == 0) == mapped.error_message.empty());
  (void)vigil::otlp::SerializeExportResponse({}, format);
  return 0;
}
