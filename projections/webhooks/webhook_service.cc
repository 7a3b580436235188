// WebhookService (webhook_service.h). Over ~500 lines as one concept, the
// endpoints' lifecycle: each admin route (create, list, rotate-secret,
// enable, delete, dead letters, redeliver) is a few lines of parsing around
// the `$webhooks` event it records and the DeliveryWorker it starts or
// stops; the delivery itself is internal/delivery_worker.cc.

#include "projections/webhooks/webhook_service.h"

#include <openssl/rand.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "api/event_json.h"
#include "projections/webhooks/internal/delivery_worker.h"
#include "projections/webhooks/internal/http_client.h"
#include "projections/webhooks/internal/registry.h"
#include "projections/webhooks/internal/secret_box.h"
#include "projections/webhooks/signature.h"
#include "projections/webhooks/target.h"

namespace vigil::webhooks {
namespace internal {

// The service as its workers see it; a separate object so the service's
// own interface stays the REST one.
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

 private:
  WebhookService* const service_;
};

}  // namespace internal

namespace {

using internal::DeadLetter;
using internal::Endpoint;
using internal::kWebhooksStream;

constexpr std::string_view kCollection = "/v1/webhooks";
// `$webhooks` is read back in chunks of this many events at start.
constexpr uint64_t kReplayChunk = 1000;

std::string Quoted(std::string_view text) {
  std::string out;
  api::AppendJsonString(text, &out);
  return out;
}

std::string StringsJson(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    api::AppendJsonString(values[i], &out);
  }
  out.push_back(']');
  return out;
}

std::string FilterJson(const eventlog::Filter& filter) {
  return "{\"stream_prefixes\":" + StringsJson(filter.stream_prefixes) +
         ",\"event_types\":" + StringsJson(filter.event_types) + "}";
}

std::string NewId() {
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();
  return "wh_" + std::string(absl::BytesToHexString(absl::string_view(
                     reinterpret_cast<char*>(bytes), sizeof(bytes))));
}

// The path after /v1/webhooks, split on '/': {} for the collection.
std::optional<std::vector<std::string_view>> Segments(std::string_view path) {
  if (path.substr(0, kCollection.size()) != kCollection) return std::nullopt;
  std::string_view rest = path.substr(kCollection.size());
  std::vector<std::string_view> segments;
  if (rest.empty()) return segments;
  if (rest.front() != '/') return std::nullopt;
  rest.remove_prefix(1);
  while (true) {
    const size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment.empty()) return std::nullopt;
    segments.push_back(segment);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return segments;
}

absl::StatusOr<std::vector<std::string>> StringList(
    simdjson::dom::element value, std::string_view name, size_t max_entries) {
  simdjson::dom::array array;
  if (value.get(array) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("filter." + std::string(name) +
                                      " must be an array of strings");
  }
  std::vector<std::string> out;
  for (simdjson::dom::element item : array) {
    std::string_view text;
    if (item.get(text) != simdjson::SUCCESS || text.empty() ||
        text.size() > 200) {
      return absl::InvalidArgumentError(
          "filter." + std::string(name) +
          " must hold non-empty strings of at most 200 bytes");
    }
    out.emplace_back(text);
  }
  if (out.size() > max_entries) {
    return absl::InvalidArgumentError("filter." + std::string(name) +
                                      " has more than " +
                                      std::to_string(max_entries) + " entries");
  }
  return out;
}

struct CreateRequest {
  std::string url;
  eventlog::Filter filter;
};

absl::StatusOr<CreateRequest> ParseCreate(std::string_view body,
                                          size_t max_entries) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(body.data(), body.size(), true).get(root) !=
      simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        "the body must be a JSON object {\"url\", \"filter\"?}");
  }
  CreateRequest request;
  bool has_url = false;
  for (auto [key, value] : root) {
    if (key == "url") {
      std::string_view url;
      if (value.get(url) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("url must be a string");
      }
      request.url = std::string(url);
      has_url = true;
    } else if (key == "filter") {
      if (value.is_null()) continue;
      simdjson::dom::object filter;
      if (value.get(filter) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("filter must be an object");
      }
      for (auto [name, list] : filter) {
        std::vector<std::string>* out =
            name == "stream_prefixes" ? &request.filter.stream_prefixes
            : name == "event_types"   ? &request.filter.event_types
                                      : nullptr;
        if (out == nullptr) {
          return absl::InvalidArgumentError(
              "filter: unknown field \"" + std::string(name) +
              "\" (expected stream_prefixes, event_types)");
        }
        absl::StatusOr<std::vector<std::string>> parsed =
            StringList(list, name, max_entries);
        if (!parsed.ok()) return parsed.status();
        *out = *std::move(parsed);
      }
    } else {
      return absl::InvalidArgumentError("unknown field \"" + std::string(key) +
                                        "\" (expected url, filter)");
    }
  }
  if (!has_url) return absl::InvalidArgumentError("url is required");
  return request;
}

gateway::AdminResponse Json(int status, std::string body) {
  return gateway::AdminResponse{.status = status, .body = std::move(body)};
}

}  // namespace

WebhookService::WebhookService(WebhookOptions options, eventlog::EventLog* log)
    : options_(std::move(options)),
      log_(log),
      host_(std::make_unique<internal::ServiceHost>(this)),
      registry_(std::make_unique<internal::Registry>()) {}

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
      if (absl::Status applied = service->registry_->Apply(event);
          !applied.ok()) {
        return absl::DataLossError(applied.message());
      }
      from = event.revision + 1;
    }
    if (events->size() < kReplayChunk) break;
  }
  for (const auto& [id, endpoint] : service->registry_->endpoints()) {
    service->StartWorker(id, endpoint.registered_position);
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
      .timeout = options_.timeout};
  auto worker = std::make_unique<internal::DeliveryWorker>(
      id, start_position, host_.get(), log_, client_.get(), worker_options,
      metrics_.get());
  worker->Start();
  workers_[id] = std::move(worker);
}

absl::Status WebhookService::Record(eventlog::EventData event) {
  absl::MutexLock record_lock(&record_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::UnavailableError("the server is stopping");
  }
  eventlog::AppendRequest request;
  request.stream = kWebhooksStream;
  request.events.push_back(std::move(event));
  absl::StatusOr<eventlog::AppendResult> appended = log_->Append(request);
  if (!appended.ok()) return appended.status();
  // Read back what the log recorded (position, time), to fold exactly what
  // a replay would.
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> recorded =
      log_->ReadAll(appended->first_position, 1, eventlog::Filter{});
  if (!recorded.ok()) return recorded.status();
  if (recorded->empty()) {
    return absl::InternalError("an appended $webhooks event is not readable");
  }
  absl::MutexLock lock(&mu_);
  return registry_->Apply(recorded->front());
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

std::string WebhookService::AllowedMethods(std::string_view path) const {
  std::optional<std::vector<std::string_view>> segments = Segments(path);
  if (!segments.has_value()) return "";
  const std::vector<std::string_view>& s = *segments;
  switch (s.size()) {
    case 0:
      return "GET, POST";
    case 1:
      return "GET, DELETE";
    case 2:
      if (s[1] == "rotate-secret" || s[1] == "enable") return "POST";
      if (s[1] == "dead-letters") return "GET";
      return "";
    case 3:
      return s[1] == "dead-letters" && s[2] == "redeliver" ? "POST" : "";
    case 4:
      return s[1] == "dead-letters" && s[3] == "redeliver" ? "POST" : "";
  }
  return "";
}

absl::StatusOr<gateway::AdminResponse> WebhookService::Serve(
    const gateway::AdminRequest& request) {
  std::optional<std::vector<std::string_view>> segments =
      Segments(request.path);
  if (!segments.has_value() || AllowedMethods(request.path).empty()) {
    return absl::NotFoundError("no resource at " + request.path);
  }
  const std::vector<std::string_view>& s = *segments;
  const bool post = request.method == "POST";
  if (s.empty()) return post ? Create(request.body) : List();
  const std::string id(s[0]);
  if (s.size() == 1) return request.method == "DELETE" ? Delete(id) : Get(id);
  if (s[1] == "rotate-secret") return Rotate(id);
  if (s[1] == "enable") return Enable(id);
  if (s.size() == 2) return DeadLetters(id);
  if (s.size() == 3) return Redeliver(id, std::nullopt);
  return Redeliver(id, std::string(s[2]));
}

absl::StatusOr<gateway::AdminResponse> WebhookService::Create(
    std::string_view body) {
  absl::StatusOr<CreateRequest> request =
      ParseCreate(body, options_.max_filter_entries);
  if (!request.ok()) return request.status();
  absl::StatusOr<Url> url = ParseUrl(request->url);
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
          id, request->url, request->filter, box_->Seal(secret)));
      !recorded.ok()) {
    return recorded;
  }
  absl::MutexLock lock(&mu_);
  const Endpoint* endpoint = registry_->Find(id);
  if (endpoint == nullptr) return absl::InternalError("registration lost");
  if (stopped_) return absl::UnavailableError("the server is stopping");
  StartWorker(id, endpoint->registered_position);
  std::string out = EndpointJson(id);
  // The secret is shown this once; only its sealed form is kept.
  out.insert(out.size() - 1, ",\"secret\":" + Quoted(secret));
  return Json(201, std::move(out));
}

absl::StatusOr<gateway::AdminResponse> WebhookService::List() {
  absl::ReaderMutexLock lock(&mu_);
  std::string out = "{\"webhooks\":[";
  bool first = true;
  for (const auto& [id, endpoint] : registry_->endpoints()) {
    if (!first) out.push_back(',');
    first = false;
    out.append(EndpointJson(id));
  }
  out.append("]}");
  return Json(200, std::move(out));
}

absl::StatusOr<gateway::AdminResponse> WebhookService::Get(
    const std::string& id) {
  absl::ReaderMutexLock lock(&mu_);
  if (registry_->Find(id) == nullptr) {
    return absl::NotFoundError("no webhook " + id);
  }
  return Json(200, EndpointJson(id));
}

absl::StatusOr<gateway::AdminResponse> WebhookService::Delete(
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
  return Json(200, "{\"id\":" + Quoted(id) + ",\"deleted\":true}");
}

absl::StatusOr<gateway::AdminResponse> WebhookService::Rotate(
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
  return Json(200, "{\"id\":" + Quoted(id) + ",\"secret\":" + Quoted(secret) +
                       ",\"previous_secret_expires_time_us\":" +
                       std::to_string(expires) + "}");
}

absl::StatusOr<gateway::AdminResponse> WebhookService::Enable(
    const std::string& id) {
  {
    absl::ReaderMutexLock lock(&mu_);
    const Endpoint* endpoint = registry_->Find(id);
    if (endpoint == nullptr) return absl::NotFoundError("no webhook " + id);
    if (!endpoint->disabled) return Json(200, EndpointJson(id));
  }
  if (absl::Status recorded = Record(internal::EnabledEvent(id));
      !recorded.ok()) {
    return recorded;
  }
  absl::ReaderMutexLock lock(&mu_);
  return Json(200, EndpointJson(id));
}

absl::StatusOr<gateway::AdminResponse> WebhookService::DeadLetters(
    const std::string& id) {
  absl::ReaderMutexLock lock(&mu_);
  const Endpoint* endpoint = registry_->Find(id);
  if (endpoint == nullptr) return absl::NotFoundError("no webhook " + id);
  std::string out = "{\"dead_letters\":[";
  bool first = true;
  for (const auto& [position, letter] : endpoint->dead_letters) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"event_id\":" + Quoted(letter.event_id) +
               ",\"position\":" + std::to_string(letter.position) +
               ",\"stream\":" + Quoted(letter.stream) +
               ",\"type\":" + Quoted(letter.type) +
               ",\"attempts\":" + std::to_string(letter.attempts) +
               ",\"last_status\":" + std::to_string(letter.last_status) +
               ",\"last_error\":" + Quoted(letter.last_error) +
               ",\"dead_lettered_time_us\":" + std::to_string(letter.time_us) +
               ",\"redelivery_pending\":" +
               (letter.redelivery_pending ? "true" : "false") + "}");
  }
  out.append("]}");
  return Json(200, std::move(out));
}

absl::StatusOr<gateway::AdminResponse> WebhookService::Redeliver(
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
  return Json(202, "{\"id\":" + Quoted(id) +
                       ",\"queued\":" + std::to_string(positions.size()) + "}");
}

std::string WebhookService::EndpointJson(const std::string& id) const {
  const Endpoint& endpoint = *registry_->Find(id);
  size_t pending = 0;
  for (const auto& [position, letter] : endpoint.dead_letters) {
    if (letter.redelivery_pending) ++pending;
  }
  std::string out =
      "{\"id\":" + Quoted(id) + ",\"url\":" + Quoted(endpoint.url) +
      ",\"filter\":" + FilterJson(endpoint.filter) +
      ",\"status\":" + (endpoint.disabled ? "\"disabled\"" : "\"active\"");
  if (endpoint.disabled) {
    out.append(",\"disabled_reason\":" + Quoted(endpoint.disabled_reason));
  }
  out.append(
      ",\"created_time_us\":" + std::to_string(endpoint.created_time_us) +
      ",\"registered_position\":" +
      std::to_string(endpoint.registered_position));
  if (!endpoint.previous_secret_sealed.empty()) {
    out.append(",\"previous_secret_expires_time_us\":" +
               std::to_string(endpoint.previous_secret_expires_time_us));
  }
  out.append(
      ",\"dead_letters\":" + std::to_string(endpoint.dead_letters.size()) +
      ",\"pending_redeliveries\":" + std::to_string(pending));
  auto worker = workers_.find(id);
  if (worker != workers_.end()) {
    const internal::WorkerStatus s = worker->second->status();
    out.append(
        ",\"delivery\":{\"checkpoint\":" + std::to_string(s.checkpoint) +
        ",\"head_position\":" + std::to_string(log_->HeadPosition()) +
        ",\"circuit\":" + Quoted(s.circuit) +
        ",\"consecutive_failures\":" + std::to_string(s.consecutive_failures) +
        ",\"delivering_position\":" + std::to_string(s.delivering_position) +
        ",\"attempt\":" + std::to_string(s.attempt) +
        ",\"last_status\":" + std::to_string(s.last_status) +
        ",\"last_error\":" + Quoted(s.last_error) +
        ",\"last_attempt_time_us\":" + std::to_string(s.last_attempt_time_us) +
        ",\"last_success_time_us\":" + std::to_string(s.last_success_time_us) +
        ",\"next_attempt_time_us\":" + std::to_string(s.next_attempt_time_us) +
        ",\"delivered\":" + std::to_string(s.delivered) +
        ",\"failed_attempts\":" + std::to_string(s.failed_attempts) + "}");
  }
  out.push_back('}');
  return out;
}

}  // namespace vigil::webhooks
