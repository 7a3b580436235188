// The door of the live feed: which requests ask for it (GET /v1/live with
// Upgrade: websocket, GET /v1/live/sse) and whether to open it for them,
// before the session upgrades (http_server.cc) and the hub streams
// (live_hub.h). What the checks are and their order is in
// LiveDoor::Admit; who may subscribe is the core's rule (api/core.h).
//
// Thread safety: Kind and Admit may be called from any thread once
// SetPort has run (before serving).

#ifndef VIGIL_GATEWAY_INTERNAL_LIVE_ADMISSION_H_
#define VIGIL_GATEWAY_INTERNAL_LIVE_ADMISSION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/core.h"
#include "gateway/http_server.h"
#include "gateway/internal/http_message.h"
#include "gateway/internal/live_hub.h"

namespace vigil::gateway::internal {

// Which live feed a request asks for.
enum class LiveKind {
  kNone,       // not the live feed: Handle it
  kWebSocket,  // GET /v1/live with Upgrade: websocket
  kSse,        // GET /v1/live/sse
};

// A live feed request admitted (subscription set) or refused (answer
// `refusal`, then close).
struct LiveAdmission {
  std::shared_ptr<LiveSubscription> subscription;
  HttpResponse refusal;
  std::string subprotocol;  // echoed in Sec-WebSocket-Protocol; "" = none
};

class LiveDoor {
 public:
  // `options`, `live` and `core` must outlive the door.
  LiveDoor(const HttpServerOptions& options, LiveHub* live,
           const api::Core* core);

  // The origins allowed to open the WebSocket, from the options and the
  // port bound (see LiveOptions::allowed_origins). Before serving.
  void SetPort(uint16_t port);

  LiveKind Kind(const HttpRequest& request) const;

  // The checks before the upgrade, in this order: Origin (403), for a
  // WebSocket the handshake's form (RFC 6455 section 4.2.1: 400, or 426 for
  // a version other than 13), the query
  // (400), the token from Authorization or ?token= (401, 403), readiness
  // (503), then a slot in the hub (503, 429). Each refusal is counted by
  // reason in the hub's metrics; the token is never part of an answer or a
  // metric.
  LiveAdmission Admit(const HttpRequest& request, LiveKind kind);

 private:
  const HttpServerOptions& options_;
  LiveHub* const live_;
  const api::Core* const core_;
  std::vector<std::string> allowed_origins_;  // set before serving
};

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_LIVE_ADMISSION_H_
