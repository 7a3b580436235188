// Role: whether this vigild appends (the primary) or builds its log from
// the JetStream stream (a standby), and the promotion of a standby
// (docs/replication.md "A standby", "Leadership and failover"). It owns
// the mirror (replication/mirror.h), the standby (replication/standby.h)
// and, with etcd, the leadership (replication/leadership.h); the append
// path asks it whether appends are allowed (Writable) and, in sync mode,
// to wait for the quorum (AwaitReplicated).
//
//   primary, no etcd:   appends; mirrors when --replication is async/sync.
//   primary, etcd:      takes the leader key at Begin (refused when another
//                       vigild holds it: the caller exits); appends only
//                       while the lease is held; on losing it, refuses
//                       appends and stops the mirror for good.
//   standby, no etcd:   follows the stream, refuses appends.
//   standby, etcd:      follows; when the leader key is free, applies
//                       everything the stream holds, takes the key,
//                       stops following and claims the stream's next
//                       position with LeaderElected (Standby::Claim:
//                       applying what came meanwhile, the stream before
//                       the log), starts the mirror and appends as the
//                       primary.
//
// Thread safety: Writable, AwaitReplicated and StatusJson may be called
// from any thread; Begin and Stop from main's.

#ifndef VIGIL_TOOLS_VIGILD_ROLE_H_
#define VIGIL_TOOLS_VIGILD_ROLE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "replication/leadership.h"
#include "replication/mirror.h"

namespace vigil::vigild {

struct RoleOptions {
  std::string mode;  // --replication: off, async or sync
  bool standby = false;
  replication::MirrorOptions mirror;  // nats_url, stream, bounds, metrics
  // With --etcd-endpoints; its `holder` is set by Begin.
  std::optional<replication::LeadershipOptions> leadership;
  // A standby without etcd names these when it refuses an append.
  std::string primary_grpc;
  std::string primary_url;
  // How often a standby with etcd looks at the leader key.
  absl::Duration leader_poll = absl::Milliseconds(200);
  // Called once a standby is promoted (appends are accepted), on the
  // promoter's thread; and when the leader lease is lost, on the lease's
  // renewal thread. Either may be empty.
  std::function<void()> on_promoted;
  std::function<void()> on_lost;
  base::Metrics* metrics = nullptr;
};

class Role {
 public:
  // A standby starts following and a primary without etcd mirroring at
  // once; leadership waits for Begin. INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<Role>> Start(RoleOptions options,
                                                     eventlog::EventLog* log);
  ~Role();  // Stop()s
  Role(const Role&) = delete;
  Role& operator=(const Role&) = delete;

  // Once the servers listen at `grpc` (HOST:PORT) and `http_url`, with
  // etcd: a primary takes the leadership, then starts its mirror; a
  // standby starts watching the leader key. Without etcd: nothing. FAILED_PRECONDITION
  // naming the holder when another vigild holds the leadership;
  // UNAVAILABLE when etcd cannot be reached.
  absl::Status Begin(const std::string& grpc, const std::string& http_url);

  // OK when an append may be written now; else UNAVAILABLE with
  // api::kNotPrimaryPayload naming the primary when known.
  absl::Status Writable() const;

  // Where a service of this vigild that appends to the leader sends its
  // appends (leader_log.h): "" when Writable (append here); the leader's
  // gRPC HOST:PORT on a standby that knows it (the leader key's holder
  // with etcd, else --primary-grpc); else Writable()'s refusal.
  absl::StatusOr<std::string> AppendTarget() const;

  // A standby: waits until its log holds what the stream holds now
  // (replication::Standby::AwaitCaughtUp; DEADLINE_EXCEEDED at
  // `deadline`). A primary: OK at once. Before Stop.
  absl::Status AwaitCaughtUp(absl::Time deadline);

  // For --replication=sync (AppendPathOptions::await_replicated): waits
  // for the mirror; UNAVAILABLE at once when there is none.
  void AwaitReplicated(uint64_t position,
                       std::function<void(absl::Status)> stored) const;

  // GET /v1/replication: the standby's status while one follows, else the
  // mirror's ({"mode":"off"} without), with "role" ("primary",
  // "standby") and, with etcd, "fencing_token" added.
  std::string StatusJson() const;

  // Stops promoting, following, mirroring and renewing (resigning the
  // leadership). Before the log closes. Idempotent.
  void Stop();

 private:
  class Impl;
  explicit Role(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::vigild

#endif  // VIGIL_TOOLS_VIGILD_ROLE_H_
