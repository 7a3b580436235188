#include "gateway/internal/http_message.h"

#include <cctype>
#include <string>

#include "absl/strings/cord.h"
#include "absl/types/optional.h"
#include "api/status_mapping.h"
#include "base/json.h"
#include "eventlog/event_log.h"

namespace vigil::gateway::internal {

std::vector<std::string_view> HttpRequest::Header(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const auto& [field, value] : headers) {
    if (field == name) values.push_back(value);
  }
  return values;
}

std::string_view HttpRequest::Path() const {
  return std::string_view(target).substr(0, target.find('?'));
}

std::string_view HttpRequest::Query() const {
  const size_t question = target.find('?');
  if (question == std::string::npos) return std::string_view();
  return std::string_view(target).substr(question + 1);
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = kJson;
  response.body = std::move(body);
  return response;
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
    response.headers.emplace_back("Retry-After",
                                  api::RetryAfter(status).value_or("1"));
  } else if (response.status == 503) {
    response.headers.emplace_back("Retry-After", "1");
  }
  return response;
}

HttpResponse ProtocolProblem(int status, std::string_view name,
                             std::string_view title, std::string_view detail) {
  HttpResponse response;
  response.status = status;
  response.content_type = kProblemJson;
  response.body = base::DumpJson(
      {{"type", std::string("urn:vigil:problem:").append(name)},
       {"title", title},
       {"status", status},
       {"detail", detail}});
  return response;
}

std::string_view TrimSpace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(c));
  return out;
}

std::string MediaType(std::string_view content_type) {
  return Lower(TrimSpace(content_type.substr(0, content_type.find(';'))));
}

bool ListHas(std::string_view list, std::string_view item) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (TrimSpace(list.substr(0, comma)) == item) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace vigil::gateway::internal
