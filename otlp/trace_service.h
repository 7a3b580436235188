// OTLP/gRPC: opentelemetry.proto.collector.trace.v1.TraceService/Export on
// vigild's gRPC port (docs/otlp.md "Endpoints"). The caller presents
// `authorization: Bearer <token>` metadata (role agent or admin) as for
// vigil.v1 appends; the export goes through TraceIngest. Statuses map as
// for appends (api/status_mapping.h): a full queue or a rate limit is
// RESOURCE_EXHAUSTED, a log that cannot write UNAVAILABLE.
//
// Thread-safe: gRPC calls Export from any of its threads.

#ifndef VIGIL_OTLP_TRACE_SERVICE_H_
#define VIGIL_OTLP_TRACE_SERVICE_H_

#include "api/auth.h"
#include "grpcpp/grpcpp.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "otlp/trace_ingest.h"

namespace vigil::otlp {

class TraceService final : public opentelemetry::proto::collector::trace::v1::
                               TraceService::CallbackService {
 public:
  // `ingest` and `authenticator` (null: anonymous) must outlive the service.
  TraceService(TraceIngest* ingest, const api::Authenticator* authenticator)
      : ingest_(ingest), authenticator_(authenticator) {}

  grpc::ServerUnaryReactor* Export(
      grpc::CallbackServerContext* context,
      const opentelemetry::proto::collector::trace::v1::
          ExportTraceServiceRequest* request,
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse*
          response) override;

 private:
  TraceIngest* const ingest_;
  const api::Authenticator* const authenticator_;
};

}  // namespace vigil::otlp

#endif  // VIGIL_OTLP_TRACE_SERVICE_H_
