// RunReconnecting: the loop the mirror's publisher and the standby's
// follower share. A session connects to NATS, checks the stream against
// the log and works until an error ends it; then the loop records the
// error, logs it (once per distinct message), waits a backoff and starts
// another, until the owner stops. The backoff doubles from min_backoff to
// max_backoff and goes back to min_backoff once a session says it is
// working. An owner that stopped for good (a mismatch between the stream
// and the log) starts no further session: the loop waits for it to stop.
//
// Thread safety: runs on the owner's thread, which also runs `session` and
// every callback; `*mu` is the owner's mutex.

#ifndef VIGIL_REPLICATION_INTERNAL_RECONNECT_H_
#define VIGIL_REPLICATION_INTERNAL_RECONNECT_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vigil::replication::internal {

// The states the mirror and the standby share (each has one more: while
// its session works).
inline constexpr char kStateConnecting[] = "connecting";
inline constexpr char kStateStopped[] = "stopped";

struct ReconnectOptions {
  absl::Duration min_backoff;
  absl::Duration max_backoff;
  // The owner's mutex and what it guards: the flag set once the owner
  // stops, its state (kStateStopped: stopped for good, no further
  // session; set to kStateConnecting after an error) and its last error.
  absl::Mutex* mu = nullptr;
  const bool* stopping = nullptr;
  std::string* state = nullptr;
  std::string* last_error = nullptr;
  // Under *mu: writes `line` to the owner's log.
  void (*log)(std::string_view line) = nullptr;
  // Under *mu, after each error: the owner's own bookkeeping (counters,
  // gauges); may be empty.
  std::function<void()> on_error;
};

// What `session` gets: a call that says the session is working (the
// backoff goes back to min_backoff).
using Connected = std::function<void()>;

// Runs `session` again and again until *options.stopping; each returns the
// error that ended it (OK when it saw the owner stopping). Returns once
// *options.stopping is set.
void RunReconnecting(
    const ReconnectOptions& options,
    const std::function<absl::Status(const Connected& connected)>& session);

}  // namespace vigil::replication::internal

#endif  // VIGIL_REPLICATION_INTERNAL_RECONNECT_H_
