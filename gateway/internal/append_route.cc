#include "gateway/internal/append_route.h"

#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "api/event_json.h"

namespace vigil::gateway::internal {

std::optional<HttpResponse> ParseAppend(const HttpRequest& request,
                                        std::string stream,
                                        eventlog::AppendRequest* append) {
  std::vector<std::string_view> content_type = request.Header("content-type");
  if (content_type.size() != 1 || MediaType(content_type[0]) != kJson) {
    return ProtocolProblem(
        415, "unsupported-media-type", "Unsupported media type",
        "the body must be sent as Content-Type: application/json");
  }

  append->stream = std::move(stream);
  std::vector<std::string_view> expected =
      request.Header("vigil-expected-revision");
  if (expected.size() > 1) {
    return ErrorResponse(absl::InvalidArgumentError(
        "Vigil-Expected-Revision given more than once"));
  }
  if (expected.size() == 1) {
    absl::StatusOr<eventlog::ExpectedRevision> parsed =
        api::ParseExpectedRevision(TrimSpace(expected[0]));
    if (!parsed.ok()) {
      return ErrorResponse(absl::InvalidArgumentError(
          "Vigil-Expected-Revision: " + std::string(parsed.status().message())));
    }
    append->expected_revision = *parsed;
  }
  std::vector<std::string_view> key = request.Header("idempotency-key");
  if (key.size() > 1) {
    return ErrorResponse(
        absl::InvalidArgumentError("Idempotency-Key given more than once"));
  }
  if (key.size() == 1) {
    if (key[0].empty()) {
      return ErrorResponse(
          absl::InvalidArgumentError("Idempotency-Key must not be empty"));
    }
    append->idempotency_key = std::string(key[0]);
  }

  absl::StatusOr<std::vector<eventlog::EventData>> events =
      api::EventBatchFromJson(request.body);
  if (!events.ok()) return ErrorResponse(events.status());
  append->events = *std::move(events);
  return std::nullopt;
}

HttpResponse AppendAnswer(
    const absl::StatusOr<eventlog::AppendResult>& result) {
  if (!result.ok()) return ErrorResponse(result.status());
  return JsonResponse(result->deduplicated ? 200 : 201,
                      api::AppendResultToJson(*result));
}

}  // namespace vigil::gateway::internal
