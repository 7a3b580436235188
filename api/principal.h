// Who is calling and what their role lets them do (docs/contract.md
// "Security"): `agent` (append, read), `reader` (read, subscribe), `admin`
// (everything). A transport turns its credentials into a Principal
// (auth.h Authenticator); the core decides with it (core.h), so the role
// rules live here once and no transport carries a copy. Plain values and
// pure functions: safe from any thread.

#ifndef VIGIL_API_PRINCIPAL_H_
#define VIGIL_API_PRINCIPAL_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace vigil::api {

enum class Role { kAgent, kReader, kAdmin };

// What a role may be allowed to do.
enum class Action { kAppend, kRead, kSubscribe, kAdmin };

// The operations of the core (core.h), whatever the transport. Each needs
// one Action (RequiredAction).
enum class Operation {
  kAppend,            // append events to a stream
  kReadStream,        // read a stream's events
  kReadAll,           // read the log's events
  kGetStream,         // a stream's revision and size
  kSubscribe,         // follow the log live (gRPC Subscribe, /v1/live)
  kReadModel,         // the PostgreSQL read models
  kState,             // the state at a point of the log
  kDiff,              // what changed between two points
  kAdministerWebhooks,  // register, list, delete... webhook endpoints
  kAdministerAlerts,    // register, list, delete alert rules; open alerts
};

// "agent", "reader", "admin".
std::string_view RoleName(Role role);

struct Principal {
  // Anonymous callers (a server without tokens) may do everything.
  Role role = Role::kAdmin;
  bool anonymous = true;
  // A stable, non-secret name for the token (the first 8 hex digits of its
  // SHA-256): for rate limits and logs, which never see the token itself.
  std::string id = "anonymous";
};

// PERMISSION_DENIED ("the role reader may not append") when `principal`'s
// role does not allow `action`:
//   agent: append, read;  reader: read, subscribe;  admin: everything.
absl::Status Authorize(const Principal& principal, Action action);

// kAppend: append; kSubscribe: subscribe; kAdministerWebhooks and
// kAdministerAlerts: admin; the
// reads (streams, the log, read models, state, diff): read.
Action RequiredAction(Operation operation);

// Authorize(principal, RequiredAction(operation)): what every core entry
// point asks first, and what a transport may ask before it parses a request
// (so a caller who may not do something learns nothing from the checks of
// its input).
absl::Status Authorize(const Principal& principal, Operation operation);

}  // namespace vigil::api

#endif  // VIGIL_API_PRINCIPAL_H_
