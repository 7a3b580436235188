// OTLP/HTTP bodies: gzip inflated within its bound (a bomb stops there),
// protobuf that does not parse, and the OTLP JSON mapping (hex ids,
// lowerCamelCase or proto names, integer enums, int64 as strings, unknown
// fields ignored).

#include "otlp/export_request.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/gzip.h"

namespace vigil::otlp {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using opentelemetry::proto::trace::v1::Span;
using ::testing::HasSubstr;

using vigil::testing::Gzip;

TEST(GunzipTest, InflatesWithinItsBound) {
  const std::string text(100000, 'x');
  absl::StatusOr<std::string> inflated = Gunzip(Gzip(text), text.size());
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_EQ(*inflated, text);
}

TEST(GunzipTest, ABombStopsAtTheBound) {
  const std::string bomb = Gzip(std::string(64 << 20, '\0'));  // 64 MiB
  EXPECT_LT(bomb.size(), 100u << 10);
  absl::StatusOr<std::string> inflated = Gunzip(bomb, 1 << 20);
  EXPECT_EQ(inflated.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(inflated.status().message()),
              HasSubstr("inflates past 1048576 bytes"));
  // One byte over is over.
  EXPECT_EQ(Gunzip(Gzip(std::string(1001, 'y')), 1000).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Gunzip(Gzip(std::string(1000, 'y')), 1000).ok());
}

TEST(GunzipTest, CorruptOrTruncatedIsInvalid) {
  const std::string good = Gzip(std::string(5000, 'z') + "tail");
  for (const std::string& bad :
       {std::string("not gzip at all"), good.substr(0, good.size() / 2),
        good + "trailing", std::string()}) {
    EXPECT_EQ(Gunzip(bad, 1 << 20).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad.size();
  }
  std::string flipped = good;
  flipped[flipped.size() - 6] ^= 0x55;  // the CRC
  EXPECT_EQ(Gunzip(flipped, 1 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseExportRequestTest, ProtobufThatDoesNotParseIsInvalid) {
  ExportTraceServiceRequest request;
  Span* span = request.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(std::string(16, '\x01'));
  span->set_name(std::string(300, 'n'));
  const std::string bytes = request.SerializeAsString();
  ExportTraceServiceRequest parsed;
  ASSERT_TRUE(ParseExportRequest(bytes, BodyFormat::kProtobuf, &parsed).ok());
  EXPECT_EQ(ParseExportRequest(bytes.substr(0, bytes.size() - 10),
                               BodyFormat::kProtobuf, &parsed)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ParseExportRequest("\xff\xff\xff\xff", BodyFormat::kProtobuf, &parsed)
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(ParseExportRequestTest, OtlpJsonHasHexIdsAndTolerantFields) {
  const std::string json = R"({
    "resourceSpans": [{
      "resource": {"attributes": [{"key": "service.name",
                                   "value": {"stringValue": "svc"}}],
                   "entityRefs": [{"type": "service"}]},
      "scopeSpans": [{
        "scope": {"name": "lib"},
        "spans": [{
          "traceId": "5B8EFFF798038103D269B633813FC60C",
          "spanId": "eee19b7ec3c1b174",
          "parentSpanId": "",
          "name": "chat",
          "kind": 3,
          "startTimeUnixNano": "1544712660000000000",
          "end_time_unix_nano": 1544712661000000000,
          "attributes": [{"key": "n", "value": {"intValue": "42"}}],
          "status": {"code": 2, "message": "boom"},
          "links": [{"traceId": "00000000000000000000000000000001",
                     "spanId": "0000000000000002"}],
          "someFutureField": {"x": 1}
        }]
      }]
    }]
  })";
  ExportTraceServiceRequest parsed;
  const absl::Status status =
      ParseExportRequest(json, BodyFormat::kJson, &parsed);
  ASSERT_TRUE(status.ok()) << status;
  const Span& span = parsed.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(span.trace_id(),
            std::string("\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81"
                        "\x3f\xc6\x0c",
                        16));
  EXPECT_EQ(span.span_id(), std::string("\xee\xe1\x9b\x7e\xc3\xc1\xb1\x74", 8));
  EXPECT_EQ(span.parent_span_id(), "");
  EXPECT_EQ(span.kind(), Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(span.start_time_unix_nano(), 1544712660000000000u);
  EXPECT_EQ(span.end_time_unix_nano(), 1544712661000000000u);
  EXPECT_EQ(span.attributes(0).value().int_value(), 42);
  EXPECT_EQ(span.status().message(), "boom");
  EXPECT_EQ(span.links(0).span_id(), std::string("\0\0\0\0\0\0\0\x02", 8));
}

TEST(ParseExportRequestTest, JsonThatIsNotOtlpIsInvalid) {
  for (
      const char* bad : {
          "{",
          "[]",
          R"({"resourceSpans": 3})",
          // base64 ids (protobuf's JSON mapping), not OTLP's hex
          R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA=="}]}]}]})",
          R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"zzzzzzzzzzzzzzzz"}]}]}]})",
      }) {
    ExportTraceServiceRequest parsed;
    EXPECT_EQ(ParseExportRequest(bad, BodyFormat::kJson, &parsed).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(SerializeExportResponseTest, AnswersInTheRequestsFormat) {
  ExportTraceServiceResponse response;
  EXPECT_EQ(SerializeExportResponse(response, BodyFormat::kJson), "{}");
  EXPECT_EQ(SerializeExportResponse(response, BodyFormat::kProtobuf), "");
  response.mutable_partial_success()->set_rejected_spans(2);
  response.mutable_partial_success()->set_error_message("bad ids");
  EXPECT_EQ(
      SerializeExportResponse(response, BodyFormat::kJson),
      R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"bad ids"}})");
  ExportTraceServiceResponse back;
  ASSERT_TRUE(back.ParseFromString(
      SerializeExportResponse(response, BodyFormat::kProtobuf)));
  EXPECT_EQ(back.partial_success().rejected_spans(), 2);
}

}  // namespace
}  // namespace vigil::otlp
