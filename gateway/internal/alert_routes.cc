#include "gateway/internal/alert_routes.h"

#include <utility>

#include "absl/status/status.h"

namespace vigil::gateway::internal {
namespace {

constexpr std::string_view kRules = "/v1/alert-rules";
constexpr std::string_view kAlerts = "/v1/alerts";

// The rule id of /v1/alert-rules/{id}; empty for anything else.
std::string_view RuleId(std::string_view path) {
  if (path.size() <= kRules.size() + 1 ||
      path.substr(0, kRules.size()) != kRules || path[kRules.size()] != '/') {
    return {};
  }
  std::string_view id = path.substr(kRules.size() + 1);
  return id.find('/') == std::string_view::npos ? id : std::string_view();
}

}  // namespace

std::string AlertMethods(std::string_view path) {
  if (path == kRules) return "GET, POST";
  if (path == kAlerts) return "GET";
  if (!RuleId(path).empty()) return "GET, DELETE";
  return "";
}

absl::StatusOr<AlertAnswer> ServeAlerts(api::AlertAdmin& admin,
                                        std::string_view method,
                                        std::string_view path,
                                        std::string_view body) {
  absl::StatusOr<std::string> answer;
  int status = 200;
  if (path == kAlerts) {
    answer = admin.OpenAlerts();
  } else if (path == kRules) {
    if (method == "POST") {
      answer = admin.RegisterRule(body);
      status = 201;
    } else {
      answer = admin.ListRules();
    }
  } else if (const std::string id(RuleId(path)); !id.empty()) {
    answer = method == "DELETE" ? admin.DeleteRule(id) : admin.GetRule(id);
  } else {
    return absl::NotFoundError("no resource at " + std::string(path));
  }
  if (!answer.ok()) return answer.status();
  return AlertAnswer{.status = status, .body = *std::move(answer)};
}

}  // namespace vigil::gateway::internal
