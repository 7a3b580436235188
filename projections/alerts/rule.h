// AlertRule: one alert rule as registered at POST /v1/alert-rules, its
// check and its JSON form (docs/alerts.md "Rules"). A rule is one of six
// kinds, each with a severity and a label set; ParseAlertRule checks every
// field and its bound and names the first that is wrong. Pure functions;
// any thread.

#ifndef VIGIL_PROJECTIONS_ALERTS_RULE_H_
#define VIGIL_PROJECTIONS_ALERTS_RULE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"

namespace vigil::alerts {

enum class RuleKind {
  kTaskStuck,     // a task assigned or running with no progress for N min
  kAgentSilent,   // an agent with no heartbeat for N s
  kFailureRate,   // failed / finished tasks over a sliding window above X %
  kLlmCost,       // LLM cost over a sliding window above levels of a budget
  kHeartbeat,     // heartbeat cpu_pct or mem_bytes above a threshold N times
  kCustom,        // an event type whose JSON field compares true
};

// Whose failures or costs a rule adds up.
enum class Scope { kAgent, kManager, kTotal };

enum class Comparison { kGt, kGe, kLt, kLe, kEq, kNe };

// Bounds of a rule's fields (docs/alerts.md "Bounds").
inline constexpr size_t kMaxLabels = 20;
inline constexpr size_t kMaxTextBytes = 200;
inline constexpr size_t kMaxLevels = 5;
inline constexpr int64_t kMaxWindowSeconds = 7 * 24 * 3600;
inline constexpr int64_t kMaxSamples = 100;

struct AlertRule {
  std::string name;
  RuleKind kind = RuleKind::kCustom;
  std::string severity;  // "info" | "warning" | "critical"
  std::map<std::string, std::string> labels;

  // kTaskStuck ("minutes"), kAgentSilent ("seconds"): the silence that
  // fires; kFailureRate, kLlmCost ("window_s"): the sliding window. Whole
  // microseconds; fractions of the unit are allowed.
  int64_t window_us = 0;
  Scope scope = Scope::kAgent;       // kFailureRate (no kTotal), kLlmCost
  double threshold_pct = 0;          // kFailureRate
  int64_t min_outcomes = 1;          // kFailureRate
  double budget_usd = 0;             // kLlmCost
  std::vector<double> levels_pct;    // kLlmCost, ascending
  std::string metric;                // kHeartbeat: "cpu_pct" | "mem_bytes"
  double threshold = 0;              // kHeartbeat
  int64_t samples = 1;               // kHeartbeat
  std::string event_type;            // kCustom
  std::string field;                 // kCustom: a dotted path into data
  Comparison op = Comparison::kEq;   // kCustom
  base::Json value;                  // kCustom: number, string or bool
  std::string subject_field;         // kCustom; "" = the event's stream
};

// The rule a registration body describes (docs/alerts.md); INVALID_ARGUMENT
// naming the first field that is missing, unknown, mistyped or out of
// bounds.
absl::StatusOr<AlertRule> ParseAlertRule(std::string_view body);

// The rule as JSON, the form ParseAlertRule reads back (every default
// written out).
base::Json AlertRuleJson(const AlertRule& rule);

std::string_view RuleKindName(RuleKind kind);
std::string_view ScopeName(Scope scope);

}  // namespace vigil::alerts

#endif  // VIGIL_PROJECTIONS_ALERTS_RULE_H_
