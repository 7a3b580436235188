#include "api/grpc_status.h"

#include <optional>
#include <string>
#include <tuple>

#include "absl/strings/cord.h"
#include "api/status_mapping.h"
#include "eventlog/event_log.h"

namespace vigil::api {

grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase* context) {
  if (status.ok()) return grpc::Status::OK;
  if (context != nullptr) {
    if (std::optional<std::string> revision = ActualRevision(status)) {
      context->AddTrailingMetadata(kActualRevisionTrailer, *revision);
    }
    if (std::optional<std::string> seconds = RetryAfter(status)) {
      context->AddTrailingMetadata(kRetryAfterTrailer, *seconds);
    }
  }
  // absl::StatusCode and grpc::StatusCode are both google.rpc.Code.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status,
                            const grpc::ClientContext* context) {
  if (status.ok()) return absl::OkStatus();
  absl::Status result(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
  if (context == nullptr) return result;
  // The trailer of each payload, on the status that carries it.
  const auto& trailers = context->GetServerTrailingMetadata();
  for (const auto& [code, trailer, payload] :
       {std::tuple(absl::StatusCode::kAborted, kActualRevisionTrailer,
                   eventlog::kActualRevisionPayload),
        std::tuple(absl::StatusCode::kResourceExhausted, kRetryAfterTrailer,
                   kRateLimitedPayload)}) {
    if (result.code() != code) continue;
    if (auto it = trailers.find(trailer); it != trailers.end()) {
      result.SetPayload(
          payload,
          absl::Cord(absl::string_view(it->second.data(), it->second.size())));
    }
  }
  return result;
}

}  // namespace vigil::api
