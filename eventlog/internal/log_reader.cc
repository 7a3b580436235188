#include "eventlog/internal/log_reader.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"
#include "eventlog/internal/codec.h"
#include "eventlog/internal/validation.h"

namespace vigil::eventlog::internal {
namespace {

// The stream-index entry under `it` when it is one of `stream`'s (whose
// RevisionKeyPrefix is `prefix`); DataLoss when that entry is damaged.
absl::StatusOr<std::optional<RevisionRange>> RangeAt(
    const rocksdb::Iterator& it, const std::string& prefix,
    const std::string& stream) {
  if (!it.Valid()) return std::nullopt;
  const std::string_view key = it.key().ToStringView();
  if (!key.starts_with(prefix) || key.size() != prefix.size() + 8) {
    return std::nullopt;
  }
  std::optional<RevisionRange> range =
      DecodeRevisionRange(prefix, key, it.value().ToStringView());
  if (!range.has_value()) {
    return absl::DataLossError(absl::StrCat(
        "a stream-index entry of ", QuoteStream(stream), " is damaged"));
  }
  return range;
}

}  // namespace

absl::StatusOr<std::vector<RecordedEvent>> LogReader::ReadStream(
    const std::string& stream, uint64_t from_revision, uint64_t max_count,
    bool backwards) const {
  absl::ReaderMutexLock db_lock(&db_->mu());
  RETURN_IF_ERROR(db_->CheckOpen());
  RETURN_IF_ERROR(ValidateStreamName(stream));
  ASSIGN_OR_RETURN(std::optional<StreamMeta> meta, db_->LoadStreamMeta(stream));
  if (!meta.has_value()) {
    return absl::NotFoundError(absl::StrCat(QuoteStream(stream), " not found"));
  }
  std::vector<uint64_t> positions;
  const std::string prefix = RevisionKeyPrefix(stream);
  const RocksDb& rocks = *db_->rocks();
  std::unique_ptr<rocksdb::Iterator> it(
      rocks.db()->NewIterator({}, rocks.index()));
  auto full = [&] { return max_count != 0 && positions.size() >= max_count; };
  // Each index entry covers one append's revisions (RevisionRange): start
  // at the entry that holds the first revision wanted, then walk entries.
  if (backwards) {
    const uint64_t start = std::min(from_revision, meta->last_revision);
    it->SeekForPrev(RevisionKey(stream, start));
    while (!full()) {
      ASSIGN_OR_RETURN(std::optional<RevisionRange> range,
                       RangeAt(*it, prefix, stream));
      if (!range.has_value()) break;
      for (uint64_t r = std::min(range->last_revision(), start);; --r) {
        positions.push_back(range->PositionOf(r));
        if (full() || r == range->first_revision) break;
      }
      it->Prev();
    }
  } else {
    it->SeekForPrev(RevisionKey(stream, from_revision));
    if (!it->Valid() || !it->key().starts_with(prefix)) {
      it->Seek(RevisionKey(stream, from_revision));
    }
    while (!full()) {
      ASSIGN_OR_RETURN(std::optional<RevisionRange> range,
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
    ASSIGN_OR_RETURN(std::optional<RecordedEvent> event,
                     db_->LoadRecord(position));
    if (!event.has_value()) {
      return absl::DataLossError(absl::StrCat(
          QuoteStream(stream), " names position ", position,
          " which holds no record"));
    }
    events.push_back(*std::move(event));
  }
  return events;
}

absl::StatusOr<std::vector<RecordedEvent>> LogReader::ReadAll(
    uint64_t from_position, uint64_t max_count, const Filter& filter,
    uint64_t max_scan, uint64_t* next_position) const {
  absl::ReaderMutexLock db_lock(&db_->mu());
  RETURN_IF_ERROR(db_->CheckOpen());
  std::vector<RecordedEvent> events;
  uint64_t next = std::max<uint64_t>(from_position, 1);
  uint64_t scanned = 0;
  auto full = [&] {
    return (max_count != 0 && events.size() >= max_count) ||
           (max_scan != 0 && scanned >= max_scan);
  };
  if (recent_ != nullptr) {
    bool undecodable = false;
    auto visit = [&](uint64_t position, std::string_view record) {
      if (full()) return false;
      std::optional<RecordedEvent> event = DecodeRecord(record);
      if (!event.has_value() || event->position != position) {
        undecodable = true;
        return false;
      }
      ++scanned;
      if (filter.Matches(*event)) events.push_back(*std::move(event));
      return true;
    };
    // Again while the writer adds (a few times: an unbounded read must end
    // on a busy log): a reader at the head then seldom seeks RocksDB.
    for (uint64_t before = 0, rounds = 0;
         before != next && !full() && rounds < 4; ++rounds) {
      before = next;
      next = recent_->Visit(next, max_scan == 0 ? 0 : max_scan - scanned,
                            visit);
    }
    if (undecodable) {
      return absl::DataLossError(absl::StrCat(
          "the record at position ", next, " does not decode (in memory)"));
    }
    // Nothing past the head: no seek for what is not written yet.
    if (full() || (next > from_position && next > head_->Get())) {
      if (next_position != nullptr) *next_position = next;
      return events;
    }
  }
  const RocksDb& rocks = *db_->rocks();
  BoundedIterator it(rocks, rocks.records(), std::string(1, kRecordPrefix + 1));
  for (it->Seek(RecordKey(next)); it->Valid(); it->Next()) {
    if (full()) break;
    std::optional<RecordedEvent> event =
        DecodeRecord(it->value().ToStringView());
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

absl::StatusOr<StreamInfo> LogReader::GetStream(
    const std::string& stream) const {
  absl::ReaderMutexLock db_lock(&db_->mu());
  RETURN_IF_ERROR(db_->CheckOpen());
  RETURN_IF_ERROR(ValidateStreamName(stream));
  ASSIGN_OR_RETURN(std::optional<StreamMeta> meta, db_->LoadStreamMeta(stream));
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

absl::StatusOr<uint64_t> LogReader::FindPosition(int64_t time_us) const {
  absl::ReaderMutexLock db_lock(&db_->mu());
  RETURN_IF_ERROR(db_->CheckOpen());
  // Recorded times never decrease in position order: binary search.
  uint64_t lo = 1;
  uint64_t hi = head_->Get() + 1;  // answer in [lo, hi]
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    ASSIGN_OR_RETURN(std::optional<RecordedEvent> event, db_->LoadRecord(mid));
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

absl::StatusOr<LogStats> LogReader::Stats() const {
  absl::ReaderMutexLock db_lock(&db_->mu());
  RETURN_IF_ERROR(db_->CheckOpen());
  LogStats stats;
  stats.head_position = head_->Get();
  const RocksDb& rocks = *db_->rocks();
  BoundedIterator it(rocks, rocks.index(), std::string(1, kStreamPrefix + 1));
  for (it->Seek(std::string(1, kStreamPrefix)); it->Valid(); it->Next()) {
    ++stats.stream_count;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "stats"));
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(db_->dir(), ec)) {
    if (entry.is_regular_file(ec)) stats.disk_bytes += entry.file_size(ec);
  }
  return stats;
}

absl::StatusOr<LogBytes> LogReader::BytesByKind() const {
  absl::ReaderMutexLock db_lock(&db_->mu());
  RETURN_IF_ERROR(db_->CheckOpen());
  const RocksDb& rocks = *db_->rocks();
  LogBytes bytes;
  rocksdb::ReadOptions read;
  read.fill_cache = false;  // one pass over everything: keep the cache
  // One family for everything in a log from before the split.
  std::vector<rocksdb::ColumnFamilyHandle*> families = {rocks.records()};
  if (rocks.split()) families.push_back(rocks.index());
  for (rocksdb::ColumnFamilyHandle* family : families) {
    std::unique_ptr<rocksdb::Iterator> it(rocks.db()->NewIterator(read, family));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const uint64_t size = it->key().size() + it->value().size();
      switch (it->key()[0]) {
        case kRecordPrefix:
          bytes.records += size;
          break;
        case kRevisionPrefix:
        case kStreamPrefix:
          bytes.streams += size;
          break;
        case kIdempotencyPrefix:
        case kExpiryPrefix:
          bytes.idempotency += size;
          break;
        case kSnapshotPrefix:
        case kSnapshotEntryPrefix:
          bytes.snapshots += size;
          break;
        default:
          break;
      }
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "counting bytes"));
  }
  return bytes;
}

}  // namespace vigil::eventlog::internal
