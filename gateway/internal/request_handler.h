// RequestHandler: everything HttpServer does with a request once it has been
// read, without Beast: routing, the REST mirror, /healthz, /readyz,
// /metrics, the dashboard's files, problem+json errors, and the request metrics. The Beast session
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
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "api/append_path.h"
#include "base/executor.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "gateway/http_server.h"
#include "gateway/internal/live_hub.h"
#include "gateway/internal/static_files.h"

namespace vigil::gateway::internal {

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // origin form: path, then "?" and the query
  // Header fields in arrival order, names lowercase.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The values of every `name` (lowercase) field.
  std::vector<std::string_view> Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  // Fields besides Content-Type, Content-Length, Connection and Server,
  // which the session sets.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Why a session could not read a request.
enum class ReadError {
  kHeaderTooLarge,  // 431
  kBodyTooLarge,    // 413
  kMalformed,       // 400
};

// Which live feed a request asks for.
enum class LiveKind {
  kNone,       // not the live feed: Handle it
  kWebSocket,  // GET /v1/live with Upgrade: websocket
  kSse,        // GET /v1/live/sse
};

// A live feed request admitted (subscription set) or refused (answer
// `refusal`, then close).
struct LiveAdmission {
  std::shared_ptr<LiveSubscription> subscription;
  HttpResponse refusal;
  std::string subprotocol;  // echoed in Sec-WebSocket-Protocol; "" = none
};

class RequestHandler {
 public:
  using Done = std::function<void(HttpResponse)>;

  // `log`, `live` and `metrics` must outlive the handler.
  RequestHandler(const HttpServerOptions& options, eventlog::EventLog* log,
                 LiveHub* live, Metrics* metrics);

  // The origins allowed to open the WebSocket, from the options and the
  // port bound (see LiveOptions::allowed_origins). Before serving.
  void SetPort(uint16_t port);

  LiveKind Live(const HttpRequest& request) const;
  // The checks before the upgrade, in this order: Origin (403), the query
  // (400), the token from Authorization or ?token= (401, 403), then a slot
  // in the hub (503, 429). Each refusal is counted by reason; the token is
  // never part of an answer or a metric.
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

  // /readyz answers 200 while ready (the default), 503 after SetReady(false).
  void SetReady(bool ready) { ready_.store(ready); }

  // Blocks until no append or read started by Handle is still running,
  // i.e. every `done` has returned.
  void WaitIdle();

 private:
  enum class Route {
    kAppend,      // /v1/streams/{stream}/events
    kReadStream,  // /v1/streams/{stream}
    kReadAll,     // /v1/all
    kTraces,      // /v1/traces (OTLP/HTTP, otlp_route.h)
    kReadModel,   // HttpServerOptions::read_models
    kAdmin,       // HttpServerOptions::webhooks
    kState,       // /v1/state (HttpServerOptions::state_queries)
    kDiff,        // /v1/diff
    kHealthz,
    kReadyz,
    kMetrics,
    kDashboard,  // /, /index.html, /assets/...
    kLive,     // /v1/live: the WebSocket (without an upgrade: 426)
    kLiveSse,  // /v1/live/sse (only for the metrics; Live() routes it)
    kUnmatched,
  };
  struct Matched {
    Route route = Route::kUnmatched;
    std::string_view stream;  // still percent-encoded
    std::string_view query;
  };
  Matched Match(std::string_view target) const;
  static std::string_view RouteLabel(Route route);

  // Wraps `done` to record the request's count and duration first.
  Done Recorded(std::string_view method, Route route, Done done);
  // Counts one answered request (requests the session could not read are
  // counted but not timed).
  void Record(std::string_view method, Route route, int status);

  void Append(const HttpRequest& request, const api::Principal& principal,
              std::string stream, Done done);
  void ReadStream(std::string stream, std::string_view query, Done done);
  void ReadAll(std::string_view query, Done done);
  void ReadModel(std::string_view target, Done done);
  void Admin(HttpRequest request, Done done);
  void TimeTravel(Route route, std::string_view query, Done done);
  HttpResponse MetricsPage();
  HttpResponse DashboardFile(std::string_view path) const;
  // Runs `read` on a reader thread; 503 when their queue is full.
  void ScheduleRead(std::function<HttpResponse()> read, Done done);

  // In-flight appends and reads, for WaitIdle.
  void BeginWork();
  void EndWork();

  const HttpServerOptions options_;
  eventlog::EventLog* const log_;
  LiveHub* const live_;
  std::vector<std::string> allowed_origins_;  // set before serving
  std::atomic<bool> ready_{true};

  Metrics* const metrics_;
  CounterFamily* const requests_;
  HistogramFamily* const request_duration_;
  Gauge* const head_position_;
  // Null when HttpServerOptions::append_path was given; appends_ points at
  // one or the other.
  const std::unique_ptr<api::AppendPath> own_appends_;
  api::AppendPath* const appends_;
  // Loaded from options.dashboard_dir in the constructor; the error says
  // why there is no dashboard.
  const absl::StatusOr<StaticFiles> dashboard_;

  absl::Mutex work_mu_;
  size_t work_ ABSL_GUARDED_BY(work_mu_) = 0;

  // Last: destroyed first, so queued reads finish while the rest is alive.
  base::Executor readers_;
};

// An HttpResponse for a failed `status`: HttpStatusFor, ProblemJson, and
// the headers docs/contract.md "HTTP" adds (Vigil-Actual-Revision on 412,
// Retry-After on 429 and 503).
HttpResponse ErrorResponse(const absl::Status& status);

// The problems of HTTP itself, which have no absl::StatusCode (and so no row
// in api/status_mapping.cc): same RFC 9457 members, same `type` scheme.
HttpResponse ProtocolProblem(int status, std::string_view name,
                             std::string_view title, std::string_view detail);

// The media type of a Content-Type value, lowercase, parameters dropped.
std::string MediaType(std::string_view content_type);

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_REQUEST_HANDLER_H_
