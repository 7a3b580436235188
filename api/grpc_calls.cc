#include "api/grpc_calls.h"

#include <string>

#include "absl/status/status.h"
#include "base/status_macros.h"

namespace vigil::api {

absl::StatusOr<Principal> AdmitCall(const grpc::ServerContextBase& context,
                                    const Authenticator* authenticator,
                                    Operation operation) {
  std::string_view authorization;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  ASSIGN_OR_RETURN(Principal principal,
                   Authenticate(authenticator, authorization));
  RETURN_IF_ERROR(Authorize(principal, operation));
  return principal;
}

GrpcCallMetrics::GrpcCallMetrics(base::Metrics* metrics)
    : requests_(metrics == nullptr
                    ? nullptr
                    : metrics->AddCounter("vigil_grpc_requests_total",
                                          "gRPC calls by method and final "
                                          "status code.",
                                          {"method", "code"})),
      started_(metrics == nullptr
                   ? nullptr
                   : metrics->AddCounter("vigil_grpc_calls_started_total",
                                         "gRPC calls started, by method.",
                                         {"method"})) {}

void GrpcCallMetrics::Started(std::string_view method) const {
  if (started_ != nullptr) started_->WithLabels({method})->Increment();
}

void GrpcCallMetrics::Finished(std::string_view method,
                               const absl::Status& status) const {
  if (requests_ == nullptr) return;
  requests_
      ->WithLabels({method, std::string(absl::StatusCodeToString(status.code()))})
      ->Increment();
}

}  // namespace vigil::api
