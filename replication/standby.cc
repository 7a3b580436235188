#include "replication/standby.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "eventlog/next_event.h"
#include "replication/compare.h"
#include "replication/internal/jetstream.h"
#include "replication/internal/reconnect.h"
#include "replication/internal/short_stream.h"
#include "replication/internal/stream_reader.h"
#include "replication/subject.h"

namespace vigil::replication {
namespace {

constexpr char kStateFollowing[] = "following";
constexpr char kStateClaiming[] = "claiming";
using internal::kStateConnecting;
using internal::kStateStopped;

void Log(std::string_view line) {
  std::fprintf(stderr, "vigild: standby: %.*s\n", static_cast<int>(line.size()),
               line.data());
  std::fflush(stderr);
}

// The standby never publishes: the callback never runs.
const internal::AckCallback kNoAcks = [](uint64_t, absl::StatusOr<uint64_t>) {};

}  // namespace

absl::Status CheckStandbyOptions(const StandbyOptions& options) {
  if (options.nats_url.empty()) {
    return absl::InvalidArgumentError("standby: no NATS URL (--nats-url)");
  }
  if (options.stream.empty()) {
    return absl::InvalidArgumentError("standby: no JetStream stream");
  }
  if (options.batch_events == 0 ||
      options.poll_interval <= absl::ZeroDuration() ||
      options.api_timeout <= absl::ZeroDuration() ||
      options.connect_timeout <= absl::ZeroDuration() ||
      options.min_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.min_backoff) {
    return absl::InvalidArgumentError(
        "standby: bounds and timeouts must be positive (max_backoff >= "
        "min_backoff)");
  }
  return absl::OkStatus();
}

class Standby::Impl {
 public:
  Impl(StandbyOptions options, eventlog::EventLog* log)
      : options_(std::move(options)), log_(log) {
    if (options_.metrics != nullptr) {
      base::Metrics& m = *options_.metrics;
      stream_last_gauge_ =
          m.AddGauge("vigil_standby_stream_last",
                     "The JetStream stream's last sequence, as the standby "
                     "last read it.")
              ->Get();
      lag_gauge_ = m.AddGauge("vigil_standby_lag_positions",
                              "Messages of the stream not yet applied to the "
                              "standby's log.")
                       ->Get();
      stopped_gauge_ =
          m.AddGauge("vigil_standby_stopped",
                     "1 once the standby stopped for a mismatch between the "
                     "stream and its log, else 0.")
              ->Get();
      applied_ = m.AddCounter("vigil_standby_events_total",
                              "Events applied from the stream.")
                     ->Get();
    }
    follower_ = std::thread([this] { Follow(); });
  }

  ~Impl() { Stop(); }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    follower_.join();
  }

  const StandbyOptions& options() const { return options_; }

  StandbyStatus Status() const {
    absl::MutexLock lock(&mu_);
    StandbyStatus status;
    status.state = state_;
    status.head_position = log_->HeadPosition();
    status.stream_last = stream_last_;
    status.lag_positions = stream_last_ > status.head_position
                               ? stream_last_ - status.head_position
                               : 0;
    status.last_error = last_error_;
    status.stop_reason = stop_reason_;
    return status;
  }

  absl::StatusOr<uint64_t> AwaitCaughtUp(absl::Time deadline) {
    ASSIGN_OR_RETURN(std::unique_ptr<internal::JetStream> js,
                     Connect(deadline - absl::Now(), &kNoAcks));
    ASSIGN_OR_RETURN(const uint64_t last, js->LastSequence(options_.stream));
    absl::MutexLock lock(&mu_);
    auto caught_up = [this, last]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || state_ == kStateStopped ||
             log_->HeadPosition() >= last;
    };
    // The head moves on the writer thread, which does not signal mu_: look
    // again every poll interval.
    while (!mu_.AwaitWithTimeout(absl::Condition(&caught_up),
                                 options_.poll_interval)) {
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "standby: the log's head is ", log_->HeadPosition(),
            ", the stream ends at ", last));
      }
    }
    if (state_ == kStateStopped) {
      return absl::UnavailableError(
          absl::StrCat("the standby is stopped: ", stop_reason_));
    }
    if (stopping_) return absl::UnavailableError("the standby is stopping");
    return last;
  }

  absl::StatusOr<uint64_t> Claim(const std::string& stream,
                                 const eventlog::EventData& event,
                                 absl::Time deadline) {
    Stop();
    {
      absl::MutexLock lock(&mu_);
      if (state_ == kStateStopped) {
        return absl::FailedPreconditionError(
            absl::StrCat("the standby is stopped: ", stop_reason_));
      }
      state_ = kStateClaiming;
    }
    absl::Duration backoff = options_.min_backoff;
    while (true) {
      absl::StatusOr<uint64_t> claimed = ClaimOnce(stream, event, deadline);
      if (claimed.ok() || absl::IsFailedPrecondition(claimed.status())) {
        return claimed;
      }
      Log(absl::StrCat("claiming the stream's next position: ",
                       claimed.status().message()));
      // A position taken by another writer is read at once; anything
      // else (no quorum, NATS unreachable) waits.
      const absl::Duration wait =
          absl::IsAborted(claimed.status()) ? absl::ZeroDuration() : backoff;
      if (absl::Now() + wait >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("could not claim the next position of JetStream "
                         "stream ",
                         options_.stream, ": ", claimed.status().message()));
      }
      absl::SleepFor(wait);
      if (wait > absl::ZeroDuration()) {
        backoff = std::min(2 * backoff, options_.max_backoff);
      }
    }
  }

 private:
  absl::StatusOr<std::unique_ptr<internal::JetStream>> Connect(
      absl::Duration api_timeout, const internal::AckCallback* on_ack) const {
    return internal::JetStream::Connect(
        {.url = options_.nats_url,
         .connect_timeout = options_.connect_timeout,
         .api_timeout = std::clamp(api_timeout, absl::Milliseconds(1),
                                   options_.api_timeout),
         .max_pending = 1,
         .on_ack = on_ack});
  }

  // One attempt of Claim, on a connection of its own (so its publish
  // chains by the expected last sequence alone: internal/jetstream.h).
  // ABORTED when another writer's message took the position.
  absl::StatusOr<uint64_t> ClaimOnce(const std::string& stream,
                                     const eventlog::EventData& event,
                                     absl::Time deadline) {
    ASSIGN_OR_RETURN(std::unique_ptr<internal::JetStream> js,
                     Connect(deadline - absl::Now(), &on_claim_ack_));
    ASSIGN_OR_RETURN(const uint64_t last, js->LastSequence(options_.stream));
    SetStreamLast(last);
    RETURN_IF_ERROR(CheckHead(js.get(), log_->HeadPosition(), last));
    RETURN_IF_ERROR(ApplyToEnd(js.get()));
    const uint64_t head = log_->HeadPosition();
    if (claim_.has_value() && claim_->position <= head) {
      // An earlier attempt's publish was stored after all (its
      // acknowledgement lost), or another writer's message took its place.
      ASSIGN_OR_RETURN(std::vector<eventlog::RecordedEvent> applied,
                       log_->ReadAll(claim_->position, 1, eventlog::Filter{}));
      if (!applied.empty() && applied[0] == *claim_) return claim_->position;
      claim_.reset();
    }
    if (!claim_.has_value()) {
      ASSIGN_OR_RETURN(claim_,
                       eventlog::NextRecordedEvent(*log_, stream, event));
    }
    const uint64_t position = claim_->position;
    {
      absl::MutexLock lock(&ack_mu_);
      claim_ack_.reset();
    }
    RETURN_IF_ERROR(js->PublishAsync(
        SubjectFor(options_.subject_prefix, stream), *claim_,
        options_.api_timeout));
    std::optional<absl::StatusOr<uint64_t>> ack;
    {
      absl::MutexLock lock(&ack_mu_);
      auto acked = [this, position]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(ack_mu_) {
        return claim_ack_.has_value() && claim_ack_->first == position;
      };
      // nats.c answers a publish it gave up on at its MaxWait.
      if (ack_mu_.AwaitWithTimeout(absl::Condition(&acked),
                                   options_.api_timeout + absl::Seconds(1))) {
        ack = claim_ack_->second;
      }
    }
    if (!ack.has_value()) {
      return absl::UnavailableError(absl::StrCat(
          "JetStream did not answer the publish of position ", position));
    }
    if (!ack->ok()) {
      return absl::AbortedError(absl::StrCat(
          ack->status().message(), "; reading what the stream holds there"));
    }
    if (**ack != position) {
      return StopFollowing(absl::StrCat(
          "JetStream stored position ", position, " at sequence ", **ack,
          " of stream ", options_.stream, ": they must be equal"));
    }
    RETURN_IF_ERROR(Apply({*claim_}));
    Log(absl::StrCat("claimed position ", position, " of JetStream stream ",
                     options_.stream, " (", stream, " ", claim_->type,
                     "): the stream and the log end with the same event"));
    return position;
  }

  // Applies what the stream holds past the log's head now, checked as
  // when following.
  absl::Status ApplyToEnd(internal::JetStream* js) {
    ASSIGN_OR_RETURN(
        internal::StreamReader reader,
        internal::StreamReader::Start(
            js, {.stream = options_.stream,
                 .first = log_->HeadPosition() + 1,
                 .batch_events = options_.batch_events,
                 .api_timeout = options_.api_timeout}));
    while (true) {
      ASSIGN_OR_RETURN(const bool applied, ApplyNext(reader));
      if (!applied && reader.stream_last() < reader.next()) {
        return absl::OkStatus();
      }
    }
  }

  // Reads the next batch and applies it; false when there was none. A
  // stream that is not the log it must be stops the standby.
  absl::StatusOr<bool> ApplyNext(internal::StreamReader& reader) {
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> batch = reader.Next();
    if (batch.status().code() == absl::StatusCode::kDataLoss) {
      return StopFollowing(std::string(batch.status().message()));
    }
    RETURN_IF_ERROR(batch.status());
    if (!batch->empty()) RETURN_IF_ERROR(Apply(*batch));
    SetStreamLast(reader.stream_last());
    return !batch->empty();
  }

  bool Stopping() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  // A mismatch: apply nothing more. Returns FAILED_PRECONDITION.
  absl::Status StopFollowing(std::string reason) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (state_ != kStateStopped) {
      state_ = kStateStopped;
      stop_reason_ = std::move(reason);
      Log(absl::StrCat("STOPPED: ", stop_reason_,
                       "; nothing more is applied until this is resolved "
                       "(docs/replication.md \"A standby\")"));
      if (stopped_gauge_ != nullptr) stopped_gauge_->Set(1);
    }
    return absl::FailedPreconditionError(stop_reason_);
  }

  void SetStreamLast(uint64_t last) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    stream_last_ = std::max(stream_last_, last);
    if (stream_last_gauge_ != nullptr) stream_last_gauge_->Set(stream_last_);
    if (lag_gauge_ != nullptr) {
      const uint64_t head = log_->HeadPosition();
      lag_gauge_->Set(stream_last_ > head ? stream_last_ - head : 0);
    }
  }

  // The follower thread: sessions, each ended by an error, until stopped.
  void Follow() {
    internal::RunReconnecting(
        {.min_backoff = options_.min_backoff,
         .max_backoff = options_.max_backoff,
         .mu = &mu_,
         .stopping = &stopping_,
         .state = &state_,
         .last_error = &last_error_,
         .log = Log},
        [this](const internal::Connected& connected) {
          return Session(connected);
        });
  }

  // Connects, checks the stream at the log's head, then applies messages
  // until an error (returned) or until stopping (OK).
  absl::Status Session(const internal::Connected& connected) {
    ASSIGN_OR_RETURN(std::unique_ptr<internal::JetStream> js,
                     Connect(options_.api_timeout, &kNoAcks));
    ASSIGN_OR_RETURN(const uint64_t last, js->LastSequence(options_.stream));
    SetStreamLast(last);
    const uint64_t head = log_->HeadPosition();
    RETURN_IF_ERROR(CheckHead(js.get(), head, last));
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::OkStatus();
      state_ = kStateFollowing;
      last_error_.clear();
    }
    Log(absl::StrCat("following JetStream stream ", options_.stream,
                     " from position ", head + 1, " (the stream ends at ",
                     last, head > 0 ? absl::StrCat("; position ", head,
                                                   " checked: same event, "
                                                   "same hash")
                                    : "",
                     ")"));
    connected();

    ASSIGN_OR_RETURN(internal::StreamReader reader,
                     internal::StreamReader::Start(
                         js.get(), {.stream = options_.stream,
                                    .first = head + 1,
                                    .batch_events = options_.batch_events,
                                    .api_timeout = options_.api_timeout}));
    while (!Stopping()) {
      ASSIGN_OR_RETURN(const bool applied, ApplyNext(reader));
      if (!applied) {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                             options_.poll_interval);
      }
    }
    return absl::OkStatus();
  }

  // The stream's message at the log's head `head` against the log's event
  // (a standby restarted on its own log, or pointed at another stream).
  absl::Status CheckHead(internal::JetStream* js, uint64_t head,
                         uint64_t last) {
    if (head == 0) return absl::OkStatus();
    if (last < head) {
      const std::string what = absl::StrCat(
          "the JetStream stream ", options_.stream, " ends at sequence ", last,
          ", before this log's head position ", head);
      if (short_stream_.StillWithinGrace(absl::Now())) {
        return absl::UnavailableError(absl::StrCat(
            what, ": waiting for its leader to catch up (up to ",
            absl::FormatDuration(internal::ShortStream::kGrace), ")"));
      }
      return StopFollowing(
          absl::StrCat(what, ": this log holds events the stream does not"));
    }
    short_stream_.Reset();
    ASSIGN_OR_RETURN(std::vector<eventlog::RecordedEvent> local,
                     log_->ReadAll(head, 1, eventlog::Filter{}));
    if (local.empty() || local[0].position != head) {
      return absl::InternalError(
          absl::StrCat("the log has no event at its head position ", head));
    }
    absl::StatusOr<eventlog::RecordedEvent> stored =
        js->GetEvent(options_.stream, head);
    std::string problem;
    if (absl::IsNotFound(stored.status()) ||
        stored.status().code() == absl::StatusCode::kDataLoss) {
      problem = std::string(stored.status().message());
    } else if (!stored.ok()) {
      return stored.status();
    } else {
      problem = EventDifference(*stored, local[0]);
    }
    if (problem.empty()) return absl::OkStatus();
    return StopFollowing(absl::StrCat("position ", head, " of JetStream stream ",
                                      options_.stream,
                                      " does not match the log: ", problem));
  }

  // Imports `batch` (contiguous from the head + 1). A refused import (a
  // hash that does not chain, a revision that does not continue its
  // stream) stops the standby after applying the events before the bad
  // one; a storage error is returned (retried).
  absl::Status Apply(const std::vector<eventlog::RecordedEvent>& batch) {
    absl::StatusOr<eventlog::AppendResult> imported = log_->Import(batch);
    if (imported.ok()) {
      if (applied_ != nullptr) applied_->Increment(batch.size());
      return absl::OkStatus();
    }
    if (imported.status().code() != absl::StatusCode::kInvalidArgument) {
      return imported.status();
    }
    // One at a time, to keep the good prefix and name the bad event.
    for (const eventlog::RecordedEvent& event : batch) {
      absl::StatusOr<eventlog::AppendResult> one = log_->Import({event});
      if (!one.ok()) {
        if (one.status().code() != absl::StatusCode::kInvalidArgument) {
          return one.status();
        }
        return StopFollowing(absl::StrCat("JetStream stream ", options_.stream,
                                          ": ", one.status().message()));
      }
      if (applied_ != nullptr) applied_->Increment();
    }
    return absl::OkStatus();
  }

  const StandbyOptions options_;
  eventlog::EventLog* const log_;
  base::Gauge* stream_last_gauge_ = nullptr;
  base::Gauge* lag_gauge_ = nullptr;
  base::Gauge* stopped_gauge_ = nullptr;
  base::Counter* applied_ = nullptr;
  // The standby's thread only (Claim's once it stopped following).
  internal::ShortStream short_stream_;
  // Claim's caller only: the event it last published, until the log
  // holds it or another event at its position.
  std::optional<eventlog::RecordedEvent> claim_;

  // The outcome of Claim's publishes (position, sequence), from a nats.c
  // thread; a member, so it outlives every connection that may call it.
  absl::Mutex ack_mu_;
  std::optional<std::pair<uint64_t, absl::StatusOr<uint64_t>>> claim_ack_
      ABSL_GUARDED_BY(ack_mu_);
  const internal::AckCallback on_claim_ack_ =
      [this](uint64_t position, absl::StatusOr<uint64_t> sequence) {
        absl::MutexLock lock(&ack_mu_);
        claim_ack_.emplace(position, std::move(sequence));
      };

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string state_ ABSL_GUARDED_BY(mu_) = kStateConnecting;
  uint64_t stream_last_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  std::string stop_reason_ ABSL_GUARDED_BY(mu_);
  std::thread follower_;
};

absl::StatusOr<std::unique_ptr<Standby>> Standby::Start(
    StandbyOptions options, eventlog::EventLog* log) {
  RETURN_IF_ERROR(CheckStandbyOptions(options));
  return std::unique_ptr<Standby>(
      new Standby(std::make_unique<Impl>(std::move(options), log)));
}

Standby::Standby(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Standby::~Standby() = default;

void Standby::Stop() { impl_->Stop(); }

StandbyStatus Standby::Status() const { return impl_->Status(); }

std::string Standby::StatusJson(const base::Json& extra) const {
  const StandbyStatus status = Status();
  base::Json json = {
      {"mode", "standby"},
      {"state", status.state},
      {"stream", impl_->options().stream},
      {"head_position", status.head_position},
      {"stream_last", status.stream_last},
      {"lag_positions", status.lag_positions},
      {"last_error", status.last_error},
      {"stop_reason", status.stop_reason},
  };
  json.update(extra);
  return base::DumpJson(json);
}

absl::StatusOr<uint64_t> Standby::AwaitCaughtUp(absl::Time deadline) {
  return impl_->AwaitCaughtUp(deadline);
}

absl::StatusOr<uint64_t> Standby::Claim(const std::string& stream,
                                        const eventlog::EventData& event,
                                        absl::Time deadline) {
  return impl_->Claim(stream, event, deadline);
}

}  // namespace vigil::replication
