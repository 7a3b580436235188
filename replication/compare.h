// CompareStreamWithLog: reads a JetStream stream the mirror wrote
// (mirror.h) back, message by message, and compares it with the log:
// sequence N must hold the event at position N, every field and the chain
// hash equal. The one copy of that check, used by `vigil mirror-check`
// (benchmarks/replication-bench check) and tests/replication/mirror_test.cc.
//
// Reads the stream through a pull consumer, 256 messages per request
// (JetStream::StartReading), beside the log 256 events per read; a gap
// (a sequence with no message) is confirmed by a direct get. Free
// function; any thread, one call per connection it makes.

#ifndef VIGIL_REPLICATION_COMPARE_H_
#define VIGIL_REPLICATION_COMPARE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"

namespace vigil::replication {

// How the event a message holds (`stored`) differs from the log's event at
// its position (`local`): "JetStream's hash H differs from the log's H'",
// "same hash, but the event's fields differ from the log's", or empty when
// they are equal. The mirror's and the standby's checks of the stream.
std::string EventDifference(const eventlog::RecordedEvent& stored,
                            const eventlog::RecordedEvent& local);

struct CompareOptions {
  std::string nats_url;  // comma-separated; the first reachable node
  std::string stream = "VIGIL";
  // Per JetStream request (stream info, a batch, one message); also how
  // long the consumer may deliver nothing while messages remain.
  absl::Duration api_timeout = absl::Seconds(5);
};

struct StreamComparison {
  uint64_t log_head = 0;     // the log's head position
  uint64_t stream_last = 0;  // the stream's last sequence
  // Positions 1..min(log_head, stream_last) read from both sides.
  uint64_t compared = 0;
  // Messages equal to the log's event at their sequence.
  uint64_t mirrored = 0;
  // Messages at the right sequence whose fields or hash differ.
  uint64_t mismatches = 0;
  // Sequences with no message (deleted or never stored).
  uint64_t gaps = 0;
  // Messages holding another position than their sequence (a second copy
  // of an event, or one out of place), plus sequences past the log's head.
  uint64_t duplicates = 0;
  // The first problem found, naming its sequence; empty when none.
  std::string first_problem;

  // The stream is exactly the log: same last sequence as the head, every
  // message equal.
  bool Equal() const {
    return stream_last == log_head && mirrored == log_head && mismatches == 0 &&
           gaps == 0 && duplicates == 0;
  }
};

// Compares the whole of stream `options.stream` with `log`. The stream must
// exist (it is not created). UNAVAILABLE when NATS cannot be reached or a
// request fails other than by a missing message (counted as a gap);
// NOT_FOUND when the stream does not exist; the log's read errors as they
// come.
absl::StatusOr<StreamComparison> CompareStreamWithLog(
    const CompareOptions& options, const eventlog::EventLog& log);

}  // namespace vigil::replication

#endif  // VIGIL_REPLICATION_COMPARE_H_
