// The single writer (log_writer.h): the append queue, group commit, and
// what a group stages (appends, imports, idempotency expiry). Over ~500
// lines as one concept: all of it reads and advances the writer-owned state
// (next position, last hash and time, stream cache) within one group, and
// is only correct together.

#include "eventlog/internal/log_writer.h"

#include <pthread.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "eventlog/internal/space_probe.h"
#include "eventlog/internal/validation.h"

namespace vigil::eventlog::internal {

// One append on its way through the writer, owned by the queue from
// enqueueing until the completion thread hands `result` to `done`.
struct PendingAppend {
  AppendRequest request;
  // Set for EventLog::Import: events as another log recorded them.
  std::vector<RecordedEvent> imported;
  // The events' records with position, revision, time and hash still to
  // fill in (PrepareRecord): encoded on the appending thread, completed by
  // the writer.
  std::vector<std::string> records;
  std::string fingerprint;        // set when the request has a key
  size_t bytes = 0;
  absl::StatusOr<AppendResult> result = absl::UnknownError("not committed");
  EventLog::AppendCallback done;
};

namespace {

// While the disk is full: how often the writer probes for space again
// (appends in between fail at once with the last failure), and how long
// it waits for appends before probing on its own.
constexpr int64_t kProbeIntervalUs = 200 * 1000;
constexpr absl::Duration kIdleProbeWait = absl::Seconds(1);

// How often the writer deletes a slice of expired idempotency keys.
constexpr int64_t kExpiryIntervalUs = 1000 * 1000;

// Most streams whose metadata the writer keeps in memory. Past it the cache
// is dropped and refilled from RocksDB as appends come.
constexpr size_t kStreamCacheLimit = 65536;

int64_t SystemNowUs() { return absl::ToUnixMicros(absl::Now()); }

int64_t SteadyNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::unique_ptr<LogWriter> LogWriter::Start(
    const Options& options, LogDb* db, LogHead* head, RecentRecords* recent,
    const std::optional<RecordedEvent>& last) {
  std::unique_ptr<LogWriter> writer(new LogWriter(options, db, head, recent));
  if (last.has_value()) {
    writer->next_position_ = last->position + 1;
    writer->last_hash_ = last->hash;
    writer->last_time_us_ = last->recorded_time_us;
  } else {
    writer->next_position_ = 1;
    writer->last_hash_ = GenesisHash();
    writer->last_time_us_ = 0;
  }
  LogWriter* w = writer.get();
  w->writer_ = std::thread([w] {
    pthread_setname_np(pthread_self(), "vigil-writer");  // for ps, perf
    w->WriterLoop();
  });
  w->completer_ = std::thread([w] {
    pthread_setname_np(pthread_self(), "vigil-complete");
    w->CompletionLoop();
  });
  return writer;
}

LogWriter::LogWriter(const Options& options, LogDb* db, LogHead* head,
                     RecentRecords* recent)
    : options_(options), db_(db), head_(head), recent_(recent) {}

LogWriter::~LogWriter() {
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

absl::StatusOr<AppendResult> LogWriter::Append(const AppendRequest& request) {
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

void LogWriter::AppendAsync(const AppendRequest& request,
                            EventLog::AppendCallback done) {
  Enqueue(request, /*block_when_full=*/false, std::move(done));
}

absl::StatusOr<AppendResult> LogWriter::Import(
    const std::vector<RecordedEvent>& events) {
  if (events.empty()) return absl::InvalidArgumentError("nothing to import");
  auto pending = std::make_unique<PendingAppend>();
  for (const RecordedEvent& event : events) {
    RETURN_IF_ERROR(ValidateStreamName(event.stream));
    RETURN_IF_ERROR(ValidateEventType(event.type));
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

absl::Status LogWriter::Health() const {
  absl::MutexLock lock(&health_mu_);
  return health_;
}

int64_t LogWriter::NowUs() const {
  return options_.clock ? options_.clock() : SystemNowUs();
}

void LogWriter::Enqueue(const AppendRequest& request, bool block_when_full,
                        EventLog::AppendCallback done) {
  auto pending = std::make_unique<PendingAppend>();
  if (absl::Status s = ValidateAndPrepare(
          request, options_, NowUs(), &pending->records, &pending->bytes);
      !s.ok()) {
    done(std::move(s));
    return;
  }
  if (!request.idempotency_key.empty()) {
    pending->fingerprint = RequestFingerprint(request);
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

// ---- The writer thread -------------------------------------------------

// The state of one group commit before it is durable.
struct LogWriter::Group {
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

void LogWriter::WriterLoop() {
  while (true) {
    std::vector<std::unique_ptr<PendingAppend>> group;
    {
      absl::MutexLock lock(&queue_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return closing_ || !queue_.empty();
      };
      if (!disk_full_) {
        queue_mu_.Await(absl::Condition(&ready));
      } else if (!queue_mu_.AwaitWithTimeout(absl::Condition(&ready),
                                             kIdleProbeWait)) {
        // Idle on a full disk: look for space, so WriteHealth (/readyz)
        // turns OK again without waiting for an append.
        queue_mu_.Unlock();
        Recover().IgnoreError();  // the next append sees it again
        queue_mu_.Lock();
        continue;
      }
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
    if (advanced) head_->Notify(next_position_ - 1);
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
void LogWriter::CompletionLoop() {
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
bool LogWriter::CommitGroup(
    const std::vector<std::unique_ptr<PendingAppend>>& pending_appends) {
  if (db_->write_failed()) {
    absl::Status recovered = Recover();
    if (!recovered.ok()) {
      FailGroup(pending_appends, recovered);
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
        StreamKey(stream),
        EncodeStreamCreated(group.streams[stream].created_time_us));
  }
  for (const auto& [key, record] : group.keys) {
    group.puts.emplace_back(IdempotencyKey(key),
                            EncodeIdempotencyRecord(record));
    group.puts.emplace_back(ExpiryKey(record.created_time_us, key),
                            "");
  }
  std::sort(group.puts.begin(), group.puts.end());
  for (const auto& [key, value] : group.puts) group.batch.Put(db_->rocks()->For(key), key, value);
  if (group.batch.Count() == 0) return false;
  rocksdb::WriteOptions write;
  write.sync = options_.sync;
  rocksdb::Status s = db_->rocks()->db()->Write(write, &group.batch);
  if (!s.ok()) {
    absl::Status failure = FromRocks(s, "writing a group commit");
    db_->MarkWriteFailed();
    if (IsDiskFull(failure)) SetHealth(failure);
    FailGroup(pending_appends, failure);
    return false;
  }
  if (disk_full_) SetHealth(absl::OkStatus());
  const bool advanced = group.next_position != next_position_;
  if (stream_cache_.size() + group.streams.size() > kStreamCacheLimit) {
    stream_cache_.clear();
  }
  for (auto& [stream, meta] : group.streams) stream_cache_[stream] = meta;
  next_position_ = group.next_position;
  last_hash_ = std::move(group.last_hash);
  last_time_us_ = group.last_event_time_us;
  // Before the head moves: a reader that sees the head finds every record
  // up to it here or in RocksDB.
  for (const auto& pending : pending_appends) {
    if (!pending->result.ok() || pending->result->deduplicated) continue;
    if (!pending->imported.empty()) {
      recent_->Clear();  // imported records are not kept
      continue;
    }
    recent_->Add(pending->result->first_position, &pending->records);
  }
  if (advanced) head_->Publish(next_position_ - 1);
  return advanced;
}

// Makes the database writable again after a failed write (the writer's
// or a snapshot's, whatever RocksDB called the error). It first checks for
// room with a space probe, at most every kProbeIntervalUs while the disk
// is known to be full (in between, that failure stands), so the database
// is not closed, and reads keep using it, while the disk is still full:
// reopening on a full disk can fail and would leave nothing to read from.
absl::Status LogWriter::Recover() {
  const int64_t now = SteadyNowUs();
  if (disk_full_ && now - last_probe_us_ < kProbeIntervalUs) return Health();
  last_probe_us_ = now;
  absl::Status probe = ProbeSpace(db_->dir());
  if (!probe.ok()) {
    if (IsDiskFull(probe)) SetHealth(probe);
    return probe;
  }
  absl::Status reopened = Reopen();
  if (IsDiskFull(reopened)) SetHealth(reopened);
  if (reopened.ok() && disk_full_) SetHealth(absl::OkStatus());
  return reopened;
}

void LogWriter::SetHealth(absl::Status health) {
  disk_full_ = !health.ok();
  absl::MutexLock lock(&health_mu_);
  health_ = std::move(health);
}

// After a failed write RocksDB 7.8 may route the next write to the same
// broken WAL file, and Debian's build (assertions on) aborts there; so the
// writer never writes to a DB instance that failed. It closes it and opens
// it again, which recovers from the WAL up to its last whole record, and
// takes the head from what is on disk. An append whose write failed may
// still be found there (UNAVAILABLE means "not known to be written"; a
// retry with the same idempotency key is answered from it).
absl::Status LogWriter::Reopen() {
  absl::WriterMutexLock db_lock(&db_->mu());
  RETURN_IF_ERROR(db_->ReopenLocked());
  stream_cache_.clear();  // the failed group may or may not be on disk
  ASSIGN_OR_RETURN(std::optional<RecordedEvent> last, db_->LoadLastRecord());
  if (last.has_value() && last->position >= next_position_) {
    next_position_ = last->position + 1;
    last_hash_ = last->hash;
    last_time_us_ = std::max(last_time_us_, last->recorded_time_us);
    head_->Publish(last->position);
  }
  return absl::OkStatus();
}

void LogWriter::FailGroup(
    const std::vector<std::unique_ptr<PendingAppend>>& pending_appends,
    const absl::Status& cause) {
  // Every answer of the group was decided against state that never became
  // durable, so none of them stands: the client retries. The cause's
  // payloads (kDiskFullPayload) go along.
  for (const auto& pending : pending_appends) {
    absl::Status failure = absl::UnavailableError(absl::StrCat(
        "append to ", QuoteStream(pending->request.stream),
        " not written: ", IsDiskFull(cause) ? "" : "storage failure: ",
        cause.message()));
    cause.ForEachPayload(
        [&](absl::string_view key, const absl::Cord& value) {
          failure.SetPayload(key, value);
        });
    pending->result = std::move(failure);
  }
}

absl::StatusOr<AppendResult> LogWriter::ApplyAppend(PendingAppend& pending,
                                                    Group* group) {
  const AppendRequest& request = pending.request;
  const std::string& key = request.idempotency_key;
  if (!key.empty()) {
    std::optional<IdempotencyRecord> seen;
    if (auto it = group->keys.find(key); it != group->keys.end()) {
      seen = it->second;
    } else {
      ASSIGN_OR_RETURN(seen, db_->LoadIdempotency(key));
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
    ASSIGN_OR_RETURN(meta, db_->LoadStreamMeta(request.stream));
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
    CompleteRecord(position, first_revision + i, group->time_us,
                             &record, &group->last_hash);
    group->batch.Put(db_->rocks()->records(), RecordKey(position), record);
  }
  group->puts.emplace_back(
      RevisionKey(request.stream, first_revision),
      EncodeRevisionRange(first_position, pending.records.size()));
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
absl::StatusOr<AppendResult> LogWriter::ApplyImport(
    const PendingAppend& pending, Group* group) {
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
        ASSIGN_OR_RETURN(it->second, db_->LoadStreamMeta(event.stream));
      }
    }
    std::optional<StreamMeta>& meta = it->second;
    const uint64_t next_revision = meta.has_value() ? meta->last_revision + 1 : 0;
    if (event.revision != next_revision) {
      return refuse(absl::StrCat("the stream's next revision is ", next_revision));
    }
    const std::string canonical = CanonicalBytes(event);
    hash = ChainHash(hash, canonical);
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
    std::string record = CanonicalBytes(event);
    record.append(event.hash);
    group->puts.emplace_back(RecordKey(event.position),
                             std::move(record));
    group->puts.emplace_back(
        RevisionKey(event.stream, event.revision),
        EncodeRevisionRange(event.position, 1));
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

absl::Status LogWriter::CheckExpectedRevision(
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
void LogWriter::ExpireIdempotencyKeys(Group* group) {
  if (group->time_us - last_expiry_run_us_ < kExpiryIntervalUs) return;
  last_expiry_run_us_ = group->time_us;
  const int64_t cutoff = group->time_us - options_.idempotency_retention_us;
  BoundedIterator it(*db_->rocks(), db_->rocks()->index(),
                     std::string(1, kExpiryPrefix + 1));
  size_t deleted = 0;
  for (it->Seek(expiry_cursor_.empty()
                    ? std::string(1, kExpiryPrefix)
                    : expiry_cursor_);
       it->Valid() && deleted < options_.idempotency_expiry_slice;
       it->Next()) {
    const std::string_view expiry_key = it->key().ToStringView();
    if (expiry_key.size() < 9) continue;
    const int64_t created =
        static_cast<int64_t>(GetBigEndian64(expiry_key.substr(1)));
    if (created > cutoff) break;
    const std::string_view key = expiry_key.substr(9);
    absl::StatusOr<std::optional<IdempotencyRecord>> record =
        db_->LoadIdempotency(key);
    if (!record.ok()) break;  // try again on the next run
    // A key reused after it expired has a newer record: keep that one.
    if (record->has_value() && (*record)->created_time_us == created) {
      group->batch.Delete(db_->rocks()->index(), IdempotencyKey(key));
    }
    group->batch.Delete(db_->rocks()->index(), expiry_key);
    expiry_cursor_.assign(expiry_key);
    ++deleted;
  }
}
}  // namespace vigil::eventlog::internal
