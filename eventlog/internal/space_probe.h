// ProbeSpace: whether the log's directory has room again after a full
// disk, asked by writing a small file there rather than by statvfs, which
// cannot tell what a write would really get (quotas, reserved blocks,
// tmpfs accounting).
//
// Threads: any; the writer thread calls it while the log reports a full
// disk (log_writer.h).

#ifndef VIGIL_EVENTLOG_INTERNAL_SPACE_PROBE_H_
#define VIGIL_EVENTLOG_INTERNAL_SPACE_PROBE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace vigil::eventlog::internal {

// The probe's file in the log's directory (FORMAT.md "Files"); RocksDB
// ignores names it did not make.
inline constexpr char kSpaceProbeFile[] = "SPACE_PROBE";

// Bytes the probe writes: room for a few group commits' WAL records, so a
// disk with less than this free is still reported full.
inline constexpr size_t kSpaceProbeBytes = 1 << 20;  // 1 MiB

// Free bytes the file system must still have after the probe: reopening
// recovers the WAL and may flush a whole memtable (RocksDB's default write
// buffer, 64 MiB) to a table file before the database opens; reopening
// with less room could fail and leave readers nothing to read. RocksDB's
// own error handler asks for the same reserve before it recovers.
inline constexpr uint64_t kReopenFreeBytes = 64 << 20;  // 64 MiB

// Writes kSpaceProbeBytes of zeros to `dir`/kSpaceProbeFile, syncs them,
// deletes the file, and checks that kReopenFreeBytes are free (statvfs,
// what an unprivileged writer may use). OK when all of that holds;
// DiskFullError on ENOSPC (or EDQUOT) or too little free space;
// UNAVAILABLE naming the errno otherwise. Never leaves the file behind.
absl::Status ProbeSpace(const std::string& dir);

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_SPACE_PROBE_H_
