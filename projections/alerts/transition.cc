#include "projections/alerts/transition.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "api/event_json.h"
#include "base/sha256.h"

namespace vigil::alerts {
namespace {

using base::Json;

std::string LevelText(double level_pct) { return absl::StrCat(level_pct); }

Json SubjectJson(const Subject& subject) {
  return {{"kind", subject.kind}, {"id", subject.id}};
}

}  // namespace

std::string SlotKey(const std::string& rule_id, const Subject& subject) {
  std::string key = absl::StrCat(rule_id, "/", subject.kind, ":", subject.id);
  if (subject.level_pct != 0) {
    absl::StrAppend(&key, "/", LevelText(subject.level_pct));
  }
  return key;
}

std::string AlertId(const std::string& rule_id, const Subject& subject,
                    uint64_t position) {
  return absl::StrCat(SlotKey(rule_id, subject), "@", position);
}

eventlog::EventData TransitionEvent(const Transition& t,
                                    const AlertRule& rule) {
  Json data = {{"alert_id", t.alert_id}, {"rule_id", t.rule_id}};
  if (t.raised) {
    data["rule_name"] = rule.name;
    data["kind"] = RuleKindName(rule.kind);
    data["severity"] = rule.severity;
    data["labels"] = rule.labels;
  }
  data["subject"] = SubjectJson(t.subject);
  if (t.subject.level_pct != 0) data["level_pct"] = t.subject.level_pct;
  if (t.raised) {
    data["evidence"] = t.evidence;
  } else {
    data["reason"] = t.reason;
  }
  data["cause_positions"] = t.cause_positions;
  data["evaluated_position"] = t.evaluated_position;
  return api::JsonEventData(t.raised ? "AlertRaised" : "AlertResolved", data);
}

std::string TransitionIdempotencyKey(const Transition& t) {
  return "alert-" +
         absl::BytesToHexString(base::Sha256Digest(
             absl::StrCat(t.alert_id, t.raised ? "+raised" : "+resolved")));
}

absl::StatusOr<Transition> ParseTransition(
    const eventlog::RecordedEvent& event) {
  const auto malformed = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        kAlertsStream, " position ", event.position, " (", event.type, "): ",
        why));
  };
  if (event.type != "AlertRaised" && event.type != "AlertResolved") {
    return malformed("not an alert event");
  }
  absl::StatusOr<Json> data = base::JsonFromText(event.data);
  if (!data.ok() || !data->is_object()) return malformed("not a JSON object");
  Transition t;
  t.raised = event.type == "AlertRaised";
  try {
    t.alert_id = data->at("alert_id").get<std::string>();
    t.rule_id = data->at("rule_id").get<std::string>();
    t.subject.kind = data->at("subject").at("kind").get<std::string>();
    t.subject.id = data->at("subject").at("id").get<std::string>();
    t.subject.level_pct = data->value("level_pct", 0.0);
    t.cause_positions =
        data->at("cause_positions").get<std::vector<uint64_t>>();
    t.evaluated_position = data->at("evaluated_position").get<uint64_t>();
    if (!t.raised) t.reason = data->value("reason", "");
  } catch (const Json::exception& e) {
    return malformed(e.what());
  }
  return t;
}

}  // namespace vigil::alerts
