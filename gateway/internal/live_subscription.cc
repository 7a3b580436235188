#include "gateway/internal/live_subscription.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "eventlog/log_cursor.h"
#include "gateway/internal/live_hub.h"

namespace vigil::gateway::internal {
namespace {

// The first page a catching-up subscription reads, before it knows how
// large the events are.
constexpr size_t kFirstCatchUpPage = 16;

}  // namespace

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
    callbacks_ = std::make_shared<const Callbacks>(std::move(callbacks));
    last_queued_ = absl::Now();
    StartReadLocked();  // unless it is live already (from now)
    // Stop() may have looked for callbacks before these were set.
    if (hub_->stopping()) stop = callbacks_->stop;
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
    replies_.push_back(ReplyFrame(format_, std::move(json)));
    if (want_wake_) {
      want_wake_ = false;
      wake_due_ = true;
    }
  }
  WakeIfNeeded();
}

std::shared_ptr<const LiveSubscription::Callbacks>
LiveSubscription::TakeWakeLocked() {
  if (!wake_due_ || closed_ || callbacks_ == nullptr ||
      callbacks_->wake == nullptr) {
    return nullptr;
  }
  wake_due_ = false;
  return callbacks_;
}

void LiveSubscription::WakeIfNeeded() {
  std::shared_ptr<const Callbacks> callbacks;
  {
    absl::MutexLock lock(&mu_);
    callbacks = TakeWakeLocked();
  }
  if (callbacks != nullptr) callbacks->wake();
}

bool LiveSubscription::FullLocked() const {
  const LiveOptions& options = hub_->options();
  return queue_.size() >= options.max_queue_frames ||
         queue_bytes_ >= options.max_queue_bytes;
}

bool LiveSubscription::PopBatch(size_t max_frames, size_t max_bytes,
                                std::vector<LiveFrame>* frames) {
  frames->clear();
  size_t bytes = 0;
  const auto room = [&](const LiveFrame& next) {
    return frames->size() < max_frames &&
           (frames->empty() || bytes + next.payload->size() <= max_bytes);
  };
  absl::MutexLock lock(&mu_);
  while (!replies_.empty() && room(replies_.front())) {
    bytes += replies_.front().payload->size();
    frames->push_back(std::move(replies_.front()));
    replies_.pop_front();
  }
  bool popped_queue = false;
  while (!queue_.empty() && room(queue_.front())) {
    const size_t size = queue_.front().payload->size();
    bytes += size;
    queue_bytes_ -= size;
    frames->push_back(std::move(queue_.front()));
    queue_.pop_front();
    popped_queue = true;
  }
  if (popped_queue && !live_) StartReadLocked();
  if (frames->empty()) want_wake_ = true;
  return !frames->empty();
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
  // A cursor for this one read: the position and filter are the
  // subscription's, taken under its lock, and live offers may move the
  // position meanwhile (the result is merged below).
  eventlog::LogCursor cursor(
      log, from, std::move(filter),
      {.page_events = options.page_events, .page_scan = options.page_scan});
  absl::StatusOr<eventlog::CursorPage> page =
      recent ? eventlog::CursorPage() : cursor.Next(std::min(room, options.page_events));
  if (!recent) next = cursor.next_position();
  if (page.ok()) {
    for (const eventlog::RecordedEvent& event : page->events) {
      frames.push_back(EventFrame(event, format_));
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
  // One lock per offer: the wake, if due, is taken under it.
  std::shared_ptr<const Callbacks> wake;
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
    wake = TakeWakeLocked();
  }
  if (wake != nullptr) wake->wake();
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
  absl::StatusOr<ClientMessage> message = ParseClientMessage(text);
  if (!message.ok()) {
    PushControl(ErrorJson(std::string(message.status().message())));
    return Verdict::kOk;
  }
  if (message->op == ClientMessage::Op::kPing) {
    PushControl(kPongJson);
    return Verdict::kOk;
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
      if (IsCaughtUpFrame(frame)) {
        caught_up_sent_ = false;  // dropped: said again at the head
      }
    }
    queue_.clear();
    queue_bytes_ = 0;
    filter_ = std::move(message->filter);
    ++generation_;
    LeaveLiveLocked();
    PushLocked(FilterAckFrame(format_, next_position_ - 1));
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
    callbacks_ = nullptr;
  }
  hub_->Release(this);
}

}  // namespace vigil::gateway::internal
