// WebhookService: tells external systems what happened, per the Standard
// Webhooks specification. Endpoints are registered through api::WebhookAdmin
// (over REST: /v1/webhooks, role "admin"); registrations,
// secret rotations, deletions and dead letters are events of the system
// stream `$webhooks`, appended by this service, so they survive restarts
// and are part of the history. One DeliveryWorker per endpoint sends every
// matching event, in position order, as one signed POST whose body is the
// event's JSON as the REST API shows it; retries, the circuit breaker and
// the dead-letter queue are described in projections/webhooks/README.md.
//
// Durable state beside the log, in `state_dir`: `key` (seals the secrets
// in the log) and one `<id>.checkpoint` per endpoint. Each endpoint's
// checkpoint is also recorded in `$webhooks`, at most once a second after
// deliveries (WebhookCheckpointed), for a vigild that takes over the log
// without the files (a promoted standby, docs/replication.md).
//
// One deliverer per log. Every `$webhooks` append expects the stream's
// revision this service last folded, and carries this service's deliverer
// id (random per start) in its metadata. When the append is refused
// because another writer appended meanwhile, the service folds that
// writer's events (waiting up to other_writer_wait for them to reach its
// log) and tries again, unless one of them records a delivery
// (WebhookCheckpointed, WebhookDeadLettered, WebhookRedelivered) by another
// deliverer since this service started: then two vigilds deliver the same
// log's webhooks, and this one stops delivering for good, loudly (stderr,
// `vigil_webhook_other_deliverer` 1, admin calls 503), so that deliveries
// are not doubled beyond the other's first checkpoint (docs/webhooks.md).
//
// Thread safety: the WebhookAdmin methods may be called from any thread;
// Stop and the destructor from one.

#ifndef VIGIL_PROJECTIONS_WEBHOOKS_WEBHOOK_SERVICE_H_
#define VIGIL_PROJECTIONS_WEBHOOKS_WEBHOOK_SERVICE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/webhook_admin.h"
#include "base/json.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "projections/webhooks/retry_policy.h"

namespace vigil::webhooks {

namespace internal {
class DeliveryWorker;
class HttpClient;
class Registry;
class SecretBox;
struct DeadLetter;
struct EndpointView;
struct WebhookMetrics;
class ServiceHost;
}  // namespace internal

// The system stream the service appends to and replays.
inline constexpr char kWebhooksStream[] = "$webhooks";

struct WebhookOptions {
  // Where the key file and the checkpoints live (vigild: DATA_DIR/webhooks);
  // created when missing.
  std::string state_dir;
  // Allow targets on loopback, private and link-local addresses (tests,
  // trusted networks). Off: refused at registration and at every request.
  bool allow_private = false;
  // Retry schedule, jitter, Retry-After cap, circuit breaker.
  RetryPolicy retry;
  // One request (connect, TLS, response) must finish within it.
  absl::Duration timeout = absl::Seconds(15);
  // After rotate-secret the old secret still signs (beside the new) this
  // long.
  absl::Duration secret_grace = absl::Hours(24);
  // How often, at most, an endpoint that delivered records its checkpoint
  // in `$webhooks` (WebhookCheckpointed): a vigild without a checkpoint
  // file of its own (a standby promoted after the primary's loss) resumes
  // there, sending again only what was delivered after it.
  absl::Duration record_checkpoint_every = absl::Seconds(1);
  // Registered endpoints at most (each has a thread).
  size_t max_endpoints = 100;
  // Dead letters one endpoint may hold; the one that reaches it disables
  // the endpoint (nothing is dropped).
  size_t max_dead_letters = 10000;
  // Entries of each filter list.
  size_t max_filter_entries = 100;
  // HTTPS: verify certificates (chain and host name); extra CA file (PEM).
  bool verify_certificates = true;
  std::string ca_file;
  base::Metrics* metrics = nullptr;  // required
  // A refused `$webhooks` append waits this long for the other writer's
  // events to reach the log (a standby's lag) before it fails.
  absl::Duration other_writer_wait = absl::Seconds(5);
  // Appends expect the revision last folded (above, "One deliverer"). Only
  // the tests' control turns it off, to show what it catches.
  bool expect_revision = true;
};

class WebhookService : public api::WebhookAdmin {
 public:
  // Replays `$webhooks` and starts a worker per endpoint. `log` must
  // outlive the service. UNAVAILABLE when state_dir or its key cannot be
  // made; INVALID_ARGUMENT for a bad ca_file; DATA_LOSS for a malformed
  // `$webhooks`.
  static absl::StatusOr<std::unique_ptr<WebhookService>> Start(
      WebhookOptions options, eventlog::EventLog* log);
  ~WebhookService() override;  // Stop()
  WebhookService(const WebhookService&) = delete;
  WebhookService& operator=(const WebhookService&) = delete;

  // Stops every worker, cutting their requests in flight short (those
  // deliveries are not settled, so they are sent again after a restart);
  // later requests answer 503. Idempotent.
  void Stop();

  absl::StatusOr<std::string> Register(
      const api::WebhookRegistration& registration) override;
  absl::StatusOr<std::string> List() override;
  absl::StatusOr<std::string> Get(const std::string& id) override;
  absl::StatusOr<std::string> Delete(const std::string& id) override;
  absl::StatusOr<std::string> RotateSecret(const std::string& id) override;
  absl::StatusOr<std::string> Enable(const std::string& id) override;
  absl::StatusOr<std::string> DeadLetters(const std::string& id) override;
  absl::StatusOr<std::string> Redeliver(
      const std::string& id,
      const std::optional<std::string>& event_id) override;

 private:
  friend class internal::ServiceHost;
  WebhookService(WebhookOptions options, eventlog::EventLog* log);

  // Appends `event` to `$webhooks` and applies it to the registry.
  absl::Status Record(eventlog::EventData event) ABSL_LOCKS_EXCLUDED(mu_);
  // After a refused append: folds the `$webhooks` events after
  // last_revision_ (another writer's), waiting up to other_writer_wait for
  // the first. UNAVAILABLE, delivery stopped for good, when one records a
  // delivery by another deliverer since this service started.
  absl::Status FoldOtherWriter() ABSL_EXCLUSIVE_LOCKS_REQUIRED(record_mu_);
  // Applies one `$webhooks` event read from the log.
  absl::Status Fold(const eventlog::RecordedEvent& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartWorker(const std::string& id, uint64_t start_position)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<internal::EndpointView> View(const std::string& id);
  absl::Status DeadLettered(const std::string& id,
                            const internal::DeadLetter& letter);
  absl::Status Redelivered(const std::string& id, uint64_t position);
  void UpdateDeadLetterGauge(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Endpoint `id` as its admin JSON object (docs/webhooks.md).
  base::Json EndpointJson(const std::string& id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const WebhookOptions options_;
  eventlog::EventLog* const log_;
  std::unique_ptr<internal::SecretBox> box_;
  std::unique_ptr<internal::HttpClient> client_;
  std::unique_ptr<internal::WebhookMetrics> metrics_;
  std::unique_ptr<internal::ServiceHost> host_;

  // Serializes Record: the registry applies `$webhooks` in log order.
  absl::Mutex record_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Set once another deliverer was found (above); then every Record fails.
  absl::Status other_deliverer_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<internal::Registry> registry_ ABSL_GUARDED_BY(mu_);
  // The revision of the last `$webhooks` event folded; nullopt: none.
  std::optional<uint64_t> last_revision_ ABSL_GUARDED_BY(mu_);
  // This service's `$webhooks` event metadata, {"deliverer":"dl_..."}.
  const std::string metadata_;
  const int64_t started_time_us_;
  std::map<std::string, std::unique_ptr<internal::DeliveryWorker>> workers_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::webhooks

#endif  // VIGIL_PROJECTIONS_WEBHOOKS_WEBHOOK_SERVICE_H_
