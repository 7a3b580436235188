// JetStreamLog: a primary's event log as a gateway replica sees it through
// the JetStream stream the primary mirrors to (`vigild --gateway-only
// --nats-url ...`, docs/operations.md "Gateway replicas", docs/replication.md
// "Gateway replicas on the stream"), with no connection to the primary.
// Like gateway::UpstreamLog it holds no data of its own: a follower thread
// reads the stream forward in batches (internal/stream_reader.h), from its
// last message at the first connection, and feeds eventlog::FollowerLog's
// window and head listeners (LiveHub, REST reads); reads older than the
// window, stream reads and GetStream are answered from the stream itself:
// ReadAll by a pull consumer started at sequence = position, ReadStream by
// a consumer filtered on the stream's subject (replication/subject.h), so
// it reads the stream's messages from its first: cost grows with the
// stream's length), GetStream from the subject's last and first message.
//
// Every event the follower takes must continue the one before: sequence N
// holds position N and its hash is eventlog::ChainedHash of the previous
// event's (the first one's predecessor is read from the stream). A message
// that breaks this (a forged or altered message, a gap, a message that is
// not a Vigil event), or a stream that no longer holds the replica's head
// event, stops the follower for good (until vigild restarts): it logs
// "vigild: jetstream replica: STOPPED: <reason>", Health() says so and the
// head moves no more. Other errors (NATS unreachable, a node restarting, no
// JetStream quorum) end the session and reconnect after a backoff
// (internal/reconnect.h), resuming after the head.
//
// Read-only: appends answer UNIMPLEMENTED naming `primary` when given.
//
// Thread safety: every method may be called from any thread; reads from
// the stream (older than the window, streams) are one at a time, over one
// NATS connection of their own.

#ifndef VIGIL_REPLICATION_JETSTREAM_LOG_H_
#define VIGIL_REPLICATION_JETSTREAM_LOG_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "eventlog/follower_log.h"

namespace vigil::replication {

struct JetStreamLogOptions {
  // NATS servers, comma-separated; any node of the cluster will do.
  std::string nats_url;
  // The stream and subject prefix the primary mirrors to
  // (MirrorOptions::stream, subject_prefix).
  std::string stream = "VIGIL";
  std::string subject_prefix = "vigil";
  // The window of recent events, and the primary named to appenders.
  eventlog::FollowerWindowOptions window;
  // Messages per fetch request, following and reading.
  size_t batch_events = 256;
  // Between fetches once the replica has the whole stream.
  absl::Duration poll_interval = absl::Milliseconds(20);
  // Per JetStream request, and per NATS server tried when connecting; a
  // consumer that delivers nothing for api_timeout while the stream holds
  // more is replaced.
  absl::Duration api_timeout = absl::Seconds(5);
  absl::Duration connect_timeout = absl::Seconds(2);
  // Between reconnects: doubles from min to max, back to min once following.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  // The vigil_jetstream_replica_* series; null: none.
  base::Metrics* metrics = nullptr;
};

class JetStreamLog final : public eventlog::FollowerLog {
 public:
  // Starts following and returns at once: NATS need not be reachable yet
  // (Health() says so). INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<JetStreamLog>> Start(
      JetStreamLogOptions options);

  // Stops the follower and waits for its thread.
  ~JetStreamLog() override;

  // OK once the follower has read the whole stream in its current session
  // (it is following); UNAVAILABLE saying why otherwise (connecting, the
  // last error, or "stopped: <reason>"). /readyz answers it.
  absl::Status Health() const;

  // ---- eventlog::EventLog (the rest: eventlog::FollowerLog) ----------------
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadStream(
      const std::string& stream, uint64_t from_revision, uint64_t max_count,
      bool backwards) const override;
  absl::StatusOr<eventlog::StreamInfo> GetStream(
      const std::string& stream) const override;

 private:
  class Impl;
  explicit JetStreamLog(const JetStreamLogOptions& options);
  // A consumer at sequence `from`; the page's hashes are checked from the
  // hash of the message before it.
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadOlder(
      uint64_t from, uint64_t count) const override;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::replication

#endif  // VIGIL_REPLICATION_JETSTREAM_LOG_H_
