#include "gateway/internal/state_routes.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/query_string.h"

namespace vigil::gateway::internal {

using api::DiffQuery;
using api::LogPoint;
using api::ParseDecimal;
using api::QueryParam;
using api::SplitQuery;
using api::StateQuery;
namespace {

// The parameters of `query` with a value, each named once (an empty value
// counts as not given).
absl::StatusOr<std::vector<QueryParam>> NonEmptyParams(std::string_view query) {
  absl::StatusOr<std::vector<QueryParam>> params = SplitQuery(query);
  if (!params.ok()) return params.status();
  std::vector<QueryParam> out;
  for (QueryParam& param : *params) {
    for (const QueryParam& seen : out) {
      if (seen.name == param.name) {
        return absl::InvalidArgumentError(
            absl::StrCat("query parameter ", param.name, " given twice"));
      }
    }
    if (!param.value.empty()) out.push_back(std::move(param));
  }
  return out;
}

absl::StatusOr<uint64_t> ParsePosition(const std::string& name,
                                       const std::string& text) {
  uint64_t value = 0;
  if (!ParseDecimal(text, &value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must be a non-negative decimal integer, not \"", text, "\""));
  }
  return value;
}

absl::StatusOr<int64_t> ParseTime(const std::string& name,
                                  const std::string& text) {
  int64_t micros = 0;
  if (absl::SimpleAtoi(text, &micros)) return micros;
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must be an RFC 3339 time or integer microseconds, not \"",
        text, "\""));
  }
  return absl::ToUnixMicros(time);
}

// Sets `point` from parameter `name` (= `position_name` or `time_name`).
absl::Status SetPoint(const std::string& name, const std::string& value,
                      std::string_view position_name,
                      std::string_view time_name, LogPoint* point) {
  if (point->position.has_value() || point->time_us.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "give one of ", std::string(position_name), " and ",
        std::string(time_name)));
  }
  if (name == position_name) {
    absl::StatusOr<uint64_t> position = ParsePosition(name, value);
    if (!position.ok()) return position.status();
    point->position = *position;
  } else {
    absl::StatusOr<int64_t> time = ParseTime(name, value);
    if (!time.ok()) return time.status();
    point->time_us = *time;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StateQuery> ParseStateQuery(std::string_view raw_query) {
  absl::StatusOr<std::vector<QueryParam>> params = NonEmptyParams(raw_query);
  if (!params.ok()) return params.status();
  StateQuery query;
  for (const QueryParam& param : *params) {
    const std::string& name = param.name;
    const std::string& value = param.literal;  // a position or a time
    if (name == "at" || name == "at_time") {
      if (absl::Status s = SetPoint(name, value, "at", "at_time", &query.at);
          !s.ok()) {
        return s;
      }
    } else if (name == "agent") {
      query.agent_id = param.value;
    } else if (name == "task") {
      query.task_id = param.value;
    } else if (name == "trace") {
      query.trace_id = param.value;
    } else if (name == "limit") {
      absl::StatusOr<uint64_t> limit = ParsePosition(name, value);
      if (!limit.ok()) return limit.status();
      query.task_limit = *limit;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown query parameter \"", name,
          "\" (expected at, at_time, agent, task, trace, limit)"));
    }
  }
  if (!query.agent_id.empty() && !query.task_id.empty()) {
    return absl::InvalidArgumentError("give one of agent and task");
  }
  return query;
}

absl::StatusOr<DiffQuery> ParseDiffQuery(std::string_view raw_query) {
  absl::StatusOr<std::vector<QueryParam>> params = NonEmptyParams(raw_query);
  if (!params.ok()) return params.status();
  DiffQuery query;
  for (const QueryParam& param : *params) {
    const std::string& name = param.name;
    const std::string& value = param.literal;  // a position or a time
    absl::Status s;
    if (name == "from" || name == "from_time") {
      s = SetPoint(name, value, "from", "from_time", &query.from);
    } else if (name == "to" || name == "to_time") {
      s = SetPoint(name, value, "to", "to_time", &query.to);
    } else {
      s = absl::InvalidArgumentError(absl::StrCat(
          "unknown query parameter \"", name,
          "\" (expected from, from_time, to, to_time)"));
    }
    if (!s.ok()) return s;
  }
  return query;
}

}  // namespace vigil::gateway::internal
