// Who is calling (docs/contract.md "Security"): a tokens file maps bearer
// tokens to roles (principal.h), and Authenticate turns a transport's
// credentials into a Principal. What the principal may do is decided by
// the core (core.h), not here. With no tokens configured every caller is
// anonymous and may do everything; the server then listens on loopback only
// (the caller of Authenticator checks that, see IsLoopbackHost).
// Thread-safe after construction.

#ifndef VIGIL_API_AUTH_H_
#define VIGIL_API_AUTH_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/principal.h"

namespace vigil::api {

class Authenticator {
 public:
  // No tokens: anonymous mode.
  Authenticator() = default;

  // Reads a tokens file: one `<token> <role>` per line; blank lines and
  // lines starting with `#` are skipped. Tokens are 16 to 512 printable
  // ASCII bytes without spaces. INVALID_ARGUMENT naming the line otherwise;
  // NOT_FOUND when the file cannot be read.
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromFile(
      const std::string& path);
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromText(
      std::string_view text);

  bool anonymous_mode() const { return roles_.empty(); }

  // From the value of an `Authorization` header (or the WebSocket's
  // ?token=, passed as "Bearer <token>"). UNAUTHENTICATED when tokens are
  // configured and the header is missing, malformed or unknown.
  absl::StatusOr<Principal> Authenticate(std::string_view authorization) const;

 private:
  // SHA-256 of the token -> role. Looking tokens up by digest means the
  // comparison time says nothing about the token's bytes.
  absl::flat_hash_map<std::string, Role> roles_;
};

// What every front door (gRPC, HTTP, WebSocket) asks first: who is calling,
// from the `Authorization` value. `authenticator` null means anonymous
// mode. UNAUTHENTICATED as Authenticator::Authenticate.
absl::StatusOr<Principal> Authenticate(const Authenticator* authenticator,
                                       std::string_view authorization);

// True when `host` (an IP literal or "localhost") is a loopback address:
// 127.0.0.0/8, ::1, localhost.
bool IsLoopbackHost(std::string_view host);

}  // namespace vigil::api

#endif  // VIGIL_API_AUTH_H_
