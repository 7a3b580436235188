#include "projections/alerts/rule_set.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/event_json.h"

namespace vigil::alerts {
namespace {

using base::Json;

absl::Status Malformed(const eventlog::RecordedEvent& event,
                       absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      kRulesStream, " position ", event.position, " (", event.type, "): ", why));
}

}  // namespace

const RegisteredRule* RuleSet::Find(const std::string& id) const {
  auto it = rules_.find(id);
  return it == rules_.end() ? nullptr : &it->second;
}

absl::Status RuleSet::Apply(const eventlog::RecordedEvent& event,
                            std::string* rule_id) {
  if (event.type != "AlertRuleRegistered" && event.type != "AlertRuleDeleted") {
    return absl::OkStatus();
  }
  absl::StatusOr<Json> data = base::JsonFromText(event.data);
  if (!data.ok() || !data->is_object() || !data->contains("rule_id") ||
      !(*data)["rule_id"].is_string()) {
    return Malformed(event, "missing or mistyped rule_id");
  }
  std::string id = (*data)["rule_id"].get<std::string>();
  if (event.type == "AlertRuleDeleted") {
    if (rules_.erase(id) > 0 && rule_id != nullptr) *rule_id = id;
    return absl::OkStatus();
  }
  auto rule = data->find("rule");
  if (rule == data->end()) return Malformed(event, "missing rule");
  absl::StatusOr<AlertRule> parsed = ParseAlertRule(base::DumpJson(*rule));
  if (!parsed.ok()) return Malformed(event, parsed.status().message());
  rules_[id] = RegisteredRule{.id = id,
                              .rule = *std::move(parsed),
                              .registered_position = event.position,
                              .created_time_us = event.recorded_time_us};
  if (rule_id != nullptr) *rule_id = std::move(id);
  return absl::OkStatus();
}

eventlog::EventData RuleRegisteredEvent(const std::string& id,
                                        const AlertRule& rule) {
  return api::JsonEventData("AlertRuleRegistered",
               {{"rule_id", id}, {"rule", AlertRuleJson(rule)}});
}

eventlog::EventData RuleDeletedEvent(const std::string& id) {
  return api::JsonEventData("AlertRuleDeleted", {{"rule_id", id}});
}

Json RegisteredRuleJson(const RegisteredRule& rule) {
  Json json = {{"id", rule.id}};
  const Json definition = AlertRuleJson(rule.rule);
  for (const auto& [key, value] : definition.items()) json[key] = value;
  json["registered_position"] = rule.registered_position;
  json["created_time_us"] = rule.created_time_us;
  return json;
}

}  // namespace vigil::alerts
