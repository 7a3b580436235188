#include "api/state_queries.h"

#include <charconv>
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

namespace vigil::api {
namespace {

// Form decoding: '+' is a space, %XX a byte. nullopt for a bad escape.
std::optional<std::string> FormDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] != '%') {
      out.push_back(text[i]);
    } else {
      unsigned value = 0;
      if (i + 2 >= text.size()) return std::nullopt;
      auto [end, ec] =
          std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec != std::errc() || end != text.data() + i + 3) return std::nullopt;
      out.push_back(static_cast<char>(value));
      i += 2;
    }
  }
  return out;
}

// name → value pairs; an empty value counts as not given.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> SplitQuery(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::optional<std::string> name = FormDecode(part.substr(0, eq));
    std::optional<std::string> value = FormDecode(
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!name.has_value() || !value.has_value()) {
      return absl::InvalidArgumentError("malformed percent-encoding in query");
    }
    for (const auto& [seen, ignored] : out) {
      if (seen == *name) {
        return absl::InvalidArgumentError(
            absl::StrCat("query parameter ", *name, " given twice"));
      }
    }
    if (!value->empty()) out.emplace_back(*std::move(name), *std::move(value));
  }
  return out;
}

absl::StatusOr<uint64_t> ParsePosition(const std::string& name,
                                       const std::string& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
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
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params =
      SplitQuery(raw_query);
  if (!params.ok()) return params.status();
  StateQuery query;
  for (const auto& [name, value] : *params) {
    if (name == "at" || name == "at_time") {
      if (absl::Status s = SetPoint(name, value, "at", "at_time", &query.at);
          !s.ok()) {
        return s;
      }
    } else if (name == "agent") {
      query.agent_id = value;
    } else if (name == "task") {
      query.task_id = value;
    } else if (name == "limit") {
      absl::StatusOr<uint64_t> limit = ParsePosition(name, value);
      if (!limit.ok()) return limit.status();
      query.task_limit = *limit;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown query parameter \"", name,
          "\" (expected at, at_time, agent, task, limit)"));
    }
  }
  if (!query.agent_id.empty() && !query.task_id.empty()) {
    return absl::InvalidArgumentError("give one of agent and task");
  }
  return query;
}

absl::StatusOr<DiffQuery> ParseDiffQuery(std::string_view raw_query) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params =
      SplitQuery(raw_query);
  if (!params.ok()) return params.status();
  DiffQuery query;
  for (const auto& [name, value] : *params) {
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

}  // namespace vigil::api
