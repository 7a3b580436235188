// AdminRoutes: REST resources that change the server's configuration
// (today /v1/webhooks), answered by a module the gateway does not build
// against, the way ReadModels plugs in the read models. The gateway routes,
// authorizes (role "admin"), answers 405 for methods the path does not allow,
// runs Serve on its reader threads, and renders errors as problem+json.

#ifndef VIGIL_GATEWAY_ADMIN_ROUTES_H_
#define VIGIL_GATEWAY_ADMIN_ROUTES_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::gateway {

struct AdminRequest {
  std::string method;  // "GET", "POST", "DELETE"
  std::string path;    // no query string, still percent-encoded
  std::string query;
  std::string body;
};

struct AdminResponse {
  int status = 200;
  std::string body;  // JSON
};

class AdminRoutes {
 public:
  virtual ~AdminRoutes() = default;

  // The methods `path` allows, comma-separated ("GET, POST"); empty when it
  // is not one of these routes.
  virtual std::string AllowedMethods(std::string_view path) const = 0;

  // Answers `request`, whose method AllowedMethods listed. May block
  // (appends, DNS): the server calls it on its reader threads. Errors become
  // problem+json: INVALID_ARGUMENT 400, NOT_FOUND 404, ALREADY_EXISTS 409,
  // FAILED_PRECONDITION 422, RESOURCE_EXHAUSTED 413, UNAVAILABLE 503.
  virtual absl::StatusOr<AdminResponse> Serve(const AdminRequest& request) = 0;
};

}  // namespace vigil::gateway

#endif  // VIGIL_GATEWAY_ADMIN_ROUTES_H_
