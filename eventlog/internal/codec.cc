#include "eventlog/internal/codec.h"

#include "base/sha256.h"

namespace vigil::eventlog::internal {
namespace {

constexpr char kRecordMagic[] = "VGE1";  // format version of CanonicalBytes
constexpr size_t kMagicBytes = 4;
constexpr size_t kIdempotencyRecordBytes = kHashBytes + 32;

void PutBytes(std::string* out, std::string_view bytes) {
  const uint32_t n = static_cast<uint32_t>(bytes.size());
  const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
  out->append(len, 4);
  out->append(bytes.data(), bytes.size());
}

// Reads from the front of *in; false when *in is too short.
bool GetFixed64(std::string_view* in, uint64_t* value) {
  if (in->size() < 8) return false;
  *value = GetBigEndian64(*in);
  in->remove_prefix(8);
  return true;
}

bool GetBytes(std::string_view* in, std::string* value) {
  if (in->size() < 4) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(in->data());
  const size_t n = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) |
                   (size_t{p[2]} << 8) | size_t{p[3]};
  in->remove_prefix(4);
  if (in->size() < n) return false;
  value->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

std::string WithPrefix(char prefix, std::string_view rest) {
  std::string key;
  key.reserve(1 + rest.size());
  key.push_back(prefix);
  key.append(rest.data(), rest.size());
  return key;
}

// Hashes a field with its length in front, so that fields cannot run into
// each other.
void UpdateBytes(base::Sha256& sha, std::string_view bytes) {
  std::string len;
  PutBigEndian64(&len, bytes.size());
  sha.Update(len);
  sha.Update(bytes);
}

}  // namespace

void PutBigEndian64(std::string* out, uint64_t value) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out->append(buf, 8);
}

uint64_t GetBigEndian64(std::string_view in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value = (value << 8) | static_cast<unsigned char>(in[i]);
  }
  return value;
}

std::string RecordKey(uint64_t position) {
  std::string key(1, kRecordPrefix);
  PutBigEndian64(&key, position);
  return key;
}

std::string SnapshotKey(std::string_view name, uint64_t position) {
  std::string key = WithPrefix(kSnapshotPrefix, name);
  key.push_back('\0');
  PutBigEndian64(&key, position);
  return key;
}

std::string SnapshotEntryPrefix(std::string_view name, std::string_view key) {
  std::string out = WithPrefix(kSnapshotEntryPrefix, name);
  out.push_back('\0');
  out.append(key);
  return out;
}

std::string RevisionKeyPrefix(std::string_view stream) {
  std::string key = WithPrefix(kRevisionPrefix, stream);
  key.push_back('\0');  // stream names never hold \0, so "a" and "a.b" part
  return key;
}

std::string RevisionKey(std::string_view stream, uint64_t revision) {
  std::string key = RevisionKeyPrefix(stream);
  PutBigEndian64(&key, revision);
  return key;
}

std::string EncodeRevisionRange(uint64_t first_position, uint64_t count) {
  std::string value;
  PutBigEndian64(&value, first_position);
  if (count > 1) PutBigEndian64(&value, count);
  return value;
}

std::optional<RevisionRange> DecodeRevisionRange(std::string_view prefix,
                                                 std::string_view key,
                                                 std::string_view value) {
  if (!key.starts_with(prefix) || key.size() != prefix.size() + 8) {
    return std::nullopt;
  }
  RevisionRange range;
  range.first_revision = GetBigEndian64(key.substr(prefix.size()));
  if (value.size() == 8) {
    range.first_position = GetBigEndian64(value);
  } else if (value.size() == 16) {
    range.first_position = GetBigEndian64(value);
    range.count = GetBigEndian64(value.substr(8));
    if (range.count < 2) return std::nullopt;  // a single event has 8 bytes
  } else {
    return std::nullopt;
  }
  if (range.first_position == 0 ||
      range.first_position + range.count < range.first_position ||
      range.first_revision + range.count < range.first_revision) {
    return std::nullopt;
  }
  return range;
}

std::string StreamKey(std::string_view stream) {
  return WithPrefix(kStreamPrefix, stream);
}

std::string IdempotencyKey(std::string_view key) {
  return WithPrefix(kIdempotencyPrefix, key);
}

std::string ExpiryKey(int64_t time_us, std::string_view key) {
  std::string out(1, kExpiryPrefix);
  PutBigEndian64(&out, static_cast<uint64_t>(time_us));
  out.append(key.data(), key.size());
  return out;
}

std::string CanonicalBytes(const RecordedEvent& event) {
  std::string out;
  out.reserve(kMagicBytes + 24 + 6 * 4 + event.stream.size() +
              event.event_id.size() + event.type.size() +
              event.content_type.size() + event.data.size() +
              event.metadata.size());
  out.append(kRecordMagic, kMagicBytes);
  PutBigEndian64(&out, event.position);
  PutBigEndian64(&out, event.revision);
  PutBigEndian64(&out, static_cast<uint64_t>(event.recorded_time_us));
  PutBytes(&out, event.stream);
  PutBytes(&out, event.event_id);
  PutBytes(&out, event.type);
  PutBytes(&out, event.content_type);
  PutBytes(&out, event.data);
  PutBytes(&out, event.metadata);
  return out;
}

std::string PrepareRecord(std::string_view stream, std::string_view event_id,
                          std::string_view content_type, const EventData& event) {
  std::string out;
  out.reserve(kMagicBytes + 24 + 6 * 4 + stream.size() + event_id.size() +
              event.type.size() + content_type.size() + event.data.size() +
              event.metadata.size() + kHashBytes);
  out.append(kRecordMagic, kMagicBytes);
  out.append(24, '\0');  // position, revision, recorded time: CompleteRecord
  PutBytes(&out, stream);
  PutBytes(&out, event_id);
  PutBytes(&out, event.type);
  PutBytes(&out, content_type);
  PutBytes(&out, event.data);
  PutBytes(&out, event.metadata);
  return out;
}

void CompleteRecord(uint64_t position, uint64_t revision, int64_t time_us,
                    std::string* record, std::string* hash) {
  // The writer runs this once per event, serially: no allocation here.
  char* header = record->data() + kMagicBytes;
  const uint64_t fields[3] = {position, revision, static_cast<uint64_t>(time_us)};
  for (uint64_t field : fields) {
    for (int i = 7; i >= 0; --i) {
      header[i] = static_cast<char>(field & 0xff);
      field >>= 8;
    }
    header += 8;
  }
  base::Sha256 sha;
  sha.Update(*hash);
  sha.Update(*record);
  sha.FinalInto(hash);
  record->append(*hash);
}

std::string ChainHash(std::string_view previous_hash,
                      std::string_view canonical) {
  base::Sha256 sha;
  sha.Update(previous_hash);
  sha.Update(canonical);
  return sha.Final();
}

std::string EncodeRecord(const RecordedEvent& event) {
  std::string out = CanonicalBytes(event);
  out.append(event.hash);
  return out;
}

std::string_view RecordCanonicalPart(std::string_view value) {
  if (value.size() < kHashBytes) return {};
  return value.substr(0, value.size() - kHashBytes);
}

std::optional<RecordedEvent> DecodeRecord(std::string_view value) {
  if (value.size() < kMagicBytes + kHashBytes ||
      value.substr(0, kMagicBytes) != std::string_view(kRecordMagic, 4)) {
    return std::nullopt;
  }
  RecordedEvent event;
  event.hash.assign(value.substr(value.size() - kHashBytes));
  std::string_view in = value.substr(kMagicBytes,
                                     value.size() - kMagicBytes - kHashBytes);
  uint64_t time = 0;
  if (!GetFixed64(&in, &event.position) || !GetFixed64(&in, &event.revision) ||
      !GetFixed64(&in, &time) || !GetBytes(&in, &event.stream) ||
      !GetBytes(&in, &event.event_id) || !GetBytes(&in, &event.type) ||
      !GetBytes(&in, &event.content_type) || !GetBytes(&in, &event.data) ||
      !GetBytes(&in, &event.metadata) || !in.empty()) {
    return std::nullopt;
  }
  event.recorded_time_us = static_cast<int64_t>(time);
  return event;
}

std::string EncodeStreamCreated(int64_t created_time_us) {
  std::string out;
  PutBigEndian64(&out, static_cast<uint64_t>(created_time_us));
  return out;
}

std::optional<int64_t> DecodeStreamCreated(std::string_view value) {
  if (value.size() != 8) return std::nullopt;
  return static_cast<int64_t>(GetBigEndian64(value));
}

std::string EncodeIdempotencyRecord(const IdempotencyRecord& record) {
  std::string out = record.fingerprint;
  PutBigEndian64(&out, static_cast<uint64_t>(record.created_time_us));
  PutBigEndian64(&out, record.first_position);
  PutBigEndian64(&out, record.last_position);
  PutBigEndian64(&out, record.next_expected_revision);
  return out;
}

std::optional<IdempotencyRecord> DecodeIdempotencyRecord(
    std::string_view value) {
  if (value.size() != kIdempotencyRecordBytes) return std::nullopt;
  IdempotencyRecord record;
  record.fingerprint.assign(value.substr(0, kHashBytes));
  value.remove_prefix(kHashBytes);
  record.created_time_us = static_cast<int64_t>(GetBigEndian64(value));
  record.first_position = GetBigEndian64(value.substr(8));
  record.last_position = GetBigEndian64(value.substr(16));
  record.next_expected_revision = GetBigEndian64(value.substr(24));
  return record;
}

std::string RequestFingerprint(const AppendRequest& request) {
  base::Sha256 sha;
  UpdateBytes(sha, request.stream);
  UpdateBytes(sha, request.expected_revision.ToString());
  for (const EventData& event : request.events) {
    UpdateBytes(sha, event.event_id);
    UpdateBytes(sha, event.type);
    UpdateBytes(sha, event.content_type);
    UpdateBytes(sha, event.data);
    UpdateBytes(sha, event.metadata);
  }
  return sha.Final();
}

}  // namespace vigil::eventlog::internal
