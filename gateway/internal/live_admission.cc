#include "gateway/internal/live_admission.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "api/auth.h"
#include "api/query_string.h"
#include "gateway/internal/live_protocol.h"

namespace vigil::gateway::internal {
namespace {

// RFC 6455 section 4.2.1 on the opening handshake, checked here so that
// every refusal is problem+json (Beast's accept would answer a bad one in
// plain text) and the key is what the RFC says, which Beast does not
// check: one Connection field listing "upgrade", one Sec-WebSocket-Key that
// is the base64 of 16 bytes (400 otherwise), one Sec-WebSocket-Version of
// 13 (426 with Sec-WebSocket-Version: 13 otherwise, section 4.2.2).
// Returns the refusal, or an empty optional for a good handshake.
std::optional<HttpResponse> BadHandshake(const HttpRequest& request) {
  bool upgrade = false;
  for (std::string_view connection : request.Header("connection")) {
    upgrade = upgrade || ListHas(Lower(connection), "upgrade");
  }
  std::vector<std::string_view> keys = request.Header("sec-websocket-key");
  const std::string_view encoded =
      keys.size() == 1 ? TrimSpace(keys[0]) : std::string_view();
  std::string key;
  const bool good_key =
      encoded.size() == 24 &&
      absl::Base64Unescape(absl::string_view(encoded.data(), encoded.size()),
                           &key) &&
      key.size() == 16;
  if (!upgrade || !good_key) {
    return ProtocolProblem(
        400, "bad-handshake", "Bad WebSocket handshake",
        !upgrade ? "the Connection header must list \"upgrade\""
                 : "Sec-WebSocket-Key must be the base64 of 16 bytes "
                   "(RFC 6455 section 4.2.1)");
  }
  std::vector<std::string_view> versions =
      request.Header("sec-websocket-version");
  if (versions.size() != 1 || TrimSpace(versions[0]) != "13") {
    HttpResponse response = ProtocolProblem(
        426, "websocket-version", "Unsupported WebSocket version",
        "this server speaks WebSocket version 13 (RFC 6455)");
    response.headers.emplace_back("Sec-WebSocket-Version", "13");
    return response;
  }
  return std::nullopt;
}

}  // namespace

LiveDoor::LiveDoor(const HttpServerOptions& options, LiveHub* live,
                   const api::Core* core)
    : options_(options), live_(live), core_(core) {}

void LiveDoor::SetPort(uint16_t port) {
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

LiveKind LiveDoor::Kind(const HttpRequest& request) const {
  const std::string_view path = request.Path();
  if (request.method != "GET") return LiveKind::kNone;
  if (path == "/v1/live/sse") return LiveKind::kSse;
  if (path != "/v1/live") return LiveKind::kNone;
  for (std::string_view upgrade : request.Header("upgrade")) {
    if (Lower(TrimSpace(upgrade)) == "websocket") return LiveKind::kWebSocket;
  }
  return LiveKind::kNone;
}

LiveAdmission LiveDoor::Admit(const HttpRequest& request, LiveKind kind) {
  LiveAdmission admission;
  auto refuse = [&](std::string_view reason, HttpResponse response) {
    live_->metrics().rejected->WithLabels({reason})->Increment();
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
  if (kind == LiveKind::kWebSocket) {
    if (std::optional<HttpResponse> bad = BadHandshake(request)) {
      return refuse("bad_handshake", *std::move(bad));
    }
  }
  absl::StatusOr<LiveQuery> query = ParseLiveQuery(request.Query());
  if (!query.ok()) return refuse("bad_request", ErrorResponse(query.status()));
  if (kind == LiveKind::kSse && !query->from.has_value() &&
      !query->from_time_us.has_value()) {
    // An EventSource reconnecting sends the last id it saw.
    std::vector<std::string_view> last = request.Header("last-event-id");
    if (last.size() == 1) {
      uint64_t from = 0;
      if (!api::ParseDecimal(TrimSpace(last[0]), &from)) {
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
  absl::StatusOr<api::Principal> principal =
      api::Authenticate(options_.authenticator, credentials);
  absl::Status allowed = principal.status();
  if (allowed.ok()) allowed = core_->Subscribe(*principal);
  if (!allowed.ok()) {
    const bool unauthenticated =
        allowed.code() == absl::StatusCode::kUnauthenticated;
    HttpResponse response = ErrorResponse(allowed);
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
      if (ListHas(field, kProtobufSubprotocol)) {
        format = LiveFormat::kProtobuf;
        admission.subprotocol = kProtobufSubprotocol;
      }
    }
  }
  absl::StatusOr<std::shared_ptr<LiveSubscription>> subscription = live_->Open(
      *std::move(query), format,
      principal->anonymous ? std::string() : principal->id);
  if (!subscription.ok()) {
    // Counted by the hub.
    admission.refusal = ErrorResponse(subscription.status());
    return admission;
  }
  admission.subscription = *std::move(subscription);
  return admission;
}

}  // namespace vigil::gateway::internal
