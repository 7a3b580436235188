#include "replication/mirror.h"

#include <nats/nats.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "replication/compare.h"
#include "replication/event_headers.h"
#include "replication/internal/jetstream.h"
#include "replication/internal/reconnect.h"
#include "replication/internal/short_stream.h"
#include "replication/subject.h"

namespace vigil::replication {
namespace {

// The timer thread's period: expiring AwaitStored, refreshing the gauges.
constexpr absl::Duration kTick = absl::Milliseconds(50);
// How long the publisher waits for a new head before looking again.
constexpr absl::Duration kHeadWait = absl::Milliseconds(100);

constexpr char kStateMirroring[] = "mirroring";
using internal::kStateConnecting;
using internal::kStateStopped;

void Log(std::string_view line) {
  std::fprintf(stderr, "vigild: replication: %.*s\n",
               static_cast<int>(line.size()), line.data());
  std::fflush(stderr);
}

}  // namespace

absl::Status CheckMirrorOptions(const MirrorOptions& options) {
  if (options.nats_url.empty()) {
    return absl::InvalidArgumentError("replication: no NATS URL (--nats-url)");
  }
  RETURN_IF_ERROR(CheckSubjectPrefix(options.subject_prefix));
  if (options.stream.empty() || options.stream.size() > 64 ||
      options.stream.find_first_of(" .*>/\\\t") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "replication: bad JetStream stream name \"", options.stream,
        "\": 1 to 64 bytes without spaces, '.', '*', '>' or slashes"));
  }
  if (options.replicas < 1 || options.replicas > 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "replication: replicas must be 1 to 5, not ", options.replicas));
  }
  if (options.max_inflight == 0 || options.batch_events == 0 ||
      options.max_waiters == 0 || options.ack_timeout <= absl::ZeroDuration() ||
      options.store_timeout <= absl::ZeroDuration() ||
      options.min_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.min_backoff) {
    return absl::InvalidArgumentError(
        "replication: bounds and timeouts must be positive (max_backoff >= "
        "min_backoff)");
  }
  return absl::OkStatus();
}

class Mirror::Impl {
 public:
  Impl(MirrorOptions options, eventlog::EventLog* log)
      : options_(std::move(options)), log_(log) {
    if (options_.metrics != nullptr) {
      base::Metrics& m = *options_.metrics;
      mirrored_gauge_ = m.AddGauge("vigil_replication_mirrored_position",
                                   "The last position a JetStream quorum "
                                   "acknowledged.")
                            ->Get();
      lag_positions_gauge_ =
          m.AddGauge("vigil_replication_lag_positions",
                     "Positions in the log not yet stored by JetStream.")
              ->Get();
      lag_seconds_gauge_ =
          m.AddGauge("vigil_replication_lag_seconds",
                     "Age of the oldest event not yet stored by JetStream.")
              ->Get();
      connected_gauge_ =
          m.AddGauge("vigil_replication_mirroring",
                     "1 while the mirror publishes (stream checked), else 0.")
              ->Get();
      stopped_gauge_ =
          m.AddGauge("vigil_replication_stopped",
                     "1 once the mirror stopped for a mismatch between the "
                     "JetStream stream and the log, else 0.")
              ->Get();
      published_ = m.AddCounter("vigil_replication_events_total",
                                "Events JetStream acknowledged.")
                       ->Get();
      errors_ = m.AddCounter("vigil_replication_errors_total",
                             "Reconnects of the mirror after an error.")
                    ->Get();
      store_timeouts_ =
          m.AddCounter("vigil_replication_store_timeouts_total",
                       "Appends refused because JetStream did not store "
                       "them within the store timeout (--replication=sync).")
              ->Get();
    }
    publisher_ = std::thread([this] { Publish(); });
    timer_ = std::thread([this] { Tick(); });
  }

  ~Impl() {
    Stop();
    // No nats.c thread may call on_ack_ once this object is gone.
    nats_CloseAndWait(absl::ToInt64Milliseconds(absl::Seconds(5)));
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    publisher_.join();
    timer_.join();
    std::vector<Waiter> waiting;
    {
      absl::MutexLock lock(&mu_);
      waiting = TakeWaiters(UINT64_MAX);
    }
    Fail(std::move(waiting),
         absl::UnavailableError("the server is shutting down; the append "
                                "is durable locally, its replication unknown"));
  }

  const MirrorOptions& options() const { return options_; }

  MirrorStatus Status() const {
    absl::MutexLock lock(&mu_);
    MirrorStatus status;
    status.state = state_;
    status.head_position = log_->HeadPosition();
    status.mirrored_position = acked_;
    status.lag_positions =
        status.head_position > acked_ ? status.head_position - acked_ : 0;
    status.lag_seconds = status.lag_positions == 0 ? 0 : lag_seconds_;
    status.last_error = last_error_;
    status.stop_reason = stop_reason_;
    return status;
  }

  void AwaitStored(uint64_t position, std::function<void(absl::Status)> done) {
    absl::Status refused;
    {
      absl::MutexLock lock(&mu_);
      if (acked_ >= position) {
        refused = absl::OkStatus();
      } else if (state_ == kStateStopped) {
        refused = StoppedError(position);
      } else if (stopping_) {
        refused = absl::UnavailableError("the server is shutting down");
      } else if (waiters_.size() >= options_.max_waiters) {
        refused = absl::UnavailableError(absl::StrCat(
            "replication: ", options_.max_waiters,
            " appends already wait for JetStream; position ", position,
            " is durable locally but not yet replicated"));
      } else {
        waiters_.emplace(position, Waiter{absl::Now() + options_.store_timeout,
                                          std::move(done)});
        return;
      }
    }
    done(refused);
  }

 private:
  struct Waiter {
    absl::Time deadline;
    std::function<void(absl::Status)> done;
  };

  bool Stopping() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  absl::Status StoppedError(uint64_t position) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return absl::UnavailableError(absl::StrCat(
        "replication is stopped (", stop_reason_, "); position ", position,
        " is durable locally but will not be replicated until an operator "
        "resolves it"));
  }

  // The waiters for positions <= `position`.
  std::vector<Waiter> TakeWaiters(uint64_t position)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<Waiter> taken;
    auto end = waiters_.upper_bound(position);
    for (auto it = waiters_.begin(); it != end; ++it) {
      taken.push_back(std::move(it->second));
    }
    waiters_.erase(waiters_.begin(), end);
    return taken;
  }

  static void Fail(std::vector<Waiter> waiters, const absl::Status& status) {
    for (Waiter& waiter : waiters) waiter.done(status);
  }

  // A mismatch: never publish again.
  void StopLocked(std::string reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (state_ == kStateStopped) return;
    state_ = kStateStopped;
    stop_reason_ = std::move(reason);
    Log(absl::StrCat("STOPPED: ", stop_reason_,
                     "; nothing more is published until this is resolved "
                     "(docs/replication.md \"When the mirror stops\")"));
    if (stopped_gauge_ != nullptr) stopped_gauge_->Set(1);
    if (connected_gauge_ != nullptr) connected_gauge_->Set(0);
  }

  // on_ack_: on a nats.c thread.
  void OnAck(uint64_t position, absl::StatusOr<uint64_t> sequence) {
    std::vector<Waiter> ready;
    absl::Status outcome = absl::OkStatus();
    {
      absl::MutexLock lock(&mu_);
      if (!sequence.ok()) {
        if (!publish_failed_) {
          publish_failed_ = true;
          last_error_ = std::string(sequence.status().message());
        }
        return;
      }
      if (*sequence != position) {
        StopLocked(absl::StrCat(
            "JetStream stored position ", position, " at sequence ", *sequence,
            " of stream ", options_.stream,
            ": the stream holds messages the mirror did not publish"));
        outcome = StoppedError(position);
        ready = TakeWaiters(UINT64_MAX);
      } else if (*sequence > acked_ && state_ != kStateStopped) {
        // Only a contiguous run counts: after a refused publish at P, the
        // next one in flight can be stored right after someone else's
        // message at P, and P must then be checked (CheckResume), never
        // counted as mirrored.
        acked_ahead_.insert(*sequence);
        const uint64_t before = acked_;
        while (!acked_ahead_.empty() && *acked_ahead_.begin() <= acked_ + 1) {
          acked_ = std::max(acked_, *acked_ahead_.begin());
          acked_ahead_.erase(acked_ahead_.begin());
        }
        if (published_ != nullptr) published_->Increment(acked_ - before);
        ready = TakeWaiters(acked_);
      }
    }
    if (outcome.ok()) {
      for (Waiter& waiter : ready) waiter.done(absl::OkStatus());
    } else {
      Fail(std::move(ready), outcome);
    }
  }

  // The publisher thread: sessions, each ended by an error, until stopped.
  void Publish() {
    internal::RunReconnecting(
        {.min_backoff = options_.min_backoff,
         .max_backoff = options_.max_backoff,
         .mu = &mu_,
         .stopping = &stopping_,
         .state = &state_,
         .last_error = &last_error_,
         .log = Log,
         .on_error = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
           if (connected_gauge_ != nullptr) connected_gauge_->Set(0);
           if (errors_ != nullptr) errors_->Increment();
         }},
        [this](const internal::Connected& connected) {
          return Session(connected);
        });
  }

  // Connects, checks the stream against the log, publishes until an error
  // (returned) or until stopping (OK).
  absl::Status Session(const internal::Connected& connected) {
    ASSIGN_OR_RETURN(
        std::unique_ptr<internal::JetStream> js,
        internal::JetStream::Connect(
            {.url = options_.nats_url,
             .connect_timeout = options_.connect_timeout,
             .api_timeout = options_.ack_timeout,
             .max_pending = options_.max_inflight,
             .on_ack = &on_ack_}));
    ASSIGN_OR_RETURN(const uint64_t last,
                     js->EnsureStream(options_.stream, options_.subject_prefix,
                                      options_.replicas));
    uint64_t confirmed = 0;
    {
      absl::MutexLock lock(&mu_);
      confirmed = confirmed_ ? acked_ : 0;
    }
    ASSIGN_OR_RETURN(const uint64_t first_checked,
                     CheckResume(js.get(), confirmed, last));
    {
      absl::MutexLock lock(&mu_);
      if (state_ == kStateStopped) return absl::FailedPreconditionError("stopped");
      acked_ = last;
      acked_ahead_.clear();
      confirmed_ = true;
      publish_failed_ = false;
      last_error_.clear();
      state_ = kStateMirroring;
      if (connected_gauge_ != nullptr) connected_gauge_->Set(1);
    }
    std::string checked = "the stream is empty";
    if (first_checked <= last) {
      checked = absl::StrCat("positions ", first_checked, " to ", last,
                             " checked: same events, same hashes");
    } else if (last > 0) {
      checked = absl::StrCat("up to position ", last, " acknowledged before");
    }
    Log(absl::StrCat("mirroring to JetStream stream ", options_.stream,
                     " from position ", last + 1, " (", checked, ")"));
    connected();

    uint64_t sent = last;
    while (true) {
      uint64_t acked = 0;
      {
        absl::MutexLock lock(&mu_);
        // Room for another batch, or an error, or the end.
        auto room = [this, &sent]() {
          return stopping_ || publish_failed_ || state_ == kStateStopped ||
                 sent - acked_ < options_.max_inflight;
        };
        if (!mu_.AwaitWithTimeout(absl::Condition(&room),
                                  options_.ack_timeout)) {
          return absl::UnavailableError(absl::StrCat(
              "no acknowledgement from JetStream for ",
              absl::FormatDuration(options_.ack_timeout), " with ",
              sent - acked_, " publishes in flight"));
        }
        if (stopping_) return absl::OkStatus();
        if (state_ == kStateStopped) {
          return absl::FailedPreconditionError("stopped");
        }
        if (publish_failed_) return absl::UnavailableError(last_error_);
        acked = acked_;
      }
      const uint64_t head = log_->WaitForHead(sent, absl::Now() + kHeadWait);
      if (head <= sent) continue;
      if (options_.may_publish && !options_.may_publish()) {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), kHeadWait);
        continue;
      }
      const uint64_t count = std::min<uint64_t>(
          {head - sent, options_.batch_events,
           options_.max_inflight - (sent - acked)});
      ASSIGN_OR_RETURN(std::vector<eventlog::RecordedEvent> events,
                       log_->ReadAll(sent + 1, count, eventlog::Filter{}));
      for (const eventlog::RecordedEvent& event : events) {
        if (event.position != sent + 1) {
          return absl::InternalError(absl::StrCat(
              "the log answered position ", event.position, " for ", sent + 1));
        }
        RETURN_IF_ERROR(js->PublishAsync(
            SubjectFor(options_.subject_prefix, event.stream), event,
            options_.ack_timeout));
        sent = event.position;
      }
    }
  }

  // The stream's messages after `confirmed` (the last position this
  // process knows it stored; 0 at start) up to its last sequence `last`,
  // against the log. At start, the last max_inflight messages: what the
  // previous process may have had in flight. A mismatch stops the mirror
  // (FAILED_PRECONDITION); an error reading either side is returned.
  // Returns the first position checked (last + 1 when none was).
  absl::StatusOr<uint64_t> CheckResume(internal::JetStream* js, uint64_t confirmed,
                           uint64_t last) {
    const uint64_t head = log_->HeadPosition();
    const auto stop = [this](std::string reason) {
      absl::MutexLock lock(&mu_);
      StopLocked(std::move(reason));
      return absl::FailedPreconditionError(stop_reason_);
    };
    if (last > head) {
      return stop(absl::StrCat(
          "the JetStream stream ", options_.stream, " ends at sequence ", last,
          ", past this log's head position ", head,
          ": it holds events this log does not"));
    }
    if (confirmed > last) {
      const std::string what = absl::StrCat(
          "the JetStream stream ", options_.stream, " ends at sequence ", last,
          " though it acknowledged position ", confirmed);
      if (short_stream_.StillWithinGrace(absl::Now())) {
        return absl::UnavailableError(absl::StrCat(
            what, ": waiting for its leader to catch up (up to ",
            absl::FormatDuration(internal::ShortStream::kGrace), ")"));
      }
      return stop(absl::StrCat(what, ": it lost messages"));
    }
    short_stream_.Reset();
    uint64_t from = confirmed;
    if (confirmed == 0) from = last - std::min<uint64_t>(last, options_.max_inflight);
    if (last - from > options_.max_inflight) {
      return stop(absl::StrCat(
          "the JetStream stream ", options_.stream, " holds ", last - from,
          " messages after position ", from,
          ", more than the mirror ever has in flight (",
          options_.max_inflight, "): someone else publishes to it"));
    }
    for (uint64_t position = from + 1; position <= last;) {
      ASSIGN_OR_RETURN(
          std::vector<eventlog::RecordedEvent> local,
          log_->ReadAll(position, std::min<uint64_t>(last - position + 1,
                                                     options_.batch_events),
                        eventlog::Filter{}));
      if (local.empty() || local[0].position != position) {
        return absl::InternalError(
            absl::StrCat("the log has no event at position ", position));
      }
      for (const eventlog::RecordedEvent& event : local) {
        absl::StatusOr<eventlog::RecordedEvent> stored =
            js->GetEvent(options_.stream, event.position);
        std::string problem;
        if (!stored.ok()) {
          if (stored.status().code() != absl::StatusCode::kDataLoss) {
            return stored.status();
          }
          problem = std::string(stored.status().message());
        } else {
          problem = EventDifference(*stored, event);
        }
        if (!problem.empty()) {
          return stop(absl::StrCat("position ", event.position,
                                   " of JetStream stream ", options_.stream,
                                   " does not match the log: ", problem));
        }
        position = event.position + 1;
      }
    }
    return from + 1;
  }

  // The timer thread: expires AwaitStored, refreshes the gauges.
  void Tick() {
    absl::MutexLock lock(&mu_);
    uint64_t oldest_position = 0;  // the event lag_seconds_ was taken from
    int64_t oldest_time_us = 0;
    while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_), kTick)) {
      const absl::Time now = absl::Now();
      std::vector<Waiter> expired;
      uint64_t expired_first = 0;
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (it->second.deadline > now) {
          ++it;
          continue;
        }
        if (expired.empty()) expired_first = it->first;
        expired.push_back(std::move(it->second));
        it = waiters_.erase(it);
      }
      const uint64_t acked = acked_;
      const std::string state = state_;
      const std::string error = last_error_;
      mu_.Unlock();
      if (!expired.empty()) {
        if (store_timeouts_ != nullptr) store_timeouts_->Increment(expired.size());
        Fail(std::move(expired),
             absl::UnavailableError(absl::StrCat(
                 "replication: position ", expired_first,
                 " is durable locally but a JetStream quorum did not store it "
                 "within ",
                 absl::FormatDuration(options_.store_timeout),
                 " (mirrored up to position ", acked, "; mirror ", state,
                 error.empty() ? "" : absl::StrCat(": ", error), ")")));
      }
      // The oldest event not yet mirrored: read once per position.
      const uint64_t head = log_->HeadPosition();
      double lag_seconds = 0;
      if (head > acked) {
        if (oldest_position != acked + 1) {
          absl::StatusOr<std::vector<eventlog::RecordedEvent>> oldest =
              log_->ReadAll(acked + 1, 1, eventlog::Filter{});
          if (oldest.ok() && !oldest->empty()) {
            oldest_position = acked + 1;
            oldest_time_us = (*oldest)[0].recorded_time_us;
          }
        }
        if (oldest_position == acked + 1) {
          lag_seconds = std::max(
              0.0, absl::ToDoubleSeconds(
                       now - absl::FromUnixMicros(oldest_time_us)));
        }
      }
      if (mirrored_gauge_ != nullptr) {
        mirrored_gauge_->Set(static_cast<double>(acked));
        lag_positions_gauge_->Set(static_cast<double>(head - std::min(head, acked)));
        lag_seconds_gauge_->Set(lag_seconds);
      }
      mu_.Lock();
      lag_seconds_ = lag_seconds;
    }
  }

  const MirrorOptions options_;
  eventlog::EventLog* const log_;
  const internal::AckCallback on_ack_ =
      [this](uint64_t position, absl::StatusOr<uint64_t> sequence) {
        OnAck(position, std::move(sequence));
      };
  // The mirror's thread only.
  internal::ShortStream short_stream_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string state_ ABSL_GUARDED_BY(mu_) = kStateConnecting;
  // The last position of a contiguous run of acknowledgements, and the
  // acknowledged positions past it (at most max_inflight).
  uint64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<uint64_t> acked_ahead_ ABSL_GUARDED_BY(mu_);
  // Whether acked_ was checked against the stream by this process.
  bool confirmed_ ABSL_GUARDED_BY(mu_) = false;
  bool publish_failed_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  std::string stop_reason_ ABSL_GUARDED_BY(mu_);
  double lag_seconds_ ABSL_GUARDED_BY(mu_) = 0;
  std::multimap<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);

  base::Gauge* mirrored_gauge_ = nullptr;
  base::Gauge* lag_positions_gauge_ = nullptr;
  base::Gauge* lag_seconds_gauge_ = nullptr;
  base::Gauge* connected_gauge_ = nullptr;
  base::Gauge* stopped_gauge_ = nullptr;
  base::Counter* published_ = nullptr;
  base::Counter* errors_ = nullptr;
  base::Counter* store_timeouts_ = nullptr;

  // Last: started once everything above is built.
  std::thread publisher_;
  std::thread timer_;
};

absl::StatusOr<std::unique_ptr<Mirror>> Mirror::Start(MirrorOptions options,
                                                      eventlog::EventLog* log) {
  RETURN_IF_ERROR(CheckMirrorOptions(options));
  return std::unique_ptr<Mirror>(
      new Mirror(std::make_unique<Impl>(std::move(options), log)));
}

Mirror::Mirror(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Mirror::~Mirror() = default;

void Mirror::Stop() { impl_->Stop(); }

MirrorStatus Mirror::Status() const { return impl_->Status(); }

std::string Mirror::StatusJson(std::string_view mode,
                               const base::Json& extra) const {
  const MirrorStatus status = Status();
  base::Json json = {
      {"mode", mode},
      {"state", status.state},
      {"stream", impl_->options().stream},
      {"head_position", status.head_position},
      {"mirrored_position", status.mirrored_position},
      {"lag_positions", status.lag_positions},
      {"lag_seconds", base::RoundedNumber(status.lag_seconds, 3)},
      {"last_error", status.last_error},
      {"stop_reason", status.stop_reason},
  };
  json.update(extra);
  return base::DumpJson(json);
}

void Mirror::AwaitStored(uint64_t position,
                         std::function<void(absl::Status)> done) {
  impl_->AwaitStored(position, std::move(done));
}

}  // namespace vigil::replication
