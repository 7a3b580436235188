// AppendPath: the one way a client's append reaches the log, whatever the
// transport (gRPC Append, REST POST /v1/streams/{stream}/events, and the
// ones to come). A transport authenticates the caller, parses its request
// into an eventlog::AppendRequest, calls Append and renders the status
// (status_mapping.h); everything between is here, so the transports cannot
// drift apart: the caller's role, the client checks (append_checks.h), the
// per-token rate limit (rate_limiter.h), the bound on appends in flight,
// the log's AppendAsync, and the append metrics (metrics.h AppendMetrics).
//
// One AppendPath per log, shared by every transport of the server, so its
// in-flight bound is server-wide.
//
// Thread-safe: Append may be called from any thread.

#ifndef VIGIL_API_APPEND_PATH_H_
#define VIGIL_API_APPEND_PATH_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/append_checks.h"
#include "api/principal.h"
#include "api/rate_limiter.h"
#include "base/metrics.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"

namespace vigil::api {

struct AppendPathOptions {
  // Appends submitted to the log and not yet answered, over every
  // transport sharing the path. Past it an append is refused as rate
  // limited, retry after 1 s (HTTP 429 with Retry-After: 1, gRPC
  // RESOURCE_EXHAUSTED): a concurrency limit, as Stripe's API has. Below
  // the log's own queue (eventlog::Options::max_queued_appends, 4096), so
  // clients are told to back off before the log's queue fills.
  // REQUIRES: >= 1.
  size_t max_inflight_appends = 1024;

  // Replication's extra condition for answering an append
  // (--replication=sync, docs/replication.md). Null: an append is answered
  // once the log has synced it. Set: called with the last position of every
  // successful append (a deduplicated one too) before it is answered; the
  // answer waits for `stored`, and a non-OK status replaces the result
  // (the events stay in the log). The append counts as in flight
  // meanwhile. Must call `stored` exactly once, quickly, from any thread.
  std::function<void(uint64_t position,
                     std::function<void(absl::Status)> stored)>
      await_replicated;

  // Whether this server may append now. Null: always. Set: called before
  // every append that passed the role and client checks; a non-OK status
  // refuses the append with it, before the rate limit and the log (a
  // standby, or a primary that does not hold the leader lease:
  // docs/replication.md, NotPrimaryError in status_mapping.h). Quick, from
  // any thread.
  std::function<absl::Status()> writable;

  // Reserved streams (append_checks.h) that the admin role may append to
  // all the same: the system's own appends forwarded by another vigild,
  // the `$webhooks` of the standby that delivers the webhooks
  // (--webhooks=elsewhere, docs/replication.md "Webhooks on a standby").
  // Empty: none.
  std::vector<std::string> admin_streams;
};

class AppendPath {
 public:
  using Done = std::function<void(absl::StatusOr<eventlog::AppendResult>)>;

  // `log` must outlive the path, and so must `rate_limiter` (null: no rate
  // limit) and `metrics` (null: appends are not counted).
  AppendPath(eventlog::EventLog* log, AppendPathOptions options,
             RateLimiter* rate_limiter = nullptr, base::Metrics* metrics = nullptr);
  AppendPath(const AppendPath&) = delete;
  AppendPath& operator=(const AppendPath&) = delete;

  // Appends `request` for `principal` (from auth.h Authenticate), refusing it, in
  // this order, with:
  //   PERMISSION_DENIED when the principal's role may not append;
  //   PERMISSION_DENIED for a reserved stream (unless it is one of
  //     admin_streams and the principal an admin), INVALID_ARGUMENT for a
  //     malformed domain event (CheckClientAppend, given `source`);
  //   what `writable` answers, when it is set and not OK;
  //   RateLimitedError when the principal's bucket lacks a token per event,
  //     RESOURCE_EXHAUSTED for an append larger than the burst (anonymous
  //     principals are not rate limited: they share no bucket that would
  //     throttle every local agent together);
  //   RateLimitedError (retry after 1 s) when max_inflight_appends appends
  //     are in flight;
  // and otherwise with what EventLog::AppendAsync answers (or, with
  // await_replicated, what it answers). Calls `done` exactly once: on this
  // thread when refused (here or by the log at once), else on the log's
  // completion thread (or await_replicated's). An append that succeeded
  // and was not deduplicated is counted in the append metrics before `done`
  // runs; once `done` is called the path no longer counts the append as in
  // flight, and touches nothing of it afterwards.
  void Append(const Principal& principal, eventlog::AppendRequest request,
              Done done, EventSource source = EventSource::kClient);

  // Appends submitted to the log and not yet answered.
  size_t inflight() const { return inflight_.load(); }

 private:
  eventlog::EventLog* const log_;
  const AppendPathOptions options_;
  RateLimiter* const rate_limiter_;
  const std::optional<base::AppendMetrics> metrics_;
  std::atomic<size_t> inflight_{0};
};

}  // namespace vigil::api

#endif  // VIGIL_API_APPEND_PATH_H_
