// What every gRPC service of vigild does around a call, written once:
// admit the caller (the `authorization` metadata through auth.h, then the
// role through principal.h) and count the call in the shared gRPC metrics.
// Used by vigil.v1.EventStore (event_store_service.h) and OTLP's
// TraceService (otlp/trace_service.h). Thread-safe.

#ifndef VIGIL_API_GRPC_CALLS_H_
#define VIGIL_API_GRPC_CALLS_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/auth.h"
#include "api/principal.h"
#include "base/metrics.h"
#include "grpcpp/server_context.h"

namespace vigil::api {

// Who the caller of `context` is (Authenticate with `authenticator`, null:
// anonymous), if they may do `operation` (Authorize).
absl::StatusOr<Principal> AdmitCall(const grpc::ServerContextBase& context,
                                    const Authenticator* authenticator,
                                    Operation operation);

// vigil_grpc_calls_started_total{method} and
// vigil_grpc_requests_total{method,code}, shared by every service that
// counts into the same registry.
class GrpcCallMetrics {
 public:
  // Null `metrics`: counts nothing.
  explicit GrpcCallMetrics(base::Metrics* metrics);

  // Streaming calls are counted when they start and when they finish;
  // unary calls when they finish.
  void Started(std::string_view method) const;
  void Finished(std::string_view method, const absl::Status& status) const;

 private:
  base::CounterFamily* const requests_;
  base::CounterFamily* const started_;
};

}  // namespace vigil::api

#endif  // VIGIL_API_GRPC_CALLS_H_
