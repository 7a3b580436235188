// RecentRecords: the last records the writer committed, kept in memory so
// that the readers that follow the head (the time-travel snapshots, the
// alert rules, subscriptions, the live feed, the projections when caught
// up) decode them from here instead of seeking RocksDB's memtable and
// files for what was written a moment ago (LogReader::ReadAll).
//
// It holds what RocksDB holds, never more: the writer adds a group's
// records after its WriteBatch is written and before the head that
// covers them is published, and a reader falls back to RocksDB for
// anything not here. Bounded: at most `max_records` records and
// `max_bytes` of their bytes (eventlog::Options::recent_records_*), the
// oldest dropped first.
//
// Threads: Add and Clear from the writer thread (one at a time); Visit from
// any thread, concurrently with them. A reader holds the lock only to take
// references to the groups it needs, not while it decodes them.

#ifndef VIGIL_EVENTLOG_INTERNAL_RECENT_RECORDS_H_
#define VIGIL_EVENTLOG_INTERNAL_RECENT_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vigil::eventlog::internal {

class RecentRecords {
 public:
  RecentRecords(size_t max_records, size_t max_bytes)
      : max_records_(max_records), max_bytes_(max_bytes) {}
  RecentRecords(const RecentRecords&) = delete;
  RecentRecords& operator=(const RecentRecords&) = delete;

  // Keeps `records` (moved from), the records at positions `first`,
  // `first` + 1, ...: the encoded values written under their RecordKey.
  // When `first` does not follow the last record kept, what was kept is
  // dropped first (the records here are always contiguous).
  void Add(uint64_t first, std::vector<std::string>* records);

  // Drops everything (records were written that did not pass Add).
  void Clear();

  // Calls `visit` with the records kept from position `from` on, in
  // order, until it returns false or `at_most` records were visited (0:
  // no bound). Returns the position after the last one visited: `from`
  // when `from` is not kept.
  uint64_t Visit(
      uint64_t from, size_t at_most,
      const std::function<bool(uint64_t position, std::string_view record)>&
          visit) const;

 private:
  // One Add's records.
  struct Group {
    uint64_t first = 0;
    std::vector<std::string> records;
    size_t bytes = 0;
  };

  const size_t max_records_;
  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<const Group>> groups_ ABSL_GUARDED_BY(mu_);
  size_t records_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_RECENT_RECORDS_H_
