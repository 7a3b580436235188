// Verify: walks the log's hash chain (FORMAT.md "Hash chain") over a range
// of positions and checks every record, its position, its link to the one
// before and the stream-index entry that points at it. Reads only.
//
// Threads: from any thread, concurrently with appends and other reads.

#ifndef VIGIL_EVENTLOG_INTERNAL_VERIFY_H_
#define VIGIL_EVENTLOG_INTERNAL_VERIFY_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "eventlog/event_log.h"
#include "eventlog/internal/log_db.h"
#include "eventlog/internal/log_head.h"

namespace vigil::eventlog::internal {

// As EventLog::Verify: positions [from, to] (to = 0 or past the head: the
// head as `head` gives it when the walk starts).
absl::StatusOr<VerifyResult> VerifyChain(const LogDb& db, const LogHead& head,
                                         uint64_t from, uint64_t to);

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_VERIFY_H_
