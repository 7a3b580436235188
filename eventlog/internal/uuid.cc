#include "eventlog/internal/uuid.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <uuid/uuid.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace vigil::eventlog::internal {
namespace {

// Random bytes drawn from OpenSSL's CSPRNG 4 KiB at a time per thread. One
// RAND_bytes call per id cost a getpid() system call each (OpenSSL's fork
// check): 3-8% of the CPU of single-event appends in profiles. A forked
// child must not reuse its parent's bytes, so the fork handler empties the
// forking thread's buffer (the only thread a child has).
struct RandomBuffer {
  unsigned char bytes[4096];
  size_t used = sizeof(bytes);  // empty
};

thread_local RandomBuffer random_buffer;

void EmptyAfterFork() { random_buffer.used = sizeof(random_buffer.bytes); }

void RandomBytes(unsigned char* out, size_t n) {
  static std::once_flag registered;
  std::call_once(registered,
                 [] { pthread_atfork(nullptr, nullptr, &EmptyAfterFork); });
  RandomBuffer& buffer = random_buffer;
  if (sizeof(buffer.bytes) - buffer.used < n) {
    if (RAND_bytes(buffer.bytes, sizeof(buffer.bytes)) != 1) {
      // OpenSSL's generator only fails when it cannot be seeded at all; the
      // kernel's getrandom() behind it does not fail on Linux.
      std::abort();
    }
    buffer.used = 0;
  }
  std::memcpy(out, buffer.bytes + buffer.used, n);
  buffer.used += n;
}

}  // namespace

std::string NewUuidV7(int64_t unix_time_us) {
  uuid_t bytes;
  RandomBytes(bytes, sizeof(bytes));
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
