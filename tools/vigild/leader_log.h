// LeaderLog: this vigild's log as a service that must append where the
// leader is sees it (`--webhooks=here` on a standby, docs/replication.md
// "Webhooks on a standby"). Reads, head positions and listeners are the
// local log's; an Append goes to the current leader over gRPC (its Append
// RPC, with this vigild's bearer token: the leader's append rules apply)
// and returns once the local log holds the appended events too, so the
// caller reads back what it wrote, from its own log, like any event the
// leader recorded. When this vigild is the leader itself (a standby that
// was promoted), Append is the local log's.
//
// Where to append is asked at every Append (`leader`), so a new leader is
// followed at the next one. One Append at a time goes to the leader (the
// others wait behind it): nothing queues beyond the callers' own threads.
//
// A forwarded Append carries an idempotency key (the caller's, else a new
// random one for this Append), so that an answer lost on its way back (a
// call past its deadline, a broken connection, a sync-mode leader's "durable
// locally but not stored by a quorum in time") is not the end of it: the
// same request is sent again, up to `attempts` calls in all, while the
// leader stays the same, and the leader answers a retry of an append it
// holds with the first result (deduplicated) instead of appending again.
// A new leader is not retried with the key: its log holds the events the
// stream gave it but not the old leader's idempotency keys
// (EventLog::Import does not carry them). An unreachable leader fails the
// Append fast with UNAVAILABLE naming it; what remains (a refused retry,
// another leader) is the caller's: the webhook service tries a checkpoint
// again at its next interval and answers an admin call 503.
//
// AppendAsync and Import answer UNIMPLEMENTED (the webhook service uses
// Append); everything else is the local log's (eventlog/forwarding_log.h).
//
// Thread safety: every method may be called from any thread.

#ifndef VIGIL_TOOLS_VIGILD_LEADER_LOG_H_
#define VIGIL_TOOLS_VIGILD_LEADER_LOG_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "eventlog/forwarding_log.h"

namespace vigil::vigild {

struct LeaderLogOptions {
  // Where an append goes now: an empty string for the local log (this
  // vigild is the leader), else the leader's gRPC HOST:PORT; a status
  // (not-primary, leader unknown) fails the append with it. Quick, from
  // any thread. Required.
  std::function<absl::StatusOr<std::string>()> leader;
  // Sent as `authorization: Bearer <token>` (role admin: the events are
  // the system's own); empty for a leader without --tokens-file.
  std::string token;
  // The Append RPC to the leader, connecting included, per attempt.
  absl::Duration call_timeout = absl::Seconds(5);
  // After the leader's acknowledgement, how long the local log may take to
  // hold the events (the standby's lag); past it the Append fails with
  // DEADLINE_EXCEEDED naming the position (the events are in the leader's
  // log: a reader finds them once they arrive).
  absl::Duration arrival_timeout = absl::Seconds(10);
  // Calls to the same leader per Append while each fails with UNAVAILABLE
  // or DEADLINE_EXCEEDED (its answer may be lost): the first and the
  // retries, all with the same idempotency key. At least 1.
  int attempts = 2;
  // Whether an Append without a key gets one (above). Only the test's
  // control turns it off, to show what a retry does without one.
  bool idempotency_keys = true;
};

class LeaderLog final : public eventlog::ForwardingLog {
 public:
  // `local` must outlive the LeaderLog.
  LeaderLog(LeaderLogOptions options, eventlog::EventLog* local);
  ~LeaderLog() override;

  absl::StatusOr<eventlog::AppendResult> Append(
      const eventlog::AppendRequest& request) override;
  void AppendAsync(const eventlog::AppendRequest& request,
                   AppendCallback done) override;
  absl::StatusOr<eventlog::AppendResult> Import(
      const std::vector<eventlog::RecordedEvent>& events) override;

 private:
  class Channel;  // the gRPC channel to one leader
  absl::StatusOr<eventlog::AppendResult> AppendAt(
      const std::string& leader, const eventlog::AppendRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One Append RPC to `leader`.
  absl::StatusOr<eventlog::AppendResult> Call(
      const std::string& leader, const eventlog::AppendRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LeaderLogOptions options_;
  absl::Mutex mu_;  // one append to the leader at a time
  std::unique_ptr<Channel> channel_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::vigild

#endif  // VIGIL_TOOLS_VIGILD_LEADER_LOG_H_
