// The log's on-disk values (eventlog/FORMAT.md) as a corrupted data
// directory would hand them to the reader: a record, a stream-index entry,
// a stream's creation time, an idempotency record. Each decoder must
// refuse bad bytes with nullopt, never crash; what decodes must encode back
// to the same bytes (the encodings are canonical).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "eventlog/event.h"
#include "eventlog/internal/codec.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using vigil::fuzz::Check;

using vigil::eventlog::RecordedEvent;
namespace internal = vigil::eventlog::internal;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view value(reinterpret_cast<const char*>(data), size);

  std::optional<RecordedEvent> event = internal::DecodeRecord(value);
  if (event) {
    Check(internal::EncodeRecord(*event) == value);
    Check(internal::RecordCanonicalPart(value) ==
          internal::CanonicalBytes(*event));
  }

  // A stream-index entry: the first byte splits the input into the key's
  // stream and revision, and the value.
  if (size >= 1) {
    size_t split = std::min<size_t>(data[0], size - 1);
    std::string_view rest = value.substr(1);
    std::string_view stream = rest.substr(0, std::min(split, rest.size()));
    std::string_view tail = rest.substr(stream.size());
    uint64_t revision = tail.size() >= 8 ? internal::GetBigEndian64(tail) : 0;
    std::string_view index_value = tail.substr(std::min<size_t>(8, tail.size()));
    std::string prefix = internal::RevisionKeyPrefix(stream);
    std::string key = internal::RevisionKey(stream, revision);
    std::optional<internal::RevisionRange> range =
        internal::DecodeRevisionRange(prefix, key, index_value);
    if (range) {
      Check(range->first_revision == revision);
      Check(range->count >= 1);
      Check(internal::EncodeRevisionRange(range->first_position,
                                          range->count) == index_value);
    }
    // The raw input as a key of some other stream must not crash either.
    (void)internal::DecodeRevisionRange(prefix, value, index_value);
  }

  std::optional<int64_t> created = internal::DecodeStreamCreated(value);
  if (created) Check(internal::EncodeStreamCreated(*created) == value);

  std::optional<internal::IdempotencyRecord> idempotency =
      internal::DecodeIdempotencyRecord(value);
  if (idempotency) {
    Check(internal::EncodeIdempotencyRecord(*idempotency) == value);
  }
  return 0;
}
