// EventLog over RocksDB: opens the database and wires the log's parts
// together (internal/): LogDb, the shared database and its point reads;
// LogHead, the head position and its listeners; LogWriter, the single
// writer and group commit (writable logs only); LogReader, the reads;
// VerifyChain; SnapshotStore. Each part's header states its contract and
// threads; this file only forwards to them.

#include "eventlog/event_log.h"

#include <rocksdb/db.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "base/durable_dir.h"
#include "base/status_macros.h"
#include "eventlog/internal/log_db.h"
#include "eventlog/internal/log_head.h"
#include "eventlog/internal/log_reader.h"
#include "eventlog/internal/log_writer.h"
#include "eventlog/internal/rocks_db.h"
#include "eventlog/internal/rocks_options.h"
#include "eventlog/internal/snapshot_store.h"
#include "eventlog/internal/verify.h"

namespace vigil::eventlog {

bool IsDiskFull(const absl::Status& status) {
  return status.GetPayload(kDiskFullPayload).has_value();
}

namespace {

using internal::FromRocks;

class RocksEventLog final : public EventLog {
 public:
  RocksEventLog(const Options& options, std::string dir,
                std::unique_ptr<internal::RocksDb> db, bool writable,
                std::string secondary_dir)
      : options_(options),
        db_(std::make_unique<internal::LogDb>(options, std::move(dir),
                                              std::move(db))),
        recent_(options.recent_records, options.recent_records_bytes),
        reader_(db_.get(), &head_, &recent_),
        snapshots_(db_.get(), &head_),
        writable_(writable),
        secondary_dir_(std::move(secondary_dir)) {}

  ~RocksEventLog() override {
    writer_.reset();  // finishes the queued appends
    db_.reset();      // releases the column families, then closes
    if (!secondary_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(secondary_dir_, ignored);
    }
  }

  // Reads the head of the log; for a writable log starts the writer.
  absl::Status Start() {
    ASSIGN_OR_RETURN(std::optional<RecordedEvent> last, db_->LoadLastRecord());
    head_.Publish(last.has_value() ? last->position : 0);
    if (writable_) {
      writer_ = internal::LogWriter::Start(options_, db_.get(), &head_, &recent_,
                                           last);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<AppendResult> Append(const AppendRequest& request) override {
    if (writer_ == nullptr) return ReadOnly("appends");
    return writer_->Append(request);
  }

  void AppendAsync(const AppendRequest& request, AppendCallback done) override {
    if (writer_ == nullptr) {
      done(ReadOnly("appends"));
      return;
    }
    writer_->AppendAsync(request, std::move(done));
  }

  absl::Status WriteHealth() const override {
    if (writer_ == nullptr) return absl::OkStatus();
    return writer_->Health();
  }

  absl::StatusOr<AppendResult> Import(
      const std::vector<RecordedEvent>& events) override {
    if (writer_ == nullptr) return ReadOnly("imports");
    return writer_->Import(events);
  }

  absl::Status WriteSnapshot(
      std::string_view name, uint64_t position,
      const std::vector<SnapshotEntry>& changed) override {
    if (!writable_) return ReadOnly("snapshots");
    return snapshots_.Write(name, position, changed);
  }

  absl::StatusOr<uint64_t> FindSnapshot(std::string_view name,
                                        uint64_t position) const override {
    return snapshots_.Find(name, position);
  }

  absl::StatusOr<std::optional<std::string>> ReadSnapshotEntry(
      std::string_view name, uint64_t position,
      std::string_view key) const override {
    return snapshots_.ReadEntry(name, position, key);
  }

  absl::StatusOr<std::vector<std::optional<std::string>>> ReadSnapshotEntries(
      std::string_view name, uint64_t position,
      const std::vector<std::string>& keys) const override {
    return snapshots_.ReadEntries(name, position, keys);
  }

  absl::Status ScanSnapshot(
      std::string_view name, uint64_t position, std::string_view key_prefix,
      const std::function<void(std::string_view key, std::string_view value)>&
          visit) const override {
    return snapshots_.Scan(name, position, key_prefix, visit);
  }

  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(
      const std::string& stream, uint64_t from_revision, uint64_t max_count,
      bool backwards) const override {
    return reader_.ReadStream(stream, from_revision, max_count, backwards);
  }

  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(
      uint64_t from_position, uint64_t max_count, const Filter& filter,
      uint64_t max_scan, uint64_t* next_position) const override {
    return reader_.ReadAll(from_position, max_count, filter, max_scan,
                           next_position);
  }

  absl::StatusOr<StreamInfo> GetStream(const std::string& stream) const override {
    return reader_.GetStream(stream);
  }

  uint64_t HeadPosition() const override { return head_.Get(); }

  uint64_t WaitForHead(uint64_t position, absl::Time deadline) const override {
    return head_.WaitFor(position, deadline);
  }

  uint64_t AddHeadListener(HeadListener listener) override {
    return head_.AddListener(std::move(listener));
  }

  void RemoveHeadListener(uint64_t handle) override {
    head_.RemoveListener(handle);
  }

  absl::StatusOr<uint64_t> FindPosition(int64_t time_us) const override {
    return reader_.FindPosition(time_us);
  }

  absl::StatusOr<VerifyResult> Verify(uint64_t from, uint64_t to) const override {
    return internal::VerifyChain(*db_, head_, from, to);
  }

  absl::StatusOr<LogStats> Stats() const override { return reader_.Stats(); }
  absl::StatusOr<LogBytes> BytesByKind() const override {
    return reader_.BytesByKind();
  }

  absl::Status Refresh() override {
    if (writable_) return absl::OkStatus();
    absl::ReaderMutexLock db_lock(&db_->mu());
    RETURN_IF_ERROR(
        FromRocks(db_->rocks()->db()->TryCatchUpWithPrimary(), "refresh"));
    ASSIGN_OR_RETURN(std::optional<RecordedEvent> last, db_->LoadLastRecord());
    head_.Publish(last.has_value() ? last->position : 0);
    return absl::OkStatus();
  }

 private:
  // What a log from OpenReader answers to `what` (appends, imports,
  // snapshots).
  static absl::Status ReadOnly(absl::string_view what) {
    return absl::FailedPreconditionError(
        absl::StrCat("the event log was opened read-only; ", what,
                     " need EventLog::Open"));
  }

  const Options options_;
  internal::LogHead head_;
  std::unique_ptr<internal::LogDb> db_;
  // Filled by the writer only; empty on a log from OpenReader.
  internal::RecentRecords recent_;
  const internal::LogReader reader_;
  internal::SnapshotStore snapshots_;
  const bool writable_;
  const std::string secondary_dir_;  // removed on close; empty for a writer
  // Null on a log from OpenReader. Destroyed first: its threads use the
  // others.
  std::unique_ptr<internal::LogWriter> writer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Open(const Options& options,
                                                         const std::string& dir) {
  rocksdb::Options rocks = internal::ToRocksOptions(options);
  if (options.create_if_missing) {
    // RocksDB makes the files it creates in `dir` durable, not `dir`.
    RETURN_IF_ERROR(base::CreateDirectoriesDurably(dir));
  }
  std::unique_ptr<internal::RocksDb> db;
  RETURN_IF_ERROR(FromRocks(internal::RocksDb::Open(rocks, dir, &db),
                            absl::StrCat("opening the event log in ", dir)));
  auto log = std::make_unique<RocksEventLog>(options, dir, std::move(db),
                                             /*writable=*/true, "");
  RETURN_IF_ERROR(log->Start());
  return log;
}

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::OpenReader(
    const Options& options, const std::string& dir) {
  if (!std::filesystem::exists(std::filesystem::path(dir) / "CURRENT")) {
    return absl::NotFoundError(absl::StrCat("no event log in ", dir));
  }
  std::string pattern =
      (std::filesystem::temp_directory_path() / "vigil-reader-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::UnavailableError("cannot create a temporary directory");
  }
  rocksdb::Options rocks = internal::ToRocksOptions(options);
  rocks.create_if_missing = false;
  std::unique_ptr<internal::RocksDb> db;
  rocksdb::Status s =
      internal::RocksDb::OpenAsSecondary(rocks, dir, pattern, &db);
  if (!s.ok()) {
    std::error_code ignored;
    std::filesystem::remove_all(pattern, ignored);
    return FromRocks(s, absl::StrCat("opening the event log in ", dir));
  }
  auto log = std::make_unique<RocksEventLog>(options, dir, std::move(db),
                                             /*writable=*/false, pattern);
  RETURN_IF_ERROR(log->Start());
  return log;
}

}  // namespace vigil::eventlog
