#include "eventlog/event_log.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>
#include <pthread.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "eventlog/internal/codec.h"
#include "eventlog/internal/rocks_db.h"
#include "eventlog/internal/rocks_options.h"
#include "eventlog/internal/validation.h"
#include "eventlog/status_macros.h"

namespace vigil::eventlog {
namespace {

using internal::IdempotencyRecord;
using internal::StreamMeta;

const std::string kGenesisHash(internal::kHashBytes, '\0');

// How often the writer deletes a slice of expired idempotency keys.
constexpr int64_t kExpiryIntervalUs = 1000 * 1000;

absl::Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(message);
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (s.IsNotSupported()) return absl::FailedPreconditionError(message);
  // I/O errors, a full disk, a busy lock, a DB stopped after a background
  // error: the caller may try again later.
  return absl::UnavailableError(message);
}

int64_t SystemNowUs() { return absl::ToUnixMicros(absl::Now()); }

std::string QuoteStream(absl::string_view stream) {
  return absl::StrCat("stream \"", stream, "\"");
}

// One append on its way through the writer, owned by the queue from
// enqueueing until the completion thread hands `result` to `done`.
struct PendingAppend {
  AppendRequest request;
  // Set for EventLog::Import: events as another log recorded them.
  std::vector<RecordedEvent> imported;
  // The events' records with position, revision, time and hash still to
  // fill in (internal::PrepareRecord): encoded on the appending thread,
  // completed by the writer.
  std::vector<std::string> records;
  std::string fingerprint;        // set when the request has a key
  size_t bytes = 0;
  absl::StatusOr<AppendResult> result = absl::UnknownError("not committed");
  EventLog::AppendCallback done;
};

// Most streams whose metadata the writer keeps in memory. Past it the cache
// is dropped and refilled from RocksDB as appends come.
constexpr size_t kStreamCacheLimit = 65536;

class RocksEventLog final : public EventLog {
 public:
  RocksEventLog(const Options& options, std::string dir,
                std::unique_ptr<internal::RocksDb> db, bool writable,
                std::string secondary_dir)
      : options_(options),
        dir_(std::move(dir)),
        db_(std::move(db)),
        writable_(writable),
        secondary_dir_(std::move(secondary_dir)) {}

  ~RocksEventLog() override {
    if (writer_.joinable()) {
      {
        absl::MutexLock lock(&queue_mu_);
        closing_ = true;
      }
      writer_.join();
      {
        absl::MutexLock lock(&completion_mu_);
        writer_exited_ = true;
      }
      completer_.join();
    }
    db_.reset();  // releases the column families, then closes
    if (!secondary_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(secondary_dir_, ignored);
    }
  }

  // Reads the head of the log; for a writable log starts the writer.
  absl::Status Start() {
    ASSIGN_OR_RETURN(std::optional<RecordedEvent> last, LoadLastRecord());
    if (last.has_value()) {
      next_position_ = last->position + 1;
      last_hash_ = last->hash;
      last_time_us_ = last->recorded_time_us;
    } else {
      next_position_ = 1;
      last_hash_ = kGenesisHash;
      last_time_us_ = 0;
    }
    PublishHead(next_position_ - 1);
    if (writable_) {
      writer_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "vigil-writer");  // for ps, perf
        WriterLoop();
      });
      completer_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "vigil-complete");
        CompletionLoop();
      });
    }
    return absl::OkStatus();
  }

  absl::StatusOr<AppendResult> Append(const AppendRequest& request) override {
    // One notification per caller, so the completion thread wakes exactly
    // the callers it has answered. Abseil allows destroying it as soon as
    // WaitForNotification returns, even while Notify() is finishing.
    absl::Notification notified;
    absl::StatusOr<AppendResult> result = absl::UnknownError("not answered");
    Enqueue(request, /*block_when_full=*/true,
            [&](absl::StatusOr<AppendResult> r) {
              result = std::move(r);
              notified.Notify();
            });
    notified.WaitForNotification();
    return result;
  }

  void AppendAsync(const AppendRequest& request, AppendCallback done) override {
    Enqueue(request, /*block_when_full=*/false, std::move(done));
  }

  absl::StatusOr<AppendResult> Import(
      const std::vector<RecordedEvent>& events) override {
    if (!writable_) {
      return absl::FailedPreconditionError(
          "the event log was opened read-only; imports need EventLog::Open");
    }
    if (events.empty()) return absl::InvalidArgumentError("nothing to import");
    auto pending = std::make_unique<PendingAppend>();
    for (const RecordedEvent& event : events) {
      RETURN_IF_ERROR(internal::ValidateStreamName(event.stream));
      RETURN_IF_ERROR(internal::ValidateEventType(event.type));
      pending->bytes += event.data.size() + event.metadata.size();
    }
    pending->imported = events;
    pending->request.stream = events.front().stream;  // for messages
    absl::Notification notified;
    absl::StatusOr<AppendResult> result = absl::UnknownError("not answered");
    pending->done = [&](absl::StatusOr<AppendResult> r) {
      result = std::move(r);
      notified.Notify();
    };
    absl::Status refused;
    {
      absl::MutexLock lock(&queue_mu_);
      auto has_room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return closing_ || queue_.size() < options_.max_queued_appends;
      };
      queue_mu_.Await(absl::Condition(&has_room));
      if (closing_) {
        refused = absl::UnavailableError("import refused: the log is closing");
      } else {
        queue_.push_back(std::move(pending));
      }
    }
    if (!refused.ok()) return refused;
    notified.WaitForNotification();
    return result;
  }

  absl::Status WriteSnapshot(
      std::string_view name, uint64_t position,
      const std::vector<SnapshotEntry>& changed) override {
    if (!writable_) {
      return absl::FailedPreconditionError(
          "the event log was opened read-only; snapshots need EventLog::Open");
    }
    RETURN_IF_ERROR(CheckSnapshotName(name));
    if (position == 0 || position > HeadPosition()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "snapshot position ", position, " is not in 1..head ",
          HeadPosition()));
    }
    absl::ReaderMutexLock db_lock(&db_mu_);
    RETURN_IF_ERROR(CheckOpen());
    rocksdb::WriteBatch batch;
    std::string position_bytes;
    internal::PutBigEndian64(&position_bytes, position);
    for (const auto& [key, value] : changed) {
      if (key.empty() || key.find('\0') != std::string::npos) {
        return absl::InvalidArgumentError(
            "a snapshot key is empty or holds a NUL byte");
      }
      std::string raw = internal::SnapshotEntryPrefix(name, key);
      raw.push_back('\0');
      raw.append(position_bytes);
      batch.Put(db_->index(), raw, value).PermitUncheckedError();
    }
    batch.Put(db_->index(), internal::SnapshotKey(name, position), "")
        .PermitUncheckedError();
    return FromRocks(db_->db()->Write({}, &batch), "writing a snapshot");
  }

  absl::StatusOr<uint64_t> FindSnapshot(std::string_view name,
                                        uint64_t position) const override {
    RETURN_IF_ERROR(CheckSnapshotName(name));
    absl::ReaderMutexLock db_lock(&db_mu_);
    RETURN_IF_ERROR(CheckOpen());
    const std::string prefix = internal::SnapshotKey(name, 0).substr(
        0, 1 + name.size() + 1);
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator({}, db_->index()));
    it->SeekForPrev(internal::SnapshotKey(name, position));
    RETURN_IF_ERROR(FromRocks(it->status(), "finding a snapshot"));
    if (!it->Valid() || !it->key().starts_with(prefix) ||
        it->key().size() != prefix.size() + 8) {
      return 0;
    }
    return internal::GetBigEndian64(
        it->key().ToStringView().substr(prefix.size()));
  }

  absl::StatusOr<std::optional<std::string>> ReadSnapshotEntry(
      std::string_view name, uint64_t position,
      std::string_view key) const override {
    RETURN_IF_ERROR(CheckSnapshotName(name));
    absl::ReaderMutexLock db_lock(&db_mu_);
    RETURN_IF_ERROR(CheckOpen());
    std::string prefix = internal::SnapshotEntryPrefix(name, key);
    prefix.push_back('\0');
    std::string target = prefix;
    internal::PutBigEndian64(&target, position);
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator({}, db_->index()));
    it->SeekForPrev(target);
    RETURN_IF_ERROR(FromRocks(it->status(), "reading a snapshot"));
    if (!it->Valid() || !it->key().starts_with(prefix) ||
        it->key().size() != prefix.size() + 8) {
      return std::nullopt;
    }
    return it->value().ToString();
  }

  absl::Status ScanSnapshot(
      std::string_view name, uint64_t position, std::string_view key_prefix,
      const std::function<void(std::string_view key, std::string_view value)>&
          visit) const override {
    RETURN_IF_ERROR(CheckSnapshotName(name));
    absl::ReaderMutexLock db_lock(&db_mu_);
    RETURN_IF_ERROR(CheckOpen());
    const std::string start = internal::SnapshotEntryPrefix(name, key_prefix);
    const size_t key_begin = 1 + name.size() + 1;
    std::string upper = internal::SnapshotEntryPrefix(name, "");
    upper.back() = '\1';  // just past every entry of `name`
    rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions read;
    read.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator(read, db_->index()));
    // Versions of one key are adjacent, by position. A key with few
    // versions is stepped through; after kStepVersions of them the scan
    // seeks to its last version at or before `position`, then past the key.
    constexpr int kStepVersions = 4;
    std::string current_key;
    std::string current_value;
    bool have = false;
    int stepped = 0;
    std::string target;
    it->Seek(start);
    while (it->Valid()) {
      const std::string_view raw = it->key().ToStringView();
      if (!raw.starts_with(start) || raw.size() < key_begin + 9) break;
      const std::string_view key =
          raw.substr(key_begin, raw.size() - key_begin - 9);
      const uint64_t version = internal::GetBigEndian64(raw.substr(raw.size() - 8));
      if (key != current_key) {
        if (have) visit(current_key, current_value);
        have = false;
        stepped = 0;
        current_key.assign(key);
      }
      if (version > position) {  // the rest of this key is too new
        target.assign(raw.substr(0, raw.size() - 8));
        target.append(8, '\xff');
        it->Seek(target);
        continue;
      }
      if (++stepped > kStepVersions) {
        target.assign(raw.substr(0, raw.size() - 8));
        internal::PutBigEndian64(&target, position);
        it->SeekForPrev(target);  // this key's last version <= position
        current_value.assign(it->value().ToStringView());
        have = true;
        target.resize(target.size() - 8);
        target.append(8, '\xff');
        it->Seek(target);
        continue;
      }
      current_value.assign(it->value().ToStringView());
      have = true;
      it->Next();
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "scanning a snapshot"));
    if (have) visit(current_key, current_value);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(
      const std::string& stream, uint64_t from_revision, uint64_t max_count,
      bool backwards) const override {
    absl::ReaderMutexLock db_lock(&db_mu_);
    RETURN_IF_ERROR(CheckOpen());
    RETURN_IF_ERROR(internal::ValidateStreamName(stream));
    ASSIGN_OR_RETURN(std::optional<StreamMeta> meta, LoadStreamMeta(stream));
    if (!meta.has_value()) {
      return absl::NotFoundError(absl::StrCat(QuoteStream(stream), " not found"));
    }
    std::vector<uint64_t> positions;
    const std::string prefix = internal::RevisionKeyPrefix(stream);
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator({}, db_->index()));
    auto full = [&] { return max_count != 0 && positions.size() >= max_count; };
    // Each index entry covers one append's revisions (RevisionRange): start
    // at the entry that holds the first revision wanted, then walk entries.
    if (backwards) {
      const uint64_t start = std::min(from_revision, meta->last_revision);
      it->SeekForPrev(internal::RevisionKey(stream, start));
      while (!full()) {
        ASSIGN_OR_RETURN(std::optional<internal::RevisionRange> range,
                         RangeAt(*it, prefix, stream));
        if (!range.has_value()) break;
        for (uint64_t r = std::min(range->last_revision(), start);; --r) {
          positions.push_back(range->PositionOf(r));
          if (full() || r == range->first_revision) break;
        }
        it->Prev();
      }
    } else {
      it->SeekForPrev(internal::RevisionKey(stream, from_revision));
      if (!it->Valid() || !it->key().starts_with(prefix)) {
        it->Seek(internal::RevisionKey(stream, from_revision));
      }
      while (!full()) {
        ASSIGN_OR_RETURN(std::optional<internal::RevisionRange> range,
                         RangeAt(*it, prefix, stream));
        if (!range.has_value()) break;
        for (uint64_t r = std::max(range->first_revision, from_revision);
             r <= range->last_revision() && !full(); ++r) {
          positions.push_back(range->PositionOf(r));
        }
        it->Next();
      }
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "reading " + QuoteStream(stream)));
    std::vector<RecordedEvent> events;
    events.reserve(positions.size());
    for (uint64_t position : positions) {
      ASSIGN_OR_RETURN(std::optional<RecordedEvent> event, LoadRecord(position));
      if (!event.has_value()) {
        return absl::DataLossError(absl::StrCat(
            QuoteStream(stream), " names position ", position,
            " which holds no record"));
      }
      events.push_back(*std::move(event));
    }
    return events;
  }

  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(
      uint64_t from_position, uint64_t max_count, const Filter& filter,
      uint64_t max_scan, uint64_t* next_position) const override {
    absl::ReaderMutexLock db_lock(&db_mu_);
    RETURN_IF_ERROR(CheckOpen());
    std::vector<RecordedEvent> events;
    uint64_t next = std::max<uint64_t>(from_position, 1);
    uint64_t scanned = 0;
    const std::string upper(1, internal::kRecordPrefix + 1);
    rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions read;
    read.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator(read, db_->records()));
    for (it->Seek(internal::RecordKey(next)); it->Valid(); it->Next()) {
      if ((max_count != 0 && events.size() >= max_count) ||
          (max_scan != 0 && scanned >= max_scan)) {
        break;
      }
      std::optional<RecordedEvent> event =
          internal::DecodeRecord(it->value().ToStringView());
      if (!event.has_value()) {
        return absl::DataLossError(
            absl::StrCat("the record at position ", next, " does not decode"));
      }
      next = event->position + 1;
      ++scanned;
      if (filter.Matches(*event)) events.push_back(*std::move(event));
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "reading all"));
    if (next_position != nullptr) *next_position = next;
    return events;
  }

  absl::StatusOr<StreamInfo> GetStream(const std::string& stream) const override {
    absl::ReaderMutexLock db_lock(&db_mu_);
    RETURN_IF_ERROR(CheckOpen());
    RETURN_IF_ERROR(internal::ValidateStreamName(stream));
    ASSIGN_OR_RETURN(std::optional<StreamMeta> meta, LoadStreamMeta(stream));
    if (!meta.has_value()) {
      return absl::NotFoundError(absl::StrCat(QuoteStream(stream), " not found"));
    }
    return StreamInfo{.stream = stream,
                      .last_revision = meta->last_revision,
                      .last_position = meta->last_position,
                      .event_count = meta->last_revision + 1,
                      .created_time_us = meta->created_time_us,
                      .updated_time_us = meta->updated_time_us};
  }

  uint64_t HeadPosition() const override {
    return head_.load(std::memory_order_acquire);
  }

  uint64_t WaitForHead(uint64_t position, absl::Time deadline) const override {
    absl::MutexLock lock(&head_mu_);
    auto past = [this, position] {
      return head_.load(std::memory_order_acquire) > position;
    };
    head_mu_.AwaitWithDeadline(absl::Condition(&past), deadline);
    return head_.load(std::memory_order_acquire);
  }

  uint64_t AddHeadListener(HeadListener listener) override {
    absl::MutexLock lock(&listeners_mu_);
    const uint64_t handle = next_listener_++;
    listeners_.emplace(handle, std::move(listener));
    return handle;
  }

  void RemoveHeadListener(uint64_t handle) override {
    // Listeners run under listeners_mu_, so once we hold it the listener is
    // not running, and after the erase it is never called again.
    absl::MutexLock lock(&listeners_mu_);
    listeners_.erase(handle);
  }

  absl::StatusOr<uint64_t> FindPosition(int64_t time_us) const override {
    absl::ReaderMutexLock db_lock(&db_mu_);
    RETURN_IF_ERROR(CheckOpen());
    // Recorded times never decrease in position order: binary search.
    uint64_t lo = 1;
    uint64_t hi = HeadPosition() + 1;  // answer in [lo, hi]
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo) / 2;
      ASSIGN_OR_RETURN(std::optional<RecordedEvent> event, LoadRecord(mid));
      if (!event.has_value()) {
        return absl::DataLossError(
            absl::StrCat("no record at position ", mid, " below the head"));
      }
      if (event->recorded_time_us >= time_us) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

  absl::StatusOr<VerifyResult> Verify(uint64_t from, uint64_t to) const override {
    absl::ReaderMutexLock db_lock(&db_mu_);
    RETURN_IF_ERROR(CheckOpen());
    VerifyResult result;
    const uint64_t head = HeadPosition();
    from = std::max<uint64_t>(from, 1);
    to = (to == 0 || to > head) ? head : to;
    if (from > to) return result;
    auto bad = [&result](uint64_t position, std::string problem) {
      result.ok = false;
      result.first_bad_position = position;
      result.problem = std::move(problem);
      return result;
    };
    std::string previous_hash = kGenesisHash;
    if (from > 1) {
      ASSIGN_OR_RETURN(std::optional<RecordedEvent> before, LoadRecord(from - 1));
      if (!before.has_value()) {
        return bad(from - 1, "record missing or does not decode");
      }
      previous_hash = before->hash;
    }
    const std::string upper = internal::RecordKey(to + 1);
    rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions read;
    read.iterate_upper_bound = &upper_bound;
    read.verify_checksums = true;
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator(read, db_->records()));
    std::unique_ptr<rocksdb::Iterator> index(db_->db()->NewIterator({}, db_->index()));
    uint64_t expected = from;
    for (it->Seek(internal::RecordKey(from)); it->Valid(); it->Next()) {
      const uint64_t key_position =
          internal::GetBigEndian64(it->key().ToStringView().substr(1));
      if (key_position != expected) {
        return bad(expected, absl::StrCat("record missing (the next one is at ",
                                          key_position, ")"));
      }
      const std::string_view value = it->value().ToStringView();
      std::optional<RecordedEvent> event = internal::DecodeRecord(value);
      if (!event.has_value()) return bad(expected, "record does not decode");
      if (event->position != key_position) {
        return bad(expected, absl::StrCat("record says it is at position ",
                                          event->position));
      }
      if (internal::ChainHash(previous_hash,
                              internal::RecordCanonicalPart(value)) !=
          event->hash) {
        return bad(expected,
                   "hash does not match the record and the previous hash");
      }
      index->SeekForPrev(internal::RevisionKey(event->stream, event->revision));
      RETURN_IF_ERROR(FromRocks(index->status(), "verify"));
      std::optional<internal::RevisionRange> range;
      if (index->Valid()) {
        range = internal::DecodeRevisionRange(
            internal::RevisionKeyPrefix(event->stream),
            index->key().ToStringView(), index->value().ToStringView());
      }
      if (!range.has_value() || !range->Contains(event->revision) ||
          range->PositionOf(event->revision) != key_position) {
        return bad(expected,
                   absl::StrCat("revision ", event->revision, " of ",
                                QuoteStream(event->stream),
                                " does not point at this position"));
      }
      previous_hash = event->hash;
      ++expected;
      ++result.checked;
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "verify"));
    if (expected != to + 1) return bad(expected, "record missing");
    return result;
  }

  absl::StatusOr<LogStats> Stats() const override {
    absl::ReaderMutexLock db_lock(&db_mu_);
    RETURN_IF_ERROR(CheckOpen());
    LogStats stats;
    stats.head_position = HeadPosition();
    const std::string upper(1, internal::kStreamPrefix + 1);
    rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions read;
    read.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator(read, db_->index()));
    for (it->Seek(std::string(1, internal::kStreamPrefix)); it->Valid();
         it->Next()) {
      ++stats.stream_count;
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "stats"));
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(dir_, ec)) {
      if (entry.is_regular_file(ec)) stats.disk_bytes += entry.file_size(ec);
    }
    return stats;
  }

  absl::Status Refresh() override {
    if (writable_) return absl::OkStatus();
    absl::ReaderMutexLock db_lock(&db_mu_);
    RETURN_IF_ERROR(FromRocks(db_->db()->TryCatchUpWithPrimary(), "refresh"));
    ASSIGN_OR_RETURN(std::optional<RecordedEvent> last, LoadLastRecord());
    PublishHead(last.has_value() ? last->position : 0);
    return absl::OkStatus();
  }

 private:
  static absl::Status CheckSnapshotName(std::string_view name) {
    if (name.empty() || name.find('\0') != std::string_view::npos) {
      return absl::InvalidArgumentError(
          "a snapshot name is empty or holds a NUL byte");
    }
    return absl::OkStatus();
  }

  absl::Status CheckOpen() const ABSL_SHARED_LOCKS_REQUIRED(db_mu_) {
    if (db_ != nullptr) return absl::OkStatus();
    return absl::UnavailableError(
        "the event log is reopening after a storage failure; try again");
  }

  int64_t NowUs() const {
    return options_.clock ? options_.clock() : SystemNowUs();
  }

  // Validates on the calling thread, then queues for the writer. `done`
  // runs at once here when the request fails its checks.
  void Enqueue(const AppendRequest& request, bool block_when_full,
               AppendCallback done) {
    if (!writable_) {
      done(absl::FailedPreconditionError(
          "the event log was opened read-only; appends need EventLog::Open"));
      return;
    }
    auto pending = std::make_unique<PendingAppend>();
    if (absl::Status s = internal::ValidateAndPrepare(
            request, options_, NowUs(), &pending->records, &pending->bytes);
        !s.ok()) {
      done(std::move(s));
      return;
    }
    if (!request.idempotency_key.empty()) {
      pending->fingerprint = internal::RequestFingerprint(request);
    }
    pending->request.stream = request.stream;
    pending->request.expected_revision = request.expected_revision;
    pending->request.idempotency_key = request.idempotency_key;
    pending->done = std::move(done);
    absl::Status refused;
    {
      absl::MutexLock lock(&queue_mu_);
      auto has_room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return closing_ || queue_.size() < options_.max_queued_appends;
      };
      if (block_when_full) queue_mu_.Await(absl::Condition(&has_room));
      if (closing_) {
        refused = absl::UnavailableError(
            absl::StrCat("append to ", QuoteStream(request.stream),
                         " refused: the event log is closing"));
      } else if (!has_room()) {
        refused = absl::ResourceExhaustedError(absl::StrCat(
            "append to ", QuoteStream(request.stream), " refused: ",
            options_.max_queued_appends, " appends are already queued"));
        refused.SetPayload(kRetryAfterPayload, absl::Cord("1"));
      } else {
        queue_.push_back(std::move(pending));
      }
    }
    if (!refused.ok()) pending->done(std::move(refused));
  }

  void PublishHead(uint64_t head) {
    absl::MutexLock lock(&head_mu_);  // wakes WaitForHead
    head_.store(head, std::memory_order_release);
  }

  absl::StatusOr<std::optional<std::string>> Load(const std::string& key) const {
    std::string value;
    rocksdb::Status s = db_->db()->Get({}, db_->For(key), key, &value);
    if (s.IsNotFound()) return std::nullopt;
    RETURN_IF_ERROR(FromRocks(s, "read"));
    return value;
  }

  absl::StatusOr<std::optional<RecordedEvent>> LoadRecord(uint64_t position) const {
    ASSIGN_OR_RETURN(std::optional<std::string> value,
                     Load(internal::RecordKey(position)));
    if (!value.has_value()) return std::nullopt;
    std::optional<RecordedEvent> event = internal::DecodeRecord(*value);
    if (!event.has_value()) {
      return absl::DataLossError(
          absl::StrCat("the record at position ", position, " does not decode"));
    }
    return event;
  }

  absl::StatusOr<std::optional<RecordedEvent>> LoadLastRecord() const {
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator({}, db_->records()));
    it->SeekForPrev(internal::RecordKey(UINT64_MAX));
    RETURN_IF_ERROR(FromRocks(it->status(), "finding the head"));
    if (!it->Valid() || it->key().size() != 9 ||
        it->key()[0] != internal::kRecordPrefix) {
      return std::nullopt;
    }
    std::optional<RecordedEvent> event =
        internal::DecodeRecord(it->value().ToStringView());
    if (!event.has_value()) {
      return absl::DataLossError("the last record of the log does not decode");
    }
    return event;
  }

  // The stream's metadata: its creation time from its StreamKey, its last
  // revision and position from its last revision key, and its update time
  // from that last record.
  absl::StatusOr<std::optional<StreamMeta>> LoadStreamMeta(
      const std::string& stream) const {
    ASSIGN_OR_RETURN(std::optional<std::string> value,
                     Load(internal::StreamKey(stream)));
    if (!value.has_value()) return std::nullopt;
    std::optional<int64_t> created = internal::DecodeStreamCreated(*value);
    const std::string prefix = internal::RevisionKeyPrefix(stream);
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator({}, db_->index()));
    it->SeekForPrev(internal::RevisionKey(stream, UINT64_MAX));
    RETURN_IF_ERROR(FromRocks(it->status(), "reading " + QuoteStream(stream)));
    std::optional<internal::RevisionRange> last_range;
    if (it->Valid()) {
      last_range = internal::DecodeRevisionRange(prefix, it->key().ToStringView(),
                                                 it->value().ToStringView());
    }
    if (!created.has_value() || !last_range.has_value()) {
      return absl::DataLossError(
          absl::StrCat("the metadata of ", QuoteStream(stream), " is damaged"));
    }
    StreamMeta meta{.last_revision = last_range->last_revision(),
                    .last_position = last_range->last_position(),
                    .created_time_us = *created};
    ASSIGN_OR_RETURN(std::optional<RecordedEvent> last,
                     LoadRecord(meta.last_position));
    if (!last.has_value()) {
      return absl::DataLossError(absl::StrCat(
          QuoteStream(stream), " names position ", meta.last_position,
          " which holds no record"));
    }
    meta.updated_time_us = last->recorded_time_us;
    return meta;
  }

  // The stream-index entry under `it` when it is one of `stream`'s (whose
  // RevisionKeyPrefix is `prefix`); DataLoss when that entry is damaged.
  static absl::StatusOr<std::optional<internal::RevisionRange>> RangeAt(
      const rocksdb::Iterator& it, const std::string& prefix,
      const std::string& stream) {
    if (!it.Valid()) return std::nullopt;
    const std::string_view key = it.key().ToStringView();
    if (!key.starts_with(prefix) || key.size() != prefix.size() + 8) {
      return std::nullopt;
    }
    std::optional<internal::RevisionRange> range = internal::DecodeRevisionRange(
        prefix, key, it.value().ToStringView());
    if (!range.has_value()) {
      return absl::DataLossError(absl::StrCat(
          "a stream-index entry of ", QuoteStream(stream), " is damaged"));
    }
    return range;
  }

  absl::StatusOr<std::optional<IdempotencyRecord>> LoadIdempotency(
      std::string_view key) const {
    ASSIGN_OR_RETURN(std::optional<std::string> value,
                     Load(internal::IdempotencyKey(key)));
    if (!value.has_value()) return std::nullopt;
    return internal::DecodeIdempotencyRecord(*value);
  }

  // ---- The writer thread -------------------------------------------------

  // The state of one group commit before it is durable.
  struct Group {
    // Expiry deletes, then appended records as they are staged (positions
    // ascend), then `puts`.
    rocksdb::WriteBatch batch;
    // Index keys (and imported records) of the group, sorted before they go
    // into the batch: RocksDB's memtable skiplist reuses its insertion point
    // for keys that follow each other, so sorted inserts cost a fraction of
    // interleaved ones (measured: the writer's largest cost before).
    std::vector<std::pair<std::string, std::string>> puts;
    absl::flat_hash_map<std::string, StreamMeta> streams;
    std::vector<std::string> created;  // streams this group creates
    absl::flat_hash_map<std::string, IdempotencyRecord> keys;
    uint64_t next_position = 0;
    std::string last_hash;
    int64_t time_us = 0;
    int64_t last_event_time_us = 0;  // of the group's last event so far
  };

  void WriterLoop() {
    while (true) {
      std::vector<std::unique_ptr<PendingAppend>> group;
      {
        absl::MutexLock lock(&queue_mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
          return closing_ || !queue_.empty();
        };
        queue_mu_.Await(absl::Condition(&ready));
        if (queue_.empty()) return;  // closing, and nothing left to commit
        size_t bytes = 0;
        while (!queue_.empty() && group.size() < options_.max_group_appends &&
               (group.empty() ||
                bytes + queue_.front()->bytes <= options_.max_group_bytes)) {
          bytes += queue_.front()->bytes;
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      const bool advanced = CommitGroup(group);
      // Listeners hear of the new head before any of its appends is
      // acknowledged, so a caller that got its answer can rely on them.
      if (advanced) NotifyListeners(next_position_ - 1);
      {
        absl::MutexLock lock(&completion_mu_);
        completed_.push_back(std::move(group));
      }
    }
  }

  // Wakes the callers of committed groups. Waking a blocked thread costs a
  // futex syscall; done on the writer thread, ~60 of them per group took as
  // long as the group's fsync (measured with 64 appenders), so the writer
  // hands them here and goes on with the next group.
  void CompletionLoop() {
    while (true) {
      std::deque<std::vector<std::unique_ptr<PendingAppend>>> groups;
      {
        absl::MutexLock lock(&completion_mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(completion_mu_) {
          return writer_exited_ || !completed_.empty();
        };
        completion_mu_.Await(absl::Condition(&ready));
        if (completed_.empty()) return;  // the writer is gone, all answered
        groups.swap(completed_);
      }
      for (const auto& group : groups) {
        for (const auto& pending : group) {
          pending->done(std::move(pending->result));
        }
      }
    }
  }

  // Checks and writes one group in one synced WriteBatch. Returns true when
  // the head advanced.
  bool CommitGroup(const std::vector<std::unique_ptr<PendingAppend>>& pending_appends) {
    if (needs_reopen_) {
      absl::Status reopened = Reopen();
      if (!reopened.ok()) {
        FailGroup(pending_appends, reopened.ToString());
        return false;
      }
    }
    Group group;
    group.next_position = next_position_;
    group.last_hash = last_hash_;
    group.time_us = std::max(NowUs(), last_time_us_);
    group.last_event_time_us = last_time_us_;
    ExpireIdempotencyKeys(&group);
    for (const auto& pending : pending_appends) {
      pending->result = pending->imported.empty()
                            ? ApplyAppend(*pending, &group)
                            : ApplyImport(*pending, &group);
    }
    // New streams' creation times, and idempotency records, once per group.
    for (const std::string& stream : group.created) {
      group.puts.emplace_back(
          internal::StreamKey(stream),
          internal::EncodeStreamCreated(group.streams[stream].created_time_us));
    }
    for (const auto& [key, record] : group.keys) {
      group.puts.emplace_back(internal::IdempotencyKey(key),
                              internal::EncodeIdempotencyRecord(record));
      group.puts.emplace_back(internal::ExpiryKey(record.created_time_us, key),
                              "");
    }
    std::sort(group.puts.begin(), group.puts.end());
    for (const auto& [key, value] : group.puts) group.batch.Put(db_->For(key), key, value);
    if (group.batch.Count() == 0) return false;
    rocksdb::WriteOptions write;
    write.sync = true;
    rocksdb::Status s = db_->db()->Write(write, &group.batch);
    if (!s.ok()) {
      needs_reopen_ = true;
      FailGroup(pending_appends, s.ToString());
      return false;
    }
    const bool advanced = group.next_position != next_position_;
    if (stream_cache_.size() + group.streams.size() > kStreamCacheLimit) {
      stream_cache_.clear();
    }
    for (auto& [stream, meta] : group.streams) stream_cache_[stream] = meta;
    next_position_ = group.next_position;
    last_hash_ = std::move(group.last_hash);
    last_time_us_ = group.last_event_time_us;
    if (advanced) PublishHead(next_position_ - 1);
    return advanced;
  }

  // After a failed write RocksDB 7.8 may route the next write to the same
  // broken WAL file, and Debian's build (assertions on) aborts there; so the
  // writer never writes to a DB instance that failed. It closes it and opens
  // it again, which recovers from the WAL up to its last whole record, and
  // takes the head from what is on disk. An append whose write failed may
  // still be found there (UNAVAILABLE means "not known to be written"; a
  // retry with the same idempotency key is answered from it).
  absl::Status Reopen() {
    absl::WriterMutexLock db_lock(&db_mu_);
    db_.reset();
    RETURN_IF_ERROR(FromRocks(
        internal::RocksDb::Open(internal::ToRocksOptions(options_), dir_, &db_),
        "reopening the event log after a storage failure"));
    stream_cache_.clear();  // the failed group may or may not be on disk
    ASSIGN_OR_RETURN(std::optional<RecordedEvent> last, LoadLastRecord());
    if (last.has_value() && last->position >= next_position_) {
      next_position_ = last->position + 1;
      last_hash_ = last->hash;
      last_time_us_ = std::max(last_time_us_, last->recorded_time_us);
      PublishHead(last->position);
    }
    needs_reopen_ = false;
    return absl::OkStatus();
  }

  void FailGroup(const std::vector<std::unique_ptr<PendingAppend>>& pending_appends,
                 const std::string& why) {
    // Every answer of the group was decided against state that never became
    // durable, so none of them stands: the client retries.
    for (const auto& pending : pending_appends) {
      pending->result = absl::UnavailableError(absl::StrCat(
          "append to ", QuoteStream(pending->request.stream),
          " not written: storage failure: ", why));
    }
  }

  absl::StatusOr<AppendResult> ApplyAppend(PendingAppend& pending,
                                           Group* group) {
    const AppendRequest& request = pending.request;
    const std::string& key = request.idempotency_key;
    if (!key.empty()) {
      std::optional<IdempotencyRecord> seen;
      if (auto it = group->keys.find(key); it != group->keys.end()) {
        seen = it->second;
      } else {
        ASSIGN_OR_RETURN(seen, LoadIdempotency(key));
      }
      if (seen.has_value() &&
          seen->created_time_us + options_.idempotency_retention_us >
              group->time_us) {
        if (seen->fingerprint != pending.fingerprint) {
          return absl::FailedPreconditionError(absl::StrCat(
              "idempotency_key \"", key,
              "\" was already used for a different request (positions ",
              seen->first_position, "..", seen->last_position, ")"));
        }
        return AppendResult{.first_position = seen->first_position,
                            .last_position = seen->last_position,
                            .next_expected_revision = seen->next_expected_revision,
                            .deduplicated = true};
      }
    }

    std::optional<StreamMeta> meta;
    if (auto it = group->streams.find(request.stream);
        it != group->streams.end()) {
      meta = it->second;
    } else if (auto cached = stream_cache_.find(request.stream);
               cached != stream_cache_.end()) {
      meta = cached->second;
    } else {
      ASSIGN_OR_RETURN(meta, LoadStreamMeta(request.stream));
    }
    RETURN_IF_ERROR(CheckExpectedRevision(request, meta));

    const uint64_t first_revision = meta.has_value() ? meta->last_revision + 1 : 0;
    const uint64_t first_position = group->next_position;
    // Records go into the batch at once, in position order; the append's
    // one stream-index entry is sorted with the group's other index keys
    // first. One entry per append, not per event: a 100-event append writes
    // 101 keys instead of 200.
    for (size_t i = 0; i < pending.records.size(); ++i) {
      const uint64_t position = group->next_position++;
      std::string& record = pending.records[i];
      internal::CompleteRecord(position, first_revision + i, group->time_us,
                               &record, &group->last_hash);
      group->batch.Put(db_->records(), internal::RecordKey(position), record);
    }
    group->puts.emplace_back(
        internal::RevisionKey(request.stream, first_revision),
        internal::EncodeRevisionRange(first_position, pending.records.size()));
    StreamMeta updated{
        .last_revision = first_revision + pending.records.size() - 1,
        .last_position = group->next_position - 1,
        .created_time_us = meta.has_value() ? meta->created_time_us
                                            : group->time_us,
        .updated_time_us = group->time_us};
    if (!meta.has_value()) group->created.push_back(request.stream);
    group->streams[request.stream] = updated;
    group->last_event_time_us = group->time_us;

    AppendResult result{.first_position = first_position,
                        .last_position = updated.last_position,
                        .next_expected_revision = updated.last_revision,
                        .deduplicated = false};
    if (!key.empty()) {
      IdempotencyRecord record{
          .fingerprint = pending.fingerprint,
          .created_time_us = group->time_us,
          .first_position = result.first_position,
          .last_position = result.last_position,
          .next_expected_revision = result.next_expected_revision};
      group->keys[key] = std::move(record);
    }
    return result;
  }

  // Checks and stages EventLog::Import's events. Checks everything before
  // staging anything, so a failed import leaves the group as it was.
  absl::StatusOr<AppendResult> ApplyImport(const PendingAppend& pending,
                                           Group* group) {
    absl::flat_hash_map<std::string, std::optional<StreamMeta>> metas;
    std::string hash = group->last_hash;
    int64_t last_time = group->last_event_time_us;
    uint64_t position = group->next_position;
    for (const RecordedEvent& event : pending.imported) {
      auto refuse = [&](std::string_view why) {
        return absl::InvalidArgumentError(absl::StrCat(
            "import of position ", event.position, " (", QuoteStream(event.stream),
            " revision ", event.revision, ") refused: ", std::string(why)));
      };
      if (event.position != position) {
        return refuse(absl::StrCat("the log's next position is ", position));
      }
      if (event.recorded_time_us < last_time) {
        return refuse("recorded time is before the previous event's");
      }
      auto [it, inserted] = metas.try_emplace(event.stream);
      if (inserted) {
        if (auto in_group = group->streams.find(event.stream);
            in_group != group->streams.end()) {
          it->second = in_group->second;
        } else {
          ASSIGN_OR_RETURN(it->second, LoadStreamMeta(event.stream));
        }
      }
      std::optional<StreamMeta>& meta = it->second;
      const uint64_t next_revision = meta.has_value() ? meta->last_revision + 1 : 0;
      if (event.revision != next_revision) {
        return refuse(absl::StrCat("the stream's next revision is ", next_revision));
      }
      const std::string canonical = internal::CanonicalBytes(event);
      hash = internal::ChainHash(hash, canonical);
      if (hash != event.hash) {
        return refuse("its hash does not chain from this log's previous event");
      }
      if (!meta.has_value()) meta = StreamMeta{.created_time_us = event.recorded_time_us};
      meta->last_revision = event.revision;
      meta->last_position = event.position;
      meta->updated_time_us = event.recorded_time_us;
      last_time = event.recorded_time_us;
      ++position;
    }
    // All checked: stage them.
    AppendResult result{.first_position = group->next_position,
                        .last_position = position - 1};
    for (const RecordedEvent& event : pending.imported) {
      std::string record = internal::CanonicalBytes(event);
      record.append(event.hash);
      group->puts.emplace_back(internal::RecordKey(event.position),
                               std::move(record));
      group->puts.emplace_back(
          internal::RevisionKey(event.stream, event.revision),
          internal::EncodeRevisionRange(event.position, 1));
      if (event.revision == 0) group->created.push_back(event.stream);
    }
    for (auto& [stream, meta] : metas) {
      if (meta->last_position == result.last_position) {
        result.next_expected_revision = meta->last_revision;
      }
      group->streams[stream] = *meta;
    }
    group->next_position = position;
    group->last_hash = std::move(hash);
    group->last_event_time_us = last_time;
    // Later appends of the group, and later groups, never go back in time.
    group->time_us = std::max(group->time_us, last_time);
    return result;
  }

  static absl::Status CheckExpectedRevision(
      const AppendRequest& request, const std::optional<StreamMeta>& meta) {
    const ExpectedRevision& expected = request.expected_revision;
    bool ok = true;
    switch (expected.kind()) {
      case ExpectedRevision::Kind::kAny:
        break;
      case ExpectedRevision::Kind::kNoStream:
        ok = !meta.has_value();
        break;
      case ExpectedRevision::Kind::kStreamExists:
        ok = meta.has_value();
        break;
      case ExpectedRevision::Kind::kExact:
        ok = meta.has_value() && meta->last_revision == expected.revision();
        break;
    }
    if (ok) return absl::OkStatus();
    const std::string actual =
        meta.has_value() ? std::to_string(meta->last_revision) : "none";
    absl::Status status = absl::AbortedError(absl::StrCat(
        "expected revision mismatch on ", QuoteStream(request.stream),
        ": expected ", expected.ToString(), ", actual ", actual));
    status.SetPayload(kActualRevisionPayload, absl::Cord(actual));
    return status;
  }

  // Deletes, in the group's batch, a bounded slice of idempotency keys whose
  // retention has passed. Runs at most once a second and resumes from where
  // it stopped, so it never scans the tombstones it left behind.
  void ExpireIdempotencyKeys(Group* group) {
    if (group->time_us - last_expiry_run_us_ < kExpiryIntervalUs) return;
    last_expiry_run_us_ = group->time_us;
    const int64_t cutoff = group->time_us - options_.idempotency_retention_us;
    const std::string upper(1, internal::kExpiryPrefix + 1);
    rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions read;
    read.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator(read, db_->index()));
    size_t deleted = 0;
    for (it->Seek(expiry_cursor_.empty()
                      ? std::string(1, internal::kExpiryPrefix)
                      : expiry_cursor_);
         it->Valid() && deleted < options_.idempotency_expiry_slice;
         it->Next()) {
      const std::string_view expiry_key = it->key().ToStringView();
      if (expiry_key.size() < 9) continue;
      const int64_t created =
          static_cast<int64_t>(internal::GetBigEndian64(expiry_key.substr(1)));
      if (created > cutoff) break;
      const std::string_view key = expiry_key.substr(9);
      absl::StatusOr<std::optional<IdempotencyRecord>> record =
          LoadIdempotency(key);
      if (!record.ok()) break;  // try again on the next run
      // A key reused after it expired has a newer record: keep that one.
      if (record->has_value() && (*record)->created_time_us == created) {
        group->batch.Delete(db_->index(), internal::IdempotencyKey(key));
      }
      group->batch.Delete(db_->index(), expiry_key);
      expiry_cursor_.assign(expiry_key);
      ++deleted;
    }
  }

  void NotifyListeners(uint64_t head) {
    absl::MutexLock lock(&listeners_mu_);
    for (auto& [handle, listener] : listeners_) listener(head);
  }

  const Options options_;
  const std::string dir_;
  // Swapped only by the writer thread in Reopen(), under db_mu_ held
  // exclusively; readers hold it shared. The writer thread itself reads it
  // without the lock, since nobody else changes it.
  mutable absl::Mutex db_mu_;
  std::unique_ptr<internal::RocksDb> db_;
  const bool writable_;
  const std::string secondary_dir_;  // removed on close; empty for a writer

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

  // Owned by the writer thread (and by Start/Refresh before it runs).
  uint64_t next_position_ = 1;
  std::string last_hash_;
  int64_t last_time_us_ = 0;
  bool needs_reopen_ = false;
  int64_t last_expiry_run_us_ = 0;
  // Durable metadata of recently appended streams (bounded by
  // kStreamCacheLimit), so most appends need no RocksDB read.
  absl::flat_hash_map<std::string, StreamMeta> stream_cache_;
  std::string expiry_cursor_;

  // The head is read lock-free; head_mu_ only serves WaitForHead.
  mutable absl::Mutex head_mu_;
  std::atomic<uint64_t> head_{0};

  absl::Mutex listeners_mu_;
  std::map<uint64_t, HeadListener> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  uint64_t next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 1;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Open(const Options& options,
                                                         const std::string& dir) {
  rocksdb::Options rocks = internal::ToRocksOptions(options);
  if (options.create_if_missing) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot create data directory ", dir, ": ", ec.message()));
    }
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
