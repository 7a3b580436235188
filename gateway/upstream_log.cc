// UpstreamLog (upstream_log.h): the EventLog interface over a primary's
// gRPC API. Over ~500 lines as one concept: the Impl's one Subscribe loop
// (reconnect, resume, keepalive) fills the in-memory window, and every
// read, the head and its listeners look in that window first (older reads
// go to the primary's RPCs); both sides keep to the window's one lock and
// its rule that it stays contiguous.

#include "gateway/upstream_log.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/event_proto.h"
#include "api/grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::gateway {
namespace {

// Events asked of the primary per ReadAll call when a filter or the window
// decides how many are needed.
constexpr uint64_t kRemotePage = 1000;

absl::Status ReadOnly(absl::string_view what) {
  return absl::UnimplementedError(absl::StrCat(
      "this is a gateway replica (vigild --gateway-only): ", what,
      " is the primary's; send it to the primary"));
}

size_t Weight(const eventlog::RecordedEvent& event) {
  return event.data.size() + event.metadata.size() + event.stream.size() +
         event.type.size() + event.event_id.size() + 64;
}

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

// gRPC's own reconnect backoff (1 s growing to 120 s by default) would
// leave a replica unsubscribed for minutes after its primary restarts:
// bound it by ours. Keepalive pings notice a primary that vanished without
// closing the connection (vigild permits them: kUpstreamKeepalive).
grpc::ChannelArguments ChannelArguments(const UpstreamOptions& options) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                   static_cast<int>(absl::ToInt64Milliseconds(options.min_backoff)));
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                   static_cast<int>(absl::ToInt64Milliseconds(options.min_backoff)));
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                   static_cast<int>(absl::ToInt64Milliseconds(options.max_backoff)));
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                   static_cast<int>(absl::ToInt64Milliseconds(kUpstreamKeepalive)));
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  arguments.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Events up to the log's 4 MiB limit plus the envelope.
  arguments.SetMaxReceiveMessageSize(16 << 20);
  return arguments;
}

}  // namespace

class UpstreamLog::Impl {
 public:
  explicit Impl(UpstreamOptions options)
      : options_(std::move(options)),
        channel_(grpc::CreateCustomChannel(options_.target,
                                           grpc::InsecureChannelCredentials(),
                                           ChannelArguments(options_))),
        stub_(vigil::v1::EventStore::NewStub(channel_)) {
    if (options_.metrics != nullptr) {
      base::Metrics* m = options_.metrics;
      connected_gauge_ =
          m->AddGauge("vigil_upstream_connected",
                      "1 while this gateway replica is subscribed to its "
                      "primary and caught up, else 0")
              ->Get();
      events_ = m->AddCounter("vigil_upstream_events_total",
                              "events received from the primary's Subscribe")
                    ->Get();
      reconnects_ =
          m->AddCounter("vigil_upstream_reconnects_total",
                        "subscriptions to the primary that ended and were "
                        "opened again")
              ->Get();
      remote_reads_ =
          m->AddCounter("vigil_upstream_reads_total",
                        "read calls sent to the primary (positions older "
                        "than the replica's window, streams)")
              ->Get();
      head_gauge_ = m->AddGauge("vigil_upstream_head_position",
                                "the last position received from the primary")
                        ->Get();
    }
    follower_ = std::thread([this] { Follow(); });
  }

  ~Impl() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      if (context_ != nullptr) context_->TryCancel();
    }
    follower_.join();
  }

  absl::Status Health() const {
    absl::MutexLock lock(&mu_);
    if (subscribed_) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat(
        "not subscribed to the primary ", options_.target,
        last_error_.empty() ? "" : ": ", last_error_));
  }

  uint64_t Head() const {
    absl::MutexLock lock(&mu_);
    return head_;
  }

  uint64_t WaitForHead(uint64_t position, absl::Time deadline) const {
    absl::MutexLock lock(&mu_);
    auto past = [this, position]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return head_ > position || stopping_;
    };
    mu_.AwaitWithDeadline(absl::Condition(&past), deadline);
    return head_;
  }

  uint64_t AddListener(HeadListener listener) {
    absl::MutexLock lock(&listeners_mu_);
    listeners_.emplace(++next_listener_, std::move(listener));
    return next_listener_;
  }

  void RemoveListener(uint64_t handle) {
    absl::MutexLock lock(&listeners_mu_);
    listeners_.erase(handle);
  }

  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadAll(
      uint64_t from, uint64_t max_count, const eventlog::Filter& filter,
      uint64_t max_scan, uint64_t* next_position) const {
    const uint64_t head = Head();
    const bool unfiltered =
        filter.stream_prefixes.empty() && filter.event_types.empty();
    std::vector<eventlog::RecordedEvent> out;
    uint64_t position = std::max<uint64_t>(from, 1);
    uint64_t scanned = 0;
    auto done = [&] {
      return (max_count != 0 && out.size() >= max_count) || position > head ||
             (max_scan != 0 && scanned >= max_scan);
    };
    while (!done()) {
      uint64_t window_start = 0;
      {
        absl::MutexLock lock(&mu_);
        if (!window_.empty()) window_start = window_.front().position;
        if (window_start != 0 && position >= window_start) {
          for (size_t i = position - window_start;
               i < window_.size() && !done(); ++i) {
            const eventlog::RecordedEvent& event = window_[i];
            ++scanned;
            position = event.position + 1;
            if (filter.Matches(event)) out.push_back(event);
          }
          // The window ends at head_ >= head: done() holds now.
          break;
        }
      }
      // Older than the window: ask the primary, a page at a time.
      uint64_t want = std::min(head - position + 1, kRemotePage);
      if (unfiltered && max_count != 0) {
        want = std::min(want, max_count - out.size());
      }
      if (max_scan != 0) want = std::min(want, max_scan - scanned);
      if (window_start != 0) want = std::min(want, window_start - position);
      absl::StatusOr<std::vector<eventlog::RecordedEvent>> page =
          ReadRemote(position, want);
      if (!page.ok()) return page.status();
      if (page->empty()) break;  // the primary has no more (cannot be)
      for (eventlog::RecordedEvent& event : *page) {
        if (event.position > head || done()) break;
        ++scanned;
        position = event.position + 1;
        if (filter.Matches(event)) out.push_back(std::move(event));
      }
    }
    if (next_position != nullptr) *next_position = position;
    return out;
  }

  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadStream(
      const std::string& stream, uint64_t from_revision, uint64_t max_count,
      bool backwards) const {
    grpc::ClientContext context;
    Prepare(&context);
    vigil::v1::ReadStreamRequest request;
    request.set_stream(stream);
    request.set_from_revision(from_revision);
    request.set_max_count(max_count);
    request.set_backwards(backwards);
    return Collect(&context, stub_->ReadStream(&context, request));
  }

  absl::StatusOr<eventlog::StreamInfo> GetStream(
      const std::string& stream) const {
    grpc::ClientContext context;
    Prepare(&context);
    vigil::v1::GetStreamRequest request;
    request.set_stream(stream);
    vigil::v1::StreamInfo info;
    grpc::Status status = stub_->GetStream(&context, request, &info);
    if (!status.ok()) return api::FromGrpcStatus(status, &context);
    return eventlog::StreamInfo{.stream = info.stream(),
                                .last_revision = info.last_revision(),
                                .last_position = info.last_position(),
                                .event_count = info.event_count(),
                                .created_time_us = info.created_time_us(),
                                .updated_time_us = info.updated_time_us()};
  }

  // The first position recorded at or after `time_us`: from the window
  // when the answer lies in it, else a binary search of the primary's log
  // (recorded times never decrease along positions), one event per call.
  absl::StatusOr<uint64_t> FindPosition(int64_t time_us) const {
    uint64_t high = 0;
    {
      absl::MutexLock lock(&mu_);
      if (!window_.empty() && window_.front().recorded_time_us < time_us) {
        auto it = std::partition_point(
            window_.begin(), window_.end(),
            [time_us](const eventlog::RecordedEvent& event) {
              return event.recorded_time_us < time_us;
            });
        return it == window_.end() ? head_ + 1 : it->position;
      }
      high = window_.empty() ? head_ + 1 : window_.front().position;
    }
    uint64_t low = 1;  // the answer is in [low, high]
    while (low < high) {
      const uint64_t middle = low + (high - low) / 2;
      absl::StatusOr<std::vector<eventlog::RecordedEvent>> page =
          ReadRemote(middle, 1);
      if (!page.ok()) return page.status();
      if (page->empty() || page->front().recorded_time_us >= time_us) {
        high = middle;
      } else {
        low = middle + 1;
      }
    }
    return low;
  }

 private:
  void Prepare(grpc::ClientContext* context) const {
    context->set_deadline(Deadline(options_.call_timeout));
    if (!options_.token.empty()) {
      context->AddMetadata("authorization", "Bearer " + options_.token);
    }
    if (remote_reads_ != nullptr) remote_reads_->Increment();
  }

  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadRemote(
      uint64_t from, uint64_t count) const {
    grpc::ClientContext context;
    Prepare(&context);
    vigil::v1::ReadAllRequest request;
    request.set_from_position(from);
    request.set_max_count(count);
    return Collect(&context, stub_->ReadAll(&context, request));
  }

  static absl::StatusOr<std::vector<eventlog::RecordedEvent>> Collect(
      grpc::ClientContext* context,
      std::unique_ptr<grpc::ClientReader<vigil::v1::RecordedEvent>> reader) {
    std::vector<eventlog::RecordedEvent> events;
    vigil::v1::RecordedEvent proto;
    while (reader->Read(&proto)) events.push_back(api::FromProto(proto));
    grpc::Status status = reader->Finish();
    if (!status.ok()) return api::FromGrpcStatus(status, context);
    return events;
  }

  // The follower thread: subscribes, feeds the window and the listeners,
  // and on any end of the call subscribes again from head_ after a
  // backoff, until stopping.
  void Follow() {
    std::mt19937_64 random(std::random_device{}());
    absl::Duration backoff = options_.min_backoff;
    bool first = true;
    while (true) {
      grpc::ClientContext context;
      if (!options_.token.empty()) {
        context.AddMetadata("authorization", "Bearer " + options_.token);
      }
      vigil::v1::SubscribeRequest request;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
        context_ = &context;
        // First time: from the primary's head (from_time past every event
        // resolves to head + 1); afterwards from the last event received.
        if (have_head_) {
          request.set_from_position(head_);
        } else {
          request.set_from_time_us(std::numeric_limits<int64_t>::max());
        }
      }
      if (!first && reconnects_ != nullptr) reconnects_->Increment();
      first = false;
      std::unique_ptr<grpc::ClientReader<vigil::v1::SubscribeResponse>>
          reader = stub_->Subscribe(&context, request);
      vigil::v1::SubscribeResponse response;
      std::string problem;
      while (problem.empty() && reader->Read(&response)) {
        switch (response.kind_case()) {
          case vigil::v1::SubscribeResponse::kEvent:
            problem = Receive(api::FromProto(response.event()));
            if (problem.empty()) backoff = options_.min_backoff;
            break;
          case vigil::v1::SubscribeResponse::kCaughtUp:
            problem = CaughtUp(response.caught_up());
            break;
          default:  // checkpoints: only for filtered subscriptions
            break;
        }
      }
      if (!problem.empty()) context.TryCancel();
      grpc::Status status = reader->Finish();
      {
        absl::MutexLock lock(&mu_);
        context_ = nullptr;
        subscribed_ = false;
        if (!problem.empty()) {
          last_error_ = problem;
        } else if (!status.ok()) {
          last_error_ = absl::StrCat(
              absl::StatusCodeToString(
                  static_cast<absl::StatusCode>(status.error_code())),
              ": ", status.error_message());
        } else {
          last_error_ = "the primary ended the subscription";
        }
        if (stopping_) return;
        // Once per distinct error, not once per retry.
        if (last_error_ != printed_error_) {
          printed_error_ = last_error_;
          std::fprintf(stderr,
                       "vigild: upstream %s: %s; subscribing again from "
                       "position %llu\n",
                       options_.target.c_str(), last_error_.c_str(),
                       static_cast<unsigned long long>(head_));
        }
      }
      if (connected_gauge_ != nullptr) connected_gauge_->Set(0);
      // Backoff with jitter in [backoff/2, backoff], cut short by stopping.
      std::uniform_real_distribution<double> jitter(0.5, 1.0);
      const absl::Time until = absl::Now() + backoff * jitter(random);
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithDeadline(absl::Condition(&stopping_), until);
        if (stopping_) return;
      }
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }

  // One event from the subscription; a problem (then the subscription is
  // opened again) when it does not continue the window.
  std::string Receive(eventlog::RecordedEvent event) {
    uint64_t head = 0;
    {
      absl::MutexLock lock(&mu_);
      if (have_head_ && event.position != head_ + 1) {
        return absl::StrCat("the primary sent position ", event.position,
                            " after ", head_);
      }
      have_head_ = true;
      head_ = event.position;
      window_bytes_ += Weight(event);
      window_.push_back(std::move(event));
      while (window_.size() > 1 &&
             (window_.size() > options_.window_events ||
              window_bytes_ > options_.window_bytes)) {
        window_bytes_ -= Weight(window_.front());
        window_.pop_front();
      }
      head = head_;
    }
    if (events_ != nullptr) events_->Increment();
    Announce(head);
    return "";
  }

  std::string CaughtUp(uint64_t position) {
    {
      absl::MutexLock lock(&mu_);
      if (have_head_ && position != head_) {
        return absl::StrCat("the primary is caught up at ", position,
                            " but this replica has ", head_,
                            " (a different or restored log?)");
      }
      have_head_ = true;
      head_ = position;
      subscribed_ = true;
      last_error_.clear();
      printed_error_.clear();
    }
    if (connected_gauge_ != nullptr) connected_gauge_->Set(1);
    Announce(position);
    return "";
  }

  void Announce(uint64_t head) {
    if (head_gauge_ != nullptr) head_gauge_->Set(static_cast<double>(head));
    absl::MutexLock lock(&listeners_mu_);
    for (auto& [handle, listener] : listeners_) listener(head);
  }

  const UpstreamOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<vigil::v1::EventStore::Stub> stub_;
  base::Gauge* connected_gauge_ = nullptr;
  base::Gauge* head_gauge_ = nullptr;
  base::Counter* events_ = nullptr;
  base::Counter* reconnects_ = nullptr;
  base::Counter* remote_reads_ = nullptr;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool have_head_ ABSL_GUARDED_BY(mu_) = false;
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_error_ ABSL_GUARDED_BY(mu_) = "connecting";
  std::string printed_error_ ABSL_GUARDED_BY(mu_);
  uint64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  // Contiguous, ending at head_, bounded by the options' window.
  std::deque<eventlog::RecordedEvent> window_ ABSL_GUARDED_BY(mu_);
  size_t window_bytes_ ABSL_GUARDED_BY(mu_) = 0;

  // Held while listeners run, so RemoveListener waits for a running one.
  absl::Mutex listeners_mu_;
  std::map<uint64_t, HeadListener> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  uint64_t next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 0;

  std::thread follower_;  // last: started when the rest is ready
};

absl::StatusOr<std::unique_ptr<UpstreamLog>> UpstreamLog::Start(
    UpstreamOptions options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("the upstream address is empty");
  }
  if (options.window_events == 0 || options.min_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.min_backoff) {
    return absl::InvalidArgumentError("bad UpstreamOptions bounds");
  }
  return std::unique_ptr<UpstreamLog>(
      new UpstreamLog(std::make_unique<Impl>(std::move(options))));
}

UpstreamLog::UpstreamLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UpstreamLog::~UpstreamLog() = default;

absl::Status UpstreamLog::Health() const { return impl_->Health(); }

absl::StatusOr<eventlog::AppendResult> UpstreamLog::Append(
    const eventlog::AppendRequest&) {
  return ReadOnly("appending");
}

void UpstreamLog::AppendAsync(const eventlog::AppendRequest&,
                              AppendCallback done) {
  done(ReadOnly("appending"));
}

absl::StatusOr<std::vector<eventlog::RecordedEvent>> UpstreamLog::ReadStream(
    const std::string& stream, uint64_t from_revision, uint64_t max_count,
    bool backwards) const {
  return impl_->ReadStream(stream, from_revision, max_count, backwards);
}

absl::StatusOr<std::vector<eventlog::RecordedEvent>> UpstreamLog::ReadAll(
    uint64_t from_position, uint64_t max_count, const eventlog::Filter& filter,
    uint64_t max_scan, uint64_t* next_position) const {
  return impl_->ReadAll(from_position, max_count, filter, max_scan,
                        next_position);
}

absl::StatusOr<eventlog::StreamInfo> UpstreamLog::GetStream(
    const std::string& stream) const {
  return impl_->GetStream(stream);
}

uint64_t UpstreamLog::HeadPosition() const { return impl_->Head(); }

uint64_t UpstreamLog::WaitForHead(uint64_t position,
                                  absl::Time deadline) const {
  return impl_->WaitForHead(position, deadline);
}

uint64_t UpstreamLog::AddHeadListener(HeadListener listener) {
  return impl_->AddListener(std::move(listener));
}

void UpstreamLog::RemoveHeadListener(uint64_t handle) {
  impl_->RemoveListener(handle);
}

absl::StatusOr<uint64_t> UpstreamLog::FindPosition(int64_t time_us) const {
  return impl_->FindPosition(time_us);
}

absl::StatusOr<eventlog::VerifyResult> UpstreamLog::Verify(uint64_t,
                                                           uint64_t) const {
  return ReadOnly("verifying the hash chain");
}

absl::StatusOr<eventlog::LogStats> UpstreamLog::Stats() const {
  return eventlog::LogStats{.head_position = impl_->Head()};
}

}  // namespace vigil::gateway
