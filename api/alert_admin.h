// AlertAdmin: the administration of alert rules (register, list, inspect,
// delete) and the alerts open now, transport-neutral. The alerts module
// implements it (projections/alerts/alert_service.h); the HTTP gateway maps
// /v1/alert-rules and /v1/alerts to it (gateway/internal/alert_routes.h),
// authorizes (role "admin") and renders the answers and errors. The JSON
// bodies are described in docs/alerts.md.
//
// Thread-safe: implementations take calls from any number of threads. A
// call may block (it appends to the log), so callers run it on reader
// threads.

#ifndef VIGIL_API_ALERT_ADMIN_H_
#define VIGIL_API_ALERT_ADMIN_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::api {

class AlertAdmin {
 public:
  virtual ~AlertAdmin() = default;

  // Each answer is a JSON body. Errors: INVALID_ARGUMENT (a bad rule, or
  // as many rules as the server's bound already), NOT_FOUND (no such rule),
  // UNAVAILABLE (stopping, or the log refused the append).

  // Registers the rule `body` describes (docs/alerts.md "Rules"): the rule
  // with its id.
  virtual absl::StatusOr<std::string> RegisterRule(std::string_view body) = 0;
  // {"rules":[rule...]}
  virtual absl::StatusOr<std::string> ListRules() = 0;
  virtual absl::StatusOr<std::string> GetRule(const std::string& id) = 0;
  // {"id","deleted":true}; the rule's open alerts are resolved.
  virtual absl::StatusOr<std::string> DeleteRule(const std::string& id) = 0;
  // {"alerts":[open alert...],"evaluated_position"}
  virtual absl::StatusOr<std::string> OpenAlerts() = 0;
};

}  // namespace vigil::api

#endif  // VIGIL_API_ALERT_ADMIN_H_
