// UpstreamLog (upstream_log.h): the EventLog interface over a primary's
// gRPC API. The Impl's one Subscribe loop (reconnect, resume, keepalive)
// feeds eventlog::FollowerLog's window; reads older than the window, and
// stream reads, go to the primary's RPCs.

#include "gateway/upstream_log.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
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
  Impl(UpstreamOptions options, UpstreamLog* owner)
      : options_(std::move(options)),
        owner_(owner),
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

  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadRemote(
      uint64_t from, uint64_t count) const {
    grpc::ClientContext context;
    Prepare(&context);
    vigil::v1::ReadAllRequest request;
    request.set_from_position(from);
    request.set_max_count(count);
    return Collect(&context, stub_->ReadAll(&context, request));
  }

 private:
  void Prepare(grpc::ClientContext* context) const {
    context->set_deadline(Deadline(options_.call_timeout));
    if (!options_.token.empty()) {
      context->AddMetadata("authorization", "Bearer " + options_.token);
    }
    if (remote_reads_ != nullptr) remote_reads_->Increment();
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
          request.set_from_position(owner_->HeadPosition());
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
                       static_cast<unsigned long long>(owner_->HeadPosition()));
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
    const uint64_t position = event.position;
    if (absl::Status received = owner_->Receive(std::move(event));
        !received.ok()) {
      return absl::StrCat("the primary sent ", received.message());
    }
    Received(position, /*caught_up=*/false);
    return "";
  }

  std::string CaughtUp(uint64_t position) {
    if (absl::Status caught_up = owner_->CaughtUp(position); !caught_up.ok()) {
      return std::string(caught_up.message());
    }
    Received(position, /*caught_up=*/true);
    return "";
  }

  void Received(uint64_t head, bool caught_up) {
    {
      absl::MutexLock lock(&mu_);
      have_head_ = true;
      if (caught_up) {
        subscribed_ = true;
        last_error_.clear();
        printed_error_.clear();
      }
    }
    if (caught_up && connected_gauge_ != nullptr) connected_gauge_->Set(1);
    if (!caught_up && events_ != nullptr) events_->Increment();
    if (head_gauge_ != nullptr) head_gauge_->Set(static_cast<double>(head));
  }

  const UpstreamOptions options_;
  UpstreamLog* const owner_;
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
  return std::unique_ptr<UpstreamLog>(new UpstreamLog(options));
}

UpstreamLog::UpstreamLog(const UpstreamOptions& options)
    : FollowerLog({.window_events = options.window_events,
                   .window_bytes = options.window_bytes,
                   .primary = options.target}),
      impl_(std::make_unique<Impl>(options, this)) {}

// The follower thread stops before the window it feeds goes.
UpstreamLog::~UpstreamLog() { impl_.reset(); }

absl::Status UpstreamLog::Health() const { return impl_->Health(); }

absl::StatusOr<std::vector<eventlog::RecordedEvent>> UpstreamLog::ReadStream(
    const std::string& stream, uint64_t from_revision, uint64_t max_count,
    bool backwards) const {
  return impl_->ReadStream(stream, from_revision, max_count, backwards);
}

absl::StatusOr<eventlog::StreamInfo> UpstreamLog::GetStream(
    const std::string& stream) const {
  return impl_->GetStream(stream);
}

absl::StatusOr<std::vector<eventlog::RecordedEvent>> UpstreamLog::ReadOlder(
    uint64_t from, uint64_t count) const {
  return impl_->ReadRemote(from, count);
}

}  // namespace vigil::gateway
