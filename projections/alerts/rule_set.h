// RuleSet: the registered alert rules as a fold of the system stream
// `$alert-rules`, and the events that stream holds. The alert service
// appends them (POST and DELETE /v1/alert-rules); the service's admin view
// and its evaluator each fold the stream, so rules survive restarts and
// each rule takes effect at the log position of its registration.
//
// Events (data is a JSON object):
//   AlertRuleRegistered {rule_id, rule}   rule: AlertRuleJson
//   AlertRuleDeleted    {rule_id}
//
// Not thread-safe: its owner serializes calls.

#ifndef VIGIL_PROJECTIONS_ALERTS_RULE_SET_H_
#define VIGIL_PROJECTIONS_ALERTS_RULE_SET_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "eventlog/event.h"
#include "projections/alerts/rule.h"

namespace vigil::alerts {

inline constexpr char kRulesStream[] = "$alert-rules";

struct RegisteredRule {
  std::string id;
  AlertRule rule;
  uint64_t registered_position = 0;  // evaluated from the next position on
  int64_t created_time_us = 0;
};

class RuleSet {
 public:
  // Applies one event of `$alert-rules`; `*rule_id` (when given) is set to
  // the id of the rule the event registers or deletes. Unknown types change nothing (newer
  // servers may write more); a malformed known one is INVALID_ARGUMENT
  // naming its position and changes nothing.
  absl::Status Apply(const eventlog::RecordedEvent& event,
                     std::string* rule_id = nullptr);

  const std::map<std::string, RegisteredRule>& rules() const { return rules_; }
  const RegisteredRule* Find(const std::string& id) const;

 private:
  std::map<std::string, RegisteredRule> rules_;
};

// The events the service appends to `$alert-rules`.
eventlog::EventData RuleRegisteredEvent(const std::string& id,
                                        const AlertRule& rule);
eventlog::EventData RuleDeletedEvent(const std::string& id);

// A rule's admin JSON: AlertRuleJson plus id, registered_position,
// created_time_us.
base::Json RegisteredRuleJson(const RegisteredRule& rule);

}  // namespace vigil::alerts

#endif  // VIGIL_PROJECTIONS_ALERTS_RULE_SET_H_
