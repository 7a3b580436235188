// The REST mirror's router (request_handler.h): the table of routes,
// matching a target to one, authenticating the caller and asking the core
// whether they may do what the route asks, and handing the request to the
// piece that owns the route (append_route.h, event_reads.h,
// read_model_routes.h, state_routes.h, webhook_routes.h over api::Core;
// the live feed's door), plus the request metrics, /healthz, /readyz,
// /metrics and the dashboard's files.

#include "gateway/internal/request_handler.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "api/append_checks.h"
#include "api/auth.h"
#include "api/query_string.h"
#include "base/json.h"
#include "gateway/internal/append_route.h"
#include "gateway/internal/event_reads.h"
#include "gateway/internal/otlp_route.h"
#include "gateway/internal/read_model_routes.h"
#include "gateway/internal/state_routes.h"
#include "gateway/internal/alert_routes.h"
#include "gateway/internal/webhook_routes.h"

namespace vigil::gateway::internal {
namespace {

constexpr char kPrometheusText[] = "text/plain; version=0.0.4; charset=utf-8";

// Method label values are a fixed set, so a client cannot grow the metrics.
std::string_view MethodLabel(std::string_view method) {
  for (std::string_view known :
       {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "other";
}

// The methods an administration path allows (its routes say which).
std::string AdminMethods(std::string_view path) {
  std::string methods = AlertMethods(path);
  return methods.empty() ? WebhookMethods(path) : methods;
}

}  // namespace

RequestHandler::RequestHandler(const HttpServerOptions& options,
                               eventlog::EventLog* log, LiveHub* live,
                               Metrics* metrics)
    : options_(options),
      log_(log),
      metrics_(metrics),
      requests_(metrics->AddCounter("vigil_http_requests_total",
                                    "HTTP requests answered, by method, "
                                    "route and status code.",
                                    {"method", "route", "status"})),
      request_duration_(metrics->AddHistogram(
          "vigil_http_request_duration_seconds",
          "Time from a request's arrival (fully read) until its response "
          "is ready, in seconds, by route.",
          {"route"}, LatencyBuckets())),
      head_position_(metrics
                         ->AddGauge("vigil_head_position",
                                    "The event log's last durable position.")
                         ->Get()),
      log_disk_full_(
          metrics
              ->AddGauge("vigil_log_disk_full",
                         "1 while appends fail because the event log's "
                         "disk is full (WriteHealth), else 0.")
              ->Get()),
      own_appends_(options.append_path != nullptr
                       ? nullptr
                       : std::make_unique<api::AppendPath>(
                             log,
                             api::AppendPathOptions{
                                 .max_inflight_appends =
                                     options.max_inflight_appends},
                             options.rate_limiter, metrics)),
      core_({.log = log,
             .append_path = options.append_path != nullptr
                                ? options.append_path
                                : own_appends_.get(),
             .read_models = options.read_models,
             .state_queries = options.state_queries,
             .webhooks = options.webhooks,
             .alerts = options.alerts}),
      live_door_(options_, live, &core_),
      dashboard_(options.dashboard_dir.empty()
                     ? absl::StatusOr<StaticFiles>(absl::NotFoundError(
                           "this server has no dashboard directory "
                           "(--dashboard-dir)"))
                     : StaticFiles::Load(options.dashboard_dir)),
      readers_("vigil-http-read", options.read_threads,
               options.max_queued_reads) {}

RequestHandler::Matched RequestHandler::Match(std::string_view target) const {
  Matched matched;
  const size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  if (question != std::string_view::npos) {
    matched.query = target.substr(question + 1);
  }
  if (StaticFiles::Owns(path)) {
    matched.route = Route::kDashboard;
  } else if (path == "/healthz") {
    matched.route = Route::kHealthz;
  } else if (path == "/readyz") {
    matched.route = Route::kReadyz;
  } else if (path == "/metrics") {
    matched.route = Route::kMetrics;
  } else if (path == "/v1/live") {
    matched.route = Route::kLive;
  } else if (path == "/v1/all") {
    matched.route = Route::kReadAll;
  } else if (options_.traces != nullptr && path == "/v1/traces") {
    matched.route = Route::kTraces;
  } else if (core_.has_state_queries() && path == "/v1/state") {
    matched.route = Route::kState;
  } else if (core_.has_state_queries() && path == "/v1/diff") {
    matched.route = Route::kDiff;
  } else if (options_.replication_status && path == "/v1/replication") {
    matched.route = Route::kReplication;
  } else if (core_.has_read_models() && IsReadModelPath(path)) {
    matched.route = Route::kReadModel;
  } else if ((core_.has_webhooks() && !WebhookMethods(path).empty()) ||
             (core_.has_alerts() && !AlertMethods(path).empty())) {
    matched.route = Route::kAdmin;
  } else if (constexpr std::string_view kStreams = "/v1/streams/";
             path.substr(0, kStreams.size()) == kStreams) {
    std::string_view rest = path.substr(kStreams.size());
    const size_t slash = rest.find('/');
    matched.stream = rest.substr(0, slash);
    if (matched.stream.empty()) return matched;
    if (slash == std::string_view::npos) {
      matched.route = Route::kReadStream;
    } else if (rest.substr(slash) == "/events") {
      matched.route = Route::kAppend;
    }
  }
  return matched;
}

const RequestHandler::RouteInfo& RequestHandler::Info(Route route) {
  using api::Operation;
  // One row per Route, in its order.
  static constexpr RouteInfo kRoutes[] = {
      {"/v1/streams/{stream}/events", "POST", Operation::kAppend},
      {"/v1/streams/{stream}", "GET", Operation::kReadStream},
      {"/v1/all", "GET", Operation::kReadAll},
      // OTLP/HTTP: spans are appended, so the caller must be allowed to.
      {"/v1/traces", "POST", Operation::kAppend},
      // One label for all of them: ids in paths would make series unbounded.
      {"/v1/{read model}", "GET", Operation::kReadModel},
      {"/v1/{admin resource}", "", Operation::kAdministerWebhooks},
      {"/v1/state", "GET", Operation::kState},
      {"/v1/diff", "GET", Operation::kDiff},
      {"/v1/replication", "GET", Operation::kReadModel},
      {"/healthz", "GET", std::nullopt},
      {"/readyz", "GET", std::nullopt},
      {"/metrics", "GET", std::nullopt},
      {"/ (dashboard)", "GET", std::nullopt},
      // The live feed's own door checks its callers (live_admission.h).
      {"/v1/live", "GET", std::nullopt},
      {"/v1/live/sse", "GET", std::nullopt},
      {"unmatched", "", std::nullopt},
  };
  static_assert(std::size(kRoutes) == static_cast<size_t>(Route::kUnmatched) + 1,
                "a row per Route");
  return kRoutes[static_cast<size_t>(route)];
}

void RequestHandler::Record(std::string_view method, Route route,
                            int status) {
  const std::string code = std::to_string(status);
  requests_->WithLabels({MethodLabel(method), Info(route).label, code})
      ->Increment();
}

RequestHandler::Done RequestHandler::Recorded(std::string_view method,
                                              Route route, Done done) {
  return [this, method = MethodLabel(method), route, start = absl::Now(),
          done = std::move(done)](HttpResponse response) {
    Record(method, route, response.status);
    request_duration_->WithLabels({Info(route).label})
        ->Observe(absl::ToDoubleSeconds(absl::Now() - start));
    done(std::move(response));
  };
}

void RequestHandler::Handle(HttpRequest request, Done done) {
  const Matched matched = Match(request.target);
  done = Recorded(request.method, matched.route, std::move(done));

  if (matched.route == Route::kUnmatched) {
    return done(ErrorResponse(absl::NotFoundError(
        "no resource at " + std::string(request.Path()))));
  }
  const RouteInfo& route = Info(matched.route);
  const std::string allowed(matched.route == Route::kAdmin
                                ? AdminMethods(request.Path())
                                : route.methods);
  if (!ListHas(allowed, request.method)) {
    HttpResponse response = ProtocolProblem(
        405, "method-not-allowed", "Method not allowed",
        request.method + " is not allowed here; use " + allowed);
    response.headers.emplace_back("Allow", allowed);
    return done(std::move(response));
  }

  // The API routes need a caller (auth.h) who may do what the route asks
  // of the core (principal.h): refused before anything is parsed.
  api::Principal principal;
  if (route.operation.has_value()) {
    std::vector<std::string_view> authorization = request.Header("authorization");
    absl::StatusOr<api::Principal> admitted = api::Authenticate(
        options_.authenticator,
        authorization.size() == 1 ? authorization[0] : std::string_view());
    absl::Status refused = admitted.status();
    if (refused.ok()) refused = api::Authorize(*admitted, *route.operation);
    if (!refused.ok()) {
      HttpResponse response = ErrorResponse(refused);
      if (refused.code() == absl::StatusCode::kUnauthenticated) {
        response.headers.emplace_back("WWW-Authenticate", "Bearer");
      }
      return done(std::move(response));
    }
    principal = *std::move(admitted);
  }

  std::string stream;
  if (matched.route == Route::kAppend || matched.route == Route::kReadStream) {
    absl::StatusOr<std::string> decoded =
        api::DecodePathSegment(matched.stream, "stream name");
    if (!decoded.ok()) return done(ErrorResponse(decoded.status()));
    stream = *std::move(decoded);
  }

  switch (matched.route) {
    case Route::kAppend:
      return Append(request, principal, std::move(stream), std::move(done));
    case Route::kReadStream:
      return ReadStream(std::move(principal), std::move(stream), matched.query,
                        std::move(done));
    case Route::kReadAll:
      return ReadAll(std::move(principal), matched.query, std::move(done));
    case Route::kTraces:
      BeginWork();
      return ServeOtlpTraces(
          *options_.traces, options_.otlp_max_body_bytes, request, principal,
          [this, done = std::move(done)](HttpResponse response) {
            done(std::move(response));
            EndWork();
          });
    case Route::kReadModel:
      return ReadModel(std::move(principal), request.target, std::move(done));
    case Route::kAdmin:
      return Admin(std::move(principal), std::move(request), std::move(done));
    case Route::kState:
    case Route::kDiff:
      return TimeTravel(std::move(principal), matched.route, matched.query,
                        std::move(done));
    case Route::kReplication:
      return done(JsonResponse(200, options_.replication_status()));
    case Route::kHealthz:
      return done(JsonResponse(200, base::DumpJson({{"status", "ok"}})));
    case Route::kReadyz:
      if (!ready_.load()) {
        return done(ErrorResponse(
            absl::UnavailableError("the server is shutting down")));
      }
      if (options_.readiness) {
        if (absl::Status status = options_.readiness(); !status.ok()) {
          return done(ErrorResponse(
              absl::UnavailableError(status.message())));
        }
      }
      // Appends failing for a full disk: out of rotation for writers
      // (a plain 503; the live feed and reads still admit).
      if (absl::Status health = log_->WriteHealth(); !health.ok()) {
        return done(
            ErrorResponse(absl::UnavailableError(health.message())));
      }
      return done(JsonResponse(200, base::DumpJson({{"status", "ready"}})));
    case Route::kMetrics:
      return done(MetricsPage());
    case Route::kDashboard:
      return done(DashboardFile(request.Path()));
    case Route::kLive: {
      HttpResponse response = ProtocolProblem(
          426, "upgrade-required", "Upgrade required",
          "/v1/live is a WebSocket (send Upgrade: websocket); "
          "/v1/live/sse serves the same feed as Server-Sent Events");
      response.headers.emplace_back("Upgrade", "websocket");
      return done(std::move(response));
    }
    case Route::kLiveSse:  // never matched: Live() takes these
    case Route::kUnmatched:
      break;
  }
}

void RequestHandler::Append(const HttpRequest& request,
                            const api::Principal& principal, std::string stream,
                            Done done) {
  eventlog::AppendRequest append;
  if (std::optional<HttpResponse> refusal =
          ParseAppend(request, std::move(stream), &append)) {
    return done(*std::move(refusal));
  }
  BeginWork();
  // On the log's completion thread, or here when refused at once.
  core_.Append(principal, std::move(append),
               [this, done = std::move(done)](
                   absl::StatusOr<eventlog::AppendResult> result) {
                 done(AppendAnswer(result));
                 EndWork();
               });
}

void RequestHandler::ReadStream(api::Principal principal, std::string stream,
                                std::string_view query, Done done) {
  // System streams (`$alerts`, `$webhooks`, ...) are read like any other
  // (docs/contract.md); only appending to them is refused.
  absl::StatusOr<Paging> paging = ParsePaging(
      query, options_.default_read_limit, options_.max_read_limit);
  if (!paging.ok()) return done(ErrorResponse(paging.status()));
  ScheduleRead(
      [this, principal = std::move(principal), stream = std::move(stream),
       paging = *paging]() {
        absl::StatusOr<std::string> body =
            ReadStreamPage(core_, principal, stream, paging);
        if (!body.ok()) return ErrorResponse(body.status());
        return JsonResponse(200, *std::move(body));
      },
      std::move(done));
}

void RequestHandler::ReadAll(api::Principal principal, std::string_view query,
                             Done done) {
  absl::StatusOr<Paging> paging = ParsePaging(
      query, options_.default_read_limit, options_.max_read_limit);
  if (!paging.ok()) return done(ErrorResponse(paging.status()));
  ScheduleRead(
      [this, principal = std::move(principal), paging = *paging]() {
        absl::StatusOr<std::string> body =
            ReadAllPage(core_, principal, paging);
        if (!body.ok()) return ErrorResponse(body.status());
        return JsonResponse(200, *std::move(body));
      },
      std::move(done));
}

void RequestHandler::ReadModel(api::Principal principal,
                               std::string_view target, Done done) {
  const size_t question = target.find('?');
  absl::StatusOr<api::ReadModelRequest> request = ParseReadModelRequest(
      target.substr(0, question), question == std::string_view::npos
                                      ? std::string_view()
                                      : target.substr(question + 1));
  if (!request.ok()) return done(ErrorResponse(request.status()));
  ScheduleRead(
      [this, principal = std::move(principal), request = *std::move(request)]() {
        absl::StatusOr<std::string> body = core_.ReadModel(principal, request);
        if (!body.ok()) return ErrorResponse(body.status());
        return JsonResponse(200, *std::move(body));
      },
      std::move(done));
}

void RequestHandler::Admin(api::Principal principal, HttpRequest request,
                           Done done) {
  request.target.resize(std::min(request.target.find('?'),
                                 request.target.size()));  // the path
  ScheduleRead(
      [this, principal = std::move(principal), request = std::move(request)]() {
        if (!AlertMethods(request.target).empty()) {
          absl::StatusOr<api::AlertAdmin*> alerts = core_.Alerts(principal);
          if (!alerts.ok()) return ErrorResponse(alerts.status());
          absl::StatusOr<AlertAnswer> answer = ServeAlerts(
              **alerts, request.method, request.target, request.body);
          if (!answer.ok()) return ErrorResponse(answer.status());
          return JsonResponse(answer->status, std::move(answer->body));
        }
        absl::StatusOr<api::WebhookAdmin*> admin = core_.Webhooks(principal);
        if (!admin.ok()) return ErrorResponse(admin.status());
        absl::StatusOr<WebhookAnswer> answer = ServeWebhooks(
            **admin, request.method, request.target, request.body);
        if (!answer.ok()) return ErrorResponse(answer.status());
        return JsonResponse(answer->status, std::move(answer->body));
      },
      std::move(done));
}

void RequestHandler::TimeTravel(api::Principal principal, Route route,
                                std::string_view query, Done done) {
  ScheduleRead(
      [this, principal = std::move(principal), route,
       query = std::string(query)]() -> HttpResponse {
        absl::StatusOr<std::string> body;
        if (route == Route::kState) {
          absl::StatusOr<api::StateQuery> parsed = ParseStateQuery(query);
          body = parsed.ok() ? core_.State(principal, *parsed)
                             : parsed.status();
        } else {
          absl::StatusOr<api::DiffQuery> parsed = ParseDiffQuery(query);
          body = parsed.ok() ? core_.Diff(principal, *parsed)
                             : parsed.status();
        }
        if (!body.ok()) return ErrorResponse(body.status());
        return JsonResponse(200, *std::move(body));
      },
      std::move(done));
}

void RequestHandler::ScheduleRead(std::function<HttpResponse()> read,
                                  Done done) {
  BeginWork();
  // `done` is shared so it is still here when Schedule refuses the task.
  auto shared_done = std::make_shared<Done>(std::move(done));
  const bool queued =
      readers_.Schedule([this, read = std::move(read), shared_done] {
        (*shared_done)(read());
        EndWork();
      });
  if (!queued) {
    (*shared_done)(ErrorResponse(absl::UnavailableError(
        "the server's read queue is full (" +
        std::to_string(options_.max_queued_reads) + " reads); retry")));
    EndWork();
  }
}

HttpResponse RequestHandler::MetricsPage() {
  // Read at scrape time: HeadPosition is one atomic load.
  head_position_->Set(static_cast<double>(log_->HeadPosition()));
  log_disk_full_->Set(eventlog::IsDiskFull(log_->WriteHealth()) ? 1 : 0);
  HttpResponse response;
  response.content_type = kPrometheusText;
  response.body = metrics_->Render();
  return response;
}

HttpResponse RequestHandler::DashboardFile(std::string_view path) const {
  if (!dashboard_.ok()) {
    return ErrorResponse(absl::NotFoundError(
        "the dashboard is not available: " +
        std::string(dashboard_.status().message())));
  }
  const StaticFile* file = dashboard_->Find(path);
  if (file == nullptr) {
    return ErrorResponse(
        absl::NotFoundError("no dashboard file at " + std::string(path)));
  }
  HttpResponse response;
  response.content_type = file->content_type;
  response.headers.emplace_back("Cache-Control", file->cache_control);
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // One copy per request: the files are small, and HttpResponse owns its
  // body.
  response.body = file->body;
  return response;
}

HttpResponse RequestHandler::Unreadable(ReadError error,
                                        std::string_view method,
                                        std::string_view target) {
  HttpResponse response;
  switch (error) {
    case ReadError::kHeaderTooLarge:
      response = ProtocolProblem(
          431, "header-too-large", "Request header fields too large",
          "the request line and headers exceed " +
              std::to_string(options_.max_header_bytes) + " bytes");
      break;
    case ReadError::kBodyTooLarge:
      response = ErrorResponse(absl::ResourceExhaustedError(
          "the request body exceeds " +
          std::to_string(Match(target).route == Route::kTraces
                             ? options_.otlp_max_body_bytes
                             : options_.max_body_bytes) +
          " bytes"));
      break;
    case ReadError::kMalformed:
      response = ErrorResponse(
          absl::InvalidArgumentError("malformed HTTP request"));
      break;
  }
  Record(method, Match(target).route, response.status);
  return response;
}

HttpResponse RequestHandler::TooManyConnections() {
  HttpResponse response = ErrorResponse(absl::UnavailableError(
      "too many open connections (" +
      std::to_string(options_.max_connections) + "); retry"));
  Record("", Route::kUnmatched, response.status);
  return response;
}

void RequestHandler::RecordLive(LiveKind kind, int status) {
  Record("GET", kind == LiveKind::kSse ? Route::kLiveSse : Route::kLive,
         status);
}

LiveAdmission RequestHandler::AdmitLive(const HttpRequest& request,
                                        LiveKind kind) {
  LiveAdmission admission = live_door_.Admit(request, kind);
  if (admission.subscription == nullptr) {
    RecordLive(kind, admission.refusal.status);
  }
  return admission;
}

void RequestHandler::BeginWork() {
  absl::MutexLock lock(&work_mu_);
  ++work_;
}

void RequestHandler::EndWork() {
  absl::MutexLock lock(&work_mu_);
  --work_;
}

void RequestHandler::WaitIdle() {
  absl::MutexLock lock(&work_mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(work_mu_) {
    return work_ == 0;
  };
  work_mu_.Await(absl::Condition(&idle));
}

}  // namespace vigil::gateway::internal
