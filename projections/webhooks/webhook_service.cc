// WebhookService (webhook_service.h). Over ~500 lines as one concept, the
// endpoints' lifecycle: each admin route (create, list, rotate-secret,
// enable, delete, dead letters, redeliver) is a few lines of parsing around
// the `$webhooks` event it records and the DeliveryWorker it starts or
// stops; the delivery itself is internal/delivery_worker.cc.

#include "projections/webhooks/webhook_service.h"

#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "projections/webhooks/internal/delivery_worker.h"
#include "projections/webhooks/internal/http_client.h"
#include "projections/webhooks/internal/registry.h"
#include "projections/webhooks/internal/secret_box.h"
#include "projections/webhooks/signature.h"
#include "projections/webhooks/target.h"

namespace vigil::webhooks {
namespace internal {

// The service as its workers see it; a separate object so the service's
// own interface stays the admin one.
class ServiceHost : public DeliveryHost {
 public:
  explicit ServiceHost(WebhookService* service) : service_(service) {}
  std::optional<EndpointView> View(const std::string& id) override {
    return service_->View(id);
  }
  absl::Status RecordDeadLetter(const std::string& id,
                                const DeadLetter& letter) override {
    return service_->DeadLettered(id, letter);
  }
  absl::Status RecordRedelivered(const std::string& id,
                                 uint64_t position) override {
    return service_->Redelivered(id, position);
  }
  absl::Status RecordDisabled(const std::string& id,
                              const std::string& reason) override {
    return service_->Record(DisabledEvent(id, reason));
  }
  absl::Status RecordCheckpoint(const std::string& id,
                                uint64_t position) override {
    return service_->Record(CheckpointedEvent(id, position));
  }

 private:
  WebhookService* const service_;
};

}  // namespace internal

namespace {

using internal::DeadLetter;
using internal::Endpoint;
using internal::kWebhooksStream;

// `$webhooks` is read back in chunks of this many events at start.
constexpr uint64_t kReplayChunk = 1000;

using base::Json;

Json FilterJson(const eventlog::Filter& filter) {
  return {{"stream_prefixes", filter.stream_prefixes},
          {"event_types", filter.event_types}};
}

std::string NewId(const char* prefix = "wh_") {
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();
  return prefix + std::string(absl::BytesToHexString(absl::string_view(
                      reinterpret_cast<char*>(bytes), sizeof(bytes))));
}

// The `$webhooks` events a deliverer records as it delivers.
bool RecordsDelivery(const std::string& type) {
  return type == "WebhookCheckpointed" || type == "WebhookDeadLettered" ||
         type == "WebhookRedelivered";
}

// Entries of a filter list: non-empty, at most 200 bytes, at most
// `max_entries`.
absl::Status CheckFilterList(const std::vector<std::string>& list,
                             std::string_view name, size_t max_entries) {
  for (const std::string& entry : list) {
    if (entry.empty() || entry.size() > 200) {
      return absl::InvalidArgumentError(
          "filter." + std::string(name) +
          " must hold non-empty strings of at most 200 bytes");
    }
  }
  if (list.size() > max_entries) {
    return absl::InvalidArgumentError("filter." + std::string(name) +
                                      " has more than " +
                                      std::to_string(max_entries) + " entries");
  }
  return absl::OkStatus();
}

}  // namespace

WebhookService::WebhookService(WebhookOptions options, eventlog::EventLog* log)
    : options_(std::move(options)),
      log_(log),
      host_(std::make_unique<internal::ServiceHost>(this)),
      registry_(std::make_unique<internal::Registry>()),
      metadata_(base::DumpJson(Json({{"deliverer", NewId("dl_")}}))),
      started_time_us_(absl::ToUnixMicros(absl::Now())) {}

absl::StatusOr<std::unique_ptr<WebhookService>> WebhookService::Start(
    WebhookOptions options, eventlog::EventLog* log) {
  if (::mkdir(options.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError("cannot create " + options.state_dir + ": " +
                                  std::strerror(errno));
  }
  std::unique_ptr<WebhookService> service(
      new WebhookService(std::move(options), log));
  absl::StatusOr<std::unique_ptr<internal::SecretBox>> box =
      internal::SecretBox::Open(service->options_.state_dir + "/key");
  if (!box.ok()) return box.status();
  service->box_ = *std::move(box);
  absl::StatusOr<std::unique_ptr<internal::HttpClient>> client =
      internal::HttpClient::Create(
          {.verify_certificates = service->options_.verify_certificates,
           .ca_file = service->options_.ca_file});
  if (!client.ok()) return client.status();
  service->client_ = *std::move(client);
  service->metrics_ = std::make_unique<internal::WebhookMetrics>(
      internal::WebhookMetrics::Register(service->options_.metrics));

  absl::MutexLock lock(&service->mu_);
  for (uint64_t from = 0;;) {
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> events =
        log->ReadStream(kWebhooksStream, from, kReplayChunk, false);
    if (absl::IsNotFound(events.status())) break;
    if (!events.ok()) return events.status();
    for (const eventlog::RecordedEvent& event : *events) {
      if (absl::Status applied = service->Fold(event); !applied.ok()) {
        return absl::DataLossError(applied.message());
      }
      from = event.revision + 1;
    }
    if (events->size() < kReplayChunk) break;
  }
  for (const auto& [id, endpoint] : service->registry_->endpoints()) {
    service->StartWorker(id, std::max(endpoint.registered_position,
                                      endpoint.recorded_checkpoint));
    service->UpdateDeadLetterGauge(id);
  }
  return service;
}

WebhookService::~WebhookService() { Stop(); }

void WebhookService::Stop() {
  std::map<std::string, std::unique_ptr<internal::DeliveryWorker>> workers;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    workers.swap(workers_);
  }
  // All asked first, and their requests in flight cut short, so shutdown
  // does not wait for slow endpoints; what was in flight is sent again
  // after the restart.
  for (auto& [id, worker] : workers) worker->RequestStop();
  if (client_ != nullptr) client_->CancelAll();
  for (auto& [id, worker] : workers) worker->Stop();
}

void WebhookService::StartWorker(const std::string& id,
                                 uint64_t start_position) {
  internal::WorkerOptions worker_options{
      .state_dir = options_.state_dir,
      .allow_private = options_.allow_private,
      .retry = options_.retry,
      .timeout = options_.timeout,
      .record_checkpoint_every = options_.record_checkpoint_every};
  auto worker = std::make_unique<internal::DeliveryWorker>(
      id, start_position, host_.get(), log_, client_.get(), worker_options,
      metrics_.get());
  worker->Start();
  workers_[id] = std::move(worker);
}

absl::Status WebhookService::Record(eventlog::EventData event) {
  absl::MutexLock record_lock(&record_mu_);
  event.metadata = metadata_;
  eventlog::AppendRequest request;
  request.stream = kWebhooksStream;
  request.events.push_back(std::move(event));
  for (int attempt = 0;; ++attempt) {
    {
      absl::MutexLock lock(&mu_);
      if (!other_deliverer_.ok()) return other_deliverer_;
      if (stopped_) return absl::UnavailableError("the server is stopping");
      if (options_.expect_revision) {
        request.expected_revision =
            last_revision_.has_value()
                ? eventlog::ExpectedRevision::Exact(*last_revision_)
                : eventlog::ExpectedRevision::NoStream();
      }
    }
    absl::StatusOr<eventlog::AppendResult> appended = log_->Append(request);
    // Another writer appended since this service last folded `$webhooks`.
    if (absl::IsAborted(appended.status()) && attempt < 3) {
      if (absl::Status folded = FoldOtherWriter(); !folded.ok()) {
        return folded;
      }
      continue;
    }
    if (!appended.ok()) return appended.status();
    // Read back what the log recorded (position, time), to fold exactly
    // what a replay would.
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> recorded =
        log_->ReadAll(appended->first_position, 1, eventlog::Filter{});
    if (!recorded.ok()) return recorded.status();
    if (recorded->empty()) {
      return absl::InternalError("an appended $webhooks event is not readable");
    }
    absl::MutexLock lock(&mu_);
    return Fold(recorded->front());
  }
}

absl::Status WebhookService::Fold(const eventlog::RecordedEvent& event) {
  RETURN_IF_ERROR(registry_->Apply(event));
  last_revision_ = event.revision;
  return absl::OkStatus();
}

absl::Status WebhookService::FoldOtherWriter() {
  const absl::Time deadline = absl::Now() + options_.other_writer_wait;
  for (;;) {
    uint64_t from = 0;
    {
      absl::MutexLock lock(&mu_);
      from = last_revision_.has_value() ? *last_revision_ + 1 : 0;
    }
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> events =
        log_->ReadStream(kWebhooksStream, from, kReplayChunk, false);
    if (!events.ok() && !absl::IsNotFound(events.status())) {
      return events.status();
    }
    if (events.ok() && !events->empty()) {
      absl::MutexLock lock(&mu_);
      for (const eventlog::RecordedEvent& event : *events) {
        if (RecordsDelivery(event.type) && event.metadata != metadata_ &&
            event.recorded_time_us >= started_time_us_) {
          other_deliverer_ = absl::UnavailableError(absl::StrCat(
              "another vigild delivers this log's webhooks: it recorded ",
              event.type, " at position ", event.position,
              " (metadata ", event.metadata.empty() ? "none" : event.metadata,
              "; this one is ", metadata_,
              "); this vigild stopped delivering (run one deliverer, "
              "docs/webhooks.md)"));
          std::fprintf(stderr, "vigild: webhooks: STOPPED: %s\n",
                       std::string(other_deliverer_.message()).c_str());
          metrics_->other_deliverer->Set(1);
          for (auto& [id, worker] : workers_) worker->RequestStop();
          client_->CancelAll();
          return other_deliverer_;
        }
        RETURN_IF_ERROR(Fold(event));
      }
      return absl::OkStatus();
    }
    if (absl::Now() > deadline) {
      return absl::UnavailableError(absl::StrCat(
          "another writer appended to ", kWebhooksStream,
          " after revision ", from,
          " and this vigild's log does not hold it yet"));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

std::optional<internal::EndpointView> WebhookService::View(
    const std::string& id) {
  absl::MutexLock lock(&mu_);
  const Endpoint* endpoint = registry_->Find(id);
  if (endpoint == nullptr) return std::nullopt;
  internal::EndpointView view;
  view.url = endpoint->url;
  view.filter = endpoint->filter;
  view.active = !endpoint->disabled;
  absl::StatusOr<std::string> current = box_->Unseal(endpoint->secret_sealed);
  if (current.ok()) view.secrets.push_back(*current);
  if (!endpoint->previous_secret_sealed.empty() &&
      absl::ToUnixMicros(absl::Now()) <
          endpoint->previous_secret_expires_time_us) {
    absl::StatusOr<std::string> previous =
        box_->Unseal(endpoint->previous_secret_sealed);
    if (previous.ok()) view.secrets.push_back(*previous);
  }
  for (const auto& [position, letter] : endpoint->dead_letters) {
    if (letter.redelivery_pending) {
      view.redelivery = letter;
      break;
    }
  }
  return view;
}

absl::Status WebhookService::DeadLettered(const std::string& id,
                                          const DeadLetter& letter) {
  if (absl::Status recorded = Record(internal::DeadLetteredEvent(id, letter));
      !recorded.ok()) {
    return recorded;
  }
  bool full = false;
  {
    absl::MutexLock lock(&mu_);
    UpdateDeadLetterGauge(id);
    const Endpoint* endpoint = registry_->Find(id);
    full = endpoint != nullptr && !endpoint->disabled &&
           endpoint->dead_letters.size() >= options_.max_dead_letters;
  }
  if (full) {
    return Record(internal::DisabledEvent(
        id, "the dead-letter queue is full (" +
                std::to_string(options_.max_dead_letters) + " deliveries)"));
  }
  return absl::OkStatus();
}

absl::Status WebhookService::Redelivered(const std::string& id,
                                         uint64_t position) {
  if (absl::Status recorded = Record(internal::RedeliveredEvent(id, position));
      !recorded.ok()) {
    return recorded;
  }
  absl::MutexLock lock(&mu_);
  UpdateDeadLetterGauge(id);
  return absl::OkStatus();
}

void WebhookService::UpdateDeadLetterGauge(const std::string& id) {
  const Endpoint* endpoint = registry_->Find(id);
  metrics_->dead_letters->WithLabels({id})->Set(
      endpoint == nullptr ? 0
                          : static_cast<double>(endpoint->dead_letters.size()));
}

absl::StatusOr<std::string> WebhookService::Register(
    const api::WebhookRegistration& registration) {
  for (const auto& [list, name] :
       {std::pair(&registration.filter.stream_prefixes, "stream_prefixes"),
        std::pair(&registration.filter.event_types, "event_types")}) {
    if (absl::Status checked =
            CheckFilterList(*list, name, options_.max_filter_entries);
        !checked.ok()) {
      return checked;
    }
  }
  absl::StatusOr<Url> url = ParseUrl(registration.url);
  if (!url.ok()) return url.status();
  // Refused now, not at the first delivery (and checked again at each).
  absl::StatusOr<std::vector<Address>> addresses =
      Resolve(*url, options_.allow_private);
  if (!addresses.ok()) return addresses.status();
  {
    absl::MutexLock lock(&mu_);
    if (registry_->endpoints().size() >= options_.max_endpoints) {
      return absl::FailedPreconditionError(
          "at most " + std::to_string(options_.max_endpoints) +
          " webhooks may be registered (vigild --webhooks-max-endpoints)");
    }
  }
  const std::string id = NewId();
  const std::string secret = GenerateSecret();
  if (absl::Status recorded = Record(internal::RegisteredEvent(
          id, registration.url, registration.filter, box_->Seal(secret)));
      !recorded.ok()) {
    return recorded;
  }
  absl::MutexLock lock(&mu_);
  const Endpoint* endpoint = registry_->Find(id);
  if (endpoint == nullptr) return absl::InternalError("registration lost");
  if (stopped_) return absl::UnavailableError("the server is stopping");
  StartWorker(id, endpoint->registered_position);
  Json json = EndpointJson(id);
  // The secret is shown this once; only its sealed form is kept.
  json["secret"] = secret;
  return base::DumpJson(json);
}

absl::StatusOr<std::string> WebhookService::List() {
  absl::ReaderMutexLock lock(&mu_);
  Json webhooks = Json::array();
  for (const auto& [id, endpoint] : registry_->endpoints()) {
    webhooks.push_back(EndpointJson(id));
  }
  return base::DumpJson({{"webhooks", std::move(webhooks)}});
}

absl::StatusOr<std::string> WebhookService::Get(
    const std::string& id) {
  absl::ReaderMutexLock lock(&mu_);
  if (registry_->Find(id) == nullptr) {
    return absl::NotFoundError("no webhook " + id);
  }
  return base::DumpJson(EndpointJson(id));
}

absl::StatusOr<std::string> WebhookService::Delete(
    const std::string& id) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (registry_->Find(id) == nullptr) {
      return absl::NotFoundError("no webhook " + id);
    }
  }
  if (absl::Status recorded = Record(internal::DeletedEvent(id));
      !recorded.ok()) {
    return recorded;
  }
  std::unique_ptr<internal::DeliveryWorker> worker;
  {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(id);
    if (it != workers_.end()) {
      worker = std::move(it->second);
      workers_.erase(it);
    }
    UpdateDeadLetterGauge(id);
  }
  // Outside the lock: the worker may be waiting for it.
  if (worker != nullptr) worker->Stop();
  std::remove(
      internal::DeliveryWorker::CheckpointPath(options_.state_dir, id).c_str());
  return base::DumpJson({{"id", id}, {"deleted", true}});
}

absl::StatusOr<std::string> WebhookService::RotateSecret(
    const std::string& id) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (registry_->Find(id) == nullptr) {
      return absl::NotFoundError("no webhook " + id);
    }
  }
  const std::string secret = GenerateSecret();
  const int64_t expires =
      absl::ToUnixMicros(absl::Now() + options_.secret_grace);
  if (absl::Status recorded =
          Record(internal::SecretRotatedEvent(id, box_->Seal(secret), expires));
      !recorded.ok()) {
    return recorded;
  }
  return base::DumpJson({{"id", id},
                         {"secret", secret},
                         {"previous_secret_expires_time_us", expires}});
}

absl::StatusOr<std::string> WebhookService::Enable(
    const std::string& id) {
  {
    absl::ReaderMutexLock lock(&mu_);
    const Endpoint* endpoint = registry_->Find(id);
    if (endpoint == nullptr) return absl::NotFoundError("no webhook " + id);
    if (!endpoint->disabled) return base::DumpJson(EndpointJson(id));
  }
  if (absl::Status recorded = Record(internal::EnabledEvent(id));
      !recorded.ok()) {
    return recorded;
  }
  absl::ReaderMutexLock lock(&mu_);
  return base::DumpJson(EndpointJson(id));
}

absl::StatusOr<std::string> WebhookService::DeadLetters(
    const std::string& id) {
  absl::ReaderMutexLock lock(&mu_);
  const Endpoint* endpoint = registry_->Find(id);
  if (endpoint == nullptr) return absl::NotFoundError("no webhook " + id);
  Json letters = Json::array();
  for (const auto& [position, letter] : endpoint->dead_letters) {
    letters.push_back({{"event_id", letter.event_id},
                       {"position", letter.position},
                       {"stream", letter.stream},
                       {"type", letter.type},
                       {"attempts", letter.attempts},
                       {"last_status", letter.last_status},
                       {"last_error", letter.last_error},
                       {"dead_lettered_time_us", letter.time_us},
                       {"redelivery_pending", letter.redelivery_pending}});
  }
  return base::DumpJson({{"dead_letters", std::move(letters)}});
}

absl::StatusOr<std::string> WebhookService::Redeliver(
    const std::string& id, const std::optional<std::string>& event_id) {
  std::vector<uint64_t> positions;
  {
    absl::ReaderMutexLock lock(&mu_);
    const Endpoint* endpoint = registry_->Find(id);
    if (endpoint == nullptr) return absl::NotFoundError("no webhook " + id);
    for (const auto& [position, letter] : endpoint->dead_letters) {
      if (event_id.has_value() ? letter.event_id == *event_id
                               : !letter.redelivery_pending) {
        positions.push_back(position);
      }
    }
  }
  if (event_id.has_value() && positions.empty()) {
    return absl::NotFoundError("webhook " + id +
                               " has no dead letter for event " + *event_id);
  }
  if (!positions.empty()) {
    if (absl::Status recorded =
            Record(internal::RedeliveryRequestedEvent(id, positions));
        !recorded.ok()) {
      return recorded;
    }
  }
  return base::DumpJson({{"id", id}, {"queued", positions.size()}});
}

Json WebhookService::EndpointJson(const std::string& id) const {
  const Endpoint& endpoint = *registry_->Find(id);
  size_t pending = 0;
  for (const auto& [position, letter] : endpoint.dead_letters) {
    if (letter.redelivery_pending) ++pending;
  }
  Json json = {{"id", id},
               {"url", endpoint.url},
               {"filter", FilterJson(endpoint.filter)},
               {"status", endpoint.disabled ? "disabled" : "active"}};
  if (endpoint.disabled) json["disabled_reason"] = endpoint.disabled_reason;
  json["created_time_us"] = endpoint.created_time_us;
  json["registered_position"] = endpoint.registered_position;
  if (!endpoint.previous_secret_sealed.empty()) {
    json["previous_secret_expires_time_us"] =
        endpoint.previous_secret_expires_time_us;
  }
  json["dead_letters"] = endpoint.dead_letters.size();
  json["pending_redeliveries"] = pending;
  auto worker = workers_.find(id);
  if (worker != workers_.end()) {
    const internal::WorkerStatus s = worker->second->status();
    json["delivery"] = {
        {"checkpoint", s.checkpoint},
        {"head_position", log_->HeadPosition()},
        {"circuit", s.circuit},
        {"consecutive_failures", s.consecutive_failures},
        {"delivering_position", s.delivering_position},
        {"attempt", s.attempt},
        {"last_status", s.last_status},
        {"last_error", s.last_error},
        {"last_attempt_time_us", s.last_attempt_time_us},
        {"last_success_time_us", s.last_success_time_us},
        {"next_attempt_time_us", s.next_attempt_time_us},
        {"delivered", s.delivered},
        {"failed_attempts", s.failed_attempts}};
  }
  return json;
}

}  // namespace vigil::webhooks
