#include "projections/webhooks/internal/delivery_worker.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "api/append_checks.h"
#include "api/event_json.h"
#include "projections/webhooks/signature.h"
#include "projections/webhooks/target.h"

namespace vigil::webhooks::internal {
namespace {

// Events read ahead from the log at a time, and the positions one read
// may examine, so a selective filter does not hold one read for long.
constexpr uint64_t kReadAheadEvents = 64;
constexpr uint64_t kMaxScan = 10000;
// Skipped (non-matching) positions are persisted at most this often;
// redoing the skip after a crash costs nothing but a read.
constexpr absl::Duration kSkipSaveInterval = absl::Seconds(1);

std::string_view ResultLabel(int status, const std::string& error) {
  if (status >= 200 && status < 300) return "2xx";
  if (status >= 300 && status < 400) return "3xx";
  if (status >= 400 && status < 500) return "4xx";
  if (status >= 500) return "5xx";
  return error.rfind("timeout", 0) == 0 ? "timeout" : "error";
}

// Writes `text` to `path` atomically and durably.
bool WriteFileDurably(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) ==
                static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) return false;
  const std::string dir = path.substr(0, path.rfind('/'));
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return true;
}

int64_t NowUs() { return absl::ToUnixMicros(absl::Now()); }

}  // namespace

WebhookMetrics WebhookMetrics::Register(base::Metrics* metrics) {
  WebhookMetrics m;
  m.deliveries = metrics->AddCounter(
      "vigil_webhook_deliveries_total",
      "Webhook deliveries settled, by endpoint and outcome (delivered, "
      "dead_lettered, disabled: 410 Gone).",
      {"webhook", "outcome"});
  m.attempts = metrics->AddCounter(
      "vigil_webhook_attempts_total",
      "Webhook HTTP requests made, by endpoint and result (2xx, 3xx, 4xx, "
      "5xx, timeout, error).",
      {"webhook", "result"});
  m.duration = metrics->AddHistogram(
      "vigil_webhook_attempt_duration_seconds",
      "Time of one webhook request (DNS, connect, TLS, response), by "
      "endpoint.",
      {"webhook"}, base::LatencyBuckets());
  m.dead_letters = metrics->AddGauge(
      "vigil_webhook_dead_letters",
      "Deliveries in an endpoint's dead-letter queue.", {"webhook"});
  m.open_circuits = metrics
                        ->AddGauge("vigil_webhook_open_circuits",
                                   "Endpoints whose circuit breaker is open "
                                   "or half-open.")
                        ->Get();
  m.other_deliverer =
      metrics
          ->AddGauge("vigil_webhook_other_deliverer",
                     "1 once this vigild stopped delivering webhooks because "
                     "another one records deliveries of the same log "
                     "(docs/webhooks.md, One deliverer).")
          ->Get();
  return m;
}

std::string DeliveryWorker::CheckpointPath(const std::string& state_dir,
                                           const std::string& id) {
  return state_dir + "/" + id + ".checkpoint";
}

DeliveryWorker::DeliveryWorker(std::string id, uint64_t start_position,
                               DeliveryHost* host, eventlog::EventLog* log,
                               HttpClient* client, const WorkerOptions& options,
                               const WebhookMetrics* metrics)
    : id_(std::move(id)),
      host_(host),
      log_(log),
      client_(client),
      options_(options),
      metrics_(metrics),
      checkpoint_path_(CheckpointPath(options.state_dir, id_)),
      breaker_(options.retry),
      random_(std::random_device{}()),
      cursor_(log, 1, {},
              {.page_events = kReadAheadEvents, .page_scan = kMaxScan}) {
  uint64_t checkpoint = start_position;
  std::ifstream file(checkpoint_path_);
  uint64_t saved = 0;
  if (file >> saved && saved > checkpoint) checkpoint = saved;
  saved_ = checkpoint;
  cursor_.Seek(checkpoint + 1);
  status_.checkpoint = checkpoint;
}

DeliveryWorker::~DeliveryWorker() { Stop(); }

void DeliveryWorker::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "vigil-webhook");
    Loop();
  });
}

void DeliveryWorker::RequestStop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

void DeliveryWorker::Stop() {
  RequestStop();
  if (thread_.joinable()) thread_.join();
  if (reported_open_) {
    metrics_->open_circuits->Add(-1);
    reported_open_ = false;
  }
}

WorkerStatus DeliveryWorker::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

bool DeliveryWorker::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool DeliveryWorker::SleepUntil(absl::Time when) {
  absl::MutexLock lock(&mu_);
  auto stopping = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  mu_.AwaitWithDeadline(absl::Condition(&stopping), when);
  return !stopping_;
}

void DeliveryWorker::Settle(uint64_t position) {
  {
    absl::MutexLock lock(&mu_);
    status_.checkpoint = position;
  }
  if (position <= saved_) return;
  if (WriteFileDurably(checkpoint_path_, std::to_string(position) + "\n")) {
    saved_ = position;
  } else {
    std::fprintf(stderr, "vigild: webhook %s: cannot write %s\n", id_.c_str(),
                 checkpoint_path_.c_str());
  }
}

void DeliveryWorker::SettleDelivery(uint64_t position) {
  Settle(position);
  delivered_ = position;
  RecordCheckpointWhenDue();
}

void DeliveryWorker::RecordCheckpointWhenDue() {
  const absl::Time now = absl::Now();
  if (delivered_ <= recorded_ ||
      now - recorded_time_ < options_.record_checkpoint_every) {
    return;
  }
  // Not recorded (the log full, the leader unreachable): tried again an
  // interval later, deliveries going on meanwhile; the file holds it here.
  recorded_time_ = now;
  if (host_->RecordCheckpoint(id_, delivered_).ok()) recorded_ = delivered_;
}

void DeliveryWorker::NoteCircuit(absl::Time now) {
  const CircuitBreaker::State state = breaker_.state(now);
  const bool open = state != CircuitBreaker::State::kClosed;
  if (open != reported_open_) {
    metrics_->open_circuits->Add(open ? 1 : -1);
    reported_open_ = open;
  }
  absl::MutexLock lock(&mu_);
  status_.circuit = std::string(CircuitBreaker::Name(state));
  status_.consecutive_failures = breaker_.consecutive_failures();
}

void DeliveryWorker::Loop() {
  absl::Time last_skip_save = absl::Now();
  while (!Stopping()) {
    std::optional<EndpointView> view = host_->View(id_);
    if (!view.has_value()) return;  // deleted
    if (!view->active) {
      SleepUntil(absl::Now() + options_.idle_wait);
      continue;
    }

    if (view->redelivery.has_value()) {
      const DeadLetter& queued = *view->redelivery;
      absl::StatusOr<std::vector<eventlog::RecordedEvent>> events =
          log_->ReadAll(queued.position, 1, eventlog::Filter{});
      if (!events.ok() || events->empty() ||
          (*events)[0].position != queued.position) {
        SleepUntil(absl::Now() + options_.idle_wait);
        continue;
      }
      DeadLetter letter = queued;
      const Outcome outcome = Deliver((*events)[0], &letter);
      absl::Status recorded;
      if (outcome == Outcome::kDelivered) {
        recorded = host_->RecordRedelivered(id_, queued.position);
      } else if (outcome == Outcome::kFailed) {
        recorded = host_->RecordDeadLetter(id_, letter);
      }
      if (!recorded.ok()) SleepUntil(absl::Now() + options_.idle_wait);
      continue;
    }

    if (queue_next_ == queue_.size()) {
      queue_.clear();
      queue_next_ = 0;
      cursor_.SetFilter(view->filter);  // the endpoint's, as it is now
      const uint64_t from = cursor_.next_position();
      absl::StatusOr<eventlog::CursorPage> page = cursor_.Next();
      if (!page.ok()) {
        SleepUntil(absl::Now() + options_.idle_wait);
        continue;
      }
      if (page->events.empty()) {
        const uint64_t scanned = cursor_.next_position() - 1;
        if (scanned >= from) {  // skipped what the filter does not match
          {
            absl::MutexLock lock(&mu_);
            status_.checkpoint = scanned;
          }
          if (absl::Now() - last_skip_save >= kSkipSaveInterval) {
            Settle(scanned);
            last_skip_save = absl::Now();
          }
        }
        // The last deliveries' checkpoint, once the interval has passed.
        RecordCheckpointWhenDue();
        cursor_.WaitForMore(absl::Now() + options_.idle_wait);
        continue;
      }
      queue_ = std::move(page->events);
    }

    const eventlog::RecordedEvent& event = queue_[queue_next_];
    // The system's own streams are never sent out (their events hold,
    // among others, the sealed webhook secrets), except the alerts
    // (projections/alerts/transition.h kAlertsStream: they are meant to be
    // told, and hold no secret).
    if (api::IsReservedStream(event.stream) && event.stream != "$alerts") {
      ++queue_next_;
      Settle(event.position);
      continue;
    }
    DeadLetter letter;
    const Outcome outcome = Deliver(event, &letter);
    if (outcome == Outcome::kStopped) return;
    if (outcome == Outcome::kDisabled) {
      // Delivered again from here once the endpoint is enabled.
      queue_.clear();
      queue_next_ = 0;
      cursor_.Seek(event.position);
      continue;
    }
    if (outcome == Outcome::kFailed) {
      absl::Status recorded = host_->RecordDeadLetter(id_, letter);
      if (!recorded.ok()) {
        // Not settled: the delivery is redone rather than lost.
        std::fprintf(stderr,
                     "vigild: webhook %s: dead letter not recorded: %s\n",
                     id_.c_str(), recorded.ToString().c_str());
        SleepUntil(absl::Now() + options_.idle_wait);
        continue;
      }
    }
    ++queue_next_;
    SettleDelivery(event.position);
  }
}

DeliveryWorker::Outcome DeliveryWorker::Deliver(
    const eventlog::RecordedEvent& event, DeadLetter* letter) {
  const std::string body = api::RecordedEventToJson(event);
  letter->event_id = event.event_id;
  letter->position = event.position;
  letter->stream = event.stream;
  letter->type = event.type;
  const std::string webhook = id_;
  int attempt = 0;
  while (true) {
    if (!SleepUntil(breaker_.NextAllowed(absl::Now())))
      return Outcome::kStopped;
    std::optional<EndpointView> view = host_->View(id_);
    if (!view.has_value()) return Outcome::kStopped;
    if (!view->active) return Outcome::kDisabled;
    ++attempt;
    ++letter->attempts;
    {
      absl::MutexLock lock(&mu_);
      status_.delivering_position = event.position;
      status_.attempt = attempt;
      status_.next_attempt_time_us = 0;
    }
    std::string retry_after;
    std::string error;
    const absl::Time start = absl::Now();
    const int status = Attempt(*view, event, body, &retry_after, &error);
    const absl::Time end = absl::Now();
    // Cut short by shutdown: not an attempt that failed.
    if (status == 0 && Stopping()) return Outcome::kStopped;
    metrics_->attempts->WithLabels({webhook, ResultLabel(status, error)})
        ->Increment();
    metrics_->duration->WithLabels({webhook})->Observe(
        absl::ToDoubleSeconds(end - start));
    letter->last_status = status;
    letter->last_error = status != 0 ? "HTTP " + std::to_string(status) : error;
    {
      absl::MutexLock lock(&mu_);
      status_.last_status = status;
      status_.last_error =
          status >= 200 && status < 300 ? "" : letter->last_error;
      status_.last_attempt_time_us = absl::ToUnixMicros(end);
    }

    if (status >= 200 && status < 300) {
      breaker_.RecordSuccess();
      NoteCircuit(end);
      metrics_->deliveries->WithLabels({webhook, "delivered"})->Increment();
      absl::MutexLock lock(&mu_);
      status_.last_success_time_us = absl::ToUnixMicros(end);
      status_.delivering_position = 0;
      status_.attempt = 0;
      ++status_.delivered;
      return Outcome::kDelivered;
    }
    {
      absl::MutexLock lock(&mu_);
      ++status_.failed_attempts;
    }
    if (status == 410) {
      // The receiver says the endpoint is gone for good.
      breaker_.RecordSuccess();
      NoteCircuit(end);
      metrics_->deliveries->WithLabels({webhook, "disabled"})->Increment();
      if (!host_->RecordDisabled(id_, "the endpoint answered 410 Gone").ok()) {
        SleepUntil(absl::Now() + options_.idle_wait);
      }
      return Outcome::kDisabled;
    }
    breaker_.RecordFailure(end);
    NoteCircuit(end);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::optional<absl::Duration> delay =
        NextRetryDelay(options_.retry, attempt, unit(random_));
    if (!delay.has_value()) {
      metrics_->deliveries->WithLabels({webhook, "dead_lettered"})->Increment();
      absl::MutexLock lock(&mu_);
      status_.delivering_position = 0;
      status_.attempt = 0;
      return Outcome::kFailed;
    }
    if (status == 429 || status == 503) {
      if (std::optional<absl::Duration> asked = ParseRetryAfter(
              retry_after, end, options_.retry.max_retry_after)) {
        delay = *asked;
      }
    }
    const absl::Time next = std::max(end + *delay, breaker_.NextAllowed(end));
    {
      absl::MutexLock lock(&mu_);
      status_.next_attempt_time_us = absl::ToUnixMicros(next);
    }
    if (!SleepUntil(next)) return Outcome::kStopped;
  }
}

int DeliveryWorker::Attempt(const EndpointView& view,
                            const eventlog::RecordedEvent& event,
                            const std::string& body, std::string* retry_after,
                            std::string* error) {
  absl::StatusOr<Url> url = ParseUrl(view.url);
  if (!url.ok()) {
    *error = std::string(url.status().message());
    return 0;
  }
  // Resolved again for every request, and checked again: a name that now
  // points somewhere private is refused, not followed.
  absl::StatusOr<std::vector<Address>> addresses =
      Resolve(*url, options_.allow_private);
  if (!addresses.ok()) {
    *error = std::string(addresses.status().message());
    return 0;
  }
  const int64_t timestamp = NowUs() / 1000000;
  absl::StatusOr<std::string> signature =
      SignatureHeader(view.secrets, event.event_id, timestamp, body);
  if (!signature.ok()) {
    *error = std::string(signature.status().message());
    return 0;
  }
  PostResult result =
      client_->Post(*url, *addresses,
                    {{"content-type", "application/json"},
                     {"webhook-id", event.event_id},
                     {"webhook-timestamp", std::to_string(timestamp)},
                     {"webhook-signature", *signature}},
                    body, options_.timeout);
  *retry_after = std::move(result.retry_after);
  *error = std::move(result.error);
  return result.status;
}

}  // namespace vigil::webhooks::internal
