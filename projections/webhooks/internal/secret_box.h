// SecretBox: seals webhook secrets before they go into the event log, where
// every reader of /v1/all could see them, with AES-256-GCM under a key kept
// in a file beside the log (mode 0600, made on first use). Losing the key
// file makes the sealed secrets unreadable: rotate the endpoints' secrets.
// Thread-safe after construction.

#ifndef VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_SECRET_BOX_H_
#define VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_SECRET_BOX_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::webhooks::internal {

class SecretBox {
 public:
  // Reads the 32-byte key in `key_path`, or creates it (O_EXCL, 0600,
  // fsynced) when the file does not exist.
  static absl::StatusOr<std::unique_ptr<SecretBox>> Open(
      const std::string& key_path);

  // base64(nonce || ciphertext || tag).
  std::string Seal(std::string_view plaintext) const;
  // DATA_LOSS when `sealed` was not sealed by this key or was altered.
  absl::StatusOr<std::string> Unseal(std::string_view sealed) const;

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  const std::string key_;
};

}  // namespace vigil::webhooks::internal

#endif  // VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_SECRET_BOX_H_
