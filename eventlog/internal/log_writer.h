// LogWriter: the log's single writer. Appends (and imports) are checked and
// encoded on the calling thread, then queue (bounded by
// Options::max_queued_appends) for one writer thread, which takes as many
// as fit in a group (max_group_appends, max_group_bytes), checks expected
// revisions and idempotency keys against the log, assigns positions,
// revisions, times and hashes, deletes a slice of expired idempotency keys,
// and commits the whole group in one synced WriteBatch (group commit). It
// then keeps the group's records in `recent` (recent_records.h), publishes
// the new head and hands the group to a completion thread,
// which runs the callers' callbacks. After a failed write it reopens the
// database before the next group (LogDb::ReopenLocked).
//
// Threads: Append, AppendAsync and Import from any thread, concurrently.
// Everything else runs on the writer and completion threads it owns; the
// destructor finishes the appends already queued, then joins both.

#ifndef VIGIL_EVENTLOG_INTERNAL_LOG_WRITER_H_
#define VIGIL_EVENTLOG_INTERNAL_LOG_WRITER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"
#include "eventlog/internal/codec.h"
#include "eventlog/internal/log_db.h"
#include "eventlog/internal/log_head.h"
#include "eventlog/internal/recent_records.h"
#include "eventlog/options.h"

namespace vigil::eventlog::internal {

// One append or import on its way through the writer (log_writer.cc).
struct PendingAppend;

class LogWriter {
 public:
  // Continues the log after `last` (nullopt: an empty log) and starts the
  // writer and completion threads. `db`, `head` and `recent` must outlive
  // the writer; the caller has published `last`'s position to `head`.
  static std::unique_ptr<LogWriter> Start(
      const Options& options, LogDb* db, LogHead* head, RecentRecords* recent,
      const std::optional<RecordedEvent>& last);

  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  // Finishes the appends already queued, then joins the threads.
  ~LogWriter();

  // As EventLog::Append, AppendAsync and Import on a writable log.
  absl::StatusOr<AppendResult> Append(const AppendRequest& request);
  void AppendAsync(const AppendRequest& request, EventLog::AppendCallback done);
  absl::StatusOr<AppendResult> Import(const std::vector<RecordedEvent>& events);

  // As EventLog::WriteHealth; any thread.
  absl::Status Health() const;

 private:
  struct Group;

  LogWriter(const Options& options, LogDb* db, LogHead* head,
            RecentRecords* recent);

  int64_t NowUs() const;

  // Validates on the calling thread, then queues for the writer. `done`
  // runs at once here when the request fails its checks.
  void Enqueue(const AppendRequest& request, bool block_when_full,
               EventLog::AppendCallback done);

  void WriterLoop();
  void CompletionLoop();
  bool CommitGroup(
      const std::vector<std::unique_ptr<PendingAppend>>& pending_appends);
  absl::Status Recover();
  absl::Status Reopen();
  void SetHealth(absl::Status health);
  void FailGroup(
      const std::vector<std::unique_ptr<PendingAppend>>& pending_appends,
      const absl::Status& cause);
  absl::StatusOr<AppendResult> ApplyAppend(PendingAppend& pending,
                                           Group* group);
  absl::StatusOr<AppendResult> ApplyImport(const PendingAppend& pending,
                                           Group* group);
  static absl::Status CheckExpectedRevision(
      const AppendRequest& request, const std::optional<StreamMeta>& meta);
  void ExpireIdempotencyKeys(Group* group);

  const Options options_;
  LogDb* const db_;
  LogHead* const head_;
  RecentRecords* const recent_;

  absl::Mutex queue_mu_;
  std::deque<std::unique_ptr<PendingAppend>> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool closing_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::thread writer_;

  // Committed groups whose callers are still to be woken (CompletionLoop).
  // Bounded by max_queued_appends plus one group: every entry left the queue.
  absl::Mutex completion_mu_;
  std::deque<std::vector<std::unique_ptr<PendingAppend>>> completed_
      ABSL_GUARDED_BY(completion_mu_);
  bool writer_exited_ ABSL_GUARDED_BY(completion_mu_) = false;
  std::thread completer_;

  mutable absl::Mutex health_mu_;
  absl::Status health_ ABSL_GUARDED_BY(health_mu_);

  // Owned by the writer thread (and by Start before it runs).
  uint64_t next_position_ = 1;
  std::string last_hash_;
  int64_t last_time_us_ = 0;
  // Set from an append that failed for lack of space until an append or a
  // space probe succeeds; health_ then holds that failure.
  bool disk_full_ = false;
  int64_t last_probe_us_ = 0;  // steady clock, of the last ProbeSpace
  int64_t last_expiry_run_us_ = 0;
  // Durable metadata of recently appended streams (bounded by
  // kStreamCacheLimit), so most appends need no RocksDB read.
  absl::flat_hash_map<std::string, StreamMeta> stream_cache_;
  std::string expiry_cursor_;
};

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_LOG_WRITER_H_
