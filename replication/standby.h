// Standby: builds and keeps a local log from the JetStream stream a primary
// mirrors to (mirror.h, docs/replication.md "A standby"). It reads the
// stream in sequence order from the log's head + 1; sequence N must hold
// Vigil position N, and every event is stored at the same position with the
// same hash through EventLog::Import, which checks that the position
// continues the log, the revision continues its stream and the hash chains
// from the log's previous event. So the standby's log verifies exactly as
// the primary's, and the live feed, subscriptions and reads see the events
// as the head listeners announce them.
//
// At every (re)connection it compares the stream's message at the log's
// head with the log's event (hash included). A message that differs, a
// sequence holding another position, a missing message below the stream's
// last sequence, a message that is not a Vigil event, an event whose hash
// does not chain, or a stream that ends before the log's head stops the
// standby for good (until vigild restarts): it logs "vigild: standby:
// STOPPED: <reason>", the status says "stopped", and it applies nothing
// more. Other errors (NATS unreachable, no JetStream quorum, a full disk)
// retry after a backoff doubling from min_backoff to max_backoff.
//
// The standby never publishes. It reads through a pull consumer of its
// own (ephemeral, in memory, no acks) started at the log's head + 1 at
// every (re)connection, fetching up to batch_events messages a request;
// once it has applied the whole stream, it asks again every poll_interval.
// Each message's stream sequence must be the next one due.
//
// Claim turns a standby's log into a leader's: it stops following and
// makes one event the next of both the stream and the log, the stream
// first (docs/replication.md "Fencing the deposed primary").
//
// Thread safety: Status, StatusJson and AwaitCaughtUp may be called from
// any thread; the applying runs on the standby's own thread, and Claim's
// on its caller's (one caller at a time).

#ifndef VIGIL_REPLICATION_STANDBY_H_
#define VIGIL_REPLICATION_STANDBY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/json.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"

namespace vigil::replication {

struct StandbyOptions {
  // NATS servers, comma-separated; any node of the cluster will do.
  std::string nats_url;
  // The JetStream stream the primary mirrors to (MirrorOptions::stream),
  // and its subjects' prefix (MirrorOptions::subject_prefix; Claim
  // publishes under it).
  std::string stream = "VIGIL";
  std::string subject_prefix = "vigil";
  // Messages fetched from the stream in one request and imported into
  // the log in one group commit.
  size_t batch_events = 256;
  // Between fetches once the whole stream is applied.
  absl::Duration poll_interval = absl::Milliseconds(20);
  // Per JetStream request (stream info, one message), and per NATS server
  // tried when connecting; a consumer that delivers nothing for this long
  // while the stream holds more is replaced (a reconnection).
  absl::Duration api_timeout = absl::Seconds(5);
  absl::Duration connect_timeout = absl::Seconds(2);
  // Between reconnects after an error: doubles from min to max, back to
  // min once following.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // The vigil_standby_* series; null: none.
  base::Metrics* metrics = nullptr;
};

struct StandbyStatus {
  // connecting: not (yet, or since an error) following; following: the
  // stream was checked and its messages are applied as they come;
  // claiming: following no more, in or after Claim; stopped: see above.
  std::string state;
  uint64_t head_position = 0;  // the local log's head: what is applied
  uint64_t stream_last = 0;    // the stream's last sequence, as last seen
  uint64_t lag_positions = 0;  // stream_last - head_position, or 0
  std::string last_error;      // since following last began; may be empty
  std::string stop_reason;     // when stopped
};

// OK when `options` are usable; INVALID_ARGUMENT naming the problem.
absl::Status CheckStandbyOptions(const StandbyOptions& options);

class Standby {
 public:
  // Starts following into `log` (which must outlive the standby, and which
  // nothing else may append to) in the background; NATS need not be
  // reachable yet. INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<Standby>> Start(StandbyOptions options,
                                                        eventlog::EventLog* log);
  // Stop()s.
  ~Standby();
  Standby(const Standby&) = delete;
  Standby& operator=(const Standby&) = delete;

  // Stops applying and closes the connection; a batch being imported
  // finishes first. Idempotent.
  void Stop();

  StandbyStatus Status() const;

  // The status as GET /v1/replication answers it: {"mode":"standby",
  // "state", "stream", "head_position", "stream_last", "lag_positions",
  // "last_error", "stop_reason"}, then the members of `extra` (an object).
  std::string StatusJson(const base::Json& extra = base::Json::object()) const;

  // Blocks until the log holds every message the stream holds when it is
  // called (its last sequence read once, now), then returns that last
  // sequence. UNAVAILABLE when the stream cannot be read or the standby is
  // stopped; DEADLINE_EXCEEDED at `deadline`.
  absl::StatusOr<uint64_t> AwaitCaughtUp(absl::Time deadline);

  // For a standby about to lead: stops following (as Stop), then makes
  // `event`, appended to `stream`, the next event of the JetStream stream
  // and then of the log, so that no publish of another writer (a deposed
  // primary's, late) can take its position unseen. Each attempt, on a
  // connection of its own: applies what the stream holds past the log's
  // head, checked as when following; builds the event as the log would
  // record it next (eventlog/next_event.h); publishes it expecting the
  // stream to end at the log's head. Refused because another writer's
  // message took that position, the next attempt applies that message,
  // checked, and tries one position later. Once JetStream stores it, it
  // is imported, same fields, same hash: the stream and the log end with
  // the same event, and a publish expecting to take its position is
  // refused. Returns its position. FAILED_PRECONDITION when the standby
  // stops (or had stopped) for a mismatch, as when following;
  // DEADLINE_EXCEEDED at `deadline` (NATS unreachable, no quorum, a
  // refused publish each time): it may be called again, and then
  // recognises its earlier publish if that was stored after all.
  absl::StatusOr<uint64_t> Claim(const std::string& stream,
                                 const eventlog::EventData& event,
                                 absl::Time deadline);

 private:
  class Impl;
  explicit Standby(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::replication

#endif  // VIGIL_REPLICATION_STANDBY_H_
