#include "otlp/trace_service.h"

#include <string_view>

#include "api/auth.h"
#include "api/grpc_calls.h"
#include "api/grpc_status.h"
#include "api/principal.h"

namespace vigil::otlp {
namespace {

constexpr std::string_view kMethod = "TraceService.Export";

}  // namespace

grpc::ServerUnaryReactor* TraceService::Export(
    grpc::CallbackServerContext* context,
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest*
        request,
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse*
        response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (context->IsCancelled()) {  // nothing appended for a call that is over
    calls_.Finished(kMethod, absl::CancelledError());
    reactor->Finish(grpc::Status::CANCELLED);
    return reactor;
  }
  absl::StatusOr<api::Principal> principal =
      api::AdmitCall(*context, authenticator_, api::Operation::kAppend);
  if (!principal.ok()) {
    calls_.Finished(kMethod, principal.status());
    reactor->Finish(api::ToGrpcStatus(principal.status(), context));
    return reactor;
  }
  // On the log's completion thread, or here.
  ingest_->Export(
      *principal, *request,
      [this, context, reactor,
       response](absl::StatusOr<TraceIngest::Response> answer) {
        if (answer.ok()) *response = *std::move(answer);
        calls_.Finished(kMethod, answer.status());
        reactor->Finish(api::ToGrpcStatus(answer.status(), context));
      });
  return reactor;
}

}  // namespace vigil::otlp
