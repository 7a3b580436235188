#include "eventlog/internal/log_db.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "eventlog/internal/rocks_options.h"

namespace vigil::eventlog::internal {

absl::Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNoSpace()) return DiskFullError(message);
  if (s.IsNotFound()) return absl::NotFoundError(message);
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (s.IsNotSupported()) return absl::FailedPreconditionError(message);
  // Other I/O errors, a busy lock, a DB stopped after a background
  // error: the caller may try again later.
  return absl::UnavailableError(message);
}

absl::Status DiskFullError(absl::string_view detail) {
  absl::Status status = absl::UnavailableError(absl::StrCat(
      "the event log's disk is full (No space left on device): ", detail));
  status.SetPayload(kDiskFullPayload, absl::Cord("ENOSPC"));
  return status;
}

std::string QuoteStream(absl::string_view stream) {
  return absl::StrCat("stream \"", stream, "\"");
}

std::string GenesisHash() { return std::string(kHashBytes, '\0'); }

LogDb::LogDb(const Options& options, std::string dir,
             std::unique_ptr<RocksDb> rocks)
    : options_(options), dir_(std::move(dir)), rocks_(std::move(rocks)) {}

LogDb::~LogDb() = default;  // releases the column families, then closes

absl::Status LogDb::CheckOpen() const {
  if (rocks_ != nullptr) return absl::OkStatus();
  return absl::UnavailableError(
      "the event log is reopening after a storage failure; try again");
}

absl::Status LogDb::ReopenLocked() {
  rocks_.reset();
  RETURN_IF_ERROR(
      FromRocks(RocksDb::Open(ToRocksOptions(options_), dir_, &rocks_),
                "reopening the event log after a storage failure"));
  write_failed_.store(false);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> LogDb::Load(
    const std::string& key) const {
  std::string value;
  rocksdb::Status s = rocks_->db()->Get({}, rocks_->For(key), key, &value);
  if (s.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(FromRocks(s, "read"));
  return value;
}

absl::StatusOr<std::optional<RecordedEvent>> LogDb::LoadRecord(
    uint64_t position) const {
  ASSIGN_OR_RETURN(std::optional<std::string> value, Load(RecordKey(position)));
  if (!value.has_value()) return std::nullopt;
  std::optional<RecordedEvent> event = DecodeRecord(*value);
  if (!event.has_value()) {
    return absl::DataLossError(
        absl::StrCat("the record at position ", position, " does not decode"));
  }
  return event;
}

absl::StatusOr<std::optional<RecordedEvent>> LogDb::LoadLastRecord() const {
  std::unique_ptr<rocksdb::Iterator> it(
      rocks_->db()->NewIterator({}, rocks_->records()));
  it->SeekForPrev(RecordKey(UINT64_MAX));
  RETURN_IF_ERROR(FromRocks(it->status(), "finding the head"));
  if (!it->Valid() || it->key().size() != 9 ||
      it->key()[0] != kRecordPrefix) {
    return std::nullopt;
  }
  std::optional<RecordedEvent> event =
      DecodeRecord(it->value().ToStringView());
  if (!event.has_value()) {
    return absl::DataLossError("the last record of the log does not decode");
  }
  return event;
}

absl::StatusOr<std::optional<StreamMeta>> LogDb::LoadStreamMeta(
    const std::string& stream) const {
  ASSIGN_OR_RETURN(std::optional<std::string> value, Load(StreamKey(stream)));
  if (!value.has_value()) return std::nullopt;
  std::optional<int64_t> created = DecodeStreamCreated(*value);
  const std::string prefix = RevisionKeyPrefix(stream);
  std::unique_ptr<rocksdb::Iterator> it(
      rocks_->db()->NewIterator({}, rocks_->index()));
  it->SeekForPrev(RevisionKey(stream, UINT64_MAX));
  RETURN_IF_ERROR(FromRocks(it->status(), "reading " + QuoteStream(stream)));
  std::optional<RevisionRange> last_range;
  if (it->Valid()) {
    last_range = DecodeRevisionRange(prefix, it->key().ToStringView(),
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

absl::StatusOr<std::optional<IdempotencyRecord>> LogDb::LoadIdempotency(
    std::string_view key) const {
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   Load(IdempotencyKey(key)));
  if (!value.has_value()) return std::nullopt;
  return DecodeIdempotencyRecord(*value);
}

}  // namespace vigil::eventlog::internal
