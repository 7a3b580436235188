// The simulator's scenario without a server: deterministic for a seed, valid
// for the server's domain checks, every domain type, consistent lifecycles,
// and races that a sequential client resolves with OnConflict.

#include "tools/simulator/scenario.h"

#include <simdjson.h>

#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api/domain_events.h"
#include "domain/event_types.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/domain_checks.h"

namespace vigil::simulator {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::unique_ptr<Scenario> Make(ScenarioOptions options) {
  absl::StatusOr<std::unique_ptr<Scenario>> scenario =
      Scenario::Create(std::move(options));
  EXPECT_TRUE(scenario.ok()) << scenario.status();
  return scenario.ok() ? *std::move(scenario) : nullptr;
}

// Everything of a step, as one line to compare.
std::string Describe(const Step& step) {
  std::string text = step.request.stream + " " +
                     step.request.expected_revision.ToString() + " " +
                     step.request.idempotency_key +
                     (step.races_previous ? " race" : "");
  for (const eventlog::EventData& event : step.request.events) {
    text += "\n  " + event.event_id + " " + event.type + " " + event.data +
            " " + event.metadata;
  }
  return text;
}

std::vector<std::string> Steps(ScenarioOptions options, int steps) {
  std::unique_ptr<Scenario> scenario = Make(std::move(options));
  std::vector<std::string> described;
  for (int i = 0; i < steps; ++i) described.push_back(Describe(scenario->Next()));
  return described;
}

// A log in memory that checks expected revisions as the real one does, and
// a client that appends the scenario's steps to it one by one, resolving
// conflicts with OnConflict, as the projections benchmark would.
struct MemoryLog {
  std::map<std::string, std::vector<testing::TypedEvent>> streams;
  std::vector<eventlog::EventData> all;
  int conflicts = 0;
  int dropped = 0;

  bool Matches(const eventlog::AppendRequest& request) const {
    auto it = streams.find(request.stream);
    const eventlog::ExpectedRevision& expected = request.expected_revision;
    switch (expected.kind()) {
      case eventlog::ExpectedRevision::Kind::kNoStream:
        return it == streams.end();
      case eventlog::ExpectedRevision::Kind::kExact:
        return it != streams.end() &&
               it->second.size() == expected.revision() + 1;
      default:
        ADD_FAILURE() << "the scenario sent " << expected.ToString();
        return true;
    }
  }

  void Apply(const Step& step) {
    if (!Matches(step.request)) {
      ++conflicts;
      auto it = streams.find(step.request.stream);
      std::optional<uint64_t> actual;
      if (it != streams.end()) actual = it->second.size() - 1;
      std::optional<Step> retry = Scenario::OnConflict(step, actual);
      if (!retry.has_value()) {
        ++dropped;
        return;
      }
      EXPECT_NE(retry->request.idempotency_key, step.request.idempotency_key);
      ASSERT_TRUE(Matches(retry->request)) << Describe(*retry);
      Apply(*retry);
      return;
    }
    for (const eventlog::EventData& event : step.request.events) {
      streams[step.request.stream].push_back({event.type, event.data});
      all.push_back(event);
    }
  }
};

TEST(ScenarioTest, SameSeedSameStepsOtherSeedOtherSteps) {
  ScenarioOptions options{.seed = 42, .conflict_rate = 0.05};
  const std::vector<std::string> first = Steps(options, 3000);
  EXPECT_EQ(Steps(options, 3000), first);
  options.seed = 43;
  const std::vector<std::string> other = Steps(options, 3000);
  int same = 0;
  for (size_t i = 0; i < first.size(); ++i) same += first[i] == other[i];
  EXPECT_LT(same, 10);
}

// Another prefix: the same decisions, none of the same names.
TEST(ScenarioTest, PrefixesDoNotCollide) {
  std::unique_ptr<Scenario> a = Make({.seed = 7, .id_prefix = "alpha"});
  std::unique_ptr<Scenario> b = Make({.seed = 7, .id_prefix = "beta"});
  std::set<std::string> names;
  std::vector<std::string> types_a, types_b;
  for (int i = 0; i < 2000; ++i) {
    const Step step = a->Next();
    names.insert(step.request.stream);
    names.insert(step.request.idempotency_key);
    for (const auto& event : step.request.events) {
      names.insert(event.event_id);
      types_a.push_back(event.type);
    }
  }
  for (int i = 0; i < 2000; ++i) {
    const Step step = b->Next();
    EXPECT_FALSE(names.contains(step.request.stream));
    EXPECT_FALSE(names.contains(step.request.idempotency_key));
    for (const auto& event : step.request.events) {
      EXPECT_FALSE(names.contains(event.event_id)) << event.event_id;
      types_b.push_back(event.type);
    }
  }
  EXPECT_EQ(types_a, types_b);
  EXPECT_EQ(a->steps(), 2000u);
}

TEST(ScenarioTest, EveryEventIsAValidDomainEventAndEveryTypeOccurs) {
  std::unique_ptr<Scenario> scenario =
      Make({.managers = 3, .workers = 12, .seed = 1, .conflict_rate = 0.05});
  std::map<std::string, int> counts;
  std::set<std::string> event_ids, keys;
  simdjson::dom::parser parser;
  for (int i = 0; i < 5000; ++i) {
    const Step step = scenario->Next();
    ASSERT_FALSE(step.request.events.empty());
    EXPECT_TRUE(keys.insert(step.request.idempotency_key).second);
    EXPECT_LE(step.request.idempotency_key.size(), 255u);
    EXPECT_TRUE(step.request.stream.starts_with("agent-") ||
                step.request.stream.starts_with("task-"));
    ASSERT_TRUE(api::ValidateDomainEvents(step.request.events).ok())
        << api::ValidateDomainEvents(step.request.events) << "\n"
        << Describe(step);
    for (const eventlog::EventData& event : step.request.events) {
      ASSERT_NE(domain::FindDomainEventType(event.type), nullptr) << event.type;
      ++counts[event.type];
      EXPECT_TRUE(event_ids.insert(event.event_id).second);
      EXPECT_EQ(event.event_id.size(), 36u);
      simdjson::dom::element metadata;
      ASSERT_EQ(parser.parse(event.metadata).get(metadata), simdjson::SUCCESS);
      std::string_view correlation;
      EXPECT_EQ(metadata["correlation_id"].get_string().get(correlation),
                simdjson::SUCCESS)
          << event.metadata;
      EXPECT_FALSE(correlation.empty());
      if (event.type != "LlmCallCompleted") continue;
      // cost_usd follows the price table.
      simdjson::dom::element data;
      ASSERT_EQ(parser.parse(event.data).get(data), simdjson::SUCCESS);
      const std::string_view model = data["model"].get_string().value();
      const ModelPrice* price = nullptr;
      for (const ModelPrice& p : ModelPrices()) {
        if (p.model == model) price = &p;
      }
      ASSERT_NE(price, nullptr) << model;
      const double expected =
          (double(int64_t(data["input_tokens"])) * price->usd_per_million_input +
           double(int64_t(data["output_tokens"])) *
               price->usd_per_million_output) /
          1e6;
      EXPECT_NEAR(double(data["cost_usd"]), expected, 1e-6);
    }
  }
  for (const domain::DomainEventType& type : domain::DomainEventTypes()) {
    // Spans come from OTLP exporters (docs/otlp.md), not from the native
    // agents the simulator plays.
    if (type.type == "SpanRecorded") continue;
    EXPECT_GT(counts[std::string(type.type)], 0) << type.type;
  }
  // Realistic proportions: most tasks complete, some fail; some tool calls
  // fail.
  EXPECT_GT(counts["TaskCompleted"], 2 * counts["TaskFailed"]);
  EXPECT_GT(counts["TaskFailed"], 0);
}

TEST(ScenarioTest, AppliedInOrderLifecyclesAreConsistentAndRacesResolve) {
  std::unique_ptr<Scenario> scenario =
      Make({.managers = 2, .workers = 6, .seed = 99, .conflict_rate = 0.1});
  MemoryLog log;
  int races = 0;
  for (int i = 0; i < 6000; ++i) {
    const Step step = scenario->Next();
    races += step.races_previous;
    log.Apply(step);
  }
  EXPECT_GT(races, 10);
  // Every race is a conflict, and nothing else is.
  EXPECT_EQ(log.conflicts, races);
  EXPECT_EQ(log.dropped, 0);
  int tasks = 0, ended = 0;
  for (const auto& [stream, events] : log.streams) {
    SCOPED_TRACE(stream);
    if (stream.starts_with("task-")) {
      ++tasks;
      EXPECT_THAT(testing::CheckTaskLifecycle(events), IsEmpty());
      const std::string& last = events.back().type;
      ended += last == "TaskCompleted" || last == "TaskFailed";
    } else {
      EXPECT_THAT(testing::CheckAgentLifecycle(events), IsEmpty());
    }
  }
  EXPECT_GT(tasks, 100);
  EXPECT_GT(ended, tasks / 2);
}

// Each incident: valid events and lifecycles, and the incident agent does
// what scenario.h says in the steps it says, beside the team.
TEST(ScenarioTest, IncidentsPlayTheirScriptAtTheirSteps) {
  constexpr uint64_t kStart = 100, kLength = 300, kTotal = 1000;
  const auto during = [&](uint64_t step) {
    return step >= kStart && step < kStart + kLength;
  };
  for (Incident incident :
       {Incident::kStuckWorker, Incident::kSilentAgent,
        Incident::kFailureBurst, Incident::kCostOverrun}) {
    SCOPED_TRACE(IncidentName(incident));
    std::unique_ptr<Scenario> scenario =
        Make({.seed = 5, .incident = incident, .incident_start = kStart,
              .incident_steps = kLength});
    const std::string agent = scenario->incident_agent();
    EXPECT_EQ(agent, "sim-s5-x0");
    MemoryLog log;
    // The incident agent's events (on its streams) with their step.
    std::vector<std::pair<uint64_t, testing::TypedEvent>> own;
    for (uint64_t i = 0; i < kTotal; ++i) {
      const Step step = scenario->Next();
      ASSERT_TRUE(api::ValidateDomainEvents(step.request.events).ok())
          << Describe(step);
      log.Apply(step);
      if (step.request.stream.find(agent) == std::string::npos) continue;
      for (const eventlog::EventData& event : step.request.events) {
        own.push_back({i, {event.type, event.data}});
      }
    }
    for (const auto& [stream, events] : log.streams) {
      SCOPED_TRACE(stream);
      EXPECT_THAT(stream.starts_with("task-")
                      ? testing::CheckTaskLifecycle(events)
                      : testing::CheckAgentLifecycle(events),
                  IsEmpty());
    }
    ASSERT_FALSE(own.empty());
    // Last step of the agent before the incident and first after it, of
    // the kinds that count.
    const auto around = [&](auto counts) {
      uint64_t last_before = 0, first_after = kTotal, inside = 0;
      for (const auto& [i, event] : own) {
        if (!counts(event)) continue;
        if (i < kStart) last_before = i;
        if (during(i)) ++inside;
        if (i >= kStart + kLength) first_after = std::min(first_after, i);
      }
      EXPECT_GE(last_before + 2 * kIncidentBeat, kStart);
      EXPECT_LE(first_after, kStart + kLength + 2 * kIncidentBeat);
      return inside;
    };
    std::vector<std::string> outcomes;
    int costly = 0;
    for (const auto& [i, event] : own) {
      if (event.type == "TaskFailed") outcomes.push_back(during(i) ? "F" : "f?");
      if (event.type == "TaskCompleted") outcomes.push_back(during(i) ? "C?" : "C");
      if (event.type == "LlmCallCompleted" &&
          event.data.find("\"cost_usd\":0.51") != std::string::npos) {
        EXPECT_TRUE(during(i)) << i;
        ++costly;
      }
    }
    switch (incident) {
      case Incident::kStuckWorker:
        // The task goes quiet for the incident; the agent does not.
        EXPECT_EQ(around([](const testing::TypedEvent& e) {
                    return e.type == "TaskProgress";
                  }),
                  0u);
        EXPECT_GT(std::count_if(own.begin(), own.end(),
                                [&](const auto& step_event) {
                                  return during(step_event.first) &&
                                         step_event.second.type ==
                                             "AgentHeartbeat";
                                }),
                  50);
        EXPECT_EQ(outcomes, (std::vector<std::string>{"C"}));
        break;
      case Incident::kSilentAgent:
        EXPECT_EQ(around([](const testing::TypedEvent&) { return true; }), 0u);
        break;
      case Incident::kFailureBurst: {
        ASSERT_GE(outcomes.size(), 6u);
        EXPECT_EQ(std::vector<std::string>(outcomes.begin(),
                                           outcomes.begin() + 6),
                  (std::vector<std::string>{"F", "F", "F", "C", "C", "C"}));
        EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), "F"),
                  kFailureBurst);
        break;
      }
      case Incident::kCostOverrun:
        EXPECT_EQ(costly, kCostBurst);
        break;
      case Incident::kNone:
        break;
    }
  }
  // Without an incident there is no incident agent, whatever its steps.
  std::unique_ptr<Scenario> plain = Make({.seed = 5, .incident_start = 7});
  EXPECT_EQ(plain->incident_agent(), "");
  EXPECT_EQ(Steps({.seed = 5, .incident_start = 7}, 500),
            Steps({.seed = 5}, 500));
}

TEST(ScenarioTest, IncidentNames) {
  for (Incident incident :
       {Incident::kNone, Incident::kStuckWorker, Incident::kSilentAgent,
        Incident::kFailureBurst, Incident::kCostOverrun}) {
    EXPECT_EQ(IncidentFromName(IncidentName(incident)).value(), incident);
  }
  EXPECT_THAT(std::string(IncidentFromName("stuck").status().message()),
              HasSubstr("known: team, stuck-worker, silent-agent"));
}

TEST(ScenarioTest, OnConflictRebasesOrDrops) {
  Step step;
  step.request.stream = "task-x";
  step.request.idempotency_key = "p-s1/17";
  step.request.expected_revision = eventlog::ExpectedRevision::Exact(3);
  step.races_previous = true;
  step.request.events.push_back({.type = "TaskProgress", .data = "{}"});

  std::optional<Step> retry = Scenario::OnConflict(step, 4);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->request.expected_revision,
            eventlog::ExpectedRevision::Exact(4));
  EXPECT_EQ(retry->request.idempotency_key, "p-s1/17@4");
  EXPECT_FALSE(retry->races_previous);
  EXPECT_EQ(retry->request.events.size(), 1u);
  // Again: the key is derived from the original, not stacked.
  EXPECT_EQ(Scenario::OnConflict(*retry, 6)->request.idempotency_key,
            "p-s1/17@6");
  EXPECT_FALSE(Scenario::OnConflict(step, std::nullopt).has_value());

  step.request.expected_revision = eventlog::ExpectedRevision::NoStream();
  EXPECT_FALSE(Scenario::OnConflict(step, 0).has_value());
}

TEST(ScenarioTest, CreateRefusesBadOptions) {
  EXPECT_FALSE(Scenario::Create({.managers = 0}).ok());
  EXPECT_FALSE(Scenario::Create({.workers = 10'001}).ok());
  EXPECT_FALSE(Scenario::Create({.id_prefix = ""}).ok());
  EXPECT_FALSE(Scenario::Create({.id_prefix = "-x"}).ok());
  EXPECT_FALSE(Scenario::Create({.id_prefix = "a/b"}).ok());
  EXPECT_FALSE(Scenario::Create({.id_prefix = std::string(65, 'a')}).ok());
  EXPECT_FALSE(Scenario::Create({.conflict_rate = 1.5}).ok());
  EXPECT_FALSE(Scenario::Create({.task_failure_rate = -0.1}).ok());
  EXPECT_THAT(std::string(Scenario::Create({.id_prefix = "a b"})
                              .status()
                              .message()),
              HasSubstr("a b"));
  EXPECT_TRUE(Scenario::Create({.id_prefix = "Run_1.x:y-z"}).ok());
  EXPECT_FALSE(Scenario::Create({.incident_steps = 0}).ok());
  EXPECT_FALSE(Scenario::Create({.incident_start = 1'000'001}).ok());
}

}  // namespace
}  // namespace vigil::simulator
