// DeliveryWorker: the delivery loop of one webhook endpoint, on a thread of
// its own. It follows the log from its checkpoint, in position order (so
// in order per stream), one request per matching event, and retries an
// event until it is delivered or dead-lettered before going on to the next;
// dead letters queued for redelivery go before the next new event.
//
// The checkpoint (the last position whose delivery is settled: delivered,
// dead-lettered, or not matching) is a file `<state_dir>/<id>.checkpoint`,
// replaced atomically (write, fsync, rename, fsync of the directory) after
// each settled delivery. After kill -9 the worker starts again after it, so
// only a request in flight at the crash is sent twice; receivers dedupe on
// webhook-id. After deliveries, at most once per record_checkpoint_every
// (and once more when the worker is idle), the last delivery's position is
// also recorded in the log (DeliveryHost::RecordCheckpoint), where a vigild
// without the file finds it.
//
// Thread safety: Start, Stop and the destructor from one thread; status()
// from any.

#ifndef VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_DELIVERY_WORKER_H_
#define VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_DELIVERY_WORKER_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "eventlog/log_cursor.h"
#include "projections/webhooks/internal/http_client.h"
#include "projections/webhooks/internal/registry.h"
#include "projections/webhooks/retry_policy.h"

namespace vigil::webhooks::internal {

// What a worker needs to know of its endpoint, copied out of the registry.
struct EndpointView {
  std::string url;
  eventlog::Filter filter;
  std::vector<std::string> secrets;  // current first; plain "whsec_..."
  bool active = true;
  std::optional<DeadLetter> redelivery;  // the next one queued, if any
};

// The service, as its workers see it. Every method may block on an append.
class DeliveryHost {
 public:
  virtual ~DeliveryHost() = default;
  // nullopt once the endpoint is deleted.
  virtual std::optional<EndpointView> View(const std::string& id) = 0;
  virtual absl::Status RecordDeadLetter(const std::string& id,
                                        const DeadLetter& letter) = 0;
  virtual absl::Status RecordRedelivered(const std::string& id,
                                         uint64_t position) = 0;
  virtual absl::Status RecordDisabled(const std::string& id,
                                      const std::string& reason) = 0;
  // Every delivery up to `position` is settled (WebhookCheckpointed).
  virtual absl::Status RecordCheckpoint(const std::string& id,
                                        uint64_t position) = 0;
};

// The series the workers record into (base::Metrics is process-wide).
struct WebhookMetrics {
  static WebhookMetrics Register(base::Metrics* metrics);
  base::CounterFamily* deliveries = nullptr;  // {webhook, outcome}
  base::CounterFamily* attempts = nullptr;    // {webhook, result}
  base::HistogramFamily* duration = nullptr;  // {webhook}
  base::GaugeFamily* dead_letters = nullptr;  // {webhook}
  base::Gauge* open_circuits = nullptr;
  // 1 once another deliverer's records made this one stop (WebhookService).
  base::Gauge* other_deliverer = nullptr;
};

struct WorkerOptions {
  std::string state_dir;
  bool allow_private = false;
  RetryPolicy retry;
  absl::Duration timeout = absl::Seconds(15);
  // How long an idle worker waits for new events before looking again
  // (new redelivery requests, Stop).
  absl::Duration idle_wait = absl::Milliseconds(200);
  // After a settled delivery, the checkpoint is also recorded through the
  // host when the last record is this old.
  absl::Duration record_checkpoint_every = absl::Seconds(1);
};

struct WorkerStatus {
  uint64_t checkpoint = 0;
  std::string circuit = "closed";
  int consecutive_failures = 0;
  uint64_t delivering_position = 0;  // 0 when idle
  int attempt = 0;                   // of that delivery so far
  int last_status = 0;
  std::string last_error;
  int64_t last_attempt_time_us = 0;
  int64_t last_success_time_us = 0;
  int64_t next_attempt_time_us = 0;  // 0 unless waiting to retry
  uint64_t delivered = 0;            // since start
  uint64_t failed_attempts = 0;      // since start
};

class DeliveryWorker {
 public:
  // `start_position`: deliveries begin after it when there is no
  // checkpoint file yet. Everything passed must outlive the worker.
  DeliveryWorker(std::string id, uint64_t start_position, DeliveryHost* host,
                 eventlog::EventLog* log, HttpClient* client,
                 const WorkerOptions& options, const WebhookMetrics* metrics);
  ~DeliveryWorker();  // Stop()
  DeliveryWorker(const DeliveryWorker&) = delete;
  DeliveryWorker& operator=(const DeliveryWorker&) = delete;

  void Start();
  // Asks the loop to end (it notices within idle_wait, or when its request
  // in flight ends, up to the timeout); Stop also joins.
  void RequestStop();
  void Stop();

  WorkerStatus status() const;

  // The checkpoint file of endpoint `id` in `state_dir`; removed on delete.
  static std::string CheckpointPath(const std::string& state_dir,
                                    const std::string& id);

 private:
  enum class Outcome { kDelivered, kFailed, kDisabled, kStopped };

  void Loop();
  // Tries `event` until delivered, out of attempts, disabled or stopped;
  // `letter` gets the attempts and last error.
  Outcome Deliver(const eventlog::RecordedEvent& event, DeadLetter* letter);
  // One request; returns the HTTP status (0 for none) and sets *error.
  int Attempt(const EndpointView& view, const eventlog::RecordedEvent& event,
              const std::string& body, std::string* retry_after,
              std::string* error);
  // Persists `position` as the checkpoint.
  void Settle(uint64_t position);
  // Settle after a delivery, and RecordCheckpointWhenDue.
  void SettleDelivery(uint64_t position);
  // Records the last delivery's position through the host unless it is
  // recorded or the last record is younger than record_checkpoint_every.
  void RecordCheckpointWhenDue();
  // False when stopping (then at once).
  bool SleepUntil(absl::Time when);
  bool Stopping() const;
  void NoteCircuit(absl::Time now);

  const std::string id_;
  DeliveryHost* const host_;
  eventlog::EventLog* const log_;
  HttpClient* const client_;
  const WorkerOptions options_;
  const WebhookMetrics* const metrics_;
  const std::string checkpoint_path_;

  // Touched only by the loop's thread.
  CircuitBreaker breaker_;
  bool reported_open_ = false;
  std::mt19937_64 random_;
  std::vector<eventlog::RecordedEvent> queue_;  // read ahead, in order
  size_t queue_next_ = 0;
  eventlog::LogCursor cursor_;  // the log is read up to before it
  uint64_t saved_ = 0;    // the checkpoint file holds this
  uint64_t delivered_ = 0;  // the last delivery settled
  uint64_t recorded_ = 0;   // the last checkpoint recorded through the host
  absl::Time recorded_time_ = absl::InfinitePast();  // the last try

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  WorkerStatus status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace vigil::webhooks::internal

#endif  // VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_DELIVERY_WORKER_H_
