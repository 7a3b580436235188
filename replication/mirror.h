// Mirror: publishes every event of the log, in position order, to a
// JetStream stream, so that JetStream sequence N is always Vigil position N
// (docs/replication.md). Each event goes to its stream's subject
// (subject.h) with its fields and chain hash in headers (event_headers.h),
// Nats-Msg-Id = position and hash, Nats-Expected-Last-Sequence =
// position - 1 and, after a connection's first publish,
// Nats-Expected-Last-Msg-Id = the previous publish's id
// (internal/jetstream.h): JetStream refuses a publish that would leave a
// gap or a duplicate, or that follows another writer's message, so a retry
// can never store an event twice or out of place, and a deposed primary's
// queued publishes cannot land after the new leader's.
//
// On start and after any error, the mirror reads the stream's last sequence
// L, fetches message L and compares it, hash included, with the log's event
// at position L; then it resumes at L + 1. A stream past the log's head, a
// message that differs, or an acknowledgement at a sequence other than the
// position stops the mirror for good (until vigild restarts): it logs
// "replication STOPPED", sets vigil_replication_stopped to 1 and the status
// to "stopped", fails every waiting AwaitStored, and never publishes again.
// Other errors (NATS unreachable, no JetStream quorum, a refused publish)
// reconnect after a backoff doubling from min_backoff to max_backoff.
//
// A JetStream acknowledgement is the second copy, never the durable one:
// NATS 2.9 syncs its files every two minutes, so an event counts as durable
// once the local log has synced it; AwaitStored adds "and a JetStream
// quorum holds it" for --replication=sync.
//
// One Mirror per process (its destructor waits for nats.c's threads).
// Thread safety: Status and AwaitStored may be called from any thread.

#ifndef VIGIL_REPLICATION_MIRROR_H_
#define VIGIL_REPLICATION_MIRROR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/json.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"

namespace vigil::replication {

struct MirrorOptions {
  // NATS servers, comma-separated ("nats://127.0.0.1:4222,nats://..."):
  // any node of the cluster will do; the client moves between them.
  std::string nats_url;
  // The JetStream stream, created on first start when missing with file
  // storage, `replicas` copies and subjects "<subject_prefix>.>".
  std::string stream = "VIGIL";
  std::string subject_prefix = "vigil";
  int replicas = 3;  // 1 to 5

  // Publishes sent and not yet acknowledged; the mirror waits for acks
  // past it.
  size_t max_inflight = 1024;
  // Events read from the log and published per step.
  size_t batch_events = 256;
  // How long a publish may wait for its acknowledgement, and JetStream API
  // calls (stream info, get message) for their answer; past it the
  // mirror treats the cluster as failed and reconnects.
  absl::Duration ack_timeout = absl::Seconds(5);
  // Per NATS server tried when connecting.
  absl::Duration connect_timeout = absl::Seconds(2);
  // Between reconnects: doubles from min to max, back to min once
  // mirroring.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);

  // AwaitStored's bound: an append not stored by the quorum within it is
  // answered UNAVAILABLE.
  absl::Duration store_timeout = absl::Seconds(5);
  // AwaitStored calls waiting at once; past it they fail at once.
  size_t max_waiters = 65536;

  // The vigil_replication_* series; null: none.
  base::Metrics* metrics = nullptr;

  // Asked before each batch of publishes; while it answers false nothing
  // is published (the mirror looks again every 100 ms). Null: always.
  // vigild with etcd: whether the leader lease still counts as held
  // (leadership.h), so a primary frozen past its lease and woken up never
  // publishes: the check passes only while etcd cannot yet have let
  // another vigild take the key. Quick, from the mirror's thread.
  std::function<bool()> may_publish;
};

struct MirrorStatus {
  // connecting: not (yet, or since an error) mirroring; mirroring: the
  // stream was checked and publishing goes on; stopped: see above.
  std::string state;
  uint64_t head_position = 0;
  // The last position a JetStream quorum acknowledged (0 before the first
  // check of the stream).
  uint64_t mirrored_position = 0;
  uint64_t lag_positions = 0;
  // Age of the oldest event not yet mirrored (0 when none).
  double lag_seconds = 0;
  std::string last_error;   // since mirroring last began; may be empty
  std::string stop_reason;  // when stopped
};

// OK when `options` are usable; INVALID_ARGUMENT naming the problem (an
// empty URL, a bad subject prefix or stream name, replicas out of range,
// zero bounds) otherwise. Start checks them too.
absl::Status CheckMirrorOptions(const MirrorOptions& options);

class Mirror {
 public:
  // Starts mirroring `log` (which must outlive the mirror) in the
  // background; NATS need not be reachable yet. INVALID_ARGUMENT for bad
  // options (empty URL, a bad subject prefix or stream name, replicas out
  // of range, zero bounds).
  static absl::StatusOr<std::unique_ptr<Mirror>> Start(MirrorOptions options,
                                                       eventlog::EventLog* log);
  // Stop()s, then waits (up to 5 s) for nats.c's threads to end.
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // Stops publishing and closes the connection; the AwaitStored still
  // waiting, and any called later, are answered UNAVAILABLE. Events
  // published and not yet acknowledged are checked again at the next
  // start. Idempotent; the log may close once it returns.
  void Stop();

  MirrorStatus Status() const;

  // The status as GET /v1/replication answers it, with `mode` ("async",
  // "sync") added: {"mode", "state", "stream", "head_position",
  // "mirrored_position", "lag_positions", "lag_seconds", "last_error",
  // "stop_reason"}, then the members of `extra` (an object).
  std::string StatusJson(std::string_view mode,
                         const base::Json& extra = base::Json::object()) const;

  // Calls `done` once: OK when a JetStream quorum has stored `position`
  // (at once when it already has); UNAVAILABLE when it has not within
  // store_timeout, when the mirror is stopped, when max_waiters calls
  // are waiting, or at shutdown. On the caller's thread, a nats.c thread
  // or the mirror's timer thread; `done` must be quick.
  void AwaitStored(uint64_t position, std::function<void(absl::Status)> done);

 private:
  class Impl;
  explicit Mirror(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::replication

#endif  // VIGIL_REPLICATION_MIRROR_H_
