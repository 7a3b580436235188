#include "api/grpc_status.h"

#include <optional>
#include <string>

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
  if (context != nullptr && result.code() == absl::StatusCode::kAborted) {
    const auto& trailers = context->GetServerTrailingMetadata();
    if (auto it = trailers.find(kActualRevisionTrailer); it != trailers.end()) {
      result.SetPayload(
          eventlog::kActualRevisionPayload,
          absl::Cord(absl::string_view(it->second.data(), it->second.size())));
    }
  }
  return result;
}

}  // namespace vigil::api
