// The on-disk encoding of the event log: keys, records and their canonical
// bytes. FORMAT.md is the prose version of this file; keep them in step.
// Pure functions, safe from any thread.

#ifndef VIGIL_EVENTLOG_INTERNAL_CODEC_H_
#define VIGIL_EVENTLOG_INTERNAL_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "eventlog/event.h"

namespace vigil::eventlog::internal {

inline constexpr size_t kHashBytes = 32;  // SHA-256

// Key prefixes, one byte each (FORMAT.md "Keys").
inline constexpr char kRecordPrefix = 'p';       // p + BE64(position)
inline constexpr char kRevisionPrefix = 's';     // s + stream + \0 + BE64(rev)
inline constexpr char kStreamPrefix = 'm';       // m + stream
inline constexpr char kIdempotencyPrefix = 'i';  // i + key
inline constexpr char kExpiryPrefix = 'x';       // x + BE64(time) + key
inline constexpr char kSnapshotPrefix = 'n';  // n + name + \0 + BE64(position)
inline constexpr char kSnapshotEntryPrefix = 'v';  // v + name + \0 + key + \0
                                                   //   + BE64(position)

void PutBigEndian64(std::string* out, uint64_t value);
uint64_t GetBigEndian64(std::string_view in);  // REQUIRES: in.size() >= 8

std::string RecordKey(uint64_t position);
std::string RevisionKey(std::string_view stream, uint64_t revision);
std::string RevisionKeyPrefix(std::string_view stream);  // s + stream + \0
std::string StreamKey(std::string_view stream);
std::string IdempotencyKey(std::string_view key);
std::string ExpiryKey(int64_t time_us, std::string_view key);
std::string SnapshotKey(std::string_view name, uint64_t position);
// v + name + \0 + key: every value of `key` follows it, by position.
std::string SnapshotEntryPrefix(std::string_view name, std::string_view key);

// The canonical bytes of an event: what its hash covers.
std::string CanonicalBytes(const RecordedEvent& event);

// A record in the making, built on the appending thread so the writer does
// not copy the event's fields: the canonical bytes of `event` in `stream`
// with position, revision and recorded time left as zeros, and room for the
// hash. CompleteRecord fills them in and appends the chained hash, which it
// also stores in *hash; the result equals EncodeRecord of the same event.
// `event_id` and `content_type` are recorded in place of the event's own
// (the log normalises or assigns them).
std::string PrepareRecord(std::string_view stream, std::string_view event_id,
                          std::string_view content_type, const EventData& event);
void CompleteRecord(uint64_t position, uint64_t revision, int64_t time_us,
                    std::string* record, std::string* hash);

// SHA-256(previous_hash || canonical).
std::string ChainHash(std::string_view previous_hash,
                      std::string_view canonical);

// A record value: canonical bytes followed by the 32-byte hash.
std::string EncodeRecord(const RecordedEvent& event);
// Parses a record value; nullopt when it is malformed. The hash is taken
// from the record as stored, not recomputed.
std::optional<RecordedEvent> DecodeRecord(std::string_view value);
// The canonical part of a record value (without the trailing hash).
std::string_view RecordCanonicalPart(std::string_view value);

// A stream-index entry, under RevisionKey(stream, first_revision): revisions
// first_revision .. first_revision + count - 1 of the stream, at positions
// first_position .. first_position + count - 1 (an append's events are
// contiguous in both, so one entry covers a whole append). The value is
// BE64(first_position), then BE64(count) when count > 1, so logs written
// with one 8-byte entry per event read the same (FORMAT.md).
struct RevisionRange {
  uint64_t first_revision = 0;
  uint64_t first_position = 0;
  uint64_t count = 1;

  uint64_t last_revision() const { return first_revision + count - 1; }
  uint64_t last_position() const { return first_position + count - 1; }
  bool Contains(uint64_t revision) const {
    return revision >= first_revision && revision - first_revision < count;
  }
  // REQUIRES: Contains(revision).
  uint64_t PositionOf(uint64_t revision) const {
    return first_position + (revision - first_revision);
  }
};
std::string EncodeRevisionRange(uint64_t first_position, uint64_t count);
// `key` must be a revision key of the stream whose RevisionKeyPrefix is
// `prefix`; nullopt when it is not, or when the value is malformed.
std::optional<RevisionRange> DecodeRevisionRange(std::string_view prefix,
                                                 std::string_view key,
                                                 std::string_view value);

// What the log knows of a stream. Only `created_time_us` is stored, under
// StreamKey, once, when the stream is created; the rest is read from the
// stream's last revision key and record (FORMAT.md).
struct StreamMeta {
  uint64_t last_revision = 0;
  uint64_t last_position = 0;
  int64_t created_time_us = 0;
  int64_t updated_time_us = 0;
};
std::string EncodeStreamCreated(int64_t created_time_us);
std::optional<int64_t> DecodeStreamCreated(std::string_view value);

// What the log keeps per idempotency key under IdempotencyKey.
struct IdempotencyRecord {
  std::string fingerprint;  // SHA-256 of the request as the client sent it
  int64_t created_time_us = 0;
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  uint64_t next_expected_revision = 0;
};
std::string EncodeIdempotencyRecord(const IdempotencyRecord& record);
std::optional<IdempotencyRecord> DecodeIdempotencyRecord(
    std::string_view value);

// SHA-256 over the request as sent (stream, expected revision, each event's
// fields before the log fills in ids and content types).
std::string RequestFingerprint(const AppendRequest& request);

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_CODEC_H_
