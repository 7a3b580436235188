#include "api/subscription.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/event_proto.h"
#include "eventlog/log_cursor.h"

namespace vigil::api {

// One Subscribe call. State, all under mu_: a page read in flight on the
// executor (`reading_`), a write in flight to the client (`writing_`), and
// responses read but not yet written (`buffer_`, at most one page). It reads
// the next page only when the buffer is empty and no write is in flight, so
// a client that stops reading stops the reads too and costs one page.
//
// gRPC may run a reaction inline inside StartWrite or Finish, so neither is
// called under mu_: methods decide under the lock (claiming the write or the
// finish) and act after releasing it (Act).
//
// Lifetime: gRPC calls OnDone once, after Finish; the object deletes itself
// when OnDone has run and no queued task holds `this` (`holds_`).
class SubscriptionHub::Subscriber final
    : public grpc::ServerWriteReactor<vigil::v1::SubscribeResponse> {
 public:
  Subscriber(SubscriptionHub* hub, const vigil::v1::SubscribeRequest& request,
             FinishCallback on_finish)
      : hub_(hub),
        on_finish_(std::move(on_finish)),
        from_time_us_(request.from_time_us()),
        cursor_(hub->log_, request.from_position() + 1,
                FromProto(request.filter()),
                {.page_events = hub->options_.page_events,
                 .page_scan = hub->options_.page_scan}),
        last_sent_(absl::Now()) {}

  ~Subscriber() override { hub_->Released(); }

  // Resolves from_time_us (a log read, so on the executor), then reads.
  void Begin() {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      StartReadLocked([this] { FirstRead(); });
      actions = TakeActionsLocked();
    }
    Act(actions);
  }

  // Refused before it began (server stopping, too many subscriptions).
  void Refuse(const absl::Status& status) { EndWith(status); }

  // The next two run under the hub's lock, so they never call into gRPC
  // (which may run OnDone inline, and OnDone takes the hub's lock): they
  // only queue work on the executor, holding `this` alive until it runs.

  // The server is stopping: end the call from the executor. When the queue
  // is full the server's own shutdown cancels the call instead.
  void StopLater() {
    absl::MutexLock lock(&mu_);
    if (finished_ || done_) return;
    ++holds_;
    if (!hub_->readers_.Schedule([this] {
          EndWith(absl::UnavailableError(
              "the server is shutting down; resume from the last position "
              "seen"));
          Unhold();
        })) {
      --holds_;
    }
  }

  // The log's head moved: read on if this subscriber waits at the head.
  // When the queue is full, the next head tries again.
  void Wake() {
    absl::MutexLock lock(&mu_);
    if (reading_ || writing_ || finished_ || done_ || !buffer_.empty() ||
        cursor_.AtEnd()) {
      return;
    }
    reading_ = true;
    ++holds_;
    if (!hub_->readers_.Schedule([this] { ReadPage(); })) {
      reading_ = false;
      --holds_;
    }
  }

  void OnWriteDone(bool ok) override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {  // the client is gone or the call was cancelled
        FinishLocked(absl::CancelledError("the subscription was cancelled"));
      } else {
        last_sent_ = absl::Now();
        if (!WriteNextLocked()) MaybeReadLocked();
      }
      actions = TakeActionsLocked();
    }
    Act(actions);
  }

  void OnCancel() override {
    EndWith(absl::CancelledError("the subscription was cancelled"));
  }

  void OnDone() override {
    hub_->Unregister(this);
    bool release;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      release = ReleasableLocked();
    }
    if (release) delete this;
  }

 private:
  // What to do once mu_ is released.
  struct Actions {
    const vigil::v1::SubscribeResponse* write = nullptr;
    std::optional<grpc::Status> finish;
  };

  Actions TakeActionsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Actions actions;
    actions.write = std::exchange(write_claimed_, nullptr);
    // A finish waits for the write in flight; OnWriteDone brings it here.
    if (finish_claimed_.has_value() && !writing_) {
      actions.finish = std::move(finish_claimed_);
      finish_claimed_.reset();
    }
    return actions;
  }

  void Act(const Actions& actions) {
    if (actions.write != nullptr) StartWrite(actions.write);
    if (actions.finish.has_value()) Finish(*actions.finish);
  }

  void EndWith(const absl::Status& status) {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      FinishLocked(status);
      actions = TakeActionsLocked();
    }
    Act(actions);
  }

  // Runs a read `task` on the hub's readers; when their queue is full the
  // subscription ends with UNAVAILABLE and the client resumes later.
  void StartReadLocked(std::function<void()> task)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    reading_ = true;
    ++holds_;
    if (!hub_->readers_.Schedule(std::move(task))) {
      reading_ = false;
      --holds_;
      FinishLocked(absl::UnavailableError(
          "the server is overloaded; resume from the last position seen"));
    }
  }

  void Unhold() {
    bool release;
    {
      absl::MutexLock lock(&mu_);
      --holds_;
      release = ReleasableLocked();
    }
    if (release) delete this;
  }

  // On the executor: where from_time_us starts, then the first page.
  void FirstRead() {
    if (from_time_us_ != 0) {
      // The cursor is this task's while reading_ is set.
      if (absl::Status sought = cursor_.SeekToTime(from_time_us_);
          !sought.ok()) {
        return AfterRead(sought, {}, 0, 0);
      }
    }
    ReadPage();
  }

  // On the executor: reads the next page and queues it for the client. The
  // cursor is this task's while reading_ is set: nothing else touches it.
  void ReadPage() {
    const uint64_t from = cursor_.next_position();
    absl::StatusOr<eventlog::CursorPage> page = cursor_.Next();
    if (!page.ok()) return AfterRead(page.status(), {}, from, from);
    AfterRead(absl::OkStatus(), *std::move(page), from,
              cursor_.next_position());
  }

  void AfterRead(const absl::Status& status, eventlog::CursorPage page,
                 uint64_t from, uint64_t next) {
    Actions actions;
    bool release;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      --holds_;
      if (!status.ok()) {
        FinishLocked(status);
      } else if (!finished_) {
        // A full page after the switch to live: the subscriber fell behind
        // and is catching up from the log again.
        if (page.fell_behind && hub_->fallbacks_ != nullptr) {
          hub_->fallbacks_->Increment();
        }
        for (const eventlog::RecordedEvent& event : page.events) {
          ToProto(event, buffer_.emplace_back().mutable_event());
        }
        // Filtered events were skipped and nothing was said for a while:
        // tell the client how far the log has been examined, so it can
        // resume there.
        if (page.events.empty() && next > from &&
            absl::Now() - last_sent_ >= hub_->options_.checkpoint_interval) {
          buffer_.emplace_back().set_checkpoint(next - 1);
          last_sent_ = absl::Now();  // counts from the queueing
        }
        if (!WriteNextLocked()) MaybeReadLocked();
      }
      actions = TakeActionsLocked();
      release = ReleasableLocked();
    }
    if (release) {
      // OnDone has run, so gRPC no longer takes writes or a finish.
      delete this;
      return;
    }
    Act(actions);
  }

  // Claims the next write; false when there is nothing to write.
  bool WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_) return true;
    if (finished_ || buffer_.empty()) return false;
    current_ = std::move(buffer_.front());
    buffer_.pop_front();
    writing_ = true;
    write_claimed_ = &current_;
    return true;
  }

  // Reads more when everything read was written; at the head, says
  // `caught_up` once and waits for Wake.
  void MaybeReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_ || writing_ || finished_ || done_ || !buffer_.empty()) return;
    if (cursor_.AtEnd()) {
      if (!caught_up_sent_) {
        caught_up_sent_ = true;
        buffer_.emplace_back().set_caught_up(cursor_.next_position() - 1);
        WriteNextLocked();
      }
      return;
    }
    StartReadLocked([this] { ReadPage(); });
  }

  // Claims the end of the call, once.
  void FinishLocked(const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    buffer_.clear();
    if (on_finish_) on_finish_(status);
    finish_claimed_ = grpc::Status(
        static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
  }

  // True once gRPC is done with the call and no queued task holds `this`;
  // the caller deletes it after releasing mu_. Exactly one caller sees
  // true, since both conditions only ever become true under mu_.
  bool ReleasableLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done_ && holds_ == 0;
  }

  SubscriptionHub* const hub_;
  const FinishCallback on_finish_;
  const int64_t from_time_us_;

  absl::Mutex mu_;
  // Read by the executor task while reading_ is set, under mu_ otherwise.
  eventlog::LogCursor cursor_;
  std::deque<vigil::v1::SubscribeResponse> buffer_ ABSL_GUARDED_BY(mu_);
  vigil::v1::SubscribeResponse current_;  // the write in flight
  const vigil::v1::SubscribeResponse* write_claimed_ ABSL_GUARDED_BY(mu_) =
      nullptr;
  std::optional<grpc::Status> finish_claimed_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sent_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  int holds_ ABSL_GUARDED_BY(mu_) = 0;  // queued tasks that use `this`
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool caught_up_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

SubscriptionHub::SubscriptionHub(eventlog::EventLog* log,
                                 SubscriptionOptions options,
                                 base::Metrics* metrics)
    : log_(log),
      options_(options),
      readers_("vigil-subscribe", options.reader_threads,
               options.max_queued_reads) {
  if (metrics != nullptr) {
    open_gauge_ =
        metrics->AddGauge("vigil_subscriptions", "Subscriptions open now.")
            ->Get();
    fallbacks_ = metrics
                     ->AddCounter("vigil_subscription_fallbacks_total",
                                  "Times a live subscriber fell more than a "
                                  "page behind and caught up from the log.")
                     ->Get();
  }
  listener_ = log_->AddHeadListener([this](uint64_t head) { OnHead(head); });
}

SubscriptionHub::~SubscriptionHub() {
  Stop();
  log_->RemoveHeadListener(listener_);
  // gRPC calls OnDone for every finished call while its server runs; wait
  // until every subscriber is gone (a read in flight holds one).
  absl::MutexLock lock(&mu_);
  auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return live_ == 0; };
  mu_.AwaitWithTimeout(absl::Condition(&none), absl::Seconds(30));
}

void SubscriptionHub::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  for (Subscriber* subscriber : subscribers_) subscriber->StopLater();
}

grpc::ServerWriteReactor<vigil::v1::SubscribeResponse>* SubscriptionHub::Start(
    grpc::CallbackServerContext* /*context*/,
    const vigil::v1::SubscribeRequest* request, FinishCallback on_finish) {
  auto* subscriber = new Subscriber(this, *request, std::move(on_finish));
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    ++live_;
    if (stopping_) {
      refused = absl::UnavailableError("the server is shutting down");
    } else if (subscribers_.size() >= options_.max_subscriptions) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "too many subscriptions (limit ", options_.max_subscriptions, ")"));
    } else {
      subscribers_.push_back(subscriber);
      if (open_gauge_ != nullptr) open_gauge_->Add(1);
    }
  }
  if (!refused.ok()) {
    // Never registered: Finish, and OnDone deletes it.
    subscriber->Refuse(refused);
    return subscriber;
  }
  subscriber->Begin();
  return subscriber;
}

size_t SubscriptionHub::active() const {
  absl::MutexLock lock(&mu_);
  return subscribers_.size();
}

void SubscriptionHub::OnHead(uint64_t /*head*/) {
  // On the log's writer thread: O(1). One wake-all task at a time is queued;
  // it reads the head when it runs, so coalesced heads lose nothing.
  if (wake_pending_.exchange(true)) return;
  if (!readers_.Schedule([this] {
        wake_pending_.store(false);
        absl::MutexLock lock(&mu_);
        for (Subscriber* subscriber : subscribers_) subscriber->Wake();
      })) {
    wake_pending_.store(false);  // queue full: the next head tries again
  }
}

void SubscriptionHub::Unregister(Subscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  auto it = std::find(subscribers_.begin(), subscribers_.end(), subscriber);
  if (it == subscribers_.end()) return;  // refused: never registered
  subscribers_.erase(it);
  if (open_gauge_ != nullptr) open_gauge_->Add(-1);
}

void SubscriptionHub::Released() {
  absl::MutexLock lock(&mu_);
  --live_;
}

}  // namespace vigil::api
