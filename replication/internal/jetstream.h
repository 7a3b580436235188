// JetStream: one connection to a NATS cluster and its JetStream context,
// with the few calls the mirror, the standby and the gateway replica
// (jetstream_log.h) make, answered as absl::Status. nats.c's
// types stay inside jetstream.cc. A connection that breaks reconnects by
// itself (nats.c), to any node of the URL list; the mirror still makes a
// new JetStream after any error, so a session never outlives a failure.
//
// Thread safety: one thread at a time calls the methods; `on_ack` runs
// on a nats.c thread.

#ifndef VIGIL_REPLICATION_INTERNAL_JETSTREAM_H_
#define VIGIL_REPLICATION_INTERNAL_JETSTREAM_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "eventlog/event.h"

namespace vigil::replication::internal {

// What a publish came to: the sequence JetStream stored `position` at, or
// why it did not.
using AckCallback =
    std::function<void(uint64_t position, absl::StatusOr<uint64_t> sequence)>;

struct JetStreamOptions {
  std::string url;                // comma-separated nats://host:port
  absl::Duration connect_timeout;  // per server tried
  absl::Duration api_timeout;      // stream info, get message
  size_t max_pending = 0;          // async publishes awaiting their ack
  // Must stay callable until nats_CloseAndWait (see Mirror's destructor).
  const AckCallback* on_ack = nullptr;
  // Whether each publish after the session's first names its predecessor
  // (Nats-Expected-Last-Msg-Id, see PublishAsync). Only the fencing
  // test's control turns it off, to show what it refuses.
  bool chain_message_ids = true;
};

// A message read from a stream: the event it holds and its sequence.
struct StoredEvent {
  uint64_t sequence = 0;
  eventlog::RecordedEvent event;
};

// The Nats-Msg-Id of `event`'s message: its position, '-', the first 16
// hex digits of its hash. A retry of the same event is dropped as a
// duplicate; another event at the same position (a deposed primary's) is
// not taken for it.
std::string MessageId(const eventlog::RecordedEvent& event);

class JetStream {
 public:
  static absl::StatusOr<std::unique_ptr<JetStream>> Connect(
      const JetStreamOptions& options);
  // Drops publishes still waiting for their ack (their callbacks may still
  // run, or never) and closes the connection.
  ~JetStream();
  JetStream(const JetStream&) = delete;
  JetStream& operator=(const JetStream&) = delete;

  // The last sequence of stream `name`; NOT_FOUND when it does not exist.
  absl::StatusOr<uint64_t> LastSequence(const std::string& name);

  // The last sequence of stream `name`, creating it (file storage,
  // `replicas`, subjects "<subject_prefix>.>") when it does not exist.
  absl::StatusOr<uint64_t> EnsureStream(const std::string& name,
                                        const std::string& subject_prefix,
                                        int replicas);

  // The event stored at `sequence` of stream `name` (event_headers.h);
  // NOT_FOUND when the stream has no message there.
  absl::StatusOr<eventlog::RecordedEvent> GetEvent(const std::string& name,
                                                   uint64_t sequence);

  // The last message on `subject` of stream `name` as an event; NOT_FOUND
  // when the subject has none.
  absl::StatusOr<eventlog::RecordedEvent> GetLastEvent(
      const std::string& name, const std::string& subject);

  // Starts a pull consumer on stream `name` that delivers every message
  // from sequence `first` on (only those on `subject` when it is not
  // empty), in sequence order, without acks: an ephemeral consumer in
  // memory on one node, deleted with this session (or by JetStream
  // kConsumerInactive after the last fetch, when the session could not
  // delete it). Replaces an earlier one.
  absl::Status StartReading(const std::string& name, uint64_t first,
                            const std::string& subject = "");

  // Up to `max` messages of StartReading's consumer, in the order it
  // delivers them, as many as it has now (one no-wait request, answered
  // within `wait`); empty when it has none (nats-server 2.9 then answers
  // only at `wait`: keep it short). DATA_LOSS naming the sequence
  // for a message that is not a Vigil event; UNAVAILABLE for a failed or
  // unanswered request, or no consumer (then make a new session).
  absl::StatusOr<std::vector<StoredEvent>> Fetch(size_t max,
                                                 absl::Duration wait);

  // Publishes `event` on `subject` without waiting: Nats-Msg-Id =
  // MessageId(event); Nats-Expected-Last-Sequence = position - 1 (for
  // position 1, whose expected last sequence 0 JetStream cannot check, no
  // message on its subject); and, for every publish of this session after
  // its first, Nats-Expected-Last-Msg-Id = the previous publish's message
  // id. So a publish lands only right after its own predecessor: once one
  // is refused (another writer took its position), every publish queued
  // behind it is refused too, instead of chaining on the other writer's
  // message by sequence alone. The session's first publish chains by
  // sequence only: the caller has checked the stream's last message
  // against its log (Mirror's CheckResume), and a stream node restarted
  // more than JetStream's duplicate window (2 minutes) after the last
  // publish has forgotten the last message id, which would refuse it.
  // The outcome comes to on_ack within `ack_timeout`. Blocks while
  // max_pending publishes wait for acks (up to 200 ms, then UNAVAILABLE).
  absl::Status PublishAsync(const std::string& subject,
                            const eventlog::RecordedEvent& event,
                            absl::Duration ack_timeout);

 private:
  JetStream() = default;
  struct Handles;
  std::unique_ptr<Handles> handles_;
  bool chain_message_ids_ = true;
  // MessageId of the last publish of this session; empty before the first.
  std::string last_published_id_;
};

}  // namespace vigil::replication::internal

#endif  // VIGIL_REPLICATION_INTERNAL_JETSTREAM_H_
