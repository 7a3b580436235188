// The REST event reads, GET /v1/streams/{stream} and GET /v1/all: their
// query (`from`, `limit`, nothing else) and one page of events as JSON,
// bounded in events and bytes. Pure functions over the core's reads
// (api/core.h, which checks the caller's role); they block on the log, so
// the request handler runs them on its reader threads.

#ifndef VIGIL_GATEWAY_INTERNAL_EVENT_READS_H_
#define VIGIL_GATEWAY_INTERNAL_EVENT_READS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "api/core.h"
#include "api/principal.h"

namespace vigil::gateway::internal {

// Events read from the log at a time for one GET, and the JSON a page aims
// at: with events of up to 1 MiB, `limit` = 1000 must not mean a gigabyte
// in memory. A page stops early at the byte bound (always >= 1 event).
inline constexpr uint64_t kReadChunkEvents = 32;
inline constexpr size_t kMaxPageBytes = 8 << 20;  // 8 MiB

struct Paging {
  uint64_t from = 0;  // a stream revision or a log position
  uint64_t limit = 0;
};

// `from` and `limit`, the only query parameters of the two GETs: unknown,
// repeated or malformed ones are INVALID_ARGUMENT rather than ignored, so a
// typo cannot silently read something else. `limit` defaults to
// `default_limit` and must be 1 to `max_limit`.
absl::StatusOr<Paging> ParsePaging(std::string_view query,
                                   uint64_t default_limit, uint64_t max_limit);

// {"events":[...]}: the stream's events from revision `paging.from`.
// NOT_FOUND when the stream does not exist; the core's errors.
absl::StatusOr<std::string> ReadStreamPage(const api::Core& core,
                                           const api::Principal& principal,
                                           const std::string& stream,
                                           const Paging& paging);

// {"events":[...]}: the log's events from position `paging.from`.
absl::StatusOr<std::string> ReadAllPage(const api::Core& core,
                                        const api::Principal& principal,
                                        const Paging& paging);

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_EVENT_READS_H_
