#include "gateway/internal/read_model_routes.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/query_string.h"
#include "base/status_macros.h"

namespace vigil::gateway::internal {
namespace {

enum class Endpoint { kNone, kAgents, kAgent, kTasks, kTask, kCoordination,
                      kMetrics, kUsage, kProjections, kTrace, kTaskSpans };

struct Route {
  Endpoint endpoint = Endpoint::kNone;
  std::string_view id;  // still percent-encoded
};

Route Match(std::string_view path) {
  if (path == "/v1/agents") return {Endpoint::kAgents, {}};
  if (path == "/v1/tasks") return {Endpoint::kTasks, {}};
  if (path == "/v1/coordination") return {Endpoint::kCoordination, {}};
  if (path == "/v1/usage") return {Endpoint::kUsage, {}};
  if (path == "/v1/projections") return {Endpoint::kProjections, {}};
  static constexpr std::string_view kTasksPrefix = "/v1/tasks/";
  static constexpr std::string_view kSpansSuffix = "/spans";
  if (path.starts_with(kTasksPrefix) && path.ends_with(kSpansSuffix) &&
      path.size() > kTasksPrefix.size() + kSpansSuffix.size()) {
    const std::string_view id =
        path.substr(kTasksPrefix.size(), path.size() - kTasksPrefix.size() -
                                             kSpansSuffix.size());
    if (id.find('/') == std::string_view::npos) {
      return {Endpoint::kTaskSpans, id};
    }
  }
  static constexpr struct {
    std::string_view prefix;
    Endpoint endpoint;
  } kWithId[] = {{"/v1/agents/", Endpoint::kAgent},
                 {"/v1/tasks/", Endpoint::kTask},
                 {"/v1/traces/", Endpoint::kTrace},
                 {"/v1/metrics/agents/", Endpoint::kMetrics}};
  for (const auto& p : kWithId) {
    if (!path.starts_with(p.prefix)) continue;
    const std::string_view id = path.substr(p.prefix.size());
    if (id.empty() || id.find('/') != std::string_view::npos) break;
    return {p.endpoint, id};
  }
  return {};
}

// The parameters of a query, each one of those allowed at most once.
class Params {
 public:
  // min_position is allowed everywhere and read here.
  static absl::StatusOr<Params> Parse(
      std::string_view query, std::initializer_list<std::string_view> allowed,
      uint64_t* min_position) {
    ASSIGN_OR_RETURN(std::vector<api::QueryParam> split,
                     api::SplitQuery(query));
    Params params;
    for (api::QueryParam& param : split) {
      bool known = param.name == "min_position";
      for (std::string_view a : allowed) known = known || param.name == a;
      if (!known) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown query parameter \"", param.name, "\""));
      }
      for (const api::QueryParam& seen : params.given_) {
        if (seen.name == param.name) {
          return absl::InvalidArgumentError(absl::StrCat(
              "query parameter \"", param.name, "\" given twice"));
        }
      }
      params.given_.push_back(std::move(param));
    }
    // min_position has no default: given, it must be a position.
    if (const api::QueryParam* p = params.Find("min_position", true)) {
      if (!api::ParseDecimal(p->literal, min_position)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "min_position must be a log position (a decimal integer), not \"",
            p->literal.substr(0, 32), "\""));
      }
    }
    return params;
  }

  // A text value; "" when not given.
  std::string Text(std::string_view name) const {
    const api::QueryParam* p = Find(name, false);
    return p == nullptr ? std::string() : p->value;
  }

  // An integer (optional '-', then digits); none when not given.
  absl::StatusOr<std::optional<int64_t>> Integer(std::string_view name) const {
    const api::QueryParam* p = Find(name, false);
    if (p == nullptr) return std::nullopt;
    int64_t value = 0;
    if (!IsInteger(p->literal) || !absl::SimpleAtoi(p->literal, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(name), ": must be an integer, not \"",
                       p->literal, "\""));
    }
    return value;
  }

  // An RFC 3339 time or integer microseconds, years 1 to 9999 (those of
  // timestamptz and RFC 3339); none when not given.
  absl::StatusOr<std::optional<int64_t>> Time(std::string_view name) const {
    static constexpr int64_t kMinTimeUs = -62'135'596'800'000'000;
    static constexpr int64_t kMaxTimeUs = 253'402'300'799'999'999;
    const api::QueryParam* p = Find(name, false);
    if (p == nullptr) return std::nullopt;
    const std::string& text = p->literal;
    int64_t time_us = 0;
    if (IsInteger(text)) {
      if (!absl::SimpleAtoi(text, &time_us)) {
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(name), ": out of range: ", text));
      }
    } else {
      absl::Time time;
      std::string error;
      if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
        return absl::InvalidArgumentError(absl::StrCat(
            std::string(name),
            ": neither RFC 3339 nor integer microseconds: ", text));
      }
      time_us = absl::ToUnixMicros(time);
    }
    if (time_us < kMinTimeUs || time_us > kMaxTimeUs) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(name),
                       ": out of range (years 1 to 9999): ", text));
    }
    return time_us;
  }

  absl::StatusOr<api::BucketRange> Range() const {
    api::BucketRange range;
    range.bucket = Text("bucket");
    ASSIGN_OR_RETURN(range.from_us, Time("from"));
    ASSIGN_OR_RETURN(range.to_us, Time("to"));
    return range;
  }

 private:
  // Optional sign, then digits only (no spaces, no '+').
  static bool IsInteger(std::string_view text) {
    if (!text.empty() && text[0] == '-') text.remove_prefix(1);
    if (text.empty()) return false;
    for (char c : text) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
  }

  // The parameter `name`; an empty value counts as not given unless
  // `even_empty`.
  const api::QueryParam* Find(std::string_view name, bool even_empty) const {
    for (const api::QueryParam& p : given_) {
      if (p.name == name && (even_empty || !p.value.empty())) return &p;
    }
    return nullptr;
  }

  std::vector<api::QueryParam> given_;
};

}  // namespace

bool IsReadModelPath(std::string_view path) {
  return Match(path).endpoint != Endpoint::kNone;
}

absl::StatusOr<api::ReadModelRequest> ParseReadModelRequest(
    std::string_view path, std::string_view query) {
  const Route route = Match(path);
  std::string id;
  if (!route.id.empty()) {
    ASSIGN_OR_RETURN(id, api::DecodePathSegment(route.id, "id"));
  }
  api::ReadModelRequest request;
  uint64_t* const min_position = &request.min_position;
  switch (route.endpoint) {
    case Endpoint::kNone:
      break;
    case Endpoint::kAgents:
      RETURN_IF_ERROR(Params::Parse(query, {}, min_position).status());
      request.query = api::AgentListQuery{};
      return request;
    case Endpoint::kAgent:
      RETURN_IF_ERROR(Params::Parse(query, {}, min_position).status());
      request.query = api::AgentQuery{.agent_id = std::move(id)};
      return request;
    case Endpoint::kTasks: {
      ASSIGN_OR_RETURN(
          Params params,
          Params::Parse(query, {"status", "manager", "worker", "limit", "cursor"},
                        min_position));
      api::TaskListQuery tasks{.status = params.Text("status"),
                               .manager = params.Text("manager"),
                               .worker = params.Text("worker"),
                               .limit = std::nullopt,
                               .cursor = params.Text("cursor")};
      ASSIGN_OR_RETURN(tasks.limit, params.Integer("limit"));
      request.query = std::move(tasks);
      return request;
    }
    case Endpoint::kTask:
      RETURN_IF_ERROR(Params::Parse(query, {}, min_position).status());
      request.query = api::TaskQuery{.task_id = std::move(id)};
      return request;
    case Endpoint::kCoordination:
      RETURN_IF_ERROR(Params::Parse(query, {}, min_position).status());
      request.query = api::CoordinationQuery{};
      return request;
    case Endpoint::kMetrics: {
      ASSIGN_OR_RETURN(Params params, Params::Parse(query, {"from", "to", "bucket"},
                                                    min_position));
      ASSIGN_OR_RETURN(api::BucketRange range, params.Range());
      request.query = api::AgentMetricsQuery{.agent_id = std::move(id),
                                             .range = std::move(range)};
      return request;
    }
    case Endpoint::kUsage: {
      ASSIGN_OR_RETURN(Params params, Params::Parse(query, {"from", "to", "bucket"},
                                                    min_position));
      ASSIGN_OR_RETURN(api::BucketRange range, params.Range());
      request.query = api::UsageQuery{.range = std::move(range)};
      return request;
    }
    case Endpoint::kProjections:
      RETURN_IF_ERROR(Params::Parse(query, {}, min_position).status());
      request.query = api::ProjectionsQuery{};
      return request;
    case Endpoint::kTrace:
      RETURN_IF_ERROR(Params::Parse(query, {}, min_position).status());
      request.query = api::TraceQuery{.trace_id = std::move(id)};
      return request;
    case Endpoint::kTaskSpans:
      RETURN_IF_ERROR(Params::Parse(query, {}, min_position).status());
      request.query = api::TaskSpansQuery{.task_id = std::move(id)};
      return request;
  }
  return absl::NotFoundError(absl::StrCat("no read endpoint ", std::string(path)));
}

}  // namespace vigil::gateway::internal
