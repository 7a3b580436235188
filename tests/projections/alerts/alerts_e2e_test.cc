// Alerting in the real vigild, over REST: rules registered, refused and
// bounded; each rule kind fires and resolves on a scripted sequence; kill
// -9 between a causing event and its alert neither loses nor repeats it;
// the log replayed from position 1 through a fresh Evaluator gives the
// alert events `$alerts` holds; /metrics counts them; a webhook subscribed
// to `$alerts` receives them signed (checked by receiver.py with Python's
// hmac).

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/json.h"
#include "gtest/gtest.h"
#include "projections/alerts/evaluator.h"
#include "tests/gateway/http_client.h"
#include "tests/projections/alerts/alerts_server_test.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"
#include "tests/testing/webhook_receiver.h"

namespace vigil::alerts {
namespace {

class AlertsE2eTest : public AlertsServerTest {};

TEST_F(AlertsE2eTest, RulesAreRegisteredListedDeletedRefusedAndBounded) {
  StartVigild({"--alerts-max-rules", "2"});
  const std::string id = Rule(
      R"({"name":"hot","kind":"heartbeat","severity":"warning","labels":{"team":"a"},"metric":"cpu_pct","threshold":90,"samples":2})");
  ASSERT_FALSE(id.empty());
  HttpResponse one = Call("GET", "/v1/alert-rules/" + id);
  EXPECT_EQ(one.status, 200);
  EXPECT_NE(one.body.find(R"("labels":{"team":"a"})"), std::string::npos)
      << one.body;

  HttpResponse bad = Call("POST", "/v1/alert-rules",
                          R"({"name":"x","kind":"heartbeat","severity":"info","metric":"disk","threshold":1})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Header("content-type"), "application/problem+json");
  EXPECT_NE(bad.body.find("metric must be cpu_pct or mem_bytes"),
            std::string::npos)
      << bad.body;

  Rule(R"({"name":"s","kind":"agent_silent","severity":"info","seconds":60})");
  HttpResponse third = Call("POST", "/v1/alert-rules",
                            R"({"name":"s","kind":"agent_silent","severity":"info","seconds":60})");
  EXPECT_EQ(third.status, 400);
  EXPECT_NE(third.body.find("--alerts-max-rules"), std::string::npos)
      << third.body;

  absl::StatusOr<Json> list = base::JsonFromText(Call("GET", "/v1/alert-rules").body);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)["rules"].size(), 2u);
  EXPECT_EQ(Call("DELETE", "/v1/alert-rules/" + id).status, 200);
  EXPECT_EQ(Call("GET", "/v1/alert-rules/" + id).status, 404);
  EXPECT_EQ(Call("PUT", "/v1/alert-rules").status, 405);

  // Rules are history: a restart reads them back from `$alert-rules`.
  vigild_->Terminate();
  StartVigild();
  list = base::JsonFromText(Call("GET", "/v1/alert-rules").body);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ((*list)["rules"].size(), 1u);
  EXPECT_EQ((*list)["rules"][0]["kind"], "agent_silent");
}

TEST_F(AlertsE2eTest, AlertAdministrationNeedsTheAdminRole) {
  std::ofstream(dir_.Sub("tokens"))
      << "agent-token-0123456789 agent\nreader-token-0123456789 reader\n"
         "admin-token-0123456789 admin\n";
  StartVigild({"--tokens-file", dir_.Sub("tokens")});
  const auto call = [&](const std::string& token, const std::string& method,
                        const std::string& target) {
    HttpConnection connection(static_cast<uint16_t>(http_port_));
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Authorization", "Bearer " + token}};
    std::string body;
    if (method == "POST") {
      headers.emplace_back("Content-Type", "application/json");
      body = R"({"name":"s","kind":"agent_silent","severity":"info","seconds":9})";
    }
    std::optional<HttpResponse> response =
        connection.Request(method, target, headers, body);
    return response.has_value() ? response->status : 0;
  };
  for (const std::string token :
       {"agent-token-0123456789", "reader-token-0123456789"}) {
    EXPECT_EQ(call(token, "GET", "/v1/alert-rules"), 403) << token;
    EXPECT_EQ(call(token, "POST", "/v1/alert-rules"), 403) << token;
    EXPECT_EQ(call(token, "GET", "/v1/alerts"), 403) << token;
  }
  EXPECT_EQ(call("nobody-0123456789abc", "GET", "/v1/alerts"), 401);
  EXPECT_EQ(call("admin-token-0123456789", "POST", "/v1/alert-rules"), 201);
  EXPECT_EQ(call("admin-token-0123456789", "GET", "/v1/alerts"), 200);
}

TEST_F(AlertsE2eTest, EachRuleKindFiresAndResolvesOnAScriptedSequence) {
  StartVigild();
  const std::string silent = Rule(
      R"({"name":"silent","kind":"agent_silent","severity":"critical","seconds":1})");
  const std::string stuck = Rule(
      R"({"name":"stuck","kind":"task_stuck","severity":"warning","minutes":0.02})");
  const std::string failures = Rule(
      R"({"name":"failures","kind":"failure_rate","severity":"critical","window_s":600,"threshold_pct":50,"min_outcomes":2})");
  const std::string cost = Rule(
      R"({"name":"cost","kind":"llm_cost","severity":"warning","scope":"agent","window_s":600,"budget_usd":1,"levels_pct":[100]})");
  const std::string hot = Rule(
      R"({"name":"hot","kind":"heartbeat","severity":"warning","metric":"cpu_pct","threshold":90,"samples":2})");
  const std::string custom = Rule(
      R"({"name":"deploy","kind":"custom","severity":"info","event_type":"DeployFinished","field":"errors","op":">","value":0})");

  // A silent agent (1 s), then a heartbeat again.
  const uint64_t hb = Append("agent-s", "AgentHeartbeat", Heartbeat("s1", 1));
  // A stuck task (1.2 s without progress), then completed.
  const uint64_t assigned = Append(
      "task-t1", "TaskAssigned",
      {{"task_id", "t1"}, {"manager_id", "m1"}, {"worker_id", "w9"}});
  // Two hot heartbeats, then a cool one.
  Append("agent-h", "AgentHeartbeat", Heartbeat("h1", 95));
  const uint64_t hot2 = Append("agent-h", "AgentHeartbeat", Heartbeat("h1", 97));
  // Failures 2 of 2, then successes bring it to 50 %.
  Append("task-f", "TaskFailed",
         {{"task_id", "f1"}, {"worker_id", "w1"}, {"error", "x"}});
  const uint64_t failed2 = Append(
      "task-f", "TaskFailed",
      {{"task_id", "f2"}, {"worker_id", "w1"}, {"error", "x"}});
  // A cost over budget.
  const uint64_t spent = Append(
      "llm", "LlmCallCompleted",
      {{"agent_id", "c1"}, {"model", "m"}, {"input_tokens", 1},
       {"output_tokens", 1}, {"cost_usd", 1.5}, {"latency_ms", 1}});
  const uint64_t deploy = Append("deploys", "DeployFinished", {{"errors", 2}});

  const std::string silent_id = absl::StrCat(silent, "/agent:s1@", hb);
  const std::string stuck_id = absl::StrCat(stuck, "/task:t1@", assigned);
  const std::string hot_id = absl::StrCat(hot, "/agent:h1@", hot2);
  const std::string failures_id = absl::StrCat(failures, "/agent:w1@", failed2);
  const std::string cost_id = absl::StrCat(cost, "/agent:c1/100@", spent);
  const std::string custom_id = absl::StrCat(custom, "/subject:deploys@", deploy);
  std::vector<std::string> raised = {"+" + silent_id, "+" + stuck_id,
                                     "+" + hot_id,    "+" + failures_id,
                                     "+" + cost_id,   "+" + custom_id};
  std::vector<std::string> got = WaitForAlerts(raised);
  for (const std::string& r : raised) EXPECT_EQ(Count(got, r), 1u) << r;

  // /v1/alerts lists them (and h1's silence: the silent rule watches every
  // agent); /metrics counts them by rule and state.
  absl::StatusOr<Json> open = base::JsonFromText(Call("GET", "/v1/alerts").body);
  ASSERT_TRUE(open.ok());
  std::set<std::string> listed;
  for (const Json& alert : (*open)["alerts"]) {
    listed.insert("+" + alert["alert_id"].get<std::string>());
  }
  for (const std::string& r : raised) EXPECT_TRUE(listed.contains(r)) << r;
  EXPECT_NE(Call("GET", "/metrics").body.find(
                absl::StrCat("vigil_alerts{rule=\"", hot, "\",state=\"open\"} 1")),
            std::string::npos);

  // Each resolves.
  Append("agent-s", "AgentHeartbeat", Heartbeat("s1", 1));
  Append("task-t1", "TaskCompleted", {{"task_id", "t1"}, {"worker_id", "w9"}});
  Append("agent-h", "AgentHeartbeat", Heartbeat("h1", 10));
  Append("task-f", "TaskCompleted", {{"task_id", "f3"}, {"worker_id", "w1"}});
  Append("task-f", "TaskCompleted", {{"task_id", "f4"}, {"worker_id", "w1"}});
  Call("DELETE", "/v1/alert-rules/" + cost);  // resolves as rule_deleted
  Append("deploys", "DeployFinished", {{"errors", 0}});
  std::vector<std::string> resolved;
  for (const std::string& r : raised) resolved.push_back("-" + r.substr(1));
  got = WaitForAlerts(resolved);
  for (const std::string& r : resolved) EXPECT_EQ(Count(got, r), 1u) << r;
  EXPECT_NE(Call("GET", "/metrics").body.find(
                absl::StrCat("vigil_alerts{rule=\"", hot, "\",state=\"resolved\"} 1")),
            std::string::npos);
}

TEST_F(AlertsE2eTest, KillNineBetweenCauseAndAlertNeitherLosesNorRepeatsIt) {
  StartVigild();
  const std::string hot = Rule(
      R"({"name":"hot","kind":"heartbeat","severity":"warning","metric":"cpu_pct","threshold":90})");
  vigild_->Terminate();

  // The cause made durable by a server that does not evaluate alerts (the
  // crash window held open), then kill -9.
  StartVigild({"--alerts", "off"});
  const uint64_t cause = Append("agent-a", "AgentHeartbeat", Heartbeat("a0", 99));
  absl::SleepFor(absl::Milliseconds(300));
  vigild_->Kill();
  const std::string first = absl::StrCat("+", hot, "/agent:a0@", cause);
  // Control: without the evaluator there is no alert (so the next wait is
  // not met by something else).
  StartVigild({"--alerts", "off"});
  EXPECT_EQ(Count(AlertEvents(), first), 0u);
  vigild_->Kill();

  StartVigild();
  EXPECT_EQ(Count(WaitForAlerts({first}), first), 1u);

  // Kill -9 right after each cause is acknowledged, five times over: every
  // alert appears, once.
  std::vector<std::string> wanted = {first};
  for (int i = 1; i <= 5; ++i) {
    const uint64_t position = Append(
        "agent-a", "AgentHeartbeat", Heartbeat(absl::StrCat("a", i), 99));
    wanted.push_back(absl::StrCat("+", hot, "/agent:a", i, "@", position));
    vigild_->Kill();
    StartVigild();
  }
  std::vector<std::string> got = WaitForAlerts(wanted);
  // And a restart after they are all in: none repeated.
  vigild_->Kill();
  StartVigild();
  WaitEvaluated();
  got = AlertEvents();
  for (const std::string& w : wanted) EXPECT_EQ(Count(got, w), 1u) << w;
  EXPECT_EQ(got.size(), wanted.size());
}

TEST_F(AlertsE2eTest, ReplayingTheLogFromZeroGivesTheSameAlertEvents) {
  StartVigild();
  Rule(R"({"name":"silent","kind":"agent_silent","severity":"critical","seconds":0.5})");
  Rule(R"({"name":"hot","kind":"heartbeat","severity":"warning","metric":"cpu_pct","threshold":90,"samples":2})");
  for (int round = 0; round < 3; ++round) {
    Append("agent-r", "AgentHeartbeat", Heartbeat("r1", 95));
    Append("agent-r", "AgentHeartbeat", Heartbeat("r1", 96));
    Append("agent-r", "AgentHeartbeat", Heartbeat("r1", 5));
    absl::SleepFor(absl::Milliseconds(1700));  // silent, by the clock
  }
  WaitEvaluated();
  vigild_->Terminate();
  StartVigild({"--alerts", "off"});  // the log, as it is
  const std::vector<Json> log = All();
  const std::vector<std::string> recorded = AlertEvents();
  ASSERT_GE(recorded.size(), 9u);  // 3 hot raised+resolved, 3 silences...

  const auto replay = [&](uint64_t skip_position) {
    return ReplayFromZero(log, skip_position);
  };
  EXPECT_EQ(replay(0),
            std::multiset<std::string>(recorded.begin(), recorded.end()));
  // Control: a log missing one heartbeat replays to other alerts.
  uint64_t a_heartbeat = 0;
  for (const Json& json : log) {
    if (json["type"] == "AgentHeartbeat") a_heartbeat = json["position"];
  }
  EXPECT_NE(replay(a_heartbeat),
            std::multiset<std::string>(recorded.begin(), recorded.end()));
}

// The evaluator's snapshot: a restart (after kill -9, and after a clean
// stop) resumes from the last one and reads only the events after it, and
// the log's `$alerts` is still what a replay from position 1 gives, each
// alert raised once.
TEST_F(AlertsE2eTest, ARestartResumesFromTheSnapshotWithTheSameAlerts) {
  const std::vector<std::string> flags = {"--alerts-snapshot-every", "50"};
  StartVigild(flags);
  Rule(R"({"name":"silent","kind":"agent_silent","severity":"critical","seconds":0.5})");
  Rule(R"({"name":"hot","kind":"heartbeat","severity":"warning","metric":"cpu_pct","threshold":90,"samples":2})");
  Rule(R"({"name":"cost","kind":"llm_cost","severity":"warning","scope":"total","window_s":600,"budget_usd":3,"levels_pct":[50,100]})");
  // Rounds of five agents: hot twice, then cool (raised, resolved), an LLM
  // call each time; then silence (raised by the clock).
  const auto rounds = [&](int from, int to) {
    for (int round = from; round < to; ++round) {
      for (int agent = 0; agent < 5; ++agent) {
        const std::string id = absl::StrCat("p", agent);
        Append("agent-" + id, "AgentHeartbeat",
               Heartbeat(id, round % 3 == 2 ? 5 : 95));
      }
      Append("llm", "LlmCallCompleted",
             {{"agent_id", "p0"}, {"model", "m"}, {"input_tokens", 1},
              {"output_tokens", 1}, {"cost_usd", 0.1}, {"latency_ms", 1}});
    }
    absl::SleepFor(absl::Milliseconds(1700));
    WaitEvaluated();
  };
  rounds(0, 40);
  const double snapshot = Metric("vigil_alert_snapshot_position");
  EXPECT_GT(snapshot, 0);
  EXPECT_EQ(Metric("vigil_alert_resumed_position"), 0);

  // kill -9: no snapshot at stop; the periodic one is resumed from.
  vigild_->Kill();
  StartVigild(flags);
  WaitEvaluated();
  const double resumed = Metric("vigil_alert_resumed_position");
  const uint64_t head = All().back()["position"].get<uint64_t>();
  EXPECT_GE(resumed, snapshot);
  EXPECT_GE(resumed, static_cast<double>(head) / 2);
  // It applied the events after the snapshot, not the log.
  absl::StatusOr<Json> open = base::JsonFromText(Call("GET", "/v1/alerts").body);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(Metric("vigil_alert_events_evaluated"),
            (*open)["evaluated_position"].get<double>() - resumed);

  // More alerts after the restart, then a clean stop: the snapshot written
  // at the stop is resumed from, and there is nothing left to read.
  rounds(40, 46);
  const uint64_t evaluated = static_cast<uint64_t>(
      base::JsonFromText(Call("GET", "/v1/alerts").body)->at("evaluated_position").get<double>());
  vigild_->Terminate();
  StartVigild(flags);
  WaitEvaluated();
  EXPECT_EQ(Metric("vigil_alert_resumed_position"), static_cast<double>(evaluated));
  EXPECT_EQ(Metric("vigil_alert_events_evaluated"), 0);

  vigild_->Terminate();
  StartVigild({"--alerts", "off"});  // the log, as it is
  const std::vector<Json> log = All();
  const std::vector<std::string> recorded = AlertEvents();
  ASSERT_GE(recorded.size(), 40u);
  EXPECT_EQ(ReplayFromZero(log, 0),
            std::multiset<std::string>(recorded.begin(), recorded.end()));
  for (const std::string& event : recorded) {
    EXPECT_EQ(Count(recorded, event), 1u) << event;
  }
}

TEST_F(AlertsE2eTest, AWebhookSubscribedToAlertsReceivesThemSigned) {
  std::filesystem::create_directories(dir_.Sub("receiver"));
  testing::Receiver receiver(dir_.Sub("receiver"));
  ASSERT_NO_FATAL_FAILURE(receiver.Start());

  StartVigild({"--webhooks-allow-private"});
  HttpResponse hook = Call(
      "POST", "/v1/webhooks",
      absl::StrCat(R"({"url":")", receiver.url(),
                   R"(","filter":{"stream_prefixes":["$alerts"]}})"));
  ASSERT_EQ(hook.status, 201) << hook.body;
  absl::StatusOr<Json> endpoint = base::JsonFromText(hook.body);
  ASSERT_TRUE(endpoint.ok());
  receiver.SetSecret((*endpoint)["secret"].get<std::string>());

  const std::string hot = Rule(
      R"({"name":"hot","kind":"heartbeat","severity":"warning","metric":"cpu_pct","threshold":90})");
  const uint64_t cause = Append("agent-w", "AgentHeartbeat", Heartbeat("w1", 99));
  Append("agent-w", "AgentHeartbeat", Heartbeat("w1", 1));

  const std::string alert_id = absl::StrCat(hot, "/agent:w1@", cause);
  const std::vector<testing::Delivery> received =
      receiver.WaitForDelivered(2, absl::Seconds(30));
  receiver.Stop();
  ASSERT_EQ(received.size(), 2u) << ReadFile(dir_.Sub("vigild.log"));
  std::vector<std::string> types;
  for (const testing::Delivery& record : received) {
    EXPECT_TRUE(record.verified) << record.body;
    absl::StatusOr<Json> body = base::JsonFromText(record.body);
    ASSERT_TRUE(body.ok());
    EXPECT_EQ((*body)["stream"], "$alerts");
    EXPECT_EQ((*body)["data"]["alert_id"], alert_id);
    types.push_back((*body)["type"].get<std::string>());
  }
  EXPECT_EQ(types, (std::vector<std::string>{"AlertRaised", "AlertResolved"}));
}

}  // namespace
}  // namespace vigil::alerts
