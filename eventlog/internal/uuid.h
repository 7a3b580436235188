// Event ids: UUID text. Debian 12's libuuid (util-linux 2.38) parses and
// formats UUIDs but cannot make version 7 ones (that came in 2.41), so
// NewUuidV7 lays out RFC 9562's version 7 itself over OpenSSL's CSPRNG.
// Thread-safe.

#ifndef VIGIL_EVENTLOG_INTERNAL_UUID_H_
#define VIGIL_EVENTLOG_INTERNAL_UUID_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::eventlog::internal {

// A new UUIDv7 (48-bit Unix milliseconds, then random bits) as lowercase
// 8-4-4-4-12 text.
std::string NewUuidV7(int64_t unix_time_us);

// The lowercase canonical text of a UUID given in 8-4-4-4-12 form (any
// case); nullopt when `text` is not a UUID.
std::optional<std::string> NormalizeUuid(std::string_view text);

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_UUID_H_
