// Append throughput with 50 alert rules evaluating beside the log against
// none (docs/alerts.md, issue 23; RESULTS.md "Alerts"). Each round runs both
// configurations, in alternating order, on fresh logs in the same process:
// A threads append single domain events (heartbeats, task outcomes, LLM
// calls) with sync for S seconds while, in the second configuration, an
// AlertService with 50 rules (all six kinds) follows the log. Prints each
// round (and its own ratio: the two runs of a round are next to each other
// in time, so load that drifts over minutes moves both), the medians and
// their ratio, the median and range of the rounds' ratios, how far behind
// the evaluator was at the end, and the load average before and after.
//
//   alerts_append_bench [--rounds 7] [--seconds 3] [--appenders 16]
// (--rounds 0: the evaluator alone)

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/json.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "projections/alerts/alert_service.h"
#include "projections/alerts/evaluator.h"
#include "projections/alerts/rule.h"
#include "projections/alerts/rule_set.h"

namespace {

using vigil::base::Json;

// Fifty rules: every kind, each reading the events of its kind; as in
// production, few of them fire (a cost level per rule once the total
// passes it, a hot agent now and then).
std::vector<std::string> Rules() {
  const std::vector<std::string> kinds = {
      R"({"name":"silent","kind":"agent_silent","severity":"critical","seconds":%d})",
      R"({"name":"stuck","kind":"task_stuck","severity":"warning","minutes":%d})",
      R"({"name":"fail","kind":"failure_rate","severity":"critical","window_s":60,"threshold_pct":%d,"min_outcomes":3})",
      R"({"name":"cost","kind":"llm_cost","severity":"warning","scope":"total","window_s":60,"budget_usd":%d})",
      R"({"name":"hot","kind":"heartbeat","severity":"warning","metric":"cpu_pct","threshold":%d,"samples":2})",
      R"({"name":"custom","kind":"custom","severity":"info","event_type":"ToolCalled","field":"duration_ms","op":">","value":%d})",
  };
  std::vector<std::string> rules;
  for (int i = 0; rules.size() < 50; ++i) {
    const std::string& pattern = kinds[i % kinds.size()];
    const size_t at = pattern.find("%d");
    rules.push_back(pattern.substr(0, at) + std::to_string(48 + i) +
                    pattern.substr(at + 2));
  }
  return rules;
}

// The i-th event an appender writes.
vigil::eventlog::EventData DomainEvent(int appender, uint64_t i) {
  const std::string agent = absl::StrCat("agent-", appender, "-", i % 20);
  const std::string task = absl::StrCat("task-", appender, "-", i);
  Json data;
  std::string type;
  switch (i % 5) {
    case 0:
      type = "AgentHeartbeat";
      data = {{"agent_id", agent}, {"cpu_pct", i % 1000 < 10 ? 99.0 : 20.0},
              {"mem_bytes", 1000}, {"queue_depth", 1}};
      break;
    case 1:
      type = "TaskAssigned";
      data = {{"task_id", task}, {"manager_id", "m"}, {"worker_id", agent}};
      break;
    case 2:
      type = i % 3 == 0 ? "TaskFailed" : "TaskCompleted";
      data = {{"task_id", absl::StrCat("task-", appender, "-", i - 1)},
              {"worker_id", agent}};
      if (type == "TaskFailed") data["error"] = "x";
      break;
    case 3:
      type = "LlmCallCompleted";
      data = {{"agent_id", agent}, {"model", "m"}, {"input_tokens", 100},
              {"output_tokens", 100}, {"cost_usd", 0.01}, {"latency_ms", 5}};
      break;
    default:
      type = "ToolCalled";
      data = {{"agent_id", agent}, {"tool", "t"},
              {"duration_ms", static_cast<double>(i % 50)}, {"ok", true}};
  }
  vigil::eventlog::EventData event;
  event.type = type;
  event.data = vigil::base::DumpJson(data);
  event.content_type = vigil::eventlog::kJsonContentType;
  return event;
}

struct Result {
  double events_per_s = 0;
  uint64_t appended = 0;
  uint64_t head = 0;
  uint64_t evaluated = 0;  // 0 without rules
};

Result RunOnce(bool with_rules, int seconds, int appenders) {
  std::string dir = (std::filesystem::temp_directory_path() /
                     "vigil-alerts-bench-XXXXXX")
                        .string();
  if (mkdtemp(dir.data()) == nullptr) std::abort();
  Result result;
  {
    std::unique_ptr<vigil::eventlog::EventLog> log =
        *vigil::eventlog::EventLog::Open(vigil::eventlog::Options{}, dir);
    vigil::base::Metrics metrics;
    std::unique_ptr<vigil::alerts::AlertService> service;
    if (with_rules) {
      service = *vigil::alerts::AlertService::Start(
          {.metrics = &metrics}, log.get());
      for (const std::string& rule : Rules()) {
        if (!service->RegisterRule(rule).ok()) std::abort();
      }
    }
    const uint64_t start_head = log->HeadPosition();
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> appended{0};
    std::vector<std::thread> threads;
    for (int a = 0; a < appenders; ++a) {
      threads.emplace_back([&, a] {
        for (uint64_t i = 0; !stop; ++i) {
          vigil::eventlog::AppendRequest request;
          request.stream = absl::StrCat("bench-", a);
          request.events.push_back(DomainEvent(a, i));
          if (log->Append(request).ok()) ++appended;
        }
      });
    }
    absl::SleepFor(absl::Seconds(seconds));
    stop = true;
    for (std::thread& thread : threads) thread.join();
    result.appended = appended;
    result.events_per_s = static_cast<double>(appended) / seconds;
    result.head = log->HeadPosition() - start_head;
    if (service != nullptr) {
      absl::StatusOr<std::string> open = service->OpenAlerts();
      absl::StatusOr<Json> json = vigil::base::JsonFromText(*open);
      result.evaluated =
          (*json)["evaluated_position"].get<uint64_t>() - start_head;
      service->Stop();
    }
  }
  std::filesystem::remove_all(dir);
  return result;
}

// The evaluator alone, in this thread: microseconds per event of the same
// mix through 50 rules (what the evaluation thread spends per append).
double EvaluatorMicrosPerEvent(int rules_count, uint64_t events) {
  vigil::alerts::Evaluator evaluator;
  uint64_t position = 0;
  const auto apply = [&](const vigil::eventlog::EventData& data,
                         const std::string& stream) {
    vigil::eventlog::RecordedEvent event;
    event.stream = stream;
    event.type = data.type;
    event.data = data.data;
    event.content_type = data.content_type;
    event.position = ++position;
    event.recorded_time_us = int64_t{1800000000000000} + position * 100;
    evaluator.Apply(event);
  };
  const std::vector<std::string> rules = Rules();
  for (int i = 0; i < rules_count; ++i) {
    apply(vigil::alerts::RuleRegisteredEvent(
              absl::StrCat("r", i), *vigil::alerts::ParseAlertRule(rules[i])),
          vigil::alerts::kRulesStream);
  }
  std::vector<vigil::eventlog::EventData> mix;
  for (uint64_t i = 0; i < events; ++i) mix.push_back(DomainEvent(i % 16, i));
  const absl::Time start = absl::Now();
  for (const vigil::eventlog::EventData& data : mix) apply(data, "bench");
  return absl::ToDoubleMicroseconds(absl::Now() - start) /
         static_cast<double>(events);
}

// /proc/loadavg's first three fields ("?" where there is none).
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one = "?", five = "?", fifteen = "?";
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 7, seconds = 3, appenders = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = value;
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = value;
    if (std::strcmp(argv[i], "--appenders") == 0) appenders = value;
  }
  for (int round = 1; round <= 3; ++round) {
    const double none_us = EvaluatorMicrosPerEvent(0, 200000);
    const double fifty_us = EvaluatorMicrosPerEvent(50, 200000);
    std::printf("evaluator alone, round %d: %.2f us/event with no rules, "
                "%.2f us/event with 50\n",
                round, none_us, fifty_us);
    std::fflush(stdout);
  }
  if (rounds < 1) return 0;
  std::printf("load average before: %s\n", LoadAverage().c_str());
  std::vector<double> none, fifty, ratios;
  for (int round = 1; round <= rounds; ++round) {
    // Alternate the order, so drift in the machine's load favours neither.
    for (int turn = 0; turn < 2; ++turn) {
      const bool with_rules = (round + turn) % 2 == 0;
      const Result r = RunOnce(with_rules, seconds, appenders);
      (with_rules ? fifty : none).push_back(r.events_per_s);
      std::printf("round %d %-8s %9.0f events/s", round,
                  with_rules ? "50 rules" : "no rules", r.events_per_s);
      if (with_rules) {
        std::printf("  (%lu alert events; evaluated %lu of %lu at the end)",
                    static_cast<unsigned long>(r.head - r.appended),
                    static_cast<unsigned long>(r.evaluated),
                    static_cast<unsigned long>(r.head));
      }
      std::printf("\n");
      std::fflush(stdout);
    }
    ratios.push_back(fifty.back() / none.back());
    std::printf("round %d ratio %.3fx\n", round, ratios.back());
  }
  const double ratio = Median(fifty) / Median(none);
  std::printf("median: no rules %.0f, 50 rules %.0f events/s: %.3fx\n",
              Median(none), Median(fifty), ratio);
  std::printf("rounds' ratios: median %.3fx, from %.3fx to %.3fx\n",
              Median(ratios), *std::min_element(ratios.begin(), ratios.end()),
              *std::max_element(ratios.begin(), ratios.end()));
  std::printf("load average after: %s\n", LoadAverage().c_str());
  return 0;
}
