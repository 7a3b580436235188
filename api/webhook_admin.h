// WebhookAdmin: the administration of webhook endpoints (register, list,
// inspect, delete, rotate the secret, re-enable, dead letters and their
// redelivery), typed and transport-neutral. The webhooks module implements
// it (projections/webhooks/webhook_service.h); the HTTP gateway maps
// /v1/webhooks to it (gateway/internal/webhook_routes.h), authorizes (role
// "admin") and renders the answers and errors. The JSON bodies are described
// in projections/webhooks/README.md.
//
// Thread-safe: implementations take calls from any number of threads. A
// call may block (it appends to the log, resolves host names), so callers
// run it on reader threads.

#ifndef VIGIL_API_WEBHOOK_ADMIN_H_
#define VIGIL_API_WEBHOOK_ADMIN_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "eventlog/event.h"

namespace vigil::api {

struct WebhookRegistration {
  std::string url;
  // Which events the endpoint receives; empty lists match every event.
  eventlog::Filter filter;
};

class WebhookAdmin {
 public:
  virtual ~WebhookAdmin() = default;

  // Each answer is a JSON body. Errors: INVALID_ARGUMENT (a bad url or
  // filter), NOT_FOUND (no such endpoint or dead letter),
  // FAILED_PRECONDITION (too many endpoints), UNAVAILABLE (stopping, or the
  // log refused the append).

  // The new endpoint, with its secret (shown this once).
  virtual absl::StatusOr<std::string> Register(
      const WebhookRegistration& registration) = 0;
  // {"webhooks":[endpoint...]}
  virtual absl::StatusOr<std::string> List() = 0;
  virtual absl::StatusOr<std::string> Get(const std::string& id) = 0;
  // {"id","deleted":true}
  virtual absl::StatusOr<std::string> Delete(const std::string& id) = 0;
  // {"id","secret","previous_secret_expires_time_us"}
  virtual absl::StatusOr<std::string> RotateSecret(const std::string& id) = 0;
  // The endpoint, active again.
  virtual absl::StatusOr<std::string> Enable(const std::string& id) = 0;
  // {"dead_letters":[...]}
  virtual absl::StatusOr<std::string> DeadLetters(const std::string& id) = 0;
  // Queues the dead letter of `event_id` (none: every one not yet queued)
  // for delivery again: {"id","queued":N}.
  virtual absl::StatusOr<std::string> Redeliver(
      const std::string& id, const std::optional<std::string>& event_id) = 0;
};

}  // namespace vigil::api

#endif  // VIGIL_API_WEBHOOK_ADMIN_H_
