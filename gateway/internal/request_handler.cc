// The REST mirror's router (request_handler.h): matching a target to a
// route, authorizing it, and answering each route by calling the one piece
// that owns it (api::AppendPath, event_reads.h for the two event reads,
// read_model_routes / state_routes / webhook_routes for the typed cores,
// the live hub's admission), plus problem+json and the request metrics.
// One concept, the dispatch table and what every route shares; it is over
// ~500 lines because the mirror has many routes, each a few lines here.

#include "gateway/internal/request_handler.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/types/optional.h"
#include "absl/time/clock.h"
#include "api/append_checks.h"
#include "api/event_json.h"
#include "api/query_string.h"
#include "api/status_mapping.h"
#include "gateway/internal/event_reads.h"
#include "gateway/internal/otlp_route.h"
#include "gateway/internal/read_model_routes.h"
#include "gateway/internal/state_routes.h"
#include "gateway/internal/webhook_routes.h"

namespace vigil::gateway::internal {
namespace {

constexpr char kJson[] = "application/json";
constexpr char kProblemJson[] = "application/problem+json";
constexpr char kPrometheusText[] = "text/plain; version=0.0.4; charset=utf-8";

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = kJson;
  response.body = std::move(body);
  return response;
}

// Method label values are a fixed set, so a client cannot grow the metrics.
std::string_view MethodLabel(std::string_view method) {
  for (std::string_view known :
       {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "other";
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(c));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// True when `method` is one of the comma-separated `allowed`.
bool MethodAllowed(std::string_view method, std::string_view allowed) {
  while (!allowed.empty()) {
    const size_t comma = allowed.find(',');
    if (Trim(allowed.substr(0, comma)) == method) return true;
    if (comma == std::string_view::npos) break;
    allowed.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

// The problems of HTTP itself, which have no absl::StatusCode (and so no row
// in api/status_mapping.cc): same RFC 9457 members, same `type` scheme.
HttpResponse ProtocolProblem(int status, std::string_view name,
                             std::string_view title, std::string_view detail) {
  HttpResponse response;
  response.status = status;
  response.content_type = kProblemJson;
  std::string& out = response.body;
  out = "{\"type\":\"urn:vigil:problem:";
  out.append(name);
  out.append("\",\"title\":");
  api::AppendJsonString(title, &out);
  out.append(",\"status\":").append(std::to_string(status));
  out.append(",\"detail\":");
  api::AppendJsonString(detail, &out);
  out.push_back('}');
  return response;
}

std::string MediaType(std::string_view content_type) {
  return Lower(Trim(content_type.substr(0, content_type.find(';'))));
}

std::vector<std::string_view> HttpRequest::Header(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const auto& [field, value] : headers) {
    if (field == name) values.push_back(value);
  }
  return values;
}

HttpResponse ErrorResponse(const absl::Status& status) {
  HttpResponse response;
  response.status = api::HttpStatusFor(status);
  response.content_type = kProblemJson;
  response.body = api::ProblemJson(status, response.status);
  if (response.status == 412) {
    if (absl::optional<absl::Cord> actual =
            status.GetPayload(eventlog::kActualRevisionPayload)) {
      response.headers.emplace_back("Vigil-Actual-Revision",
                                    std::string(*actual));
    }
  } else if (response.status == 429) {
    absl::optional<absl::Cord> seconds =
        status.GetPayload(api::kRateLimitedPayload);
    response.headers.emplace_back("Retry-After",
                                  seconds ? std::string(*seconds) : "1");
  } else if (response.status == 503) {
    response.headers.emplace_back("Retry-After", "1");
  }
  return response;
}

RequestHandler::RequestHandler(const HttpServerOptions& options,
                               eventlog::EventLog* log, LiveHub* live,
                               Metrics* metrics)
    : options_(options),
      log_(log),
      live_(live),
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
      own_appends_(options.append_path != nullptr
                       ? nullptr
                       : std::make_unique<api::AppendPath>(
                             log,
                             api::AppendPathOptions{
                                 .max_inflight_appends =
                                     options.max_inflight_appends},
                             options.rate_limiter, metrics)),
      appends_(options.append_path != nullptr ? options.append_path
                                              : own_appends_.get()),
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
  } else if (options_.state_queries != nullptr && path == "/v1/state") {
    matched.route = Route::kState;
  } else if (options_.state_queries != nullptr && path == "/v1/diff") {
    matched.route = Route::kDiff;
  } else if (options_.read_models != nullptr && IsReadModelPath(path)) {
    matched.route = Route::kReadModel;
  } else if (options_.webhooks != nullptr && !WebhookMethods(path).empty()) {
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

std::string_view RequestHandler::RouteLabel(Route route) {
  switch (route) {
    case Route::kAppend: return "/v1/streams/{stream}/events";
    case Route::kReadStream: return "/v1/streams/{stream}";
    case Route::kReadAll: return "/v1/all";
    case Route::kTraces: return "/v1/traces";
    case Route::kState: return "/v1/state";
    case Route::kDiff: return "/v1/diff";
    // One label for all of them: ids in paths would make series unbounded.
    case Route::kReadModel: return "/v1/{read model}";
    case Route::kAdmin: return "/v1/{admin resource}";
    case Route::kHealthz: return "/healthz";
    case Route::kReadyz: return "/readyz";
    case Route::kMetrics: return "/metrics";
    case Route::kDashboard: return "/ (dashboard)";
    case Route::kLive: return "/v1/live";
    case Route::kLiveSse: return "/v1/live/sse";
    case Route::kUnmatched: break;
  }
  return "unmatched";
}

void RequestHandler::Record(std::string_view method, Route route,
                            int status) {
  const std::string code = std::to_string(status);
  requests_->WithLabels({MethodLabel(method), RouteLabel(route), code})
      ->Increment();
}

RequestHandler::Done RequestHandler::Recorded(std::string_view method,
                                              Route route, Done done) {
  return [this, method = MethodLabel(method), route, start = absl::Now(),
          done = std::move(done)](HttpResponse response) {
    Record(method, route, response.status);
    request_duration_->WithLabels({RouteLabel(route)})
        ->Observe(absl::ToDoubleSeconds(absl::Now() - start));
    done(std::move(response));
  };
}

void RequestHandler::Handle(HttpRequest request, Done done) {
  const Matched matched = Match(request.target);
  done = Recorded(request.method, matched.route, std::move(done));

  std::string allowed;
  switch (matched.route) {
    case Route::kUnmatched:
      return done(ErrorResponse(absl::NotFoundError(
          "no resource at " + std::string(request.target.substr(
                                  0, request.target.find('?'))))));
    case Route::kAppend:
    case Route::kTraces:
      allowed = "POST";
      break;
    case Route::kAdmin:
      allowed = WebhookMethods(
          std::string_view(request.target).substr(0, request.target.find('?')));
      break;
    default:
      allowed = "GET";
  }
  if (!MethodAllowed(request.method, allowed)) {
    HttpResponse response = ProtocolProblem(
        405, "method-not-allowed", "Method not allowed",
        request.method + " is not allowed here; use " + allowed);
    response.headers.emplace_back("Allow", allowed);
    return done(std::move(response));
  }

  // The API routes need a caller who may do what they ask (auth.h Admit).
  api::Principal principal;
  const bool appends =
      matched.route == Route::kAppend || matched.route == Route::kTraces;
  if (appends || matched.route == Route::kReadStream ||
      matched.route == Route::kReadAll || matched.route == Route::kReadModel ||
      matched.route == Route::kAdmin || matched.route == Route::kState ||
      matched.route == Route::kDiff) {
    std::vector<std::string_view> authorization = request.Header("authorization");
    absl::StatusOr<api::Principal> admitted = api::Admit(
        options_.authenticator,
        authorization.size() == 1 ? authorization[0] : std::string_view(),
        appends                          ? api::Action::kAppend
        : matched.route == Route::kAdmin ? api::Action::kAdmin
                                         : api::Action::kRead);
    if (!admitted.ok()) {
      HttpResponse response = ErrorResponse(admitted.status());
      if (admitted.status().code() == absl::StatusCode::kUnauthenticated) {
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
      return ReadStream(std::move(stream), matched.query, std::move(done));
    case Route::kReadAll:
      return ReadAll(matched.query, std::move(done));
    case Route::kTraces:
      BeginWork();
      return ServeOtlpTraces(
          *options_.traces, options_.otlp_max_body_bytes, request, principal,
          [this, done = std::move(done)](HttpResponse response) {
            done(std::move(response));
            EndWork();
          });
    case Route::kReadModel:
      return ReadModel(request.target, std::move(done));
    case Route::kAdmin:
      return Admin(std::move(request), std::move(done));
    case Route::kState:
    case Route::kDiff:
      return TimeTravel(matched.route, matched.query, std::move(done));
    case Route::kHealthz:
      return done(JsonResponse(200, R"({"status":"ok"})"));
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
      return done(JsonResponse(200, R"({"status":"ready"})"));
    case Route::kMetrics:
      return done(MetricsPage());
    case Route::kDashboard:
      return done(DashboardFile(
          std::string_view(request.target).substr(0, request.target.find('?'))));
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
  std::vector<std::string_view> content_type = request.Header("content-type");
  if (content_type.size() != 1 || MediaType(content_type[0]) != kJson) {
    return done(ProtocolProblem(
        415, "unsupported-media-type", "Unsupported media type",
        "the body must be sent as Content-Type: application/json"));
  }

  eventlog::AppendRequest append;
  append.stream = std::move(stream);
  std::vector<std::string_view> expected =
      request.Header("vigil-expected-revision");
  if (expected.size() > 1) {
    return done(ErrorResponse(absl::InvalidArgumentError(
        "Vigil-Expected-Revision given more than once")));
  }
  if (expected.size() == 1) {
    absl::StatusOr<eventlog::ExpectedRevision> parsed =
        api::ParseExpectedRevision(Trim(expected[0]));
    if (!parsed.ok()) {
      return done(ErrorResponse(absl::InvalidArgumentError(
          "Vigil-Expected-Revision: " + std::string(parsed.status().message()))));
    }
    append.expected_revision = *parsed;
  }
  std::vector<std::string_view> key = request.Header("idempotency-key");
  if (key.size() > 1) {
    return done(ErrorResponse(
        absl::InvalidArgumentError("Idempotency-Key given more than once")));
  }
  if (key.size() == 1) {
    if (key[0].empty()) {
      return done(ErrorResponse(
          absl::InvalidArgumentError("Idempotency-Key must not be empty")));
    }
    append.idempotency_key = std::string(key[0]);
  }

  absl::StatusOr<std::vector<eventlog::EventData>> events =
      api::EventBatchFromJson(request.body);
  if (!events.ok()) return done(ErrorResponse(events.status()));
  append.events = *std::move(events);

  BeginWork();
  // On the log's completion thread, or here when refused at once.
  appends_->Append(
      principal, std::move(append),
      [this, done = std::move(done)](
          absl::StatusOr<eventlog::AppendResult> result) {
        if (!result.ok()) {
          done(ErrorResponse(result.status()));
        } else {
          done(JsonResponse(result->deduplicated ? 200 : 201,
                            api::AppendResultToJson(*result)));
        }
        EndWork();
      });
}

void RequestHandler::ReadStream(std::string stream, std::string_view query,
                                Done done) {
  if (api::IsReservedStream(stream)) {
    return done(ErrorResponse(absl::PermissionDeniedError(
        "stream names starting with $ are reserved for the system")));
  }
  absl::StatusOr<Paging> paging = ParsePaging(
      query, options_.default_read_limit, options_.max_read_limit);
  if (!paging.ok()) return done(ErrorResponse(paging.status()));
  ScheduleRead(
      [this, stream = std::move(stream), paging = *paging]() {
        absl::StatusOr<std::string> body =
            ReadStreamPage(*log_, stream, paging);
        if (!body.ok()) return ErrorResponse(body.status());
        return JsonResponse(200, *std::move(body));
      },
      std::move(done));
}

void RequestHandler::ReadAll(std::string_view query, Done done) {
  absl::StatusOr<Paging> paging = ParsePaging(
      query, options_.default_read_limit, options_.max_read_limit);
  if (!paging.ok()) return done(ErrorResponse(paging.status()));
  ScheduleRead(
      [this, paging = *paging]() {
        absl::StatusOr<std::string> body = ReadAllPage(*log_, paging);
        if (!body.ok()) return ErrorResponse(body.status());
        return JsonResponse(200, *std::move(body));
      },
      std::move(done));
}

void RequestHandler::ReadModel(std::string_view target, Done done) {
  const size_t question = target.find('?');
  absl::StatusOr<api::ReadModelRequest> request = ParseReadModelRequest(
      target.substr(0, question), question == std::string_view::npos
                                      ? std::string_view()
                                      : target.substr(question + 1));
  if (!request.ok()) return done(ErrorResponse(request.status()));
  ScheduleRead(
      [this, request = *std::move(request)]() {
        absl::StatusOr<std::string> body = options_.read_models->Read(request);
        if (!body.ok()) return ErrorResponse(body.status());
        return JsonResponse(200, *std::move(body));
      },
      std::move(done));
}

void RequestHandler::Admin(HttpRequest request, Done done) {
  request.target.resize(std::min(request.target.find('?'),
                                 request.target.size()));  // the path
  ScheduleRead(
      [this, request = std::move(request)]() {
        absl::StatusOr<WebhookAnswer> answer = ServeWebhooks(
            *options_.webhooks, request.method, request.target, request.body);
        if (!answer.ok()) return ErrorResponse(answer.status());
        return JsonResponse(answer->status, std::move(answer->body));
      },
      std::move(done));
}

void RequestHandler::TimeTravel(Route route, std::string_view query,
                                Done done) {
  ScheduleRead(
      [this, route, query = std::string(query)]() -> HttpResponse {
        absl::StatusOr<std::string> body;
        if (route == Route::kState) {
          absl::StatusOr<api::StateQuery> parsed = ParseStateQuery(query);
          body = parsed.ok() ? options_.state_queries->State(*parsed)
                             : parsed.status();
        } else {
          absl::StatusOr<api::DiffQuery> parsed = ParseDiffQuery(query);
          body = parsed.ok() ? options_.state_queries->Diff(*parsed)
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

void RequestHandler::SetPort(uint16_t port) {
  allowed_origins_ = options_.live.allowed_origins;
  if (!allowed_origins_.empty()) return;
  const std::string suffix = ":" + std::to_string(port);
  for (const char* host : {"127.0.0.1", "localhost", "[::1]"}) {
    allowed_origins_.push_back("http://" + std::string(host) + suffix);
  }
  // The listen host itself, unless it is a wildcard address.
  std::string host = options_.listen.substr(0, options_.listen.rfind(':'));
  if (!host.empty() && host != "0.0.0.0" && host != "[::]" &&
      std::find(allowed_origins_.begin(), allowed_origins_.end(),
                "http://" + host + suffix) == allowed_origins_.end()) {
    allowed_origins_.push_back("http://" + host + suffix);
  }
}

LiveKind RequestHandler::Live(const HttpRequest& request) const {
  std::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  if (request.method != "GET") return LiveKind::kNone;
  if (path == "/v1/live/sse") return LiveKind::kSse;
  if (path != "/v1/live") return LiveKind::kNone;
  for (std::string_view upgrade : request.Header("upgrade")) {
    if (Lower(Trim(upgrade)) == "websocket") return LiveKind::kWebSocket;
  }
  return LiveKind::kNone;
}

void RequestHandler::RecordLive(LiveKind kind, int status) {
  Record("GET", kind == LiveKind::kSse ? Route::kLiveSse : Route::kLive,
         status);
}

LiveAdmission RequestHandler::AdmitLive(const HttpRequest& request,
                                        LiveKind kind) {
  LiveAdmission admission;
  auto refuse = [&](std::string_view reason, HttpResponse response) {
    live_->metrics().rejected->WithLabels({reason})->Increment();
    RecordLive(kind, response.status);
    admission.refusal = std::move(response);
    return admission;
  };
  // Origin first: a page from another site learns nothing else.
  std::vector<std::string_view> origins = request.Header("origin");
  if (origins.size() > 1 ||
      (origins.size() == 1 &&
       std::find(allowed_origins_.begin(), allowed_origins_.end(),
                 origins[0]) == allowed_origins_.end())) {
    return refuse("origin",
                  ProtocolProblem(403, "origin-not-allowed",
                                  "Origin not allowed",
                                  "this Origin may not open the live feed "
                                  "(see --allowed-origins)"));
  }
  const size_t question = request.target.find('?');
  absl::StatusOr<LiveQuery> query = ParseLiveQuery(
      question == std::string::npos
          ? std::string_view()
          : std::string_view(request.target).substr(question + 1));
  if (!query.ok()) return refuse("bad_request", ErrorResponse(query.status()));
  if (kind == LiveKind::kSse && !query->from.has_value() &&
      !query->from_time_us.has_value()) {
    // An EventSource reconnecting sends the last id it saw.
    std::vector<std::string_view> last = request.Header("last-event-id");
    if (last.size() == 1) {
      uint64_t from = 0;
      if (!api::ParseDecimal(Trim(last[0]), &from)) {
        return refuse("bad_request",
                      ErrorResponse(absl::InvalidArgumentError(
                          "Last-Event-ID must be a log position")));
      }
      query->from = from;
    }
  }
  std::vector<std::string_view> authorization = request.Header("authorization");
  std::string from_query;
  std::string_view credentials;
  if (authorization.size() == 1) {
    credentials = authorization[0];
  } else if (authorization.empty() && query->token.has_value()) {
    from_query = "Bearer " + *query->token;
    credentials = from_query;
  }
  query->token.reset();
  absl::StatusOr<api::Principal> principal = api::Admit(
      options_.authenticator, credentials, api::Action::kSubscribe);
  if (!principal.ok()) {
    const bool unauthenticated =
        principal.status().code() == absl::StatusCode::kUnauthenticated;
    HttpResponse response = ErrorResponse(principal.status());
    if (unauthenticated) {
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
    }
    return refuse(unauthenticated ? "unauthenticated" : "forbidden",
                  std::move(response));
  }
  // A gateway replica not subscribed to its primary knows no "now" to
  // start from and cannot read history: 503, so the client retries, or the
  // load balancer tries another replica (nginx: proxy_next_upstream
  // http_503). Connections already open stay and wait.
  if (options_.readiness) {
    if (absl::Status ready = options_.readiness(); !ready.ok()) {
      return refuse("unavailable",
                    ErrorResponse(absl::UnavailableError(ready.message())));
    }
  }
  LiveFormat format =
      kind == LiveKind::kSse ? LiveFormat::kSse : LiveFormat::kJson;
  if (kind == LiveKind::kWebSocket) {
    for (std::string_view field : request.Header("sec-websocket-protocol")) {
      while (!field.empty()) {
        const size_t comma = field.find(',');
        if (Trim(field.substr(0, comma)) == kProtobufSubprotocol) {
          format = LiveFormat::kProtobuf;
          admission.subprotocol = kProtobufSubprotocol;
        }
        field = comma == std::string_view::npos ? std::string_view()
                                                : field.substr(comma + 1);
      }
    }
  }
  absl::StatusOr<std::shared_ptr<LiveSubscription>> subscription = live_->Open(
      *std::move(query), format,
      principal->anonymous ? std::string() : principal->id);
  if (!subscription.ok()) {
    // Counted by the hub.
    HttpResponse response = ErrorResponse(subscription.status());
    RecordLive(kind, response.status);
    admission.refusal = std::move(response);
    return admission;
  }
  admission.subscription = *std::move(subscription);
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
