#include "gateway/internal/live_hub.h"

#include <algorithm>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "api/status_mapping.h"
#include "eventlog/log_cursor.h"

namespace vigil::gateway::internal {
namespace {

// The frames of the most recent events the hub keeps for subscriptions
// catching up near the head (at least the last batch is kept).
constexpr size_t kRecentEvents = 16384;
constexpr size_t kRecentBytes = 64 << 20;  // 64 MiB

}  // namespace

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
    LiveFrame caught_up = ControlFrame(format, "caught_up", published_);
    fresh.queue_bytes_ += caught_up.payload->size();
    fresh.queue_.push_back(std::move(caught_up));
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
      if (subscription->callbacks_ != nullptr) {
        stop = subscription->callbacks_->stop;
      }
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
    // published_ is the pump's position: a cursor for each page.
    eventlog::LogCursor cursor(log_, from, {},
                               {.page_events = options_.page_events});
    absl::StatusOr<eventlog::CursorPage> page = cursor.Next();
    if (!page.ok() || page->events.empty()) return;  // the next head tries again
    const bool protobuf = protobuf_subscriptions_.load() > 0;
    const bool sse = sse_subscriptions_.load() > 0;
    auto batch = std::make_shared<LiveSubscription::Batch>();
    batch->events.reserve(page->events.size());
    for (eventlog::RecordedEvent& event : page->events) {
      LiveSubscription::Batch::Event& entry = batch->events.emplace_back();
      std::string json = EventJson(event);
      if (sse) entry.sse = Share(SseRecord("", event.position, json));
      entry.json = Share(std::move(json));
      if (protobuf) entry.proto = Share(EventProtobuf(event));
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
