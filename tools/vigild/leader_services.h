// LeaderServices: the services only the vigild that appends runs, because
// they append to the log themselves: webhooks (`$webhooks`) and alert
// rules (`$alerts`). A primary starts them at once; a standby starts them
// when it is promoted, and a vigild that loses the leader lease stops them
// (docs/replication.md "Leadership and failover").
//
// The HTTP server is given their admin interfaces once, at start: until
// the services run (or after they stopped), every admin call answers what
// an append would (the `writable` status: not-primary, naming the
// primary), so a standby's /v1/webhooks and /v1/alert-rules redirect like
// its appends do.
//
// Thread safety: every method may be called from any thread; Start and
// Stop serialise themselves, and a Start after Stop does nothing.

#ifndef VIGIL_TOOLS_VIGILD_LEADER_SERVICES_H_
#define VIGIL_TOOLS_VIGILD_LEADER_SERVICES_H_

#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/alert_admin.h"
#include "api/webhook_admin.h"
#include "projections/alerts/alert_service.h"
#include "projections/webhooks/webhook_service.h"

namespace vigil::vigild {

struct LeaderServiceFactories {
  // Each null when its service is off.
  std::function<absl::StatusOr<std::unique_ptr<webhooks::WebhookService>>()>
      webhooks;
  std::function<absl::StatusOr<std::unique_ptr<alerts::AlertService>>()>
      alerts;
  // Why this vigild does not run them now (Role::Writable).
  std::function<absl::Status()> writable;
};

class LeaderServices {
 public:
  explicit LeaderServices(LeaderServiceFactories factories);
  ~LeaderServices();  // Stop()
  LeaderServices(const LeaderServices&) = delete;
  LeaderServices& operator=(const LeaderServices&) = delete;

  // Starts the services that are on and not running; the first error
  // (those started stay). OK after Stop (nothing started).
  absl::Status Start();
  // Stops them for good: webhooks first (their requests in flight are cut
  // short and sent again by the next leader), then alerts. Idempotent.
  void Stop();

  // For the HTTP server; null when the service is off.
  api::WebhookAdmin* webhook_admin();
  api::AlertAdmin* alert_admin();

 private:
  class Webhooks;
  class Alerts;
  // The running service, held for one call, or the status to answer
  // instead.
  absl::StatusOr<std::shared_ptr<webhooks::WebhookService>> RunningWebhooks();
  absl::StatusOr<std::shared_ptr<alerts::AlertService>> RunningAlerts();
  // What to answer without them: `writable`'s refusal, else "stopping".
  absl::Status NotRunning() const;

  const LeaderServiceFactories factories_;
  std::unique_ptr<Webhooks> webhook_admin_;
  std::unique_ptr<Alerts> alert_admin_;

  absl::Mutex start_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // serialises Start/Stop
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<webhooks::WebhookService> webhooks_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<alerts::AlertService> alerts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::vigild

#endif  // VIGIL_TOOLS_VIGILD_LEADER_SERVICES_H_
