// Standard Webhooks signatures (https://www.standardwebhooks.com): secrets
// `whsec_<base64 of 24 random bytes>`, and the `webhook-signature` value
// `v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`.
// Pure functions (the secret generator reads OpenSSL's CSPRNG), safe from
// any thread.

#ifndef VIGIL_PROJECTIONS_WEBHOOKS_SIGNATURE_H_
#define VIGIL_PROJECTIONS_WEBHOOKS_SIGNATURE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vigil::webhooks {

inline constexpr char kSecretPrefix[] = "whsec_";

// A new secret: "whsec_" + base64 of 24 bytes from the CSPRNG.
std::string GenerateSecret();

// "v1,<base64 signature>" of `id`.`timestamp`.`body` under `secret`
// (INVALID_ARGUMENT when `secret` is not "whsec_<base64>").
absl::StatusOr<std::string> Sign(std::string_view secret, std::string_view id,
                                 int64_t timestamp, std::string_view body);

// The `webhook-signature` header value: the signatures of every secret,
// space-separated (during a rotation's grace period, the old and the new).
absl::StatusOr<std::string> SignatureHeader(
    const std::vector<std::string>& secrets, std::string_view id,
    int64_t timestamp, std::string_view body);

// What a receiver does: OK when one of the space-separated signatures in
// `header` matches `secret` (constant-time compare) and `timestamp` is
// within `tolerance_s` of `now_s`; PERMISSION_DENIED otherwise.
absl::Status Verify(std::string_view secret, std::string_view id,
                    int64_t timestamp, std::string_view body,
                    std::string_view header, int64_t now_s,
                    int64_t tolerance_s = 300);

// Standard base64 with padding, and its inverse (nullopt-like error for
// malformed input).
std::string Base64Encode(std::string_view bytes);
absl::StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace vigil::webhooks

#endif  // VIGIL_PROJECTIONS_WEBHOOKS_SIGNATURE_H_
