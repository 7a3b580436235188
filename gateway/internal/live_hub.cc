#include "gateway/internal/live_hub.h"

#include <simdjson.h>

#include <algorithm>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "api/event_json.h"
#include "api/event_proto.h"
#include "api/query_string.h"
#include "api/status_mapping.h"

namespace vigil::gateway::internal {
namespace {

// The frames of the most recent events the hub keeps for subscriptions
// catching up near the head (at least the last batch is kept).
constexpr size_t kRecentEvents = 16384;
constexpr size_t kRecentBytes = 64 << 20;  // 64 MiB

// The first page a catching-up subscription reads, before it knows how
// large the events are.
constexpr size_t kFirstCatchUpPage = 16;

// A filter sent by a client, or in the query: entries per list.
constexpr size_t kMaxFilterEntries = 100;
constexpr size_t kMaxFilterEntryBytes = 200;

absl::Status CheckFilterList(std::string_view name,
                             const std::vector<std::string>& list) {
  if (list.size() > kMaxFilterEntries) {
    return absl::InvalidArgumentError(std::string(name) + ": at most " +
                                      std::to_string(kMaxFilterEntries) +
                                      " entries");
  }
  for (const std::string& entry : list) {
    if (entry.empty() || entry.size() > kMaxFilterEntryBytes) {
      return absl::InvalidArgumentError(
          std::string(name) + ": entries must be 1 to " +
          std::to_string(kMaxFilterEntryBytes) + " bytes");
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const size_t end = comma == std::string::npos ? text.size() : comma;
    out.push_back(text.substr(start, end - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string PositionJson(std::string_view kind, uint64_t position) {
  std::string out = "{\"kind\":\"";
  out.append(kind).append("\",\"position\":").append(std::to_string(position));
  out.push_back('}');
  return out;
}

std::string ErrorJson(std::string_view message) {
  std::string out = "{\"kind\":\"error\",\"message\":";
  api::AppendJsonString(message, &out);
  out.push_back('}');
  return out;
}

// {"kind":"event", ...the event's JSON}.
std::string EventJson(const eventlog::RecordedEvent& event) {
  std::string json = api::RecordedEventToJson(event);
  std::string out = "{\"kind\":\"event\",";
  out.append(json, 1, std::string::npos);
  return out;
}

// One Server-Sent Events record; `id` 0 = none. `data` is one line.
std::string SseRecord(std::string_view event, uint64_t id,
                      std::string_view data) {
  std::string out;
  if (id != 0) out.append("id: ").append(std::to_string(id)).push_back('\n');
  if (!event.empty()) out.append("event: ").append(event).push_back('\n');
  out.append("data: ").append(data).append("\n\n");
  return out;
}

std::shared_ptr<const std::string> Share(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

// A frame of the kinds other than events, in `format`. `position` also
// becomes the SSE id, so Last-Event-ID resumes after it.
LiveFrame ControlFrame(LiveFormat format, std::string_view kind,
                       uint64_t position) {
  std::string json = PositionJson(kind, position);
  if (format == LiveFormat::kSse) json = SseRecord(kind, position, json);
  return LiveFrame{Share(std::move(json)), false, 0};
}

}  // namespace

absl::StatusOr<LiveQuery> ParseLiveQuery(std::string_view query) {
  LiveQuery out;
  bool seen_streams = false;
  bool seen_types = false;
  // The error for a malformed escape names no value: it may be the token.
  absl::StatusOr<std::vector<api::QueryParam>> params = api::SplitQuery(query);
  if (!params.ok()) return params.status();
  for (api::QueryParam& param : *params) {
    const std::string& name = param.name;
    std::string& value = param.value;
    if (name == "token") {
      if (out.token.has_value()) {
        return absl::InvalidArgumentError("query parameter token given twice");
      }
      out.token = std::move(value);
      continue;
    }
    if (name == "from") {
      uint64_t from = 0;
      if (out.from.has_value() || !api::ParseDecimal(param.literal, &from)) {
        return absl::InvalidArgumentError(
            "from must be given once, as a non-negative decimal position");
      }
      out.from = from;
    } else if (name == "from_time") {
      absl::Time time;
      std::string error;
      if (out.from_time_us.has_value() ||
          !absl::ParseTime(absl::RFC3339_full, param.literal, &time,
                           &error)) {
        return absl::InvalidArgumentError(
            "from_time must be given once, as an RFC 3339 time such as "
            "2026-01-02T03:04:05Z");
      }
      out.from_time_us = absl::ToUnixMicros(time);
    } else if (name == "streams" || name == "types") {
      bool& seen = name == "streams" ? seen_streams : seen_types;
      if (seen) {
        return absl::InvalidArgumentError(name + " given twice");
      }
      seen = true;
      std::vector<std::string> list = SplitCommas(value);
      if (absl::Status status = CheckFilterList(name, list); !status.ok()) {
        return status;
      }
      (name == "streams" ? out.filter.stream_prefixes
                          : out.filter.event_types) = std::move(list);
    } else {
      return absl::InvalidArgumentError(
          "unknown query parameter \"" + name.substr(0, 64) +
          "\" (expected from, from_time, streams, types, token)");
    }
  }
  if (out.from.has_value() && out.from_time_us.has_value()) {
    return absl::InvalidArgumentError("give from or from_time, not both");
  }
  return out;
}

// The events after a position, read and encoded once by the pump.
struct LiveSubscription::Batch {
  struct Event {
    eventlog::RecordedEvent event;
    std::shared_ptr<const std::string> json;   // always
    std::shared_ptr<const std::string> proto;  // while protobuf clients exist
    std::shared_ptr<const std::string> sse;    // while SSE clients exist
  };
  std::vector<Event> events;
};

LiveMetrics::LiveMetrics(Metrics* metrics)
    : connections(metrics
                      ->AddGauge("vigil_live_connections",
                                 "Live feed connections open now "
                                 "(WebSocket and SSE).")
                      ->Get()),
      frames(metrics
                 ->AddCounter("vigil_live_frames_total",
                              "Frames written to live feed connections.")
                 ->Get()),
      bytes(metrics
                ->AddCounter("vigil_live_bytes_total",
                             "Payload bytes written to live feed "
                             "connections.")
                ->Get()),
      queue_depth(metrics
                      ->AddHistogram(
                          "vigil_live_queue_depth",
                          "A live connection's queued frames, observed "
                          "each time frames are queued.",
                          {},
                          {0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024,
                           4096})
                      ->Get()),
      fallbacks(metrics
                    ->AddCounter("vigil_live_fallbacks_total",
                                 "Times a live connection's queue was full "
                                 "and it went back to reading the log.")
                    ->Get()),
      slow_consumer_closes(
          metrics
              ->AddCounter("vigil_live_slow_consumer_closes_total",
                           "Live connections closed 4008 because a write "
                           "made no progress for slow_consumer_timeout.")
              ->Get()),
      rejected(metrics->AddCounter(
          "vigil_live_rejected_upgrades_total",
          "Live feed requests refused before the upgrade, by reason.",
          {"reason"})),
      closes(metrics->AddCounter("vigil_live_closes_total",
                                 "Live connections the server closed, by "
                                 "close code.",
                                 {"code"})) {}

// ---------------------------------------------------------------------------
// LiveSubscription

LiveSubscription::LiveSubscription(LiveHub* hub, LiveQuery query,
                                   LiveFormat format, std::string token_id)
    : hub_(hub),
      format_(format),
      token_id_(std::move(token_id)),
      from_time_us_(query.from_time_us) {
  filter_ = std::move(query.filter);
  if (query.from.has_value()) next_position_ = *query.from + 1;
}

LiveSubscription::~LiveSubscription() { Close(); }

void LiveSubscription::Start(Callbacks callbacks) {
  std::function<void()> stop;
  {
    absl::MutexLock lock(&mu_);
    if (started_ || closed_) return;
    started_ = true;
    callbacks_ = std::move(callbacks);
    last_queued_ = absl::Now();
    StartReadLocked();  // unless it is live already (from now)
    // Stop() may have looked for callbacks before these were set.
    if (hub_->stopping()) stop = callbacks_.stop;
  }
  if (stop) stop();
}

size_t LiveSubscription::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size() + replies_.size();
}

void LiveSubscription::PushLocked(LiveFrame frame) {
  queue_bytes_ += frame.payload->size();
  queue_.push_back(std::move(frame));
  if (want_wake_) {
    want_wake_ = false;
    wake_due_ = true;
  }
}

void LiveSubscription::PushControl(std::string json) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    if (format_ == LiveFormat::kSse) json = SseRecord("error", 0, json);
    replies_.push_back(LiveFrame{Share(std::move(json)), false, 0});
    if (want_wake_) {
      want_wake_ = false;
      wake_due_ = true;
    }
  }
  WakeIfNeeded();
}

void LiveSubscription::WakeIfNeeded() {
  std::function<void()> wake;
  {
    absl::MutexLock lock(&mu_);
    if (!wake_due_ || closed_) return;
    wake_due_ = false;
    wake = callbacks_.wake;
  }
  if (wake) wake();
}

bool LiveSubscription::FullLocked() const {
  const LiveOptions& options = hub_->options();
  return queue_.size() >= options.max_queue_frames ||
         queue_bytes_ >= options.max_queue_bytes;
}

std::optional<LiveFrame> LiveSubscription::Pop() {
  absl::MutexLock lock(&mu_);
  std::optional<LiveFrame> frame;
  if (!replies_.empty()) {
    frame = std::move(replies_.front());
    replies_.pop_front();
  } else if (!queue_.empty()) {
    frame = std::move(queue_.front());
    queue_.pop_front();
    queue_bytes_ -= frame->payload->size();
    if (!live_) StartReadLocked();
  } else {
    want_wake_ = true;
  }
  return frame;
}

void LiveSubscription::LeaveLiveLocked() {
  if (!live_) return;
  live_ = false;
  hub_->Leave(this);
}

// Reads the next page when the subscription is behind, no read is in
// flight and the queue has drained to half.
void LiveSubscription::StartReadLocked() {
  if (!started_ || closed_ || live_ || reading_) return;
  const LiveOptions& options = hub_->options();
  if (queue_.size() > options.max_queue_frames / 2 ||
      queue_bytes_ > options.max_queue_bytes / 2) {
    return;
  }
  reading_ = true;
  read_refused_ = false;
  std::weak_ptr<LiveSubscription> weak = weak_from_this();
  const uint64_t generation = generation_;
  if (!hub_->Schedule([weak, generation] {
        if (auto self = weak.lock()) self->ReadPage(generation);
      })) {
    reading_ = false;
    read_refused_ = true;  // Tick tries again
  }
}

void LiveSubscription::ReadPage(uint64_t generation) {
  if (!hub_->BeginLogWork()) {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    return;
  }
  ReadPageNow(generation);
  hub_->EndLogWork();
}

void LiveSubscription::ReadPageNow(uint64_t generation) {
  const LiveOptions& options = hub_->options();
  eventlog::EventLog* log = hub_->log_;
  uint64_t from;
  eventlog::Filter filter;
  size_t room;
  {
    absl::MutexLock lock(&mu_);
    if (from_time_us_.has_value()) {
      absl::StatusOr<uint64_t> position = log->FindPosition(*from_time_us_);
      if (position.ok()) {
        next_position_ = *position;
        from_time_us_.reset();
      }
    }
    from = next_position_;
    filter = filter_;
    room = options.max_queue_frames > queue_.size()
               ? options.max_queue_frames - queue_.size()
               : 1;
    // Events may be up to the log's limit (1 MiB by default): size pages by
    // the bytes the last one had, so a page stays near half the queue's
    // byte bound; the first page is small until that is known.
    room = std::min(room, read_bytes_per_event_ == 0
                              ? kFirstCatchUpPage
                              : std::max<size_t>(1, options.max_queue_bytes /
                                                        2 /
                                                        read_bytes_per_event_));
  }
  const uint64_t head = log->HeadPosition();
  uint64_t next = from;
  std::vector<LiveFrame> frames;
  // Near the head the frames the pump encoded are still in the hub: no log
  // read, no encoding, shared bytes.
  const bool recent = from <= head &&
                      hub_->ReadRecent(from, filter, format_,
                                       std::min(room, options.page_events),
                                       &frames, &next);
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> page =
      from > head || recent
          ? std::vector<eventlog::RecordedEvent>()
          : log->ReadAll(from, std::min(room, options.page_events), filter,
                         options.page_scan, &next);
  if (page.ok()) {
    for (const eventlog::RecordedEvent& event : *page) {
      std::string payload;
      bool binary = false;
      switch (format_) {
        case LiveFormat::kJson:
          payload = EventJson(event);
          break;
        case LiveFormat::kProtobuf: {
          vigil::v1::RecordedEvent proto;
          api::ToProto(event, &proto);
          payload = proto.SerializeAsString();
          binary = true;
          break;
        }
        case LiveFormat::kSse:
          payload = SseRecord("", event.position, EventJson(event));
          break;
      }
      frames.push_back(LiveFrame{Share(std::move(payload)), binary,
                                 event.position});
    }
  }
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    if (closed_) return;
    if (generation != generation_) {
      StartReadLocked();  // the filter changed: read again from the new place
    } else if (!page.ok()) {
      read_refused_ = true;  // a storage error: Tick tries again
    } else {
      const absl::Time now = absl::Now();
      size_t bytes = 0;
      for (LiveFrame& frame : frames) {
        bytes += frame.payload->size();
        PushLocked(std::move(frame));
      }
      if (!frames.empty()) read_bytes_per_event_ = bytes / frames.size() + 1;
      if (!frames.empty()) {
        last_queued_ = now;
        skipped_ = false;
        hub_->metrics().queue_depth->Observe(
            static_cast<double>(queue_.size()));
      } else if (next > from) {
        skipped_ = true;
      }
      next_position_ = std::max(next_position_, next);
      MaybeCheckpointLocked(now);
      if (next_position_ > head && hub_->TryJoin(this, next_position_)) {
        live_ = true;
        if (!caught_up_sent_) CaughtUpLocked();
      } else {
        StartReadLocked();
      }
    }
  }
  WakeIfNeeded();
}

void LiveSubscription::CaughtUpLocked() {
  caught_up_sent_ = true;
  PushLocked(ControlFrame(format_, "caught_up", next_position_ - 1));
  last_queued_ = absl::Now();
  skipped_ = false;
}

void LiveSubscription::MaybeCheckpointLocked(absl::Time now) {
  if (!skipped_ || now - last_queued_ < hub_->options().checkpoint_interval) {
    return;
  }
  PushLocked(ControlFrame(format_, "checkpoint", next_position_ - 1));
  last_queued_ = now;
  skipped_ = false;
}

void LiveSubscription::Offer(const std::shared_ptr<const Batch>& batch) {
  {
    absl::MutexLock lock(&mu_);
    if (!live_ || closed_) return;
    bool queued = false;
    for (const Batch::Event& entry : batch->events) {
      const uint64_t position = entry.event.position;
      if (position < next_position_) continue;  // seen while catching up
      if (position > next_position_) {
        // A gap (never expected): read it from the log.
        LeaveLiveLocked();
        break;
      }
      if (filter_.Empty() || filter_.Matches(entry.event)) {
        if (FullLocked()) {
          // Behind the feed: catch up from the log once the queue drains.
          hub_->metrics().fallbacks->Increment();
          LeaveLiveLocked();
          break;
        }
        switch (format_) {
          case LiveFormat::kJson:
            PushLocked(LiveFrame{entry.json, false, position});
            break;
          case LiveFormat::kProtobuf:
            PushLocked(LiveFrame{entry.proto, true, position});
            break;
          case LiveFormat::kSse:
            PushLocked(LiveFrame{entry.sse, false, position});
            break;
        }
        queued = true;
        skipped_ = false;
      } else {
        skipped_ = true;
      }
      next_position_ = position + 1;
    }
    const absl::Time now = absl::Now();
    if (queued) {
      last_queued_ = now;
      hub_->metrics().queue_depth->Observe(static_cast<double>(queue_.size()));
    }
    MaybeCheckpointLocked(now);
    if (!live_) StartReadLocked();
  }
  WakeIfNeeded();
}

void LiveSubscription::Tick(absl::Time now) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || !started_) return;
    MaybeCheckpointLocked(now);
    if (read_refused_) StartReadLocked();
  }
  WakeIfNeeded();
}

LiveSubscription::Verdict LiveSubscription::CountMessage(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (now - window_start_ >= absl::Minutes(1)) {
    window_start_ = now;
    window_messages_ = 0;
  }
  return ++window_messages_ > hub_->options().max_messages_per_minute
             ? Verdict::kTooMany
             : Verdict::kOk;
}

LiveSubscription::Verdict LiveSubscription::OnBinaryMessage(absl::Time now) {
  if (CountMessage(now) == Verdict::kTooMany) return Verdict::kTooMany;
  PushControl(ErrorJson("binary messages are not accepted; send JSON text"));
  return Verdict::kOk;
}

LiveSubscription::Verdict LiveSubscription::OnClientMessage(
    std::string_view text, absl::Time now) {
  if (CountMessage(now) == Verdict::kTooMany) return Verdict::kTooMany;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(text.data(), text.size(), true).get(object) !=
      simdjson::SUCCESS) {
    PushControl(ErrorJson(
        "messages must be JSON objects: {\"op\":\"ping\"} or "
        "{\"op\":\"filter\",\"streams\":[...],\"types\":[...]}"));
    return Verdict::kOk;
  }
  std::string_view op;
  if (object["op"].get(op) != simdjson::SUCCESS) {
    PushControl(ErrorJson("\"op\" (a string) is required"));
    return Verdict::kOk;
  }
  if (op == "ping") {
    PushControl(R"({"kind":"pong"})");
    return Verdict::kOk;
  }
  if (op != "filter") {
    PushControl(ErrorJson("unknown op \"" + std::string(op.substr(0, 32)) +
                          "\" (expected ping or filter)"));
    return Verdict::kOk;
  }
  eventlog::Filter filter;
  for (auto [key, value] : object) {
    std::vector<std::string>* list = nullptr;
    if (key == "streams") {
      list = &filter.stream_prefixes;
    } else if (key == "types") {
      list = &filter.event_types;
    } else if (key == "op") {
      continue;
    } else {
      PushControl(ErrorJson("unknown field \"" +
                            std::string(key.substr(0, 32)) +
                            "\" (expected op, streams, types)"));
      return Verdict::kOk;
    }
    simdjson::dom::array array;
    bool ok = value.get(array) == simdjson::SUCCESS;
    if (ok) {
      for (simdjson::dom::element item : array) {
        std::string_view entry;
        if (item.get(entry) != simdjson::SUCCESS) {
          ok = false;
          break;
        }
        list->emplace_back(entry);
      }
    }
    if (!ok) {
      PushControl(ErrorJson(std::string(key) + " must be an array of strings"));
      return Verdict::kOk;
    }
  }
  for (const auto& [name, list] :
       {std::pair<std::string_view, const std::vector<std::string>*>{
            "streams", &filter.stream_prefixes},
        {"types", &filter.event_types}}) {
    if (absl::Status status = CheckFilterList(name, *list); !status.ok()) {
      PushControl(ErrorJson(std::string(status.message())));
      return Verdict::kOk;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return Verdict::kOk;
    // Events already queued were chosen by the old filter: drop them and
    // read again from the first of them, so the new filter applies to
    // every event after the last one written.
    for (const LiveFrame& frame : queue_) {
      if (frame.position != 0) {
        next_position_ = std::min(next_position_, frame.position);
        break;
      }
    }
    for (const LiveFrame& frame : queue_) {
      if (frame.position == 0 &&
          frame.payload->find("\"caught_up\"") != std::string::npos) {
        caught_up_sent_ = false;  // dropped: said again at the head
      }
    }
    queue_.clear();
    queue_bytes_ = 0;
    filter_ = std::move(filter);
    ++generation_;
    LeaveLiveLocked();
    std::string ack = PositionJson("filter", next_position_ - 1);
    if (format_ == LiveFormat::kSse) ack = SseRecord("filter", 0, ack);
    PushLocked(LiveFrame{Share(std::move(ack)), false, 0});
    StartReadLocked();
  }
  WakeIfNeeded();
  return Verdict::kOk;
}

void LiveSubscription::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    LeaveLiveLocked();
    queue_.clear();
    replies_.clear();
    callbacks_ = {};
  }
  hub_->Release(this);
}

// ---------------------------------------------------------------------------
// LiveHub

LiveHub::LiveHub(eventlog::EventLog* log, const LiveOptions& options,
                 Metrics* metrics)
    : log_(log),
      options_(options),
      metrics_(metrics),
      pump_("vigil-live-pump", 1, 4),
      readers_("vigil-live-read", options.reader_threads,
               options.max_queued_reads) {
  {
    absl::MutexLock lock(&mu_);
    published_ = log_->HeadPosition();
  }
  listener_ = log_->AddHeadListener([this](uint64_t) { OnHead(); });
}

LiveHub::~LiveHub() { Stop(); }

bool LiveHub::BeginLogWork() {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  ++log_work_;
  return true;
}

void LiveHub::EndLogWork() {
  absl::MutexLock lock(&mu_);
  --log_work_;
}

absl::StatusOr<std::shared_ptr<LiveSubscription>> LiveHub::Open(
    LiveQuery query, LiveFormat format, std::string token_id) {
  const bool from_now =
      !query.from.has_value() && !query.from_time_us.has_value();
  std::shared_ptr<LiveSubscription> subscription(
      new LiveSubscription(this, std::move(query), format, token_id));
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    metrics_.rejected->WithLabels({"unavailable"})->Increment();
    return absl::UnavailableError("the server is shutting down");
  }
  if (open_.size() >= options_.max_connections) {
    metrics_.rejected->WithLabels({"too_many_connections"})->Increment();
    return absl::UnavailableError(
        "too many live connections (" +
        std::to_string(options_.max_connections) + "); retry");
  }
  if (!token_id.empty() &&
      per_token_[token_id] >= options_.max_connections_per_token) {
    metrics_.rejected->WithLabels({"too_many_for_token"})->Increment();
    return api::RateLimitedError(
        "this token has " +
            std::to_string(options_.max_connections_per_token) +
            " live connections open, the most it may",
        1);
  }
  if (!token_id.empty()) ++per_token_[token_id];
  open_[subscription.get()] = subscription;
  metrics_.connections->Set(static_cast<double>(open_.size()));
  if (format == LiveFormat::kProtobuf) protobuf_subscriptions_.fetch_add(1);
  if (format == LiveFormat::kSse) sse_subscriptions_.fetch_add(1);
  if (from_now) {
    // From now: live at once, after what was published; no log read. The
    // subscription is not shared with any thread yet, and the pump sees
    // these writes through mu_, so its own lock is not taken (taking it
    // here would order the locks hub -> subscription, the reverse of
    // everywhere else).
    LiveSubscription& fresh = *subscription;
    fresh.next_position_ = published_ + 1;
    fresh.live_ = true;
    fresh.caught_up_sent_ = true;
    std::string json = PositionJson("caught_up", published_);
    if (format == LiveFormat::kSse) {
      json = SseRecord("caught_up", published_, json);
    }
    fresh.queue_bytes_ += json.size();
    fresh.queue_.push_back(LiveFrame{Share(std::move(json)), false, 0});
    live_[subscription.get()] = subscription;
  }
  return subscription;
}

void LiveHub::Stop() {
  std::vector<std::shared_ptr<LiveSubscription>> open;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (const auto& [raw, weak] : open_) {
      if (auto strong = weak.lock()) open.push_back(std::move(strong));
    }
  }
  log_->RemoveHeadListener(listener_);
  {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return log_work_ == 0;
    };
    mu_.Await(absl::Condition(&idle));
  }
  for (const auto& subscription : open) {
    std::function<void()> stop;
    {
      absl::MutexLock lock(&subscription->mu_);
      stop = subscription->callbacks_.stop;
    }
    if (stop) stop();
  }
}

bool LiveHub::WaitEmpty(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return open_.empty();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&empty), timeout);
}

bool LiveHub::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

size_t LiveHub::open() const {
  absl::MutexLock lock(&mu_);
  return open_.size();
}

void LiveHub::OnHead() {
  // On the log's writer thread: O(1); one pump queued at a time, and it
  // reads up to the head it finds, so coalesced heads lose nothing.
  if (pump_pending_.exchange(true)) return;
  if (!pump_.Schedule([this] { Pump(); })) pump_pending_.store(false);
}

void LiveHub::Pump() {
  pump_pending_.store(false);
  if (!BeginLogWork()) return;
  PumpNow();
  EndLogWork();
}

void LiveHub::PumpNow() {
  for (;;) {
    uint64_t from;
    {
      absl::MutexLock lock(&mu_);
      from = published_ + 1;
    }
    const uint64_t head = log_->HeadPosition();
    if (from > head) return;
    {
      // Nobody is live: nothing to read or encode. Under mu_, so a
      // subscription joining now is either seen here or joins after head.
      absl::MutexLock lock(&mu_);
      if (live_.empty()) {
        published_ = std::max(published_, head);
        // What is skipped is not in recent_: it must stay contiguous.
        recent_.clear();
        recent_sizes_.clear();
        recent_events_ = 0;
        recent_bytes_ = 0;
        continue;
      }
    }
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> page =
        log_->ReadAll(from, options_.page_events, eventlog::Filter{});
    if (!page.ok() || page->empty()) return;  // the next head tries again
    const bool protobuf = protobuf_subscriptions_.load() > 0;
    const bool sse = sse_subscriptions_.load() > 0;
    auto batch = std::make_shared<LiveSubscription::Batch>();
    batch->events.reserve(page->size());
    for (eventlog::RecordedEvent& event : *page) {
      LiveSubscription::Batch::Event& entry = batch->events.emplace_back();
      std::string json = EventJson(event);
      if (sse) entry.sse = Share(SseRecord("", event.position, json));
      entry.json = Share(std::move(json));
      if (protobuf) {
        vigil::v1::RecordedEvent proto;
        api::ToProto(event, &proto);
        entry.proto = Share(proto.SerializeAsString());
      }
      entry.event = std::move(event);
    }
    size_t batch_bytes = 0;
    for (const auto& entry : batch->events) {
      batch_bytes += entry.event.data.size() + entry.event.metadata.size() +
                     entry.json->size() +
                     (entry.proto != nullptr ? entry.proto->size() : 0) +
                     (entry.sse != nullptr ? entry.sse->size() : 0);
    }
    std::vector<std::shared_ptr<LiveSubscription>> targets;
    {
      absl::MutexLock lock(&mu_);
      published_ = batch->events.back().event.position;
      recent_.push_back(batch);
      recent_events_ += batch->events.size();
      recent_bytes_ += batch_bytes;
      recent_sizes_.push_back(batch_bytes);
      while (recent_.size() > 1 && (recent_events_ > kRecentEvents ||
                                    recent_bytes_ > kRecentBytes)) {
        recent_events_ -= recent_.front()->events.size();
        recent_bytes_ -= recent_sizes_.front();
        recent_.pop_front();
        recent_sizes_.pop_front();
      }
      targets.reserve(live_.size());
      for (const auto& [raw, weak] : live_) {
        if (auto strong = weak.lock()) targets.push_back(std::move(strong));
      }
    }
    // A subscription that joined after `published_` moved skips these
    // events by position; one that joined before is among the targets.
    std::shared_ptr<const LiveSubscription::Batch> shared = std::move(batch);
    for (const auto& target : targets) {
      // Frames of a format nobody had asked for when encoding: that
      // subscription reads them from the log.
      if ((target->format() == LiveFormat::kProtobuf &&
           shared->events.front().proto == nullptr) ||
          (target->format() == LiveFormat::kSse &&
           shared->events.front().sse == nullptr)) {
        absl::MutexLock lock(&target->mu_);
        target->LeaveLiveLocked();
        target->StartReadLocked();
        continue;
      }
      target->Offer(shared);
    }
  }
}

bool LiveHub::ReadRecent(uint64_t from, const eventlog::Filter& filter,
                         LiveFormat format, size_t max_events,
                         std::vector<LiveFrame>* frames, uint64_t* next) {
  absl::MutexLock lock(&mu_);
  if (recent_.empty() || from < recent_.front()->events.front().event.position ||
      from > published_) {
    return false;
  }
  // The first batch that reaches `from`.
  auto batch = std::partition_point(
      recent_.begin(), recent_.end(),
      [from](const std::shared_ptr<const LiveSubscription::Batch>& b) {
        return b->events.back().event.position < from;
      });
  size_t scanned = 0;
  *next = from;
  for (; batch != recent_.end(); ++batch) {
    for (const LiveSubscription::Batch::Event& entry : (*batch)->events) {
      const uint64_t position = entry.event.position;
      if (position < from) continue;
      if (frames->size() >= max_events || scanned >= options_.page_scan) {
        return true;
      }
      if (filter.Empty() || filter.Matches(entry.event)) {
        const std::shared_ptr<const std::string>& payload =
            format == LiveFormat::kJson       ? entry.json
            : format == LiveFormat::kProtobuf ? entry.proto
                                              : entry.sse;
        // Encoded before anyone wanted this format: the log has it.
        if (payload == nullptr) return !frames->empty() || scanned > 0;
        frames->push_back(
            LiveFrame{payload, format == LiveFormat::kProtobuf, position});
      }
      ++scanned;
      *next = position + 1;
    }
  }
  return true;
}

bool LiveHub::TryJoin(LiveSubscription* subscription, uint64_t next_position) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || next_position <= published_) return false;
  live_[subscription] = subscription->weak_from_this();
  return true;
}

void LiveHub::Leave(LiveSubscription* subscription) {
  absl::MutexLock lock(&mu_);
  live_.erase(subscription);
}

void LiveHub::Release(LiveSubscription* subscription) {
  absl::MutexLock lock(&mu_);
  if (open_.erase(subscription) == 0) return;
  live_.erase(subscription);
  if (!subscription->token_id_.empty()) {
    auto it = per_token_.find(subscription->token_id_);
    if (it != per_token_.end() && --it->second == 0) per_token_.erase(it);
  }
  if (subscription->format_ == LiveFormat::kProtobuf) {
    protobuf_subscriptions_.fetch_sub(1);
  }
  if (subscription->format_ == LiveFormat::kSse) {
    sse_subscriptions_.fetch_sub(1);
  }
  metrics_.connections->Set(static_cast<double>(open_.size()));
}

}  // namespace vigil::gateway::internal
