#include "otlp/trace_service.h"

#include <string_view>

#include "api/auth.h"
#include "api/grpc_status.h"
#include "api/principal.h"

namespace vigil::otlp {

grpc::ServerUnaryReactor* TraceService::Export(
    grpc::CallbackServerContext* context,
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest*
        request,
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse*
        response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (context->IsCancelled()) {  // nothing appended for a call that is over
    reactor->Finish(grpc::Status::CANCELLED);
    return reactor;
  }
  const auto& metadata = context->client_metadata();
  std::string_view authorization;
  if (metadata.count("authorization") == 1) {
    const auto value = metadata.find("authorization")->second;
    authorization = std::string_view(value.data(), value.size());
  }
  absl::StatusOr<api::Principal> principal =
      api::Authenticate(authenticator_, authorization);
  if (principal.ok()) {
    if (absl::Status allowed = api::Authorize(*principal, api::Action::kAppend);
        !allowed.ok()) {
      principal = allowed;
    }
  }
  if (!principal.ok()) {
    reactor->Finish(api::ToGrpcStatus(principal.status(), context));
    return reactor;
  }
  // On the log's completion thread, or here.
  ingest_->Export(
      *principal, *request,
      [context, reactor,
       response](absl::StatusOr<TraceIngest::Response> answer) {
        if (answer.ok()) *response = *std::move(answer);
        reactor->Finish(api::ToGrpcStatus(answer.status(), context));
      });
  return reactor;
}

}  // namespace vigil::otlp
