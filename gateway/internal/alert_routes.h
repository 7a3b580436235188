// The HTTP form of alert administration (api/alert_admin.h):
//
//   GET    /v1/alert-rules          ListRules     200
//   POST   /v1/alert-rules  {rule}  RegisterRule  201
//   GET    /v1/alert-rules/{id}     GetRule       200
//   DELETE /v1/alert-rules/{id}     DeleteRule    200
//   GET    /v1/alerts               OpenAlerts    200
//
// The rule body is checked by the alerts module (docs/alerts.md "Rules").
// Pure functions apart from the calls into AlertAdmin; any thread.

#ifndef VIGIL_GATEWAY_INTERNAL_ALERT_ROUTES_H_
#define VIGIL_GATEWAY_INTERNAL_ALERT_ROUTES_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "api/alert_admin.h"

namespace vigil::gateway::internal {

// The methods `path` (no query string) allows, comma-separated; empty when
// it is none of the paths above.
std::string AlertMethods(std::string_view path);

struct AlertAnswer {
  int status = 200;
  std::string body;  // JSON
};

// Answers `method` on `path`, which AlertMethods allows, with `body`. May
// block (see AlertAdmin); the errors of `admin`.
absl::StatusOr<AlertAnswer> ServeAlerts(api::AlertAdmin& admin,
                                        std::string_view method,
                                        std::string_view path,
                                        std::string_view body);

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_ALERT_ROUTES_H_
