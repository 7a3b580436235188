// The gRPC EventStore service (docs/contract.md "gRPC", vigil.v1.EventStore)
// over an EventLog. Handlers are thin: authenticate (auth.h), parse, call
// the core (core.h, which decides what the caller's role may do), map the
// status (grpc_status.h). No handler touches RocksDB on a gRPC thread: appends
// go through EventLog::AppendAsync and are answered from the log's
// completion thread; reads run on the service's own reader threads.
//
// Reads (ReadStream, ReadAll) stream pages of events: one page read at a
// time, one write in flight, the next page read only once the last one is
// written, so a slow client holds one page and costs no thread. A page is
// at most `page_events` events and, after the first, about `page_bytes`.
// ReadAll returns the events up to the head position at the time of the
// call; a forward ReadStream may include events appended while it runs.
//
// Thread-safe: gRPC calls the handlers from any of its threads.

#ifndef VIGIL_API_EVENT_STORE_SERVICE_H_
#define VIGIL_API_EVENT_STORE_SERVICE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "api/append_path.h"
#include "api/append_session.h"
#include "api/auth.h"
#include "api/core.h"
#include "api/grpc_calls.h"
#include "api/rate_limiter.h"
#include "api/state_queries.h"
#include "api/subscription.h"
#include "base/executor.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "grpcpp/grpcpp.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::api {

struct ServiceOptions {
  // Threads reading the log for ReadStream, ReadAll and GetStream, and reads
  // waiting for them. A read that finds the queue full fails with
  // RESOURCE_EXHAUSTED (rate limited: retry after a second).
  int reader_threads = 4;
  size_t max_queued_reads = 1024;

  // ReadStream and ReadAll calls open at once; more fail with
  // RESOURCE_EXHAUSTED (rate limited). Bounds the memory of pages held for
  // slow clients: max_active_reads * page_bytes, roughly.
  size_t max_active_reads = 256;

  // What ReadStream and ReadAll return when the request's max_count is 0.
  // An explicit max_count is honoured whatever its size: pages bound the
  // memory, flow control the pace.
  uint64_t default_max_count = 10000;

  // Events per page read from the log (the first page is at most 16, as
  // nothing is known of event sizes yet), bytes of data + metadata a page
  // aims at, and positions a filtered ReadAll examines per page (so a
  // selective filter cannot make one read scan the whole log).
  size_t page_events = 256;
  size_t page_bytes = 4 << 20;  // 4 MiB
  uint64_t page_scan = 4096;

  // AppendSession: appends of one session unanswered at once.
  AppendSessionOptions append_session;
};

// The largest gRPC message a server should accept for a log with
// `options`: one append's data and metadata plus 1 MiB for names, ids and
// framing. Beyond the log's own limits an append fails with
// RESOURCE_EXHAUSTED from the log, not from the transport.
int MaxReceiveMessageBytes(const eventlog::Options& options);

class EventStoreService final : public vigil::v1::EventStore::CallbackService {
 public:
  // `log`, `hub`, `authenticator`, `rate_limiter` and `append_path` must
  // outlive the service. Every call presents `authorization: Bearer
  // <token>` metadata unless `authenticator` is null or in anonymous mode.
  // Appends go through `append_path`, the one the server's other
  // transports share; null: through one of the service's own over `log`,
  // with `rate_limiter` (null: no limit), `metrics` and AppendPathOptions'
  // defaults (`rate_limiter` is unused otherwise).
  EventStoreService(eventlog::EventLog* log, SubscriptionHub* hub,
                    ServiceOptions options,
                    const Authenticator* authenticator = nullptr,
                    RateLimiter* rate_limiter = nullptr,
                    base::Metrics* metrics = nullptr,
                    StateQueries* state_queries = nullptr,
                    AppendPath* append_path = nullptr);
  // REQUIRES: the server is shut down (every call is done). Finishes the
  // reads already queued.
  ~EventStoreService() override;
  EventStoreService(const EventStoreService&) = delete;
  EventStoreService& operator=(const EventStoreService&) = delete;

  // Parses the request and appends it through the append path
  // (append_path.h: checks, rate limit, in-flight bound). An append already
  // queued when its call is cancelled or its deadline passes still happens:
  // retry with the same idempotency key to learn its result.
  grpc::ServerUnaryReactor* Append(
      grpc::CallbackServerContext* context,
      const vigil::v1::AppendRequest* request,
      vigil::v1::AppendResponse* response) override;

  // Many appends in flight on one call (append_session.h): each through
  // the same append path as Append, answered by correlation id.
  AppendSessions::Reactor* AppendSession(
      grpc::CallbackServerContext* context) override;

  // Every AppendSession stops reading, answers the appends it has in
  // flight and ends with UNAVAILABLE; later ones end at once. Call before
  // the gRPC server's Shutdown, which waits for them.
  void StopAppendSessions();

  // AppendSession calls not yet done.
  size_t active_append_sessions() const;

  // `from_revision` forwards; backwards it counts down from there, and a
  // revision past the stream's end (UINT64_MAX, say) starts at its last
  // event. NOT_FOUND for a missing stream.
  grpc::ServerWriteReactor<vigil::v1::RecordedEvent>* ReadStream(
      grpc::CallbackServerContext* context,
      const vigil::v1::ReadStreamRequest* request) override;

  grpc::ServerWriteReactor<vigil::v1::RecordedEvent>* ReadAll(
      grpc::CallbackServerContext* context,
      const vigil::v1::ReadAllRequest* request) override;

  grpc::ServerWriteReactor<vigil::v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context,
      const vigil::v1::SubscribeRequest* request) override;

  grpc::ServerUnaryReactor* GetStream(
      grpc::CallbackServerContext* context,
      const vigil::v1::GetStreamRequest* request,
      vigil::v1::StreamInfo* response) override;

  // Time travel through `state_queries` (UNIMPLEMENTED without it), on the
  // reader threads.
  grpc::ServerUnaryReactor* StateAt(
      grpc::CallbackServerContext* context,
      const vigil::v1::StateAtRequest* request,
      vigil::v1::StateAtResponse* response) override;
  grpc::ServerUnaryReactor* Diff(grpc::CallbackServerContext* context,
                                 const vigil::v1::DiffRequest* request,
                                 vigil::v1::DiffResponse* response) override;

  // ReadStream and ReadAll calls not yet done.
  size_t active_reads() const;

 private:
  class PagedReader;
  class StreamReader;
  class AllReader;

  // Admits a caller who may do `operation`, then runs `query` for them on
  // a reader thread and finishes with its status; `query` fills the
  // response.
  grpc::ServerUnaryReactor* ReadUnary(
      grpc::CallbackServerContext* context, std::string_view method,
      Operation operation,
      std::function<absl::Status(const Principal&)> query);

  // Who the caller is (auth.h Authenticate), if they may do `operation`
  // (principal.h Authorize): asked before the request is parsed.
  absl::StatusOr<Principal> Admit(grpc::CallbackServerContext* context,
                                  Operation operation) const;

  eventlog::EventLog* const log_;
  SubscriptionHub* const hub_;
  const ServiceOptions options_;
  const Authenticator* const authenticator_;
  // Null when an append path was given; the core uses one or the other.
  const std::unique_ptr<AppendPath> own_appends_;
  const Core core_;
  AppendSessions sessions_;
  // Null when no registry was given. Unary calls are counted by status,
  // streaming calls when they start. The append path counts appends in the
  // shared append metrics (the same series the HTTP API counts into).
  const GrpcCallMetrics calls_;
  void CountRequest(std::string_view method, const absl::Status& status) const;
  void CountStarted(std::string_view method) const;
  std::atomic<size_t> active_reads_{0};
  // Last: its destructor runs the queued reads, which use the members above.
  base::Executor readers_;
};

}  // namespace vigil::api

#endif  // VIGIL_API_EVENT_STORE_SERVICE_H_
