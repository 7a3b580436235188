#include "eventlog/internal/verify.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"
#include "eventlog/internal/codec.h"

namespace vigil::eventlog::internal {

absl::StatusOr<VerifyResult> VerifyChain(const LogDb& db, const LogHead& head,
                                         uint64_t from, uint64_t to) {
  absl::ReaderMutexLock db_lock(&db.mu());
  RETURN_IF_ERROR(db.CheckOpen());
  VerifyResult result;
  const uint64_t head_position = head.Get();
  from = std::max<uint64_t>(from, 1);
  to = (to == 0 || to > head_position) ? head_position : to;
  if (from > to) return result;
  auto bad = [&result](uint64_t position, std::string problem) {
    result.ok = false;
    result.first_bad_position = position;
    result.problem = std::move(problem);
    return result;
  };
  std::string previous_hash = GenesisHash();
  if (from > 1) {
    ASSIGN_OR_RETURN(std::optional<RecordedEvent> before,
                     db.LoadRecord(from - 1));
    if (!before.has_value()) {
      return bad(from - 1, "record missing or does not decode");
    }
    previous_hash = before->hash;
  }
  const std::string upper = RecordKey(to + 1);
  rocksdb::Slice upper_bound(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_bound;
  read.verify_checksums = true;
  const RocksDb& rocks = *db.rocks();
  std::unique_ptr<rocksdb::Iterator> it(
      rocks.db()->NewIterator(read, rocks.records()));
  std::unique_ptr<rocksdb::Iterator> index(
      rocks.db()->NewIterator({}, rocks.index()));
  uint64_t expected = from;
  for (it->Seek(RecordKey(from)); it->Valid(); it->Next()) {
    const uint64_t key_position =
        GetBigEndian64(it->key().ToStringView().substr(1));
    if (key_position != expected) {
      return bad(expected, absl::StrCat("record missing (the next one is at ",
                                        key_position, ")"));
    }
    const std::string_view value = it->value().ToStringView();
    std::optional<RecordedEvent> event = DecodeRecord(value);
    if (!event.has_value()) return bad(expected, "record does not decode");
    if (event->position != key_position) {
      return bad(expected, absl::StrCat("record says it is at position ",
                                        event->position));
    }
    if (ChainHash(previous_hash, RecordCanonicalPart(value)) != event->hash) {
      return bad(expected,
                 "hash does not match the record and the previous hash");
    }
    index->SeekForPrev(RevisionKey(event->stream, event->revision));
    RETURN_IF_ERROR(FromRocks(index->status(), "verify"));
    std::optional<RevisionRange> range;
    if (index->Valid()) {
      range = DecodeRevisionRange(RevisionKeyPrefix(event->stream),
                                  index->key().ToStringView(),
                                  index->value().ToStringView());
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

}  // namespace vigil::eventlog::internal
