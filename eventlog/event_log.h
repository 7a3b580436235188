// EventLog: Vigil's single source of truth, an append-only log of events in
// RocksDB. Every event gets a global log position (1, 2, 3, ... no gaps) and
// a revision within its stream (0, 1, 2, ...). See docs/contract.md
// "Concepts" for the semantics and FORMAT.md for the bytes on disk.
//
// Thread safety: every method may be called from any thread concurrently.
// Appends are serialised by one internal writer thread that commits
// concurrent appends together (group commit); reads never wait for it.

#ifndef VIGIL_EVENTLOG_EVENT_LOG_H_
#define VIGIL_EVENTLOG_EVENT_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "eventlog/event.h"
#include "eventlog/options.h"

namespace vigil::eventlog {

// The payload key, on an ABORTED status from Append, holding the stream's
// actual last revision as decimal text, or "none" when the stream does not
// exist.
inline constexpr char kActualRevisionPayload[] = "vigil.actual_revision";

// The payload key, on a RESOURCE_EXHAUSTED that asks the caller to come back
// later (the append queue is full) rather than to send less, holding the
// seconds to wait as decimal text. The API layer uses it for its rate limits
// too, and answers such a status with HTTP 429 and Retry-After.
inline constexpr char kRetryAfterPayload[] = "vigil.rate_limited";

// The payload key, on an UNAVAILABLE status whose cause is a full disk
// (ENOSPC; RocksDB's IOError with subcode kNoSpace), holding "ENOSPC".
// The message then starts "the event log's disk is full
// (No space left on device)". The API layer answers such a status with
// HTTP 503 with problem type disk-full (gRPC stays UNAVAILABLE:
// api/status_mapping.h).
inline constexpr char kDiskFullPayload[] = "vigil.disk_full";

// True when `status` carries kDiskFullPayload.
bool IsDiskFull(const absl::Status& status);

// What Verify found. `ok` is false at the first position whose record or
// hash link does not match; `first_bad_position` names it and `problem`
// says what is wrong.
struct VerifyResult {
  bool ok = true;
  uint64_t checked = 0;
  uint64_t first_bad_position = 0;
  std::string problem;
};

struct LogStats {
  uint64_t head_position = 0;
  uint64_t stream_count = 0;
  uint64_t disk_bytes = 0;  // every file of the directory (SSTs, WAL, ...)
};

// The bytes (keys plus values, uncompressed) of each kind of key the log
// holds (FORMAT.md "Keys"), as of one read snapshot.
struct LogBytes {
  uint64_t records = 0;      // p: the events
  uint64_t streams = 0;      // s, m: the stream index
  uint64_t idempotency = 0;  // i, x: idempotency keys
  uint64_t snapshots = 0;    // n, v: snapshots (time travel's folds)
};

class EventLog {
 public:
  // Called with the new head position after each group commit is durable and
  // before its appends are acknowledged, on the writer thread: it must be
  // quick and must not call Append, AddHeadListener or RemoveHeadListener.
  using HeadListener = std::function<void(uint64_t head_position)>;

  // Opens (creating when allowed) the log in `dir` for reading and writing.
  // Only one process may hold a log open for writing.
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const Options& options,
                                                        const std::string& dir);

  // Opens the log in `dir` read-only while another process may be writing it
  // (a RocksDB secondary instance). Its own bookkeeping lives in a private
  // temporary directory. Refresh() picks up what the writer added since.
  // Append fails with FAILED_PRECONDITION on such a log.
  static absl::StatusOr<std::unique_ptr<EventLog>> OpenReader(
      const Options& options, const std::string& dir);

  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;
  // Finishes the appends already queued, then closes.
  virtual ~EventLog() = default;

  // Appends `request.events` atomically to `request.stream`: they get
  // contiguous positions, or nothing is written. Returns only after the
  // events are synced to disk. Errors:
  //   INVALID_ARGUMENT    bad stream name, type, event id, JSON, key; no events
  //   RESOURCE_EXHAUSTED  over a size limit of Options
  //   ABORTED             expected revision mismatch (payload
  //                       kActualRevisionPayload has the actual revision)
  //   FAILED_PRECONDITION idempotency key bound to a different request
  //   UNAVAILABLE         storage failure (disk full, I/O error) or closing
  // A repeated idempotency key with the same request returns the first
  // result with `deduplicated` set and appends nothing.
  virtual absl::StatusOr<AppendResult> Append(const AppendRequest& request) = 0;

  // Append without blocking: checks `request` on the calling thread, queues
  // it, and returns; `done` runs once with the result, on the log's
  // completion thread (or at once on this thread when the request is
  // invalid or the queue is full). `done` must be quick and must not call
  // Append. Same results as Append, plus RESOURCE_EXHAUSTED when
  // Options::max_queued_appends appends are already waiting.
  using AppendCallback = std::function<void(absl::StatusOr<AppendResult>)>;
  virtual void AppendAsync(const AppendRequest& request,
                           AppendCallback done) = 0;

  // Up to `max_count` events of `stream` starting at `from_revision`,
  // forwards, or backwards from it (from_revision UINT64_MAX = the end).
  // NOT_FOUND when the stream does not exist.
  virtual absl::StatusOr<std::vector<RecordedEvent>> ReadStream(
      const std::string& stream, uint64_t from_revision, uint64_t max_count,
      bool backwards) const = 0;

  // Up to `max_count` events with position >= from_position matching
  // `filter`, in position order. At most `max_scan` positions are examined
  // (0 = no bound), so a selective filter cannot turn one call into a scan of
  // the whole log; *next_position (when given) is where to continue.
  virtual absl::StatusOr<std::vector<RecordedEvent>> ReadAll(
      uint64_t from_position, uint64_t max_count, const Filter& filter,
      uint64_t max_scan = 0, uint64_t* next_position = nullptr) const = 0;

  // NOT_FOUND when the stream does not exist.
  virtual absl::StatusOr<StreamInfo> GetStream(
      const std::string& stream) const = 0;

  // The last durable position; 0 for an empty log.
  virtual uint64_t HeadPosition() const = 0;

  // Blocks until HeadPosition() > `position` or `deadline` passes; returns
  // the head position then.
  virtual uint64_t WaitForHead(uint64_t position, absl::Time deadline) const = 0;

  // Registers `listener` for new head positions; returns a handle for
  // RemoveHeadListener. After RemoveHeadListener returns, the listener is not
  // running and will not be called again.
  virtual uint64_t AddHeadListener(HeadListener listener) = 0;
  virtual void RemoveHeadListener(uint64_t handle) = 0;

  // The first position recorded at or after `time_us`; HeadPosition() + 1
  // when no event is that recent.
  virtual absl::StatusOr<uint64_t> FindPosition(int64_t time_us) const = 0;

  // Walks the hash chain over positions [from, to] (to = 0: the head) and
  // checks every record, its position and its link to the one before.
  virtual absl::StatusOr<VerifyResult> Verify(uint64_t from,
                                              uint64_t to) const = 0;

  virtual absl::StatusOr<LogStats> Stats() const = 0;

  // Reads every key of the log (its whole size: seconds per GB) and adds
  // up their bytes by kind. UNIMPLEMENTED where the log is not local.
  virtual absl::StatusOr<LogBytes> BytesByKind() const {
    return absl::UnimplementedError("this log does not count its bytes");
  }

  // Whether appends can be written now, as far as the log knows: OK, or,
  // from the first append that failed for lack of space until an append
  // (or the writer's space probe, once a second while idle) succeeds, that
  // failure (UNAVAILABLE with kDiskFullPayload). Reads are not affected.
  // Quick; any thread. /readyz answers it.
  virtual absl::Status WriteHealth() const { return absl::OkStatus(); }

  // For a log from OpenReader: catches up with what the writer has made
  // durable. A no-op on a writable log.
  virtual absl::Status Refresh() = 0;

  // Appends events exactly as another log recorded them (`vigil import`):
  // same event ids, streams, revisions, positions, times and hashes. The
  // first must be at HeadPosition() + 1 and the rest contiguous; each
  // revision must continue its stream; recorded times must not decrease;
  // and each hash must be SHA-256 over this log's previous hash and the
  // event's canonical bytes, so an imported log verifies exactly as the
  // original did. All land in one group commit, or none do. Idempotency
  // keys are not carried over. INVALID_ARGUMENT (naming the position) when
  // a check fails; otherwise as Append.
  virtual absl::StatusOr<AppendResult> Import(
      const std::vector<RecordedEvent>& events) {
    (void)events;
    return Unimplemented("Import");
  }

  // ---- Snapshots (FORMAT.md "Snapshots") --------------------------------
  // (Import and these have defaults for test doubles: see Unimplemented.)
  // State derived from the log, kept beside it so that a reader need not
  // replay from position 1 (time travel keeps its folds here). A snapshot
  // `name` at `position` is a set of keyed values. Each write stores only
  // the entries that changed since the previous snapshot of that name; a
  // read at a snapshot sees each key's last value written at or before it.
  // Snapshots are outside the hash chain, not synced (a lost one is rebuilt
  // from the log), and only a writable log writes them.

  // A changed entry: key (non-empty, no '\0') and its new value.
  using SnapshotEntry = std::pair<std::string, std::string>;

  // Writes `changed` as snapshot `name` at `position` and marks it
  // complete, in one batch. INVALID_ARGUMENT for position 0 or past the
  // head, or a bad name or key; FAILED_PRECONDITION on a log from
  // OpenReader.
  virtual absl::Status WriteSnapshot(
      std::string_view name, uint64_t position,
      const std::vector<SnapshotEntry>& changed) {
    (void)name, (void)position, (void)changed;
    return Unimplemented("WriteSnapshot");
  }

  // The position of the last complete snapshot `name` at or before
  // `position`; 0 when there is none.
  virtual absl::StatusOr<uint64_t> FindSnapshot(std::string_view name,
                                                uint64_t position) const {
    (void)name, (void)position;
    return 0;  // none
  }

  // The value of `key` in snapshot `name` at `position` (a position
  // FindSnapshot returned); nullopt when the key had no value then.
  virtual absl::StatusOr<std::optional<std::string>> ReadSnapshotEntry(
      std::string_view name, uint64_t position, std::string_view key) const {
    (void)name, (void)position, (void)key;
    return Unimplemented("ReadSnapshotEntry");
  }

  // The values of `keys` in snapshot `name` at `position`, in the order of
  // `keys`: as ReadSnapshotEntry for each, one iterator going in key order
  // (near keys cost a step each from the last, not a seek each).
  virtual absl::StatusOr<std::vector<std::optional<std::string>>>
  ReadSnapshotEntries(std::string_view name, uint64_t position,
                      const std::vector<std::string>& keys) const {
    std::vector<std::optional<std::string>> values;
    for (const std::string& key : keys) {
      absl::StatusOr<std::optional<std::string>> value =
          ReadSnapshotEntry(name, position, key);
      if (!value.ok()) return value.status();
      values.push_back(*std::move(value));
    }
    return values;
  }

  // Calls `visit(key, value)` for every key starting with `key_prefix` that
  // has a value in snapshot `name` at `position`, in key order.
  virtual absl::Status ScanSnapshot(
      std::string_view name, uint64_t position, std::string_view key_prefix,
      const std::function<void(std::string_view key, std::string_view value)>&
          visit) const {
    (void)name, (void)position, (void)key_prefix, (void)visit;
    return Unimplemented("ScanSnapshot");
  }

 protected:
  EventLog() = default;

 private:
  // Import and the snapshot methods have defaults so that test doubles of
  // the log need not implement them: no snapshots, no imports.
  static absl::Status Unimplemented(std::string_view what) {
    return absl::UnimplementedError(
        std::string(what) + " is not supported by this event log");
  }
};

}  // namespace vigil::eventlog

#endif  // VIGIL_EVENTLOG_EVENT_LOG_H_
