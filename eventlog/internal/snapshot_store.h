// SnapshotStore: the log's snapshots (FORMAT.md "Snapshots"; the contract
// is EventLog's, "Snapshots"): named sets of keyed values at a position,
// each write storing only the entries that changed, kept in the index
// family beside the log, outside the hash chain and not synced.
//
// Threads: every method from any thread, concurrently; Write from a
// writable log only (EventLog refuses it on a reader before it gets here).

#ifndef VIGIL_EVENTLOG_INTERNAL_SNAPSHOT_STORE_H_
#define VIGIL_EVENTLOG_INTERNAL_SNAPSHOT_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eventlog/event_log.h"
#include "eventlog/internal/log_db.h"
#include "eventlog/internal/log_head.h"

namespace vigil::eventlog::internal {

class SnapshotStore {
 public:
  // `db` and `head` must outlive the store.
  SnapshotStore(LogDb* db, const LogHead* head) : db_(db), head_(head) {}

  // As EventLog::WriteSnapshot, FindSnapshot, ReadSnapshotEntry and
  // ScanSnapshot.
  absl::Status Write(std::string_view name, uint64_t position,
                     const std::vector<EventLog::SnapshotEntry>& changed);
  absl::StatusOr<uint64_t> Find(std::string_view name,
                                uint64_t position) const;
  absl::StatusOr<std::optional<std::string>> ReadEntry(
      std::string_view name, uint64_t position, std::string_view key) const;
  // As EventLog::ReadSnapshotEntries.
  absl::StatusOr<std::vector<std::optional<std::string>>> ReadEntries(
      std::string_view name, uint64_t position,
      const std::vector<std::string>& keys) const;
  absl::Status Scan(
      std::string_view name, uint64_t position, std::string_view key_prefix,
      const std::function<void(std::string_view key, std::string_view value)>&
          visit) const;

 private:
  LogDb* const db_;
  const LogHead* const head_;
};

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_SNAPSHOT_STORE_H_
