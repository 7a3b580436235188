// RequestHandler: everything HttpServer does with a request once it has been
// read, without Beast: routing (one table of routes), authentication, the
// REST mirror over the core (api/core.h), /healthz, /readyz, /metrics, the
// dashboard's files, and the request metrics. The pieces it routes to live
// beside it: append_route.h, event_reads.h, read_model_routes.h,
// state_routes.h, webhook_routes.h, the live feed's door (live_admission.h),
// and the answers they share (http_message.h). The Beast session
// (http_server.cc) turns bytes into an HttpRequest and an HttpResponse back
// into bytes; keeping the rest here keeps Beast in one translation unit.
//
// Thread safety: all methods may be called from any thread. Handle never
// blocks: appends go to EventLog::AppendAsync, reads to the handler's own
// reader threads.

#ifndef VIGIL_GATEWAY_INTERNAL_REQUEST_HANDLER_H_
#define VIGIL_GATEWAY_INTERNAL_REQUEST_HANDLER_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "api/append_path.h"
#include "api/core.h"
#include "base/executor.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "gateway/http_server.h"
#include "gateway/internal/http_message.h"
#include "gateway/internal/live_admission.h"
#include "gateway/internal/live_hub.h"
#include "gateway/internal/static_files.h"

namespace vigil::gateway::internal {

// Why a session could not read a request.
enum class ReadError {
  kHeaderTooLarge,  // 431
  kBodyTooLarge,    // 413
  kMalformed,       // 400
};

class RequestHandler {
 public:
  using Done = std::function<void(HttpResponse)>;

  // `log`, `live` and `metrics` must outlive the handler.
  RequestHandler(const HttpServerOptions& options, eventlog::EventLog* log,
                 LiveHub* live, Metrics* metrics);

  // The origins allowed to open the WebSocket (LiveDoor::SetPort). Before
  // serving.
  void SetPort(uint16_t port) { live_door_.SetPort(port); }

  LiveKind Live(const HttpRequest& request) const {
    return live_door_.Kind(request);
  }
  // LiveDoor::Admit, and a refusal counted in the request metrics.
  LiveAdmission AdmitLive(const HttpRequest& request, LiveKind kind);
  // Counts the outcome of a live request (101, 200, or a refusal).
  void RecordLive(LiveKind kind, int status);
  // Finishes the reads already queued.
  ~RequestHandler() = default;
  RequestHandler(const RequestHandler&) = delete;
  RequestHandler& operator=(const RequestHandler&) = delete;

  // Answers `request` by calling `done` exactly once: on this thread, or
  // later on the log's completion thread or a reader thread. `done` must be
  // quick (post the response to the connection's strand), and once called
  // it must hold nothing that needs the server: the callable itself may be
  // destroyed later on that other thread, even after WaitIdle returned.
  void Handle(HttpRequest request, Done done);

  // The answer to a request the session could not read (`method` and
  // `target` may be empty when unknown), counted in the metrics.
  HttpResponse Unreadable(ReadError error, std::string_view method,
                          std::string_view target);

  // The 503 for a connection over max_connections, counted in the metrics.
  HttpResponse TooManyConnections();

  // /readyz answers 200 while ready (the default), 503 after SetReady(false),
  // while HttpServerOptions::readiness is not OK, and while the log's
  // WriteHealth() is not (its disk is full), saying why.
  void SetReady(bool ready) { ready_.store(ready); }

  // Blocks until no append or read started by Handle is still running,
  // i.e. every `done` has returned.
  void WaitIdle();

 private:
  // To add a route: a value here, its row in kRoutes
  // (request_handler.cc), a line in Match and a case in Handle.
  enum class Route {
    kAppend,      // /v1/streams/{stream}/events
    kReadStream,  // /v1/streams/{stream}
    kReadAll,     // /v1/all
    kTraces,      // /v1/traces (OTLP/HTTP, otlp_route.h)
    kReadModel,   // HttpServerOptions::read_models
    kAdmin,       // HttpServerOptions::webhooks and ::alerts
    kState,       // /v1/state (HttpServerOptions::state_queries)
    kDiff,        // /v1/diff
    kReplication,  // /v1/replication (HttpServerOptions::replication_status)
    kHealthz,
    kReadyz,
    kMetrics,
    kDashboard,  // /, /index.html, /assets/...
    kLive,     // /v1/live: the WebSocket (without an upgrade: 426)
    kLiveSse,  // /v1/live/sse (only for the metrics; Live() routes it)
    kUnmatched,  // last
  };
  // What the table says of a route.
  struct RouteInfo {
    std::string_view label;    // in the metrics; no ids, so series stay few
    // Allowed, comma-separated; "" for webhooks and alerts, whose methods
    // depend on the path (webhook_routes.h, alert_routes.h).
    std::string_view methods;
    // The operation of the core it calls: the caller must be authenticated
    // and allowed it before anything is parsed. None: no caller needed.
    std::optional<api::Operation> operation;
  };
  static const RouteInfo& Info(Route route);
  struct Matched {
    Route route = Route::kUnmatched;
    std::string_view stream;  // still percent-encoded
    std::string_view query;
  };
  Matched Match(std::string_view target) const;

  // Wraps `done` to record the request's count and duration first.
  Done Recorded(std::string_view method, Route route, Done done);
  // Counts one answered request (requests the session could not read are
  // counted but not timed).
  void Record(std::string_view method, Route route, int status);

  // The API routes: parse, call the core for `principal`, render.
  void Append(const HttpRequest& request, const api::Principal& principal,
              std::string stream, Done done);
  void ReadStream(api::Principal principal, std::string stream,
                  std::string_view query, Done done);
  void ReadAll(api::Principal principal, std::string_view query, Done done);
  void ReadModel(api::Principal principal, std::string_view target,
                 Done done);
  void Admin(api::Principal principal, HttpRequest request, Done done);
  void TimeTravel(api::Principal principal, Route route,
                  std::string_view query, Done done);
  HttpResponse MetricsPage();
  HttpResponse DashboardFile(std::string_view path) const;
  // Runs `read` on a reader thread; 503 when their queue is full.
  void ScheduleRead(std::function<HttpResponse()> read, Done done);

  // In-flight appends and reads, for WaitIdle.
  void BeginWork();
  void EndWork();

  const HttpServerOptions options_;
  eventlog::EventLog* const log_;
  std::atomic<bool> ready_{true};

  Metrics* const metrics_;
  CounterFamily* const requests_;
  HistogramFamily* const request_duration_;
  Gauge* const head_position_;
  Gauge* const log_disk_full_;  // read at scrape time, as the head
  // Null when HttpServerOptions::append_path was given; the core uses one
  // or the other.
  const std::unique_ptr<api::AppendPath> own_appends_;
  const api::Core core_;
  LiveDoor live_door_;
  // Loaded from options.dashboard_dir in the constructor; the error says
  // why there is no dashboard.
  const absl::StatusOr<StaticFiles> dashboard_;

  absl::Mutex work_mu_;
  size_t work_ ABSL_GUARDED_BY(work_mu_) = 0;

  // Last: destroyed first, so queued reads finish while the rest is alive.
  base::Executor readers_;
};

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_REQUEST_HANDLER_H_
