// ReadModels: what the HTTP server asks for the read-model routes
// (/v1/agents, /v1/tasks, /v1/coordination, /v1/metrics/..., /v1/usage,
// /v1/projections). The projections module implements it; the gateway only
// routes, authorizes (role "reader" or better) and renders errors, so it
// needs neither PostgreSQL nor the projections to build.

#ifndef VIGIL_GATEWAY_READ_MODELS_H_
#define VIGIL_GATEWAY_READ_MODELS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::gateway {

class ReadModels {
 public:
  virtual ~ReadModels() = default;

  // True for a path (no query string) it answers.
  virtual bool Handles(std::string_view path) const = 0;

  // The JSON body for GET `path` with the raw `query`. May block (waiting
  // for min_position, querying PostgreSQL): the server calls it on its
  // reader threads. Errors become problem+json: INVALID_ARGUMENT 400,
  // NOT_FOUND 404, UNAVAILABLE 503.
  virtual absl::StatusOr<std::string> Get(std::string_view path,
                                          std::string_view query) = 0;
};

}  // namespace vigil::gateway

#endif  // VIGIL_GATEWAY_READ_MODELS_H_
