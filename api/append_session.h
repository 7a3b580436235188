// AppendSessions: the calls of the EventStore's AppendSession RPC
// (docs/contract.md "Additions (2026-12-04)", docs/grpc-api.md
// "AppendSession"). A session is one bidirectional stream; each request's
// `append` goes through the core's one append path (core.h -> append_path.h:
// role, checks, rate limit, server-wide in-flight bound, the log's durable
// group commit, metrics), exactly as a unary Append does, and is answered
// by one response carrying the request's correlation_id: the AppendResponse
// once the events are durable, or an AppendError with the code and message
// Append would have finished with. Answers come in the order the log
// settles them, not the order of the requests.
//
// Flow control: a session reads the next request only while fewer than
// `max_inflight` of its appends are unanswered (read, and their answer not
// yet written to the client). At the bound it stops reading, so HTTP/2 flow
// control stops the client; nothing is buffered beyond the bound.
//
// Endings: OK after the client half-closes and every answer is written;
// CANCELLED when the client goes away (appends already handed to the log
// still happen: resend with the same idempotency key to learn their
// result); UNAVAILABLE after Stop(), once the appends in flight are
// answered (so every append acknowledged before the end is durable and
// every other one was not acknowledged).
//
// Thread-safe.

#ifndef VIGIL_API_APPEND_SESSION_H_
#define VIGIL_API_APPEND_SESSION_H_

#include <cstddef>
#include <functional>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "api/core.h"
#include "api/principal.h"
#include "grpcpp/grpcpp.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::api {

struct AppendSessionOptions {
  // Appends of one session read and not yet answered; the session stops
  // reading at the bound. The server-wide bound of AppendPathOptions
  // (max_inflight_appends) still applies across sessions and unary calls.
  // REQUIRES: >= 1.
  size_t max_inflight = 128;
};

class AppendSessions {
 public:
  using Reactor = grpc::ServerBidiReactor<vigil::v1::AppendSessionRequest,
                                          vigil::v1::AppendSessionResponse>;
  // Called once per session with its final status (for metrics).
  using OnFinish = std::function<void(const absl::Status&)>;

  // `core` must outlive every session.
  AppendSessions(const Core* core, AppendSessionOptions options);
  // REQUIRES: every session is done (the gRPC server is shut down).
  ~AppendSessions();
  AppendSessions(const AppendSessions&) = delete;
  AppendSessions& operator=(const AppendSessions&) = delete;

  // A session appending as `principal` (already authenticated and allowed
  // to append). After Stop(), the session ends at once with UNAVAILABLE.
  Reactor* Start(Principal principal, OnFinish on_finish);

  // Every session, now and later, reads no further request, answers the
  // appends it has in flight, then ends with UNAVAILABLE. Returns without
  // waiting for them (the gRPC server's Shutdown waits).
  void Stop();

  // Sessions not yet done.
  size_t active() const;

 private:
  class Session;
  friend class Session;
  void Remove(Session* session);

  const Core* const core_;
  const AppendSessionOptions options_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<Session*> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::api

#endif  // VIGIL_API_APPEND_SESSION_H_
