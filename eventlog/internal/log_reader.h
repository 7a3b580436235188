// LogReader: the log's reads (EventLog::ReadStream, ReadAll, GetStream,
// FindPosition and Stats) over the shared database. It never waits for the
// writer: each call reads what RocksDB holds under LogDb::mu() shared.
// ReadAll takes the records it can from RecentRecords (what the writer
// committed last, the same bytes RocksDB holds) before it seeks RocksDB.
//
// Threads: every method from any thread, concurrently.

#ifndef VIGIL_EVENTLOG_INTERNAL_LOG_READER_H_
#define VIGIL_EVENTLOG_INTERNAL_LOG_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"
#include "eventlog/internal/log_db.h"
#include "eventlog/internal/log_head.h"
#include "eventlog/internal/recent_records.h"

namespace vigil::eventlog::internal {

class LogReader {
 public:
  // `db`, `head` and `recent` (null: none) must outlive the reader.
  LogReader(const LogDb* db, const LogHead* head,
            const RecentRecords* recent = nullptr)
      : db_(db), head_(head), recent_(recent) {}

  // As the EventLog methods of the same names.
  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(
      const std::string& stream, uint64_t from_revision, uint64_t max_count,
      bool backwards) const;
  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(
      uint64_t from_position, uint64_t max_count, const Filter& filter,
      uint64_t max_scan, uint64_t* next_position) const;
  absl::StatusOr<StreamInfo> GetStream(const std::string& stream) const;
  absl::StatusOr<uint64_t> FindPosition(int64_t time_us) const;
  absl::StatusOr<LogStats> Stats() const;
  absl::StatusOr<LogBytes> BytesByKind() const;

 private:
  const LogDb* const db_;
  const LogHead* const head_;
  const RecentRecords* const recent_;
};

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_LOG_READER_H_
