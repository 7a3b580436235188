// LogDb: the log's open RocksDB database as every part of the log shares it
// (the writer, the reader, Verify, the snapshot store), with the point reads
// they all need: a key, a record, the last record, a stream's metadata and
// an idempotency record. The keys and values are FORMAT.md's (codec.h).
//
// Threads: a reader holds mu() shared for as long as it uses rocks(), and
// checks CheckOpen() first. Only the writer thread replaces the database
// (ReopenLocked, with mu() held exclusively); the writer thread itself uses
// rocks() without the lock, since nobody else changes it. The Load methods
// are const and safe under those rules from any thread.

#ifndef VIGIL_EVENTLOG_INTERNAL_LOG_DB_H_
#define VIGIL_EVENTLOG_INTERNAL_LOG_DB_H_

#include <rocksdb/iterator.h>
#include <rocksdb/status.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"
#include "eventlog/internal/codec.h"
#include "eventlog/internal/rocks_db.h"
#include "eventlog/options.h"

namespace vigil::eventlog::internal {

// A RocksDB status as an absl::Status whose message starts with `what`;
// a full disk (IOError, subcode kNoSpace) is DiskFullError's status.
absl::Status FromRocks(const rocksdb::Status& s, const std::string& what);

// UNAVAILABLE "the event log's disk is full (No space left on device): "
// + `detail`, with kDiskFullPayload (event_log.h).
absl::Status DiskFullError(absl::string_view detail);

// `stream "name"`, as error messages name a stream.
std::string QuoteStream(absl::string_view stream);

// The hash before position 1: the first record chains from it.
std::string GenesisHash();

class LogDb {
 public:
  // `options` and `dir` are what ReopenLocked opens `rocks` again with.
  LogDb(const Options& options, std::string dir,
        std::unique_ptr<RocksDb> rocks);
  LogDb(const LogDb&) = delete;
  LogDb& operator=(const LogDb&) = delete;
  ~LogDb();

  // Held shared by readers while they use rocks(); exclusively by the
  // writer thread while it reopens.
  absl::Mutex& mu() const { return mu_; }

  // The database; null while a reopen after a storage failure has not
  // succeeded (CheckOpen says so to readers).
  RocksDb* rocks() const { return rocks_.get(); }

  const std::string& dir() const { return dir_; }

  // UNAVAILABLE while the database is closed for a reopen.
  absl::Status CheckOpen() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Closes the database and opens it again from `dir` (which recovers from
  // the WAL up to its last whole record) and clears write_failed(). On
  // failure rocks() stays null and write_failed() stays set.
  // Writer thread only.
  absl::Status ReopenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Marks the open database as having failed a write (any thread): after
  // a failed write RocksDB may send the next one to the same broken WAL
  // file, so nobody writes to it again; the writer reopens it first (once
  // there is room again: log_writer.h).
  void MarkWriteFailed() { write_failed_.store(true); }
  bool write_failed() const { return write_failed_.load(); }

  // The value of `key` in its column family; nullopt when absent.
  absl::StatusOr<std::optional<std::string>> Load(const std::string& key) const;

  // The record at `position`; nullopt when there is none, DATA_LOSS when it
  // does not decode.
  absl::StatusOr<std::optional<RecordedEvent>> LoadRecord(
      uint64_t position) const;

  // The record at the highest position; nullopt for an empty log.
  absl::StatusOr<std::optional<RecordedEvent>> LoadLastRecord() const;

  // The stream's metadata: its creation time from its StreamKey, its last
  // revision and position from its last revision key, and its update time
  // from that last record. nullopt when the stream does not exist.
  absl::StatusOr<std::optional<StreamMeta>> LoadStreamMeta(
      const std::string& stream) const;

  // The record of idempotency key `key`; nullopt when it has none.
  absl::StatusOr<std::optional<IdempotencyRecord>> LoadIdempotency(
      std::string_view key) const;

 private:
  const Options options_;
  const std::string dir_;
  mutable absl::Mutex mu_;
  std::unique_ptr<RocksDb> rocks_;
  std::atomic<bool> write_failed_{false};  // cleared by a reopen
};

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_LOG_DB_H_
