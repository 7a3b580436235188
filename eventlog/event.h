// The value types of the event log: what a client appends, what the log
// records, and what it says about a stream. Plain structs, copyable, no
// behaviour beyond small helpers; safe to share between threads once built.

#ifndef VIGIL_EVENTLOG_EVENT_H_
#define VIGIL_EVENTLOG_EVENT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::eventlog {

inline constexpr char kJsonContentType[] = "application/json";

// One event as a client proposes it. Empty `event_id` makes the log assign a
// UUIDv7; empty `content_type` means application/json.
struct EventData {
  std::string event_id;
  std::string type;
  std::string data;
  std::string content_type;
  std::string metadata;  // a JSON object, or empty
};

// The optimistic-concurrency check of an append (docs/contract.md "Expected
// revision").
class ExpectedRevision {
 public:
  enum class Kind { kAny, kNoStream, kStreamExists, kExact };

  static ExpectedRevision Any() { return ExpectedRevision(Kind::kAny, 0); }
  static ExpectedRevision NoStream() {
    return ExpectedRevision(Kind::kNoStream, 0);
  }
  static ExpectedRevision StreamExists() {
    return ExpectedRevision(Kind::kStreamExists, 0);
  }
  static ExpectedRevision Exact(uint64_t revision) {
    return ExpectedRevision(Kind::kExact, revision);
  }

  ExpectedRevision() = default;  // Any()
  Kind kind() const { return kind_; }
  // REQUIRES: kind() == Kind::kExact.
  uint64_t revision() const { return revision_; }
  // "any", "no_stream", "stream_exists" or the decimal revision.
  std::string ToString() const;

  friend bool operator==(const ExpectedRevision&,
                         const ExpectedRevision&) = default;

 private:
  ExpectedRevision(Kind kind, uint64_t revision)
      : kind_(kind), revision_(revision) {}
  Kind kind_ = Kind::kAny;
  uint64_t revision_ = 0;
};

struct AppendRequest {
  std::string stream;
  ExpectedRevision expected_revision;
  std::string idempotency_key;  // optional; up to 255 printable ASCII bytes
  std::vector<EventData> events;
};

struct AppendResult {
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  uint64_t next_expected_revision = 0;  // the stream's last revision after it
  bool deduplicated = false;

  friend bool operator==(const AppendResult&, const AppendResult&) = default;
};

// An event as the log recorded it. `hash` is the 32 raw bytes of
// SHA-256(previous event's hash || canonical bytes), see FORMAT.md.
struct RecordedEvent {
  std::string event_id;
  std::string stream;
  uint64_t revision = 0;
  uint64_t position = 0;
  std::string type;
  std::string data;
  std::string content_type;
  std::string metadata;
  int64_t recorded_time_us = 0;
  std::string hash;

  friend bool operator==(const RecordedEvent&, const RecordedEvent&) = default;
};

struct StreamInfo {
  std::string stream;
  uint64_t last_revision = 0;
  uint64_t last_position = 0;
  uint64_t event_count = 0;
  int64_t created_time_us = 0;
  int64_t updated_time_us = 0;

  friend bool operator==(const StreamInfo&, const StreamInfo&) = default;
};

// Selects events by stream-name prefix and by type. An empty list matches
// everything; a non-empty one matches when any entry matches.
struct Filter {
  std::vector<std::string> stream_prefixes;
  std::vector<std::string> event_types;

  bool Empty() const { return stream_prefixes.empty() && event_types.empty(); }
  bool Matches(const RecordedEvent& event) const;
};

// The hash chain (docs/contract.md "Concepts", FORMAT.md), for a client that
// checks a log it has read (vigil verify --server) without trusting the
// server's own Verify: an event's `hash` must equal ChainedHash(the previous
// event's hash, event), and the event at position 1 chains from
// GenesisHash() (32 zero bytes). Both raw bytes, not hex.
std::string GenesisHash();
std::string ChainedHash(std::string_view previous_hash,
                        const RecordedEvent& event);

}  // namespace vigil::eventlog

#endif  // VIGIL_EVENTLOG_EVENT_H_
