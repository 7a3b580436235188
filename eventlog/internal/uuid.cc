#include "eventlog/internal/uuid.h"

#include <openssl/rand.h>
#include <uuid/uuid.h>

#include <cstdlib>

namespace vigil::eventlog::internal {

std::string NewUuidV7(int64_t unix_time_us) {
  uuid_t bytes;
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // OpenSSL's generator only fails when it cannot be seeded at all; the
    // kernel's getrandom() behind it does not fail on Linux.
    std::abort();
  }
  const uint64_t ms = static_cast<uint64_t>(unix_time_us / 1000);
  for (int i = 0; i < 6; ++i) {
    bytes[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  }
  bytes[6] = static_cast<unsigned char>(0x70 | (bytes[6] & 0x0f));  // version
  bytes[8] = static_cast<unsigned char>(0x80 | (bytes[8] & 0x3f));  // variant
  char text[37];
  uuid_unparse_lower(bytes, text);
  return std::string(text, 36);
}

std::optional<std::string> NormalizeUuid(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  char buf[37];
  text.copy(buf, 36);
  buf[36] = '\0';
  uuid_t bytes;
  if (uuid_parse(buf, bytes) != 0) return std::nullopt;
  char out[37];
  uuid_unparse_lower(bytes, out);
  return std::string(out, 36);
}

}  // namespace vigil::eventlog::internal
