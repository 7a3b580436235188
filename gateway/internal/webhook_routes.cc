#include "gateway/internal/webhook_routes.h"

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace vigil::gateway::internal {
namespace {

constexpr std::string_view kCollection = "/v1/webhooks";

// The path after /v1/webhooks, split on '/': {} for the collection.
std::optional<std::vector<std::string_view>> Segments(std::string_view path) {
  if (path.substr(0, kCollection.size()) != kCollection) return std::nullopt;
  std::string_view rest = path.substr(kCollection.size());
  std::vector<std::string_view> segments;
  if (rest.empty()) return segments;
  if (rest.front() != '/') return std::nullopt;
  rest.remove_prefix(1);
  while (true) {
    const size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment.empty()) return std::nullopt;
    segments.push_back(segment);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return segments;
}

absl::StatusOr<std::vector<std::string>> StringList(
    simdjson::dom::element value, std::string_view name) {
  simdjson::dom::array array;
  if (value.get(array) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("filter." + std::string(name) +
                                      " must be an array of strings");
  }
  std::vector<std::string> out;
  for (simdjson::dom::element item : array) {
    std::string_view text;
    if (item.get(text) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          "filter." + std::string(name) +
          " must hold non-empty strings of at most 200 bytes");
    }
    out.emplace_back(text);
  }
  return out;
}

absl::StatusOr<api::WebhookRegistration> ParseRegistration(
    std::string_view body) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(body.data(), body.size(), true).get(root) !=
      simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        "the body must be a JSON object {\"url\", \"filter\"?}");
  }
  api::WebhookRegistration registration;
  bool has_url = false;
  for (auto [key, value] : root) {
    if (key == "url") {
      std::string_view url;
      if (value.get(url) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("url must be a string");
      }
      registration.url = std::string(url);
      has_url = true;
    } else if (key == "filter") {
      if (value.is_null()) continue;
      simdjson::dom::object filter;
      if (value.get(filter) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("filter must be an object");
      }
      for (auto [name, list] : filter) {
        std::vector<std::string>* out =
            name == "stream_prefixes" ? &registration.filter.stream_prefixes
            : name == "event_types"   ? &registration.filter.event_types
                                      : nullptr;
        if (out == nullptr) {
          return absl::InvalidArgumentError(
              "filter: unknown field \"" + std::string(name) +
              "\" (expected stream_prefixes, event_types)");
        }
        absl::StatusOr<std::vector<std::string>> parsed =
            StringList(list, name);
        if (!parsed.ok()) return parsed.status();
        *out = *std::move(parsed);
      }
    } else {
      return absl::InvalidArgumentError("unknown field \"" + std::string(key) +
                                        "\" (expected url, filter)");
    }
  }
  if (!has_url) return absl::InvalidArgumentError("url is required");
  return registration;
}

absl::StatusOr<WebhookAnswer> With(int status,
                                   absl::StatusOr<std::string> body) {
  if (!body.ok()) return body.status();
  return WebhookAnswer{.status = status, .body = *std::move(body)};
}

}  // namespace

std::string WebhookMethods(std::string_view path) {
  std::optional<std::vector<std::string_view>> segments = Segments(path);
  if (!segments.has_value()) return "";
  const std::vector<std::string_view>& s = *segments;
  switch (s.size()) {
    case 0:
      return "GET, POST";
    case 1:
      return "GET, DELETE";
    case 2:
      if (s[1] == "rotate-secret" || s[1] == "enable") return "POST";
      if (s[1] == "dead-letters") return "GET";
      return "";
    case 3:
      return s[1] == "dead-letters" && s[2] == "redeliver" ? "POST" : "";
    case 4:
      return s[1] == "dead-letters" && s[3] == "redeliver" ? "POST" : "";
  }
  return "";
}

absl::StatusOr<WebhookAnswer> ServeWebhooks(api::WebhookAdmin& admin,
                                            std::string_view method,
                                            std::string_view path,
                                            std::string_view body) {
  std::optional<std::vector<std::string_view>> segments = Segments(path);
  if (!segments.has_value() || WebhookMethods(path).empty()) {
    return absl::NotFoundError("no resource at " + std::string(path));
  }
  const std::vector<std::string_view>& s = *segments;
  const bool post = method == "POST";
  if (s.empty()) {
    if (!post) return With(200, admin.List());
    absl::StatusOr<api::WebhookRegistration> registration =
        ParseRegistration(body);
    if (!registration.ok()) return registration.status();
    return With(201, admin.Register(*registration));
  }
  const std::string id(s[0]);
  if (s.size() == 1) {
    return With(200, method == "DELETE" ? admin.Delete(id) : admin.Get(id));
  }
  if (s[1] == "rotate-secret") return With(200, admin.RotateSecret(id));
  if (s[1] == "enable") return With(200, admin.Enable(id));
  if (s.size() == 2) return With(200, admin.DeadLetters(id));
  if (s.size() == 3) return With(202, admin.Redeliver(id, std::nullopt));
  return With(202, admin.Redeliver(id, std::string(s[2])));
}

}  // namespace vigil::gateway::internal
