// The gateway's request and response values, without Beast, and the
// answers every route shares: JSON, RFC 9457 problem+json for a failed
// absl::Status (api/status_mapping.h) and for the problems of HTTP itself,
// plus the small parsing of header values they need. Pure functions; any
// thread.

#ifndef VIGIL_GATEWAY_INTERNAL_HTTP_MESSAGE_H_
#define VIGIL_GATEWAY_INTERNAL_HTTP_MESSAGE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace vigil::gateway::internal {

inline constexpr char kJson[] = "application/json";
inline constexpr char kProblemJson[] = "application/problem+json";

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // origin form: path, then "?" and the query
  // Header fields in arrival order, names lowercase.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The values of every `name` (lowercase) field.
  std::vector<std::string_view> Header(std::string_view name) const;
  // The target without "?" and the query.
  std::string_view Path() const;
  // The query string, still percent-encoded; "" when there is none.
  std::string_view Query() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  // Fields besides Content-Type, Content-Length, Connection and Server,
  // which the session sets.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// `status` with `body` as application/json.
HttpResponse JsonResponse(int status, std::string body);

// An HttpResponse for a failed `status`: HttpStatusFor, ProblemJson, and
// the headers docs/contract.md "HTTP" adds (Vigil-Actual-Revision on 412,
// Retry-After on 429 and 503).
HttpResponse ErrorResponse(const absl::Status& status);

// The problems of HTTP itself, which have no absl::StatusCode (and so no row
// in api/status_mapping.cc): same RFC 9457 members, same `type` scheme
// ("urn:vigil:problem:<name>").
HttpResponse ProtocolProblem(int status, std::string_view name,
                             std::string_view title, std::string_view detail);

// `text` without the spaces and tabs around it (a header value's OWS).
std::string_view TrimSpace(std::string_view text);
// ASCII lowercase.
std::string Lower(std::string_view text);
// The media type of a Content-Type value, lowercase, parameters dropped.
std::string MediaType(std::string_view content_type);
// True when the comma-separated `list` (a header value) holds `item`.
bool ListHas(std::string_view list, std::string_view item);

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_HTTP_MESSAGE_H_
