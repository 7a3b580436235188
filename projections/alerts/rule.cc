#include "projections/alerts/rule.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace vigil::alerts {
namespace {

using base::Json;

constexpr std::pair<RuleKind, std::string_view> kKinds[] = {
    {RuleKind::kTaskStuck, "task_stuck"},
    {RuleKind::kAgentSilent, "agent_silent"},
    {RuleKind::kFailureRate, "failure_rate"},
    {RuleKind::kLlmCost, "llm_cost"},
    {RuleKind::kHeartbeat, "heartbeat"},
    {RuleKind::kCustom, "custom"},
};
constexpr std::pair<Comparison, std::string_view> kComparisons[] = {
    {Comparison::kGt, ">"},  {Comparison::kGe, ">="}, {Comparison::kLt, "<"},
    {Comparison::kLe, "<="}, {Comparison::kEq, "=="}, {Comparison::kNe, "!="},
};

absl::Status Bad(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(std::string(field) + " " +
                                    std::string(what));
}

// The fields a body of `kind` may have besides the common ones.
std::vector<std::string_view> KindFields(RuleKind kind) {
  switch (kind) {
    case RuleKind::kTaskStuck:
      return {"minutes"};
    case RuleKind::kAgentSilent:
      return {"seconds"};
    case RuleKind::kFailureRate:
      return {"scope", "window_s", "threshold_pct", "min_outcomes"};
    case RuleKind::kLlmCost:
      return {"scope", "window_s", "budget_usd", "levels_pct"};
    case RuleKind::kHeartbeat:
      return {"metric", "threshold", "samples"};
    case RuleKind::kCustom:
      return {"event_type", "field", "op", "value", "subject_field"};
  }
  return {};
}

absl::StatusOr<std::string> Text(const Json& root, std::string_view field,
                                 bool required) {
  auto it = root.find(field);
  if (it == root.end()) {
    if (required) return Bad(field, "is required");
    return std::string();
  }
  if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
      it->get_ref<const std::string&>().size() > kMaxTextBytes) {
    return Bad(field, absl::StrCat("must be a non-empty string of at most ",
                                   kMaxTextBytes, " bytes"));
  }
  return it->get<std::string>();
}

// A number in (0, max] (or [min, max] when `min` is given), required.
absl::StatusOr<double> Number(const Json& root, std::string_view field,
                              double max, double min = 0,
                              bool min_inclusive = false) {
  auto it = root.find(field);
  if (it == root.end()) return Bad(field, "is required");
  if (!it->is_number()) return Bad(field, "must be a number");
  const double value = it->get<double>();
  if (!std::isfinite(value) || value > max ||
      (min_inclusive ? value < min : value <= min)) {
    return Bad(field, absl::StrCat("must be ", min_inclusive ? "in [" : "in (",
                                   min, ", ", max, "]"));
  }
  return value;
}

absl::StatusOr<int64_t> Whole(const Json& root, std::string_view field,
                              int64_t min, int64_t max, int64_t fallback) {
  auto it = root.find(field);
  if (it == root.end()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < min ||
      it->get<int64_t>() > max) {
    return Bad(field, absl::StrCat("must be a whole number in [", min, ", ",
                                   max, "]"));
  }
  return it->get<int64_t>();
}

absl::StatusOr<int64_t> Duration(const Json& root, std::string_view field,
                                 double unit_s) {
  ASSIGN_OR_RETURN(double amount,
                   Number(root, field, kMaxWindowSeconds / unit_s));
  const int64_t us = std::llround(amount * unit_s * 1e6);
  if (us < 1000) return Bad(field, "must be at least 1 ms");
  return us;
}

absl::StatusOr<Scope> ParseScope(const Json& root, bool total_allowed) {
  ASSIGN_OR_RETURN(std::string scope, Text(root, "scope", false));
  if (scope.empty() || scope == "agent") return Scope::kAgent;
  if (scope == "manager") return Scope::kManager;
  if (scope == "total" && total_allowed) return Scope::kTotal;
  return Bad("scope", total_allowed ? "must be agent, manager or total"
                                    : "must be agent or manager");
}

absl::Status ParseKindFields(const Json& root, AlertRule* rule) {
  switch (rule->kind) {
    case RuleKind::kTaskStuck: {
      ASSIGN_OR_RETURN(rule->window_us, Duration(root, "minutes", 60));
      return absl::OkStatus();
    }
    case RuleKind::kAgentSilent: {
      ASSIGN_OR_RETURN(rule->window_us, Duration(root, "seconds", 1));
      return absl::OkStatus();
    }
    case RuleKind::kFailureRate: {
      ASSIGN_OR_RETURN(rule->scope, ParseScope(root, false));
      ASSIGN_OR_RETURN(rule->window_us, Duration(root, "window_s", 1));
      ASSIGN_OR_RETURN(rule->threshold_pct,
                       Number(root, "threshold_pct", 100, 0, true));
      ASSIGN_OR_RETURN(rule->min_outcomes,
                       Whole(root, "min_outcomes", 1, 10000, 1));
      return absl::OkStatus();
    }
    case RuleKind::kLlmCost: {
      ASSIGN_OR_RETURN(rule->scope, ParseScope(root, true));
      ASSIGN_OR_RETURN(rule->window_us, Duration(root, "window_s", 1));
      ASSIGN_OR_RETURN(rule->budget_usd, Number(root, "budget_usd", 1e12));
      auto levels = root.find("levels_pct");
      if (levels == root.end()) {
        rule->levels_pct = {80, 100};
        return absl::OkStatus();
      }
      if (!levels->is_array() || levels->empty() ||
          levels->size() > kMaxLevels) {
        return Bad("levels_pct", absl::StrCat("must be an array of 1 to ",
                                              kMaxLevels, " numbers"));
      }
      for (const Json& level : *levels) {
        if (!level.is_number() || level.get<double>() <= 0 ||
            level.get<double>() > 1000) {
          return Bad("levels_pct", "must hold numbers in (0, 1000]");
        }
        rule->levels_pct.push_back(level.get<double>());
      }
      std::sort(rule->levels_pct.begin(), rule->levels_pct.end());
      if (std::adjacent_find(rule->levels_pct.begin(),
                             rule->levels_pct.end()) !=
          rule->levels_pct.end()) {
        return Bad("levels_pct", "must not repeat a level");
      }
      return absl::OkStatus();
    }
    case RuleKind::kHeartbeat: {
      ASSIGN_OR_RETURN(rule->metric, Text(root, "metric", true));
      if (rule->metric != "cpu_pct" && rule->metric != "mem_bytes") {
        return Bad("metric", "must be cpu_pct or mem_bytes");
      }
      ASSIGN_OR_RETURN(rule->threshold,
                       Number(root, "threshold", 1e18, 0, true));
      ASSIGN_OR_RETURN(rule->samples,
                       Whole(root, "samples", 1, kMaxSamples, 1));
      return absl::OkStatus();
    }
    case RuleKind::kCustom: {
      ASSIGN_OR_RETURN(rule->event_type, Text(root, "event_type", true));
      ASSIGN_OR_RETURN(rule->field, Text(root, "field", true));
      ASSIGN_OR_RETURN(rule->subject_field, Text(root, "subject_field", false));
      ASSIGN_OR_RETURN(std::string op, Text(root, "op", true));
      auto known = std::find_if(std::begin(kComparisons), std::end(kComparisons),
                                [&](const auto& c) { return c.second == op; });
      if (known == std::end(kComparisons)) {
        return Bad("op", "must be one of >, >=, <, <=, ==, !=");
      }
      rule->op = known->first;
      auto value = root.find("value");
      if (value == root.end()) return Bad("value", "is required");
      const bool text = value->is_string() &&
                        value->get_ref<const std::string&>().size() <=
                            kMaxTextBytes;
      if (!text && !value->is_number() && !value->is_boolean()) {
        return Bad("value", absl::StrCat("must be a number, a bool or a "
                                         "string of at most ",
                                         kMaxTextBytes, " bytes"));
      }
      if (!value->is_number() && rule->op != Comparison::kEq &&
          rule->op != Comparison::kNe) {
        return Bad("op", "must be == or != for a value that is not a number");
      }
      rule->value = *value;
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

Json DurationJson(int64_t us, double unit_s) {
  return base::RoundedNumber(static_cast<double>(us) / 1e6 / unit_s, 6);
}

}  // namespace

std::string_view RuleKindName(RuleKind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "custom";
}

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kAgent:
      return "agent";
    case Scope::kManager:
      return "manager";
    case Scope::kTotal:
      return "total";
  }
  return "agent";
}

absl::StatusOr<AlertRule> ParseAlertRule(std::string_view body) {
  absl::StatusOr<Json> parsed = base::JsonFromText(body);
  if (!parsed.ok() || !parsed->is_object()) {
    return absl::InvalidArgumentError(
        "the body must be a JSON object {\"name\", \"kind\", \"severity\", "
        "\"labels\"?, ...}");
  }
  const Json& root = *parsed;
  AlertRule rule;
  ASSIGN_OR_RETURN(rule.name, Text(root, "name", true));
  ASSIGN_OR_RETURN(std::string kind, Text(root, "kind", true));
  auto known = std::find_if(std::begin(kKinds), std::end(kKinds),
                            [&](const auto& k) { return k.second == kind; });
  if (known == std::end(kKinds)) {
    return Bad("kind",
               "must be one of task_stuck, agent_silent, failure_rate, "
               "llm_cost, heartbeat, custom");
  }
  rule.kind = known->first;
  ASSIGN_OR_RETURN(rule.severity, Text(root, "severity", true));
  if (rule.severity != "info" && rule.severity != "warning" &&
      rule.severity != "critical") {
    return Bad("severity", "must be info, warning or critical");
  }
  const std::vector<std::string_view> fields = KindFields(rule.kind);
  for (const auto& [key, value] : root.items()) {
    if (key == "name" || key == "kind" || key == "severity" ||
        key == "labels" ||
        std::find(fields.begin(), fields.end(), key) != fields.end()) {
      continue;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown field \"", key, "\" for a rule of kind ", kind));
  }
  if (auto labels = root.find("labels"); labels != root.end()) {
    if (!labels->is_object() || labels->size() > kMaxLabels) {
      return Bad("labels", absl::StrCat("must be an object of at most ",
                                        kMaxLabels, " strings"));
    }
    for (const auto& [key, value] : labels->items()) {
      if (key.empty() || key.size() > kMaxTextBytes || !value.is_string() ||
          value.get_ref<const std::string&>().size() > kMaxTextBytes) {
        return Bad("labels",
                   absl::StrCat("must map non-empty names to strings, both of "
                                "at most ",
                                kMaxTextBytes, " bytes"));
      }
      rule.labels[key] = value.get<std::string>();
    }
  }
  RETURN_IF_ERROR(ParseKindFields(root, &rule));
  return rule;
}

Json AlertRuleJson(const AlertRule& rule) {
  Json json = {{"name", rule.name},
               {"kind", RuleKindName(rule.kind)},
               {"severity", rule.severity},
               {"labels", rule.labels}};
  switch (rule.kind) {
    case RuleKind::kTaskStuck:
      json["minutes"] = DurationJson(rule.window_us, 60);
      break;
    case RuleKind::kAgentSilent:
      json["seconds"] = DurationJson(rule.window_us, 1);
      break;
    case RuleKind::kFailureRate:
      json["scope"] = ScopeName(rule.scope);
      json["window_s"] = DurationJson(rule.window_us, 1);
      json["threshold_pct"] = rule.threshold_pct;
      json["min_outcomes"] = rule.min_outcomes;
      break;
    case RuleKind::kLlmCost:
      json["scope"] = ScopeName(rule.scope);
      json["window_s"] = DurationJson(rule.window_us, 1);
      json["budget_usd"] = rule.budget_usd;
      json["levels_pct"] = rule.levels_pct;
      break;
    case RuleKind::kHeartbeat:
      json["metric"] = rule.metric;
      json["threshold"] = rule.threshold;
      json["samples"] = rule.samples;
      break;
    case RuleKind::kCustom:
      json["event_type"] = rule.event_type;
      json["field"] = rule.field;
      for (const auto& [op, name] : kComparisons) {
        if (op == rule.op) json["op"] = name;
      }
      json["value"] = rule.value;
      if (!rule.subject_field.empty()) json["subject_field"] = rule.subject_field;
      break;
  }
  return json;
}

}  // namespace vigil::alerts
