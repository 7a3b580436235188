// The simulator's incident scenarios against the real vigild: the real
// `vigil simulate --scenario ...` (VIGIL_BINARY) plays a team of agents and
// one incident over gRPC while rules registered over REST watch; for each
// scenario the rule of its kind raises an alert on the incident's subject
// and resolves it when the scenario recovers, and a control rule of the
// same kind, registered beside it with a threshold the incident does not
// reach, raises none on that subject (docs/alerts.md "Simulator
// scenarios").

#include <sys/wait.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/json.h"
#include "gtest/gtest.h"
#include "tests/projections/alerts/alerts_server_test.h"
#include "tests/testing/vigild_process.h"

namespace vigil::alerts {
namespace {

// Steps per second the simulator sends, and the incident's steps: 1 s of
// a healthy team, then 3 s of incident, then recovery.
constexpr int kRate = 100;
constexpr int kIncidentStart = 100;
constexpr int kIncidentSteps = 300;
// About 750 steps: 3.5 s after the incident ends.
constexpr int kEvents = 1000;

// One alert event of `$alerts`.
struct AlertEvent {
  bool raised = false;
  std::string alert_id;
  std::string rule_id;
  std::string subject;  // "<kind>:<id>"
};

class AlertsScenariosTest : public AlertsServerTest {
 protected:
  // Runs `vigil simulate` with `scenario` to its end; returns its summary
  // line as JSON (the incident agent's id in "incident_agent").
  Json Simulate(const std::string& scenario) {
    const std::string log = dir_.Sub("simulate-" + scenario + ".log");
    const pid_t pid = testing::SpawnLogged(
        {VIGIL_BINARY, "simulate", "--server",
         absl::StrCat("127.0.0.1:", grpc_port_), "--scenario", scenario,
         "--prefix", "inc", "--seed", "1", "--rate", absl::StrCat(kRate),
         "--events", absl::StrCat(kEvents), "--conflict-rate", "0",
         "--incident-start", absl::StrCat(kIncidentStart), "--incident-steps",
         absl::StrCat(kIncidentSteps)},
        log);
    EXPECT_GT(pid, 0);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(log);
    std::istringstream lines(ReadFile(log));
    for (std::string line; std::getline(lines, line);) {
      absl::StatusOr<Json> json = base::JsonFromText(line);
      if (json.ok() && json->is_object() && json->value("simulate", "") == "summary") {
        return *json;
      }
    }
    ADD_FAILURE() << "no summary: " << ReadFile(log);
    return Json::object();
  }

  std::vector<AlertEvent> Alerts() {
    std::vector<AlertEvent> out;
    for (const Json& event : All()) {
      if (event["stream"] != "$alerts") continue;
      const Json& data = event["data"];
      out.push_back({event["type"] == "AlertRaised",
                     data["alert_id"].get<std::string>(),
                     data["rule_id"].get<std::string>(),
                     absl::StrCat(data["subject"]["kind"].get<std::string>(),
                                  ":", data["subject"]["id"].get<std::string>())});
    }
    return out;
  }

  // The alert events of `rule` about `subject` ("<kind>:<id>"), as
  // "+alert_id" / "-alert_id"; waits (up to 30 s) until every alert raised
  // is resolved when `resolved` is set.
  std::vector<std::string> AlertsOn(const std::string& rule,
                                    const std::string& subject,
                                    bool resolved) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (true) {
      std::vector<std::string> out;
      std::map<std::string, int> open;
      for (const AlertEvent& alert : Alerts()) {
        if (alert.rule_id != rule || alert.subject != subject) continue;
        out.push_back((alert.raised ? "+" : "-") + alert.alert_id);
        open[alert.alert_id] += alert.raised ? 1 : -1;
      }
      bool settled = !out.empty();
      for (const auto& [id, count] : open) settled = settled && count == 0;
      if (!resolved || settled || absl::Now() > deadline) return out;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  // Registers `firing` and `control` (rule bodies of one kind), plays
  // `scenario`, and checks: `firing` raised at least one alert on
  // `subject` (with `{agent}` replaced by the incident agent's id), each
  // resolved exactly once; `control` raised none on it.
  void Check(const std::string& scenario, const std::string& firing,
             const std::string& control, const std::string& subject) {
    StartVigild();
    const std::string fires = Rule(firing);
    const std::string quiet = Rule(control);
    ASSERT_FALSE(fires.empty());
    ASSERT_FALSE(quiet.empty());
    const Json summary = Simulate(scenario);
    const std::string agent = summary.value("incident_agent", "");
    ASSERT_EQ(agent, "inc-s1-x0") << summary.dump();
    std::string who = subject;
    who.replace(who.find("{agent}"), 7, agent);

    const std::vector<std::string> got = AlertsOn(fires, who, true);
    ASSERT_FALSE(got.empty()) << "no alert of " << firing << " on " << who;
    std::map<std::string, std::pair<int, int>> counts;  // raised, resolved
    for (const std::string& event : got) {
      (event[0] == '+' ? counts[event.substr(1)].first
                       : counts[event.substr(1)].second)++;
    }
    for (const auto& [id, count] : counts) {
      EXPECT_EQ(count, std::make_pair(1, 1)) << id;
    }
    // The evaluator has seen the whole run (and the clock past it): the
    // control had every chance to fire.
    WaitEvaluated();
    EXPECT_TRUE(AlertsOn(quiet, who, false).empty())
        << "the control " << control << " fired on " << who;
  }
};

TEST_F(AlertsScenariosTest, StuckWorker) {
  // The task is quiet for 3 s: stuck after 1.2 s, not after 6 s.
  Check("stuck-worker",
        R"({"name":"stuck","kind":"task_stuck","severity":"warning","minutes":0.02})",
        R"({"name":"stuck-control","kind":"task_stuck","severity":"warning","minutes":0.1})",
        "task:{agent}-t0");
}

TEST_F(AlertsScenariosTest, SilentAgent) {
  // The agent is silent for 3 s: after 1 s, not after 6 s.
  Check("silent-agent",
        R"({"name":"silent","kind":"agent_silent","severity":"critical","seconds":1})",
        R"({"name":"silent-control","kind":"agent_silent","severity":"critical","seconds":6})",
        "agent:{agent}");
}

TEST_F(AlertsScenariosTest, FailureBurst) {
  // 3 failures of 3 outcomes, then 3 completions (50 %): over 50 % with at
  // least 3 outcomes, never with at least 7.
  Check("failure-burst",
        R"({"name":"failures","kind":"failure_rate","severity":"critical","window_s":600,"threshold_pct":50,"min_outcomes":3})",
        R"({"name":"failures-control","kind":"failure_rate","severity":"critical","window_s":600,"threshold_pct":50,"min_outcomes":7})",
        "agent:{agent}");
}

TEST_F(AlertsScenariosTest, CostOverrun) {
  // $5.10 within half a second: over 80 % and 100 % of $4 (both levels,
  // resolved when the 2 s window moves past them), under 80 % of $10.
  Check("cost-overrun",
        R"({"name":"cost","kind":"llm_cost","severity":"warning","scope":"agent","window_s":2,"budget_usd":4,"levels_pct":[80,100]})",
        R"({"name":"cost-control","kind":"llm_cost","severity":"warning","scope":"agent","window_s":2,"budget_usd":10,"levels_pct":[80,100]})",
        "agent:{agent}");
}

}  // namespace
}  // namespace vigil::alerts
