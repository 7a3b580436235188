#include "gateway/internal/otlp_route.h"

#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/arena.h"
#include "otlp/export_request.h"

namespace vigil::gateway::internal {
namespace {

constexpr char kProtobuf[] = "application/x-protobuf";

HttpResponse UnsupportedMediaType(std::string detail) {
  return ProtocolProblem(415, "unsupported-media-type",
                         "Unsupported media type", detail);
}

}  // namespace

void ServeOtlpTraces(otlp::TraceIngest& ingest, size_t max_body_bytes,
                     const HttpRequest& request,
                     const api::Principal& principal,
                     std::function<void(HttpResponse)> done) {
  std::vector<std::string_view> content_type = request.Header("content-type");
  const std::string media =
      content_type.size() == 1 ? MediaType(content_type[0]) : "";
  otlp::BodyFormat format;
  if (media == kProtobuf) {
    format = otlp::BodyFormat::kProtobuf;
  } else if (media == kJson) {
    format = otlp::BodyFormat::kJson;
  } else {
    return done(UnsupportedMediaType(
        "the body must be sent as Content-Type: application/x-protobuf or "
        "application/json"));
  }

  std::string inflated;
  std::string_view body = request.body;
  std::vector<std::string_view> encoding = request.Header("content-encoding");
  if (encoding.size() > 1) {
    return done(UnsupportedMediaType("Content-Encoding given more than once"));
  }
  if (encoding.size() == 1) {
    const std::string coding = MediaType(encoding[0]);
    if (coding == "gzip") {
      absl::StatusOr<std::string> result = otlp::Gunzip(body, max_body_bytes);
      if (!result.ok()) return done(ErrorResponse(result.status()));
      inflated = *std::move(result);
      body = inflated;
    } else if (coding != "identity") {
      return done(UnsupportedMediaType(
          "Content-Encoding must be gzip or identity, not " + coding));
    }
  }

  // An export is tens of thousands of small strings: on an arena they cost
  // a few block allocations, freed together once Export has mapped them.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 64 << 10;
  arena_options.max_block_size = 1 << 20;
  google::protobuf::Arena arena(arena_options);
  auto* parsed =
      google::protobuf::Arena::CreateMessage<otlp::TraceIngest::Request>(
          &arena);
  if (absl::Status status = otlp::ParseExportRequest(body, format, parsed);
      !status.ok()) {
    return done(ErrorResponse(status));
  }
  const std::string answer_type =
      format == otlp::BodyFormat::kProtobuf ? kProtobuf : kJson;
  ingest.Export(principal, *parsed,
                [format, answer_type, done = std::move(done)](
                    absl::StatusOr<otlp::TraceIngest::Response> answer) {
                  if (!answer.ok()) return done(ErrorResponse(answer.status()));
                  HttpResponse response;
                  response.content_type = answer_type;
                  response.body =
                      otlp::SerializeExportResponse(*answer, format);
                  done(std::move(response));
                });
}

}  // namespace vigil::gateway::internal
