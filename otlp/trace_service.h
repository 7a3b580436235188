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
#include "api/grpc_calls.h"
#include "base/metrics.h"
#include "grpcpp/grpcpp.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "otlp/trace_ingest.h"

namespace vigil::otlp {

class TraceService final : public opentelemetry::proto::collector::trace::v1::
                               TraceService::CallbackService {
 public:
  // `ingest`, `authenticator` (null: anonymous) and `metrics` (null: calls
  // are not counted) must outlive the service. Calls are counted as
  // vigil_grpc_requests_total{method="TraceService.Export",code}.
  TraceService(TraceIngest* ingest, const api::Authenticator* authenticator,
               base::Metrics* metrics = nullptr)
      : ingest_(ingest), authenticator_(authenticator), calls_(metrics) {}

  grpc::ServerUnaryReactor* Export(
      grpc::CallbackServerContext* context,
      const opentelemetry::proto::collector::trace::v1::
          ExportTraceServiceRequest* request,
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse*
          response) override;

 private:
  TraceIngest* const ingest_;
  const api::Authenticator* const authenticator_;
  const api::GrpcCallMetrics calls_;
};

}  // namespace vigil::otlp

#endif  // VIGIL_OTLP_TRACE_SERVICE_H_
