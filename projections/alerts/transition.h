// Transition: an alert firing or resolving, and its event in the system
// stream `$alerts` (docs/alerts.md "Alert events"):
//   AlertRaised   {alert_id, rule_id, rule_name, kind, severity, labels,
//                  subject: {kind, id}, level_pct?, evidence,
//                  cause_positions, evaluated_position}
//   AlertResolved {alert_id, rule_id, subject, level_pct?, reason,
//                  cause_positions, evaluated_position}
// An alert id names the rule, the subject, the level (cost rules) and the
// log position that made it fire, so evaluating the same log again gives
// the same ids; the idempotency key of each event derives from the id and
// the transition, so appending one twice writes it once. Pure; any thread.

#ifndef VIGIL_PROJECTIONS_ALERTS_TRANSITION_H_
#define VIGIL_PROJECTIONS_ALERTS_TRANSITION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "eventlog/event.h"
#include "projections/alerts/rule.h"

namespace vigil::alerts {

inline constexpr char kAlertsStream[] = "$alerts";

// What an alert is about: an agent, a task, a manager, the total (cost), or
// for custom rules whatever their subject_field names ("subject").
struct Subject {
  std::string kind;
  std::string id;
  double level_pct = 0;  // kLlmCost: the level of the budget; else 0
};

struct Transition {
  bool raised = true;  // false: resolved
  std::string alert_id;
  std::string rule_id;
  Subject subject;
  base::Json evidence = base::Json::object();  // raised only
  std::string reason;                          // resolved only
  std::vector<uint64_t> cause_positions;
  // The last log position evaluated when it happened.
  uint64_t evaluated_position = 0;
};

// The key that holds one alert at a time: rule, subject, level.
std::string SlotKey(const std::string& rule_id, const Subject& subject);

// `rule_id`/`kind`:`id`[/level]@`position`.
std::string AlertId(const std::string& rule_id, const Subject& subject,
                    uint64_t position);

// The event of `transition` for `$alerts` (`rule` describes a raise; it is
// not read for a resolve), with its idempotency key.
eventlog::EventData TransitionEvent(const Transition& transition,
                                    const AlertRule& rule);
std::string TransitionIdempotencyKey(const Transition& transition);

// A `$alerts` event read back: its transition (evidence and labels left
// out). INVALID_ARGUMENT when it is neither type or lacks a field.
absl::StatusOr<Transition> ParseTransition(const eventlog::RecordedEvent& event);

}  // namespace vigil::alerts

#endif  // VIGIL_PROJECTIONS_ALERTS_TRANSITION_H_
