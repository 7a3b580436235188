// Options of an EventLog. Every bound the log enforces is here, with its
// default; they are translated to rocksdb::Options in one place
// (internal/rocks_options.cc) and nowhere else.

#ifndef VIGIL_EVENTLOG_OPTIONS_H_
#define VIGIL_EVENTLOG_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <functional>

namespace vigil::eventlog {

struct Options {
  // Create the data directory's log when it does not exist yet.
  bool create_if_missing = true;

  // Sync every group commit before acknowledging it (docs/contract.md
  // "Durability"). false is for one purpose only: the power-loss control
  // run of vigil-torture (tools/torture), which must show that a log that
  // does not sync loses acknowledged events. vigild has no flag for it; the
  // environment variable VIGIL_UNSAFE_NO_FSYNC_FOR_TESTS=1 clears it, with
  // a warning on every start.
  bool sync = true;

  // Largest data + metadata of one event. Over it: RESOURCE_EXHAUSTED.
  size_t max_event_bytes = 1 << 20;  // 1 MiB

  // Largest sum of data + metadata of all events of one append.
  size_t max_append_bytes = 4 << 20;  // 4 MiB

  // Most events in one append.
  size_t max_append_events = 1000;

  // How long an idempotency key is remembered after its append. After that
  // the same key appends again. Expired keys are deleted by the writer in
  // small slices (idempotency_expiry_slice per group commit).
  int64_t idempotency_retention_us = int64_t{24} * 3600 * 1000 * 1000;
  size_t idempotency_expiry_slice = 256;

  // Most appends waiting for the writer. Append() blocks (backpressure) while
  // the queue is full.
  size_t max_queued_appends = 4096;

  // Most appends and bytes committed by one group commit (one WriteBatch,
  // one sync).
  size_t max_group_appends = 1024;
  size_t max_group_bytes = 16 << 20;  // 16 MiB

  // RocksDB memtable size (write_buffer_size). The WAL file preallocates
  // about 1.1x this on disk.
  size_t memtable_bytes = 64 << 20;  // 64 MiB

  // RocksDB block cache for reads.
  size_t block_cache_bytes = 64 << 20;  // 64 MiB

  // The last committed records kept in memory for the readers that follow
  // the head (internal/recent_records.h): at most this many records and
  // bytes. 0 records: none kept, every read goes to RocksDB.
  size_t recent_records = 65536;
  size_t recent_records_bytes = 64 << 20;  // 64 MiB

  // The clock, in UTC microseconds. Tests replace it; empty means the system
  // clock. Recorded times never decrease, whatever the clock does.
  std::function<int64_t()> clock;
};

}  // namespace vigil::eventlog

#endif  // VIGIL_EVENTLOG_OPTIONS_H_
