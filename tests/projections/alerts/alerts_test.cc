// The pure parts of alerting: rule bodies (accepted, refused with the field
// named) and the Evaluator, data-driven: given a rule and a script of
// events (with their recorded times), expect these transitions, and the
// same ones again when the log is replayed from position 1 or when a
// wall-clock Tick fired a clock-based alert first.

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "gtest/gtest.h"
#include "projections/alerts/evaluator.h"
#include "projections/alerts/rule.h"
#include "projections/alerts/rule_set.h"
#include "projections/alerts/transition.h"

namespace vigil::alerts {
namespace {

using base::Json;

constexpr int64_t kSecond = 1000000;
constexpr int64_t kT0 = int64_t{1800000000} * kSecond;

// One scripted event: at `second` after kT0, `type` with `data` on
// `stream` (default: "agents").
struct Step {
  int64_t second;
  std::string type;
  Json data;
  std::string stream = "agents";
};

// The log a script makes: the rule's registration at position 1, then the
// steps at positions 2, 3, ...
std::vector<eventlog::RecordedEvent> Log(const std::string& rule_body,
                                         const std::vector<Step>& steps) {
  absl::StatusOr<AlertRule> rule = ParseAlertRule(rule_body);
  EXPECT_TRUE(rule.ok()) << rule.status();
  std::vector<eventlog::RecordedEvent> log;
  const auto add = [&](const eventlog::EventData& data, std::string stream,
                       int64_t time_us) {
    eventlog::RecordedEvent event;
    event.stream = std::move(stream);
    event.type = data.type;
    event.data = data.data;
    event.content_type = data.content_type;
    event.position = log.size() + 1;
    event.recorded_time_us = time_us;
    log.push_back(std::move(event));
  };
  add(RuleRegisteredEvent("r", *rule), kRulesStream, kT0);
  for (const Step& step : steps) {
    eventlog::EventData data;
    data.type = step.type;
    data.data = base::DumpJson(step.data);
    data.content_type = eventlog::kJsonContentType;
    add(data, step.stream, kT0 + step.second * kSecond);
  }
  return log;
}

// "+id" for a raise, "-id" for a resolve.
std::vector<std::string> Evaluate(const std::vector<eventlog::RecordedEvent>& log,
                             int64_t final_tick_second = -1) {
  Evaluator evaluator;
  std::vector<std::string> out;
  const auto take = [&](const std::vector<Transition>& transitions) {
    for (const Transition& t : transitions) {
      out.push_back((t.raised ? "+" : "-") + t.alert_id);
    }
  };
  for (const eventlog::RecordedEvent& event : log) take(evaluator.Apply(event));
  if (final_tick_second >= 0) {
    take(evaluator.Tick(kT0 + final_tick_second * kSecond));
  }
  return out;
}

Json Heartbeat(const std::string& agent, double cpu, int64_t mem = 1) {
  return {{"agent_id", agent},
          {"cpu_pct", cpu},
          {"mem_bytes", mem},
          {"queue_depth", 0}};
}

Json Task(const std::string& task, const std::string& worker) {
  return {{"task_id", task}, {"worker_id", worker}};
}

struct Script {
  std::string name;
  std::string rule;
  std::vector<Step> steps;
  int64_t final_tick_second;  // -1: none
  std::vector<std::string> expected;
};

std::vector<Script> Scripts() {
  return {
      {"AgentSilentFiresOnTheClockAndResolvesOnAHeartbeat",
       R"({"name":"silent","kind":"agent_silent","severity":"critical","seconds":30})",
       {{0, "AgentHeartbeat", Heartbeat("a1", 1)},
        {10, "AgentHeartbeat", Heartbeat("a1", 1)},
        // 50 s after the last: the clock (this event's time) fires first.
        {60, "AgentHeartbeat", Heartbeat("a1", 1)}},
       100,
       {"+r/agent:a1@3", "-r/agent:a1@3", "+r/agent:a1@4"}},
      {"AStoppedAgentIsNotSilent",
       R"({"name":"silent","kind":"agent_silent","severity":"critical","seconds":30})",
       {{0, "AgentHeartbeat", Heartbeat("a1", 1)},
        {10, "AgentStopped", {{"agent_id", "a1"}, {"reason", "done"}}}},
       100,
       {}},
      {"TaskStuckFiresWithoutProgressAndResolvesOnCompletion",
       R"({"name":"stuck","kind":"task_stuck","severity":"warning","minutes":1})",
       {{0, "TaskAssigned",
         {{"task_id", "t1"}, {"manager_id", "m1"}, {"worker_id", "w1"}}},
        {30, "TaskProgress",
         {{"task_id", "t1"}, {"worker_id", "w1"}, {"percent", 10}}},
        {200, "TaskCompleted", Task("t1", "w1")}},
       300,
       {"+r/task:t1@3", "-r/task:t1@3"}},
      {"HeartbeatCpuOverThresholdForNSamples",
       R"({"name":"hot","kind":"heartbeat","severity":"warning","metric":"cpu_pct","threshold":90,"samples":3})",
       {{0, "AgentHeartbeat", Heartbeat("a1", 95)},
        {1, "AgentHeartbeat", Heartbeat("a1", 95)},
        {2, "AgentHeartbeat", Heartbeat("a1", 50)},  // the run restarts
        {3, "AgentHeartbeat", Heartbeat("a1", 95)},
        {4, "AgentHeartbeat", Heartbeat("a1", 99)},
        {5, "AgentHeartbeat", Heartbeat("a1", 91)},
        {6, "AgentHeartbeat", Heartbeat("a1", 97)},  // still open: no repeat
        {7, "AgentHeartbeat", Heartbeat("a1", 10)}},
       -1,
       {"+r/agent:a1@7", "-r/agent:a1@7"}},
      {"HeartbeatMemory",
       R"({"name":"mem","kind":"heartbeat","severity":"info","metric":"mem_bytes","threshold":1000,"samples":1})",
       {{0, "AgentHeartbeat", Heartbeat("a1", 1, 5000)},
        {1, "AgentHeartbeat", Heartbeat("a1", 1, 10)}},
       -1,
       {"+r/agent:a1@2", "-r/agent:a1@2"}},
      {"FailureRatePerAgentOverTheWindow",
       R"({"name":"fail","kind":"failure_rate","severity":"critical","window_s":60,"threshold_pct":50,"min_outcomes":3})",
       {{0, "TaskFailed", {{"task_id", "t1"}, {"worker_id", "w1"}, {"error", "x"}}},
        {1, "TaskFailed", {{"task_id", "t2"}, {"worker_id", "w1"}, {"error", "x"}}},
        // 3 outcomes, 2 failed: 66 % > 50 %.
        {2, "TaskCompleted", Task("t3", "w1")},
        {3, "TaskCompleted", Task("t4", "w1")},  // 2 of 4: 50 %, not above
        {4, "TaskCompleted", Task("t5", "w2")}},
       -1,
       {"+r/agent:w1@4", "-r/agent:w1@4"}},
      {"FailureRateWindowForgetsOldOutcomes",
       R"({"name":"fail","kind":"failure_rate","severity":"critical","window_s":10,"threshold_pct":40,"min_outcomes":2})",
       {{0, "TaskCompleted", Task("t1", "w1")},
        {1, "TaskCompleted", Task("t2", "w1")},
        {2, "TaskFailed", {{"task_id", "t3"}, {"worker_id", "w1"}, {"error", "x"}}},
        // At 11 s the successes (0 s, 1 s) left the window: 2 failed of 2.
        {11, "TaskFailed", {{"task_id", "t4"}, {"worker_id", "w1"}, {"error", "x"}}}},
       -1,
       {"+r/agent:w1@5"}},
      {"FailureRatePerManager",
       R"({"name":"fail","kind":"failure_rate","severity":"critical","scope":"manager","window_s":60,"threshold_pct":10})",
       {{0, "TaskCreated", {{"task_id", "t1"}, {"manager_id", "m1"}, {"title", "a"}}},
        {1, "TaskFailed", {{"task_id", "t1"}, {"worker_id", "w1"}, {"error", "x"}}},
        // A task without a known manager is nobody's.
        {2, "TaskFailed", {{"task_id", "t9"}, {"worker_id", "w1"}, {"error", "x"}}}},
       -1,
       {"+r/manager:m1@3"}},
      {"LlmCostLevelsFireInTurnAndResolveAsTheWindowMovesOn",
       R"({"name":"cost","kind":"llm_cost","severity":"warning","scope":"total","window_s":60,"budget_usd":10})",
       {{0, "LlmCallCompleted",
         {{"agent_id", "a1"}, {"model", "m"}, {"input_tokens", 1},
          {"output_tokens", 1}, {"cost_usd", 5}, {"latency_ms", 1}}},
        {1, "LlmCallCompleted",
         {{"agent_id", "a2"}, {"model", "m"}, {"input_tokens", 1},
          {"output_tokens", 1}, {"cost_usd", 3.5}, {"latency_ms", 1}}},
        {2, "LlmCallCompleted",
         {{"agent_id", "a1"}, {"model", "m"}, {"input_tokens", 1},
          {"output_tokens", 1}, {"cost_usd", 2}, {"latency_ms", 1}}}},
       // At 61 s the first call (5 USD) leaves: 5.5 of 10, under 80 %.
       61,
       {"+r/total:/80@3", "+r/total:/100@4", "-r/total:/80@3",
        "-r/total:/100@4"}},
      {"LlmCostPerAgent",
       R"({"name":"cost","kind":"llm_cost","severity":"warning","scope":"agent","window_s":60,"budget_usd":1,"levels_pct":[100]})",
       {{0, "LlmCallCompleted",
         {{"agent_id", "a1"}, {"model", "m"}, {"input_tokens", 1},
          {"output_tokens", 1}, {"cost_usd", 0.5}, {"latency_ms", 1}}},
        {1, "LlmCallCompleted",
         {{"agent_id", "a2"}, {"model", "m"}, {"input_tokens", 1},
          {"output_tokens", 1}, {"cost_usd", 2}, {"latency_ms", 1}}}},
       -1,
       {"+r/agent:a2/100@3"}},
      {"CustomRuleOnAFieldOfAnEventType",
       R"({"name":"deploy","kind":"custom","severity":"critical","event_type":"DeployFinished","field":"result.errors","op":">","value":0,"subject_field":"service"})",
       {{0, "DeployFinished", {{"service", "api"}, {"result", {{"errors", 0}}}}},
        {1, "DeployFinished", {{"service", "api"}, {"result", {{"errors", 3}}}}},
        {2, "DeployFinished", {{"service", "web"}, {"result", {{"errors", 1}}}}},
        {3, "DeployFinished", {{"service", "api"}, {"result", {{"errors", 0}}}}},
        {4, "DeployFinished", {{"service", "x"}, {"result", {{"errors", 9}}}},
         "$system"}},  // `$` streams are not evaluated
       -1,
       {"+r/subject:api@3", "+r/subject:web@4", "-r/subject:api@3"}},
  };
}

TEST(EvaluatorTest, EachRuleKindFiresAndResolvesOnItsScript) {
  for (const Script& script : Scripts()) {
    SCOPED_TRACE(script.name);
    const std::vector<eventlog::RecordedEvent> log =
        Log(script.rule, script.steps);
    EXPECT_EQ(Evaluate(log, script.final_tick_second), script.expected);
    // A replay from position 1 gives the same transitions.
    EXPECT_EQ(Evaluate(log, script.final_tick_second), script.expected);
  }
}

// Cut each script's log at every position: an evaluator restored from the
// snapshot entries taken there goes on exactly as the one that took them
// (the same entries, the same transitions after the cut).
TEST(EvaluatorTest, ASnapshotRestoredAtAnyPositionGoesOnAsTheOriginal) {
  const auto ids = [](const std::vector<Transition>& transitions,
                      std::vector<std::string>* out) {
    for (const Transition& t : transitions) {
      out->push_back((t.raised ? "+" : "-") + t.alert_id);
    }
  };
  for (const Script& script : Scripts()) {
    SCOPED_TRACE(script.name);
    const std::vector<eventlog::RecordedEvent> log =
        Log(script.rule, script.steps);
    for (size_t cut = 1; cut <= log.size(); ++cut) {
      SCOPED_TRACE(cut);
      Evaluator original;
      std::vector<std::string> out;
      std::vector<eventlog::RecordedEvent> rule_events;
      for (size_t i = 0; i < cut; ++i) {
        ids(original.Apply(log[i]), &out);
        if (log[i].stream == kRulesStream) rule_events.push_back(log[i]);
      }
      const auto entries = original.SnapshotEntries();
      Evaluator restored;
      ASSERT_TRUE(restored
                      .Restore(rule_events, std::map<std::string, std::string>(
                                                entries.begin(), entries.end()))
                      .ok());
      EXPECT_EQ(restored.position(), cut);
      EXPECT_EQ(restored.SnapshotEntries(), entries);
      std::vector<std::string> after_original, after_restored;
      for (size_t i = cut; i < log.size(); ++i) {
        ids(original.Apply(log[i]), &after_original);
        ids(restored.Apply(log[i]), &after_restored);
      }
      if (script.final_tick_second >= 0) {
        const int64_t now = kT0 + script.final_tick_second * kSecond;
        ids(original.Tick(now), &after_original);
        ids(restored.Tick(now), &after_restored);
      }
      EXPECT_EQ(after_restored, after_original);
      out.insert(out.end(), after_restored.begin(), after_restored.end());
      EXPECT_EQ(out, script.expected);
    }
  }
}

TEST(EvaluatorTest, AMalformedOrIncompleteSnapshotIsDataLoss) {
  const std::vector<eventlog::RecordedEvent> log =
      Log(R"({"name":"s","kind":"agent_silent","severity":"info","seconds":30})",
          {{0, "AgentHeartbeat", Heartbeat("a1", 1)}});
  Evaluator original;
  for (const eventlog::RecordedEvent& event : log) original.Apply(event);
  const auto taken = original.SnapshotEntries();
  const std::map<std::string, std::string> entries(taken.begin(), taken.end());
  ASSERT_TRUE(entries.contains("rule/r"));

  std::map<std::string, std::string> bad = entries;
  bad["clock"] = R"({"now":1})";
  absl::Status status = Evaluator().Restore({log[0]}, bad);
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_NE(status.message().find("clock"), std::string::npos) << status;

  bad = entries;
  bad.erase("rule/r");
  status = Evaluator().Restore({log[0]}, bad);
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_NE(status.message().find("rule/r"), std::string::npos) << status;
}

TEST(EvaluatorTest, AWallClockTickFiresTheSameAlertAsALaterEvent) {
  const std::vector<eventlog::RecordedEvent> log =
      Log(R"({"name":"s","kind":"agent_silent","severity":"info","seconds":30})",
          {{0, "AgentHeartbeat", Heartbeat("a1", 1)},
           {100, "AgentHeartbeat", Heartbeat("a1", 1)}});
  Evaluator live;
  EXPECT_TRUE(live.Apply(log[0]).empty());
  EXPECT_TRUE(live.Apply(log[1]).empty());
  // Live: the clock fires at 31 s, before the next heartbeat exists.
  std::vector<Transition> fired = live.Tick(kT0 + 31 * kSecond);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].alert_id, "r/agent:a1@2");
  std::vector<Transition> after = live.Apply(log[2]);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_FALSE(after[0].raised);
  EXPECT_EQ(after[0].alert_id, "r/agent:a1@2");
  // Replay: the later heartbeat's time fires the same alert.
  EXPECT_EQ(Evaluate(log), (std::vector<std::string>{"+r/agent:a1@2",
                                                "-r/agent:a1@2"}));
}

TEST(EvaluatorTest, EventsBeforeTheRegistrationAndOfDeletedRulesAreNotEvaluated) {
  std::vector<eventlog::RecordedEvent> log =
      Log(R"({"name":"m","kind":"heartbeat","severity":"info","metric":"cpu_pct","threshold":10})",
          {{1, "AgentHeartbeat", Heartbeat("a1", 50)}});
  // An event before the registration's position counts for nothing.
  eventlog::RecordedEvent early = log[1];
  early.position = 1;
  log[0].position = 2;
  log[1].position = 3;
  Evaluator evaluator;
  EXPECT_TRUE(evaluator.Apply(early).empty());
  EXPECT_TRUE(evaluator.Apply(log[0]).empty());
  std::vector<Transition> raised = evaluator.Apply(log[1]);
  ASSERT_EQ(raised.size(), 1u);
  // Deleting the rule resolves its open alert, as rule_deleted.
  eventlog::RecordedEvent deleted;
  const eventlog::EventData data = RuleDeletedEvent("r");
  deleted.stream = kRulesStream;
  deleted.type = data.type;
  deleted.data = data.data;
  deleted.position = 4;
  deleted.recorded_time_us = kT0 + 2 * kSecond;
  std::vector<Transition> resolved = evaluator.Apply(deleted);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_FALSE(resolved[0].raised);
  EXPECT_EQ(resolved[0].reason, "rule_deleted");
  EXPECT_TRUE(evaluator.open().empty());
}

TEST(EvaluatorTest, SubjectsPerRuleAreBounded) {
  std::vector<Step> steps;
  for (int i = 0; i < 5; ++i) {
    steps.push_back({i, "AgentHeartbeat", Heartbeat(absl::StrCat("a", i), 99)});
  }
  const std::vector<eventlog::RecordedEvent> log = Log(
      R"({"name":"m","kind":"heartbeat","severity":"info","metric":"cpu_pct","threshold":10})",
      steps);
  Evaluator evaluator({.max_subjects_per_rule = 3});
  size_t raised = 0;
  for (const eventlog::RecordedEvent& event : log) {
    raised += evaluator.Apply(event).size();
  }
  EXPECT_EQ(raised, 3u);
  EXPECT_EQ(evaluator.dropped_subjects(), 2u);
}

TEST(TransitionTest, EventsRoundTripAndKeysAreStable) {
  Transition t{.raised = true,
               .alert_id = "r/agent:a1@7",
               .rule_id = "r",
               .subject = {.kind = "agent", .id = "a1"},
               .cause_positions = {5, 6, 7},
               .evaluated_position = 7};
  AlertRule rule;
  rule.name = "n";
  rule.severity = "critical";
  const eventlog::EventData data = TransitionEvent(t, rule);
  eventlog::RecordedEvent event;
  event.type = data.type;
  event.data = data.data;
  absl::StatusOr<Transition> back = ParseTransition(event);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->alert_id, t.alert_id);
  EXPECT_EQ(back->cause_positions, t.cause_positions);
  EXPECT_EQ(back->evaluated_position, 7u);
  EXPECT_EQ(TransitionIdempotencyKey(t), TransitionIdempotencyKey(*back));
  Transition resolved = t;
  resolved.raised = false;
  EXPECT_NE(TransitionIdempotencyKey(t), TransitionIdempotencyKey(resolved));
  EXPECT_LE(TransitionIdempotencyKey(t).size(), 255u);
}

struct BadBody {
  std::string body;
  std::string message;  // a part of the error
};

TEST(RuleTest, BadBodiesAreRefusedNamingTheField) {
  const std::vector<BadBody> cases = {
      {"[]", "must be a JSON object"},
      {R"({"kind":"agent_silent","severity":"info","seconds":1})", "name is required"},
      {R"({"name":"n","kind":"nope","severity":"info"})", "kind must be one of"},
      {R"({"name":"n","kind":"agent_silent","severity":"loud","seconds":1})", "severity must be"},
      {R"({"name":"n","kind":"agent_silent","severity":"info"})", "seconds is required"},
      {R"({"name":"n","kind":"agent_silent","severity":"info","seconds":-1})", "seconds must be in"},
      {R"({"name":"n","kind":"agent_silent","severity":"info","seconds":1,"minutes":2})", "unknown field \"minutes\""},
      {R"({"name":"n","kind":"task_stuck","severity":"info","minutes":100000})", "minutes must be in"},
      {R"({"name":"n","kind":"failure_rate","severity":"info","window_s":60,"threshold_pct":120})", "threshold_pct must be in"},
      {R"({"name":"n","kind":"failure_rate","severity":"info","scope":"total","window_s":60,"threshold_pct":20})", "scope must be agent or manager"},
      {R"({"name":"n","kind":"llm_cost","severity":"info","window_s":60,"budget_usd":0})", "budget_usd must be in"},
      {R"({"name":"n","kind":"llm_cost","severity":"info","window_s":60,"budget_usd":1,"levels_pct":[80,80]})", "must not repeat"},
      {R"({"name":"n","kind":"llm_cost","severity":"info","window_s":60,"budget_usd":1,"levels_pct":[1,2,3,4,5,6]})", "levels_pct must be an array of 1 to 5"},
      {R"({"name":"n","kind":"heartbeat","severity":"info","metric":"disk","threshold":1})", "metric must be cpu_pct or mem_bytes"},
      {R"({"name":"n","kind":"heartbeat","severity":"info","metric":"cpu_pct","threshold":1,"samples":1000})", "samples must be a whole number in [1, 100]"},
      {R"({"name":"n","kind":"custom","severity":"info","event_type":"E","field":"f","op":"~","value":1})", "op must be one of"},
      {R"({"name":"n","kind":"custom","severity":"info","event_type":"E","field":"f","op":">","value":"x"})", "op must be == or !="},
      {R"({"name":"n","kind":"custom","severity":"info","event_type":"E","field":"f","op":"==","value":[1]})", "value must be"},
      {R"({"name":"n","kind":"custom","severity":"info","event_type":"E","field":"f","op":"=="})", "value is required"},
      {R"({"name":"n","kind":"agent_silent","severity":"info","seconds":1,"labels":{"a":1}})", "labels must map"},
  };
  for (const BadBody& c : cases) {
    absl::StatusOr<AlertRule> rule = ParseAlertRule(c.body);
    ASSERT_FALSE(rule.ok()) << c.body;
    EXPECT_EQ(rule.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(rule.status().message().find(c.message), std::string::npos)
        << c.body << " -> " << rule.status().message();
  }
}

TEST(RuleTest, EveryKindRoundTripsThroughItsJson) {
  const std::vector<std::string> bodies = {
      R"({"name":"a","kind":"task_stuck","severity":"warning","labels":{"team":"x"},"minutes":0.5})",
      R"({"name":"a","kind":"agent_silent","severity":"critical","seconds":30})",
      R"({"name":"a","kind":"failure_rate","severity":"info","scope":"manager","window_s":600,"threshold_pct":25,"min_outcomes":4})",
      R"({"name":"a","kind":"llm_cost","severity":"info","scope":"total","window_s":3600,"budget_usd":50,"levels_pct":[100,80]})",
      R"({"name":"a","kind":"heartbeat","severity":"info","metric":"mem_bytes","threshold":1e9,"samples":3})",
      R"({"name":"a","kind":"custom","severity":"info","event_type":"E","field":"a.b","op":"==","value":"x","subject_field":"who"})",
  };
  for (const std::string& body : bodies) {
    absl::StatusOr<AlertRule> rule = ParseAlertRule(body);
    ASSERT_TRUE(rule.ok()) << body << ": " << rule.status();
    const Json json = AlertRuleJson(*rule);
    absl::StatusOr<AlertRule> again = ParseAlertRule(base::DumpJson(json));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(AlertRuleJson(*again), json);
  }
  // Levels come back in order.
  EXPECT_EQ(AlertRuleJson(*ParseAlertRule(bodies[3]))["levels_pct"],
            Json({80.0, 100.0}));
}

}  // namespace
}  // namespace vigil::alerts
