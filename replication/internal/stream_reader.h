// StreamReader: reads a mirrored JetStream stream forward in batches from a
// sequence on, through JetStream::StartReading's pull consumer, and checks
// what it reads: sequence N follows N-1 and holds Vigil position N, and,
// when given the hash the first event chains from, each event's hash is
// eventlog::ChainedHash of its predecessor's. The standby's follower and
// the gateway replica that follows the stream (jetstream_log.h) read
// through it.
//
// Thread safety: one thread at a time, with the JetStream it reads from.

#ifndef VIGIL_REPLICATION_INTERNAL_STREAM_READER_H_
#define VIGIL_REPLICATION_INTERNAL_STREAM_READER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "eventlog/event.h"
#include "replication/internal/jetstream.h"

namespace vigil::replication::internal {

struct StreamReaderOptions {
  std::string stream;        // the JetStream stream's name
  uint64_t first = 1;        // the first sequence to read
  size_t batch_events = 256;  // messages per fetch request
  // How long one fetch waits when the consumer has nothing (then Next()
  // answers empty): the latency of a caught-up reader, besides its poll.
  absl::Duration fetch_wait = absl::Milliseconds(100);
  // A consumer that delivers nothing for this long while the stream holds
  // more is given up (UNAVAILABLE, or DATA_LOSS for a gap).
  absl::Duration api_timeout = absl::Seconds(5);
  // The hash (raw bytes) the event at `first` must chain from; nullopt:
  // hashes are not checked here (the standby's Import checks them).
  std::optional<std::string> previous_hash;
};

class StreamReader {
 public:
  // Starts a consumer on `js` (which must outlive the reader) at
  // options.first. UNAVAILABLE when it cannot.
  static absl::StatusOr<StreamReader> Start(JetStream* js,
                                            StreamReaderOptions options);

  // The next events, contiguous from next(), as many as one fetch brings
  // (at most batch_events); empty when the stream holds nothing more now
  // (stream_last() is then its last sequence, read now). DATA_LOSS naming
  // the sequence, for good (the stream is not the log it must be): a
  // message that is not a Vigil event, a sequence other than the one due,
  // a position other than its sequence, a hash that does not chain, no
  // message at next() though the stream ends past it (or the consumer
  // delivered a later one). UNAVAILABLE for a failed request, a consumer
  // that stalled, or one that went past next() while the stream holds it
  // (deliveries lost with a NATS node): start another reader at next().
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> Next();

  // The sequence the next event must have.
  uint64_t next() const { return next_; }
  // The stream's last sequence, as last seen (at least next() - 1).
  uint64_t stream_last() const { return stream_last_; }

 private:
  StreamReader(JetStream* js, StreamReaderOptions options);
  // Nothing more came, or the consumer went past next_ (skipped_to_): is
  // there a message at next_? DATA_LOSS (a gap) or UNAVAILABLE.
  absl::Status Behind();

  JetStream* js_;
  StreamReaderOptions options_;
  uint64_t next_;
  uint64_t stream_last_ = 0;
  // The sequence the consumer delivered past next_; 0: none.
  uint64_t skipped_to_ = 0;
  // When a message last came, or the stream was last seen to end before
  // next_.
  absl::Time progress_;
};

}  // namespace vigil::replication::internal

#endif  // VIGIL_REPLICATION_INTERNAL_STREAM_READER_H_
