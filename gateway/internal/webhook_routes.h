// The HTTP form of webhook administration (api/webhook_admin.h):
//
//   GET    /v1/webhooks                                   List      200
//   POST   /v1/webhooks  {"url","filter"?}                Register  201
//   GET    /v1/webhooks/{id}                              Get       200
//   DELETE /v1/webhooks/{id}                              Delete    200
//   POST   /v1/webhooks/{id}/rotate-secret                RotateSecret 200
//   POST   /v1/webhooks/{id}/enable                       Enable    200
//   GET    /v1/webhooks/{id}/dead-letters                 DeadLetters 200
//   POST   /v1/webhooks/{id}/dead-letters/redeliver       Redeliver 202
//   POST   /v1/webhooks/{id}/dead-letters/{event}/redeliver  Redeliver 202
//
// Path segments are taken as sent (ids hold no escapes). The body of a
// registration is {"url": string, "filter": {"stream_prefixes": [string],
// "event_types": [string]} or null}.
//
// Pure functions apart from the calls into WebhookAdmin; any thread.

#ifndef VIGIL_GATEWAY_INTERNAL_WEBHOOK_ROUTES_H_
#define VIGIL_GATEWAY_INTERNAL_WEBHOOK_ROUTES_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "api/webhook_admin.h"

namespace vigil::gateway::internal {

// The methods `path` (no query string) allows, comma-separated
// ("GET, POST"); empty when it is none of the paths above.
std::string WebhookMethods(std::string_view path);

struct WebhookAnswer {
  int status = 200;
  std::string body;  // JSON
};

// Answers `method` on `path`, which WebhookMethods allows, with `body`.
// May block (see WebhookAdmin). INVALID_ARGUMENT for a malformed body;
// otherwise the errors of `admin`.
absl::StatusOr<WebhookAnswer> ServeWebhooks(api::WebhookAdmin& admin,
                                            std::string_view method,
                                            std::string_view path,
                                            std::string_view body);

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_WEBHOOK_ROUTES_H_
