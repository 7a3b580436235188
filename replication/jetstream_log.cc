// JetStreamLog (jetstream_log.h): the follower thread's sessions
// (internal/reconnect.h) feed eventlog::FollowerLog through a checked
// StreamReader; the reads older than the window and the stream reads go
// over a second connection, one at a time.

#include "replication/jetstream_log.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"
#include "replication/internal/jetstream.h"
#include "replication/internal/reconnect.h"
#include "replication/internal/short_stream.h"
#include "replication/internal/stream_reader.h"
#include "replication/subject.h"

namespace vigil::replication {
namespace {

constexpr char kStateFollowing[] = "following";
// A stream read's fetch: as the follower's.
const absl::Duration kFetchWait = internal::StreamReaderOptions{}.fetch_wait;
using internal::kStateConnecting;
using internal::kStateStopped;

void Log(std::string_view line) {
  std::fprintf(stderr, "vigild: jetstream replica: %.*s\n",
               static_cast<int>(line.size()), line.data());
  std::fflush(stderr);
}

// The replica never publishes: the callback never runs.
const internal::AckCallback kNoAcks = [](uint64_t, absl::StatusOr<uint64_t>) {};

absl::Status CheckOptions(const JetStreamLogOptions& options) {
  if (options.nats_url.empty()) {
    return absl::InvalidArgumentError("no NATS URL (--nats-url)");
  }
  if (options.stream.empty()) {
    return absl::InvalidArgumentError("no JetStream stream (--nats-stream)");
  }
  RETURN_IF_ERROR(CheckSubjectPrefix(options.subject_prefix));
  if (options.batch_events == 0 ||
      options.poll_interval <= absl::ZeroDuration() ||
      options.api_timeout <= absl::ZeroDuration() ||
      options.connect_timeout <= absl::ZeroDuration() ||
      options.min_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.min_backoff) {
    return absl::InvalidArgumentError(
        "jetstream replica: bounds and timeouts must be positive "
        "(max_backoff >= min_backoff)");
  }
  return absl::OkStatus();
}

}  // namespace

class JetStreamLog::Impl {
 public:
  Impl(JetStreamLogOptions options, JetStreamLog* owner)
      : options_(std::move(options)), owner_(owner) {
    if (options_.metrics != nullptr) {
      base::Metrics& m = *options_.metrics;
      following_gauge_ =
          m.AddGauge("vigil_jetstream_replica_following",
                     "1 while this gateway replica has read the whole "
                     "JetStream stream and follows it, else 0")
              ->Get();
      stopped_gauge_ =
          m.AddGauge("vigil_jetstream_replica_stopped",
                     "1 once this gateway replica stopped for a message that "
                     "does not continue its log, else 0")
              ->Get();
      events_ = m.AddCounter("vigil_jetstream_replica_events_total",
                             "events taken from the JetStream stream")
                    ->Get();
      older_reads_ =
          m.AddCounter("vigil_jetstream_replica_reads_total",
                       "reads sent to the JetStream stream (positions older "
                       "than the window, streams)")
              ->Get();
    }
    follower_ = std::thread([this] { Follow(); });
  }

  ~Impl() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    follower_.join();
  }

  absl::Status Health() const {
    absl::MutexLock lock(&mu_);
    if (state_ == kStateFollowing && caught_up_) return absl::OkStatus();
    if (state_ == kStateStopped) {
      return absl::UnavailableError(
          absl::StrCat("stopped following the JetStream stream ",
                       options_.stream, ": ", stop_reason_));
    }
    return absl::UnavailableError(absl::StrCat(
        "not following the JetStream stream ", options_.stream, " at ",
        options_.nats_url, last_error_.empty() ? "" : ": ", last_error_));
  }

  // Up to `count` events from position `from`, hashes checked from the
  // message before it.
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadOlder(
      uint64_t from, uint64_t count) {
    absl::MutexLock lock(&reads_mu_);
    ASSIGN_OR_RETURN(internal::JetStream * js, Reader());
    std::string previous = eventlog::GenesisHash();
    if (from > 1) {
      ASSIGN_OR_RETURN(eventlog::RecordedEvent before,
                       Failing(js->GetEvent(options_.stream, from - 1)));
      previous = std::move(before.hash);
    }
    ASSIGN_OR_RETURN(
        internal::StreamReader reader,
        Failing(internal::StreamReader::Start(
            js, {.stream = options_.stream,
                 .first = from,
                 .batch_events = static_cast<size_t>(std::min<uint64_t>(
                     count, options_.batch_events)),
                 .api_timeout = options_.api_timeout,
                 .previous_hash = std::move(previous)})));
    std::vector<eventlog::RecordedEvent> out;
    while (out.size() < count) {
      ASSIGN_OR_RETURN(std::vector<eventlog::RecordedEvent> batch,
                       Failing(reader.Next()));
      if (batch.empty()) break;
      for (eventlog::RecordedEvent& event : batch) {
        if (out.size() < count) out.push_back(std::move(event));
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadStream(
      const std::string& stream, uint64_t from_revision, uint64_t max_count,
      bool backwards) {
    absl::MutexLock lock(&reads_mu_);
    ASSIGN_OR_RETURN(internal::JetStream * js, Reader());
    const std::string subject = SubjectFor(options_.subject_prefix, stream);
    ASSIGN_OR_RETURN(eventlog::RecordedEvent last,
                     LastOf(js, stream, subject));
    // The revisions wanted, [low, high], read forwards.
    uint64_t low = from_revision;
    uint64_t high = last.revision;
    if (backwards) {
      high = std::min(from_revision, last.revision);
      low = max_count == 0 || max_count > high ? 0 : high - max_count + 1;
    } else if (max_count != 0 && from_revision <= high &&
               high - from_revision >= max_count) {
      high = from_revision + max_count - 1;
    }
    std::vector<eventlog::RecordedEvent> out;
    if (low > high) return out;
    RETURN_IF_ERROR(Failing(js->StartReading(options_.stream, 1, subject)));
    uint64_t revision = 0;  // the next revision due
    int empty_fetches = 0;
    while (revision <= high) {
      absl::StatusOr<std::vector<internal::StoredEvent>> fetched =
          Failing(js->Fetch(options_.batch_events, kFetchWait));
      if (!fetched.ok()) return fetched.status();
      if (fetched->empty()) {
        // The subject's messages up to `last` are stored: a consumer that
        // delivers none of them now and again is stuck.
        if (++empty_fetches > 50) {
          DropReader();
          return absl::UnavailableError(absl::StrCat(
              "the JetStream consumer on ", subject, " stopped at revision ",
              revision, " of ", high));
        }
        absl::SleepFor(options_.poll_interval);
        continue;
      }
      empty_fetches = 0;
      for (internal::StoredEvent& stored : *fetched) {
        if (stored.event.revision != revision) {
          return absl::DataLossError(absl::StrCat(
              "the JetStream stream ", options_.stream, " holds revision ",
              stored.event.revision, " of stream \"", stream,
              "\" where ", revision, " was due (sequence ", stored.sequence,
              ")"));
        }
        if (revision >= low && revision <= high) {
          out.push_back(std::move(stored.event));
        }
        ++revision;
      }
    }
    if (backwards) std::reverse(out.begin(), out.end());
    return out;
  }

  absl::StatusOr<eventlog::StreamInfo> GetStream(const std::string& stream) {
    absl::MutexLock lock(&reads_mu_);
    ASSIGN_OR_RETURN(internal::JetStream * js, Reader());
    const std::string subject = SubjectFor(options_.subject_prefix, stream);
    ASSIGN_OR_RETURN(eventlog::RecordedEvent last,
                     LastOf(js, stream, subject));
    // The first message on the subject: when the stream was created.
    RETURN_IF_ERROR(Failing(js->StartReading(options_.stream, 1, subject)));
    int64_t created_time_us = last.recorded_time_us;
    if (last.revision > 0) {
      ASSIGN_OR_RETURN(std::vector<internal::StoredEvent> first,
                       Failing(js->Fetch(1, kFetchWait)));
      if (first.empty()) {
        DropReader();
        return absl::UnavailableError(absl::StrCat(
            "the JetStream consumer on ", subject, " delivered nothing"));
      }
      created_time_us = first[0].event.recorded_time_us;
    }
    return eventlog::StreamInfo{.stream = stream,
                                .last_revision = last.revision,
                                .last_position = last.position,
                                .event_count = last.revision + 1,
                                .created_time_us = created_time_us,
                                .updated_time_us = last.recorded_time_us};
  }

 private:
  absl::StatusOr<std::unique_ptr<internal::JetStream>> Connect() const {
    return internal::JetStream::Connect(
        {.url = options_.nats_url,
         .connect_timeout = options_.connect_timeout,
         .api_timeout = options_.api_timeout,
         .max_pending = 1,
         .on_ack = &kNoAcks});
  }

  // The readers' connection, made on first use and after a failure.
  absl::StatusOr<internal::JetStream*> Reader()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reads_mu_) {
    if (older_reads_ != nullptr) older_reads_->Increment();
    if (reader_ == nullptr) {
      ASSIGN_OR_RETURN(reader_, Connect());
    }
    return reader_.get();
  }

  void DropReader() ABSL_EXCLUSIVE_LOCKS_REQUIRED(reads_mu_) {
    reader_.reset();
  }

  // `result`, dropping the readers' connection when it failed for another
  // reason than a missing stream or message, so the next read makes a new
  // one (as the follower's sessions do).
  template <typename T>
  T Failing(T result) ABSL_EXCLUSIVE_LOCKS_REQUIRED(reads_mu_) {
    const absl::Status& status = StatusOf(result);
    if (!status.ok() && !absl::IsNotFound(status)) DropReader();
    return result;
  }
  static const absl::Status& StatusOf(const absl::Status& status) {
    return status;
  }
  template <typename V>
  static const absl::Status& StatusOf(const absl::StatusOr<V>& result) {
    return result.status();
  }

  // The subject's last message; NOT_FOUND as the log says it when the
  // stream has none.
  absl::StatusOr<eventlog::RecordedEvent> LastOf(internal::JetStream* js,
                                                 const std::string& stream,
                                                 const std::string& subject)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reads_mu_) {
    absl::StatusOr<eventlog::RecordedEvent> last =
        Failing(js->GetLastEvent(options_.stream, subject));
    if (absl::IsNotFound(last.status())) {
      return absl::NotFoundError(
          absl::StrCat("stream \"", stream, "\" not found"));
    }
    return last;
  }

  bool Stopping() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  // A message that does not continue the log: take nothing more.
  absl::Status StopFollowing(std::string reason) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (state_ != kStateStopped) {
      state_ = kStateStopped;
      stop_reason_ = std::move(reason);
      Log(absl::StrCat("STOPPED: ", stop_reason_,
                       "; nothing more is taken until vigild restarts "
                       "(docs/replication.md \"Gateway replicas on the "
                       "stream\")"));
      if (stopped_gauge_ != nullptr) stopped_gauge_->Set(1);
      if (following_gauge_ != nullptr) following_gauge_->Set(0);
    }
    return absl::FailedPreconditionError(stop_reason_);
  }

  void Follow() {
    internal::RunReconnecting(
        {.min_backoff = options_.min_backoff,
         .max_backoff = options_.max_backoff,
         .mu = &mu_,
         .stopping = &stopping_,
         .state = &state_,
         .last_error = &last_error_,
         .log = Log,
         .on_error =
             [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
               caught_up_ = false;
               if (following_gauge_ != nullptr) following_gauge_->Set(0);
             }},
        [this](const internal::Connected& connected) {
          return Session(connected);
        });
  }

  // Where this session starts reading, and the hash its first event chains
  // from: after the head (whose event the stream must still hold, same
  // hash), or, until the head is set, at the stream's last message.
  absl::StatusOr<uint64_t> Resume(internal::JetStream* js, uint64_t last) {
    if (!anchored_) {
      const uint64_t first = std::max<uint64_t>(last, 1);
      previous_hash_ = eventlog::GenesisHash();
      if (first > 1) {
        ASSIGN_OR_RETURN(eventlog::RecordedEvent before,
                         js->GetEvent(options_.stream, first - 1));
        previous_hash_ = before.hash;
      }
      return first;
    }
    const uint64_t head = owner_->HeadPosition();
    if (head == 0) {
      previous_hash_ = eventlog::GenesisHash();
      return 1;
    }
    if (last < head) {
      const std::string what = absl::StrCat(
          "the JetStream stream ", options_.stream, " ends at sequence ", last,
          ", before this replica's head position ", head);
      if (short_stream_.StillWithinGrace(absl::Now())) {
        return absl::UnavailableError(absl::StrCat(
            what, ": waiting for its leader to catch up (up to ",
            absl::FormatDuration(internal::ShortStream::kGrace), ")"));
      }
      return StopFollowing(absl::StrCat(what, ": events were lost"));
    }
    short_stream_.Reset();
    absl::StatusOr<eventlog::RecordedEvent> at_head =
        js->GetEvent(options_.stream, head);
    if (!at_head.ok() && !absl::IsNotFound(at_head.status()) &&
        at_head.status().code() != absl::StatusCode::kDataLoss) {
      return at_head.status();
    }
    if (!at_head.ok() || at_head->hash != previous_hash_) {
      return StopFollowing(absl::StrCat(
          "sequence ", head, " of the JetStream stream ", options_.stream,
          " is not the event this replica took at position ", head,
          at_head.ok() ? " (another hash)"
                       : absl::StrCat(": ", at_head.status().message())));
    }
    return head + 1;
  }

  // Reads the stream after the head into the window until an error
  // (returned) or until stopping (OK).
  absl::Status Session(const internal::Connected& connected) {
    ASSIGN_OR_RETURN(std::unique_ptr<internal::JetStream> js, Connect());
    ASSIGN_OR_RETURN(const uint64_t last, js->LastSequence(options_.stream));
    ASSIGN_OR_RETURN(const uint64_t first, Resume(js.get(), last));
    ASSIGN_OR_RETURN(internal::StreamReader reader,
                     internal::StreamReader::Start(
                         js.get(), {.stream = options_.stream,
                                    .first = first,
                                    .batch_events = options_.batch_events,
                                    .api_timeout = options_.api_timeout,
                                    .previous_hash = previous_hash_}));
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::OkStatus();
      state_ = kStateFollowing;
      last_error_.clear();
    }
    Log(absl::StrCat("following JetStream stream ", options_.stream,
                     " from position ", first, " (the stream ends at ", last,
                     ")"));
    connected();
    if (!anchored_ && last == 0) {
      RETURN_IF_ERROR(owner_->CaughtUp(0));
      anchored_ = true;
    }
    while (!Stopping()) {
      absl::StatusOr<std::vector<eventlog::RecordedEvent>> batch =
          reader.Next();
      if (batch.status().code() == absl::StatusCode::kDataLoss) {
        return StopFollowing(std::string(batch.status().message()));
      }
      RETURN_IF_ERROR(batch.status());
      for (eventlog::RecordedEvent& event : *batch) {
        std::string hash = event.hash;
        if (absl::Status taken = owner_->Receive(std::move(event));
            !taken.ok()) {
          return StopFollowing(std::string(taken.message()));
        }
        previous_hash_ = std::move(hash);
        anchored_ = true;
        if (events_ != nullptr) events_->Increment();
      }
      if (!batch->empty()) continue;
      if (reader.next() > reader.stream_last()) {
        absl::MutexLock lock(&mu_);
        if (!caught_up_ && following_gauge_ != nullptr) {
          following_gauge_->Set(1);
        }
        caught_up_ = true;
      }
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                           options_.poll_interval);
    }
    return absl::OkStatus();
  }

  const JetStreamLogOptions options_;
  JetStreamLog* const owner_;
  base::Gauge* following_gauge_ = nullptr;
  base::Gauge* stopped_gauge_ = nullptr;
  base::Counter* events_ = nullptr;
  base::Counter* older_reads_ = nullptr;

  // The follower thread only: whether the head was set (an event taken,
  // or an empty stream seen), the hash of the head's event, and the
  // short-stream grace.
  bool anchored_ = false;
  std::string previous_hash_;
  internal::ShortStream short_stream_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool caught_up_ ABSL_GUARDED_BY(mu_) = false;
  std::string state_ ABSL_GUARDED_BY(mu_) = kStateConnecting;
  std::string last_error_ ABSL_GUARDED_BY(mu_) = "connecting";
  std::string stop_reason_ ABSL_GUARDED_BY(mu_);

  absl::Mutex reads_mu_;
  std::unique_ptr<internal::JetStream> reader_ ABSL_GUARDED_BY(reads_mu_);

  std::thread follower_;  // last: started when the rest is ready
};

absl::StatusOr<std::unique_ptr<JetStreamLog>> JetStreamLog::Start(
    JetStreamLogOptions options) {
  RETURN_IF_ERROR(CheckOptions(options));
  RETURN_IF_ERROR(CheckWindowOptions(options.window));
  return std::unique_ptr<JetStreamLog>(new JetStreamLog(options));
}

JetStreamLog::JetStreamLog(const JetStreamLogOptions& options)
    : FollowerLog(options.window),
      impl_(std::make_unique<Impl>(options, this)) {}

// The follower thread stops before the window it feeds goes.
JetStreamLog::~JetStreamLog() { impl_.reset(); }

absl::Status JetStreamLog::Health() const { return impl_->Health(); }

absl::StatusOr<std::vector<eventlog::RecordedEvent>> JetStreamLog::ReadStream(
    const std::string& stream, uint64_t from_revision, uint64_t max_count,
    bool backwards) const {
  return impl_->ReadStream(stream, from_revision, max_count, backwards);
}

absl::StatusOr<eventlog::StreamInfo> JetStreamLog::GetStream(
    const std::string& stream) const {
  return impl_->GetStream(stream);
}

absl::StatusOr<std::vector<eventlog::RecordedEvent>> JetStreamLog::ReadOlder(
    uint64_t from, uint64_t count) const {
  return impl_->ReadOlder(from, count);
}

}  // namespace vigil::replication
